"""HTTP load from `wrk` (a C program, Debian package `wrk`) running chat.lua, one thread per
connection so that each connection is one user working through whole conversations.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.measure import MeasureError
from bot.measure.bench.processes import tree_cpu_seconds
from bot.measure.bench.stats import ms_per_message

WRK_SCRIPT = Path(__file__).with_name("chat.lua")
WRK_MARK = "walletbot-wrk "
# The kinds of error chat.lua's done() counts.
WRK_ERRORS = ("connect", "read", "write", "status", "timeout")


def write_conversations(conversations: Sequence[Sequence[str]], path: Path) -> Path:
    """The conversations as chat.lua reads them: one per line, JSON strings separated by tabs."""
    import json

    path.write_text(
        "".join(
            "\t".join(json.dumps(text, ensure_ascii=False) for text in conversation) + "\n"
            for conversation in conversations
        ),
        encoding="utf-8",
    )
    return path


def child_cpu_seconds() -> float:
    """User + system CPU time of this process's children that have exited (wrk's, once it has)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(url: str, concurrency: int, seconds: float, conversations_file: Path) -> dict[str, Any]:
    """One wrk run of chat.lua: one thread per connection, so each connection is one user.

    Returns the counts and latencies chat.lua's done() reports, plus the CPU wrk used.

    Raises:
        MeasureError: wrk failed or printed no summary.
    """
    import json

    command = [
        "wrk",
        "-t",
        str(concurrency),
        "-c",
        str(concurrency),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPT),
        url,
        "--",
        str(conversations_file),
        str(concurrency),
    ]
    before = child_cpu_seconds()
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    cpu = child_cpu_seconds() - before
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(WRK_MARK)), None)
    if done.returncode != 0 or line is None:
        raise MeasureError(
            f"`{' '.join(command)}` failed with code {done.returncode}: {(done.stderr or done.stdout).strip()[-800:]}"
        )
    return {**json.loads(line[len(WRK_MARK) :]), "cpu_seconds": cpu}


def wrk_errors(result: dict[str, Any]) -> dict[str, int]:
    """The kinds of error a wrk run had, with their counts."""
    return {kind: result[kind] for kind in WRK_ERRORS if result[kind]}


def wrk_answered(result: dict[str, Any]) -> int:
    """The messages of a wrk run that got an answer: wrk counts a non-2xx answer both as a
    request and as a "status" error."""
    return int(result["requests"] - result["status"])


def wrk_level(
    url: str, concurrency: int, seconds: float, warmup: float, conversations_file: Path, pids: Sequence[int]
) -> dict[str, Any]:
    if warmup > 0:
        run_wrk(url, concurrency, warmup, conversations_file)
    server_cpu = tree_cpu_seconds(pids)
    result = run_wrk(url, concurrency, seconds, conversations_file)
    server_cpu = tree_cpu_seconds(pids) - server_cpu
    errors = wrk_errors(result)
    elapsed = result["duration_us"] / 1e6
    answered = wrk_answered(result)
    ms = {
        key.replace("_us", "_ms"): round(result[key] / 1000, 3)
        for key in ("p50_us", "p95_us", "p99_us", "mean_us", "max_us")
    }
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "requests": answered,
        "errors": errors,
        "throughput": round(answered / elapsed, 1) if elapsed else 0.0,
        **ms,
        "server_cpu_ms_per_message": ms_per_message(server_cpu, answered),
        "client_cpu_ms_per_message": ms_per_message(result["cpu_seconds"], answered),
    }


def wrk_together(
    urls: Sequence[str], concurrency: int, seconds: float, conversations_file: Path
) -> list[dict[str, Any]]:
    """wrk against each url at once, the connections shared out between them (a load balancer's
    view of several hosts)."""
    from concurrent.futures import ThreadPoolExecutor

    shares = [concurrency // len(urls) + (1 if i < concurrency % len(urls) else 0) for i in range(len(urls))]
    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(lambda pair: run_wrk(pair[0], pair[1], seconds, conversations_file), zip(urls, shares)))
