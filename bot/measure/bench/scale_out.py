"""Scale-out on PostgreSQL: one process with one and two workers, and two processes sharing one
database, under the same wrk load, each on a fresh schema dropped afterwards.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.measure import MeasureError
from bot.measure.bench.http_load import check_order
from bot.measure.bench.options import BenchOptions, Progress
from bot.measure.bench.processes import tree_cpu_seconds
from bot.measure.bench.server import start_server
from bot.measure.bench.stats import ms_per_message
from bot.measure.bench.wrk import child_cpu_seconds, write_conversations, wrk_answered, wrk_errors, wrk_together

# (name, workers of each `walletbot serve` process): what a second worker and a second host add.
SCALE_OUT_LAYOUTS = (
    ("1 process, 1 worker", (1,)),
    ("1 process, 2 workers", (2,)),
    ("2 processes, 1 worker each", (1, 1)),
)
SCALE_OUT_CONCURRENCY = 8


@contextmanager
def postgres_schema(database_url: str) -> Iterator[str]:
    """A fresh schema in the PostgreSQL database, dropped afterwards; yields a URL whose
    connections use it (so a benchmark never touches the tables already there)."""
    import uuid

    from sqlalchemy import create_engine, make_url, text

    base = make_url(database_url)
    if base.get_backend_name() != "postgresql":
        raise MeasureError(
            f"The scale-out runs need a PostgreSQL URL (postgresql+psycopg://user@host/db), not {base.render_as_string()!r}."
        )
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def bench_layout(
    config_path: Path,
    database_url: str,
    processes: Sequence[int],
    workdir: Path,
    conversations_file: Path,
    options: BenchOptions,
) -> dict[str, Any]:
    """`walletbot serve` processes (each with its number of workers) on one PostgreSQL schema,
    under wrk at SCALE_OUT_CONCURRENCY connections shared between them; then the order check."""
    with postgres_schema(database_url) as url:
        servers = [
            start_server(config_path, workers, workdir, database_url=url, name=f"pg-{len(processes)}p-{i}-w{workers}")
            for i, workers in enumerate(processes)
        ]
        try:
            for server in servers:
                server.wait_ready(options.ready_timeout)
            urls = [server.url for server in servers]
            pids = [pid for server in servers for pid in server.pids()]
            if options.warmup_seconds > 0:
                wrk_together(urls, SCALE_OUT_CONCURRENCY, options.warmup_seconds, conversations_file)
            server_cpu, client_cpu = tree_cpu_seconds(pids), child_cpu_seconds()
            runs = wrk_together(urls, SCALE_OUT_CONCURRENCY, options.level_seconds, conversations_file)
            server_cpu, client_cpu = tree_cpu_seconds(pids) - server_cpu, child_cpu_seconds() - client_cpu
            for server in servers:
                if server.process.poll() is not None:
                    raise MeasureError(
                        f"A server exited during the load test; its output ends with:\n{server.log_tail()}"
                    )
        finally:
            for server in servers:
                server.stop()
        order = check_order(url)
    answered = sum(wrk_answered(r) for r in runs)
    elapsed = max(r["duration_us"] for r in runs) / 1e6
    errors: Counter[str] = Counter()
    for r in runs:
        errors.update(wrk_errors(r))
    return {
        "processes": len(processes),
        "workers": sum(processes),
        "requests": answered,
        "errors": dict(errors),
        "throughput": round(answered / elapsed, 1) if elapsed else 0.0,
        # The slowest process's percentiles: what the worst-served users saw.
        "p50_ms": round(max(r["p50_us"] for r in runs) / 1000, 3),
        "p99_ms": round(max(r["p99_us"] for r in runs) / 1000, 3),
        "server_cpu_ms_per_message": ms_per_message(server_cpu, answered),
        "client_cpu_ms_per_message": ms_per_message(client_cpu, answered),
        "order": order,
    }


def bench_scale_out(
    config_path: Path,
    database_url: str,
    workdir: Path,
    conversations: Sequence[Sequence[str]],
    options: BenchOptions,
    progress: Progress,
) -> dict[str, Any]:
    """Each of SCALE_OUT_LAYOUTS on PostgreSQL under the same wrk load.

    Raises:
        MeasureError: wrk is not installed, the URL is not PostgreSQL, or a server failed.
    """
    from sqlalchemy import make_url

    if shutil.which("wrk") is None:
        raise MeasureError("The scale-out runs need `wrk` (Debian package `wrk`): it loads several servers at once.")
    conversations_file = write_conversations(conversations, workdir / "conversations.txt")
    layouts = []
    for name, processes in SCALE_OUT_LAYOUTS:
        progress(f"PostgreSQL: {name}, wrk concurrency {SCALE_OUT_CONCURRENCY}, {options.level_seconds:g} s")
        layouts.append(
            {"layout": name, **bench_layout(config_path, database_url, processes, workdir, conversations_file, options)}
        )
    one = layouts[0]["throughput"]
    for layout in layouts:
        layout["speedup"] = round(layout["throughput"] / one, 2) if one else None
    return {
        "database": make_url(database_url).render_as_string(hide_password=True),
        "concurrency": SCALE_OUT_CONCURRENCY,
        "seconds": options.level_seconds,
        "layouts": layouts,
    }
