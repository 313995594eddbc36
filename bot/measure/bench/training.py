"""How long training takes: in this process, and optionally as `walletbot train` in a new one."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.measure import MeasureError
from bot.measure.bench.options import BenchOptions, Progress
from bot.measure.bench.server import bench_env, walletbot_command


def bench_training(
    settings: Settings, config_path: Path, workdir: Path, options: BenchOptions, progress: Progress
) -> dict[str, Any]:
    """Train in this process (imports already paid), then optionally `walletbot train` as a
    fresh process, which is what a user waits for."""
    from bot.training import train

    progress("training in-process")
    begin = time.perf_counter()
    report = train(settings)
    seconds = time.perf_counter() - begin
    cli_seconds = None
    if options.cli_training:
        progress("training: walletbot train (new process)")
        env = bench_env(workdir, workdir / "train.db", models_dir=workdir / "models-cli")
        begin = time.perf_counter()
        done = subprocess.run(
            walletbot_command(config_path, "train"), env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        cli_seconds = time.perf_counter() - begin
        if done.returncode != 0:
            raise MeasureError(
                f"`walletbot train` failed with code {done.returncode}: {(done.stderr or done.stdout).strip()[-800:]}"
            )
    return {
        "examples": report.examples,
        "intents": report.intents,
        "features": report.features,
        "fit_seconds": round(report.seconds, 2),
        "seconds": round(seconds, 2),
        "cli_seconds": None if cli_seconds is None else round(cli_seconds, 2),
    }
