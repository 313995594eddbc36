"""A sliding-window rate limiter kept in memory.

Each key (a client IP, a conversation id) may make `limit` hits in any `window` seconds. The
limiter remembers the time of each hit within the window, so a burst at the end of one minute
and another at the start of the next are counted together, unlike fixed per-minute buckets.

The counts live in the process: with several workers each enforces the limit on its own share of
the traffic, which is the intended "simple" protection against a runaway client, not a quota.

    limiter = SlidingWindowLimiter(limit=30, window=60)
    retry_after = limiter.hit("203.0.113.7")
    if retry_after is not None:
        ...  # answer 429 with Retry-After: ceil(retry_after)
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from typing import Callable


class SlidingWindowLimiter:
    """Counts hits per key over the last `window` seconds; thread-safe."""

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError(f"A rate limit must allow at least one hit per window, got {limit}.")
        if window <= 0:
            raise ValueError(f"A rate-limit window must be positive, got {window} seconds.")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        # key -> times of its hits in the window, oldest first; keys in least-recently-hit order,
        # so that when too many clients are tracked the quietest one is forgotten first.
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Record a hit for `key`; None if allowed, else the seconds until one is allowed again.

        A refused hit is not recorded, so a client that waits `Retry-After` gets through.
        """
        now = self._clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
            else:
                self._hits.move_to_end(key)
            horizon = now - self.window
            while hits and hits[0] <= horizon:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.001)
            hits.append(now)
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
            return None

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


def retry_after_header(seconds: float) -> str:
    """Retry-After takes whole seconds; round up so that the retry is not refused again."""
    return str(max(1, math.ceil(seconds)))
