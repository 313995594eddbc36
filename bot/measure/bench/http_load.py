"""One `walletbot serve --workers N` under load: cold start, then each concurrency level with the
chosen load generator, and afterwards whether every conversation was stored in the order sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.measure import MeasureError
from bot.measure.bench.options import BenchOptions, Progress
from bot.measure.bench.processes import tree_cpu_seconds
from bot.measure.bench.python_load import python_level
from bot.measure.bench.server import start_server
from bot.measure.bench.wrk import write_conversations, wrk_level


def load_level(
    generator: str,
    url: str,
    concurrency: int,
    options: BenchOptions,
    conversations: Sequence[Sequence[str]],
    conversations_file: Path,
    pids: Sequence[int],
) -> dict[str, Any]:
    """One concurrency level against `url` with the chosen load generator; `pids` are the
    server processes whose CPU is counted."""
    if generator == "wrk":
        return wrk_level(url, concurrency, options.level_seconds, options.warmup_seconds, conversations_file, pids)
    return asyncio.run(
        python_level(url, concurrency, options.level_seconds, options.warmup_seconds, conversations, pids)
    )


def bench_server(
    config_path: Path,
    workers: int,
    workdir: Path,
    conversations: Sequence[Sequence[str]],
    options: BenchOptions,
    progress: Progress,
) -> dict[str, Any]:
    """Cold start, then each concurrency level, against one `walletbot serve --workers N`."""
    generator = options.generator()
    conversations_file = write_conversations(conversations, workdir / "conversations.txt")
    progress(f"starting walletbot serve --workers {workers}")
    server = start_server(config_path, workers, workdir)
    try:
        ready = server.wait_ready(options.ready_timeout)
        pids = server.pids()
        ready_cpu = tree_cpu_seconds(pids)
        rss_ready = server.sampler.sample()
        levels = []
        for concurrency in options.concurrency:
            progress(
                f"HTTP load ({generator}), {workers} worker(s), concurrency {concurrency}, {options.level_seconds:g} s"
            )
            levels.append(
                load_level(generator, server.url, concurrency, options, conversations, conversations_file, pids)
            )
            if server.process.poll() is not None:
                raise MeasureError(
                    f"The server exited during the load test; its output ends with:\n{server.log_tail()}"
                )
        server.sampler.sample()
        return {
            "workers": workers,
            "ready_seconds": round(ready, 3),
            # CPU the server's processes used until ready (all processes together).
            "ready_cpu_seconds": round(ready_cpu, 2),
            "rss_ready_mb": round(rss_ready, 1),
            "peak_rss_mb": round(server.sampler.peak_mb, 1),
            "processes": server.sampler.processes,
            "levels": levels,
        }
    finally:
        server.stop()


def check_order(database_url: str) -> dict[str, int]:
    """Whether every conversation's messages were stored in the order they were sent, after a
    load run: turn numbers 1..n without gap, each user message followed by the bot's reply, and
    the load generators' message ids (`<client>-<count>`) increasing. Returns the counts of
    conversations, turns, user messages and conversations that break one of these rules."""
    from sqlalchemy import select

    from bot.store import Database, Turn

    db = Database(database_url)
    try:
        with db.session(readonly=True) as s:
            rows = s.execute(
                select(Turn.conversation_id, Turn.seq, Turn.role, Turn.meta).order_by(Turn.conversation_id, Turn.seq)
            ).all()
    finally:
        db.dispose()
    by_conversation: dict[str, list[Any]] = {}
    for row in rows:
        by_conversation.setdefault(row.conversation_id, []).append(row)
    broken = 0
    for turns in by_conversation.values():
        roles = [str(t.role) for t in turns]
        counts = [
            int(str((t.meta or {}).get("message_id", "-0")).rsplit("-", 1)[-1]) for t in turns if str(t.role) == "user"
        ]
        if (
            [t.seq for t in turns] != list(range(1, len(turns) + 1))
            or any(a == "user" and b == "user" for a, b in zip(roles, roles[1:]))
            or roles[-1] == "user"
            or counts != sorted(set(counts))
        ):
            broken += 1
    messages = sum(1 for row in rows if str(row.role) == "user")
    return {"conversations": len(by_conversation), "turns": len(rows), "messages": messages, "out_of_order": broken}
