"""The whole benchmark: every measurement in a throw-away folder, gathered into one report."""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.measure.bench.http_load import bench_server
from bot.measure.bench.in_process import bench_in_process
from bot.measure.bench.machine import code_version, machine_info
from bot.measure.bench.messages import MESSAGES_PER_CONVERSATION, bench_conversations
from bot.measure.bench.options import BenchOptions, Progress
from bot.measure.bench.scale_out import bench_scale_out
from bot.measure.bench.server import DATA_COPY, MODELS
from bot.measure.bench.targets import measured_targets
from bot.measure.bench.training import bench_training

BENCH_SCHEMA = "walletbot.bench/2"


def _quiet(_message: str) -> None:
    pass


def run_bench(
    settings: Settings,
    config_path: Path,
    options: BenchOptions | None = None,
    progress: Progress = _quiet,
    postgres_url: str | None = None,
) -> dict[str, Any]:
    """Run every measurement and return the report (keys: schema, date, quick, code, machine, options,
    training, in_process, servers, scale_out, targets, seconds).

    `postgres_url`: also run the scale-out layouts on this PostgreSQL database (`scale_out`,
    else null).

    `config_path` is the config file the servers are started with (with the model folder, the
    database and the rate limits overridden by environment variables).

    Raises:
        MeasureError: training, the server or the load generator failed.
    """
    from bot.content import errors_of, load_content
    from bot.errors import ContentError

    options = options or BenchOptions()
    started = time.perf_counter()
    report: dict[str, Any] = {
        "schema": BENCH_SCHEMA,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": options.quick,
        "code": code_version(settings.root),
        "machine": machine_info(),
        "options": {
            "messages": options.messages,
            "level_seconds": options.level_seconds,
            "warmup_seconds": options.warmup_seconds,
            "concurrency": list(options.concurrency),
            "workers": list(options.workers),
            "messages_per_conversation": MESSAGES_PER_CONVERSATION,
            "load_generator": options.generator(),
        },
    }
    with tempfile.TemporaryDirectory(prefix="walletbot-bench-") as tmp:
        workdir = Path(tmp)
        # A copy of data/: content edited while the benchmark runs cannot make its model stale.
        shutil.copytree(settings.data_dir, workdir / DATA_COPY)
        local = settings.model_copy(
            update={
                "paths": settings.paths.model_copy(update={"data": workdir / DATA_COPY, "models": workdir / MODELS}),
                "storage": settings.storage.model_copy(
                    update={"database_url": f"sqlite:///{workdir / 'in-process.db'}"}
                ),
            }
        )
        content = load_content(local)
        if errors_of(content.problems):
            raise ContentError(content.problems)
        warm = 20  # conversations of the in-process warm-up
        conversations = bench_conversations(
            content, local.data_dir, options.messages // MESSAGES_PER_CONVERSATION + warm, options.seed
        )
        warmup = [text for conversation in conversations[:warm] for text in conversation]
        messages = [text for conversation in conversations[warm:] for text in conversation]

        report["training"] = bench_training(local, config_path, workdir, options, progress)
        report["in_process"] = bench_in_process(local, messages, warmup, progress)
        report["servers"] = [
            bench_server(config_path, workers, workdir, conversations, options, progress) for workers in options.workers
        ]
        report["scale_out"] = (
            bench_scale_out(config_path, postgres_url, workdir, conversations, options, progress)
            if postgres_url
            else None
        )
    report["targets"] = measured_targets(report)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report
