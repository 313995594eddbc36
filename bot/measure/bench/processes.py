"""A server's processes, measured through psutil: the process tree, its summed RSS and CPU time,
and a thread that samples the peak RSS while the server runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants that are alive now."""
    import psutil

    try:
        return [root, *(child.pid for child in psutil.Process(root).children(recursive=True))]
    except psutil.NoSuchProcess:
        return [root]


def _each(pids: Sequence[int], read: Callable[[Any], float]) -> float:
    """`read(process)` summed over the processes that still exist."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            total += read(psutil.Process(pid))
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            pass
    return total


def tree_rss_mb(pids: Sequence[int]) -> float:
    return _each(pids, lambda process: process.memory_info().rss) / (1024 * 1024)


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of the processes (their own, not their reaped children's)."""

    def own(process: Any) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    return _each(pids, own)


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process tree every `interval` seconds; `peak_mb` is the highest.

    Finding the tree means looking at every process of the machine, so it is done only every
    `rescan` seconds (workers appear during start-up and then stay); RSS is read every sample.
    """

    def __init__(self, root: int, interval: float = 0.1, rescan: float = 1.0) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.root = root
        self.interval = interval
        self.rescan = rescan
        self.peak_mb = 0.0
        self.processes = 1
        self._pids = [root]
        self._scanned = 0.0
        self._halt = threading.Event()

    def sample(self, *, rescan: bool = True) -> float:
        now = time.monotonic()
        if rescan or now - self._scanned >= self.rescan:
            self._pids = process_tree(self.root)
            self._scanned = now
        rss = tree_rss_mb(self._pids)
        self.peak_mb = max(self.peak_mb, rss)
        self.processes = max(self.processes, len(self._pids))
        return rss

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.sample(rescan=False)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)
