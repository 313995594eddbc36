"""What a benchmark run measures and how hard: the full run, or the ~30 s `--quick` smoke version,
and which load generator sends the HTTP load.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass

from bot.measure import MeasureError

LOAD_GENERATORS = ("auto", "wrk", "python")


Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """What to run. `for_mode(quick=True)` is the ~30 s smoke version: fewer messages, short
    HTTP levels, one worker count, no end-to-end `walletbot train` subprocess.

    `load_generator`: "wrk", "python", or "auto" (wrk when it is on PATH)."""

    quick: bool = False
    messages: int = 3000
    level_seconds: float = 8.0
    warmup_seconds: float = 1.0
    concurrency: tuple[int, ...] = (1, 8, 64)
    workers: tuple[int, ...] = (1, 2)
    cli_training: bool = True
    ready_timeout: float = 90.0
    seed: int = 7
    load_generator: str = "auto"

    @classmethod
    def for_mode(cls, quick: bool, load_generator: str = "auto") -> BenchOptions:
        if load_generator not in LOAD_GENERATORS:
            raise MeasureError(f"Unknown load generator {load_generator!r}: use one of {', '.join(LOAD_GENERATORS)}.")
        if quick:
            return cls(
                quick=True,
                messages=300,
                level_seconds=2.0,
                warmup_seconds=0.3,
                workers=(1,),
                cli_training=False,
                load_generator=load_generator,
            )
        return cls(load_generator=load_generator)

    def generator(self) -> str:
        """The load generator this run uses: "wrk" or "python".

        Raises:
            MeasureError: wrk was asked for and is not installed.
        """
        found = shutil.which("wrk") is not None
        if self.load_generator == "wrk" and not found:
            raise MeasureError(
                "`wrk` is not installed: install the Debian package `wrk` (scripts/setup.sh dev does), or use --load-generator python."
            )
        return "wrk" if found and self.load_generator != "python" else "python"
