"""The benchmark report as plain-text tables for the terminal."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.measure import text_table


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def format_bench_report(report: dict[str, Any]) -> str:
    machine = report["machine"]
    load = machine.get("load_average")
    code = report["code"]
    commit = f"commit {code['commit']}{' (modified)' if code['modified'] else ''}, " if code["commit"] else ""
    lines = [
        f"walletbot bench{' --quick' if report['quick'] else ''}: {report['date']}, {commit}{machine['cpus']} CPU(s) {machine.get('cpu_model') or ''}, "
        f"Python {machine['python']}, load average at start {load[0] if load else 'n/a'}, "
        f"CPU pressure {_fmt(machine.get('cpu_pressure_avg60'))}% ({report['seconds']:.0f} s)",
        "",
        "Targets (re-check on an idle machine: other work slows every figure but the CPU per message)",
        text_table(
            ["figure", "target", "measured", "met"],
            [
                [
                    t["label"],
                    f"{'≥' if t['higher_is_better'] else '≤'} {t['target']:g} {t['unit']}",
                    f"{_fmt(t['measured'], 2)} {t['unit']}",
                    {True: "yes", False: "NO", None: "n/a"}[t["met"]],
                ]
                for t in report["targets"]
            ],
        ),
        "",
    ]
    training = report["training"]
    lines.append(
        f"Training: {training['examples']} examples, {training['intents']} intents, {training['features']} features; "
        f"fit {training['fit_seconds']:.2f} s, in-process {training['seconds']:.2f} s, "
        f"`walletbot train` end to end {_fmt(training['cli_seconds'], 2)} s"
    )
    stages = report["in_process"]
    lines += [
        "",
        f"In-process latency ({stages['messages']} distinct messages, {stages['conversations']} conversations, "
        f"{report['options']['messages_per_conversation']} messages each)",
        text_table(
            ["stage", "p50 ms", "p95 ms", "p99 ms", "mean ms", "max ms"],
            [
                [name, *(_fmt(stages[key][k], 2) for k in ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms"))]
                for name, key in (
                    ("Assistant.handle (whole turn)", "handle"),
                    ("  its CPU time", "handle_cpu"),
                    ("NLU parse", "nlu_parse"),
                    ("FAQ search", "faq_search"),
                )
            ],
        ),
        "",
        "Servers (`walletbot serve`, loopback)",
        text_table(
            ["workers", "ready s", "CPU s to ready", "RSS at ready MB", "peak RSS MB", "processes"],
            [
                [
                    s["workers"],
                    _fmt(s["ready_seconds"], 2),
                    _fmt(s["ready_cpu_seconds"], 2),
                    _fmt(s["rss_ready_mb"]),
                    _fmt(s["peak_rss_mb"]),
                    s["processes"],
                ]
                for s in report["servers"]
            ],
        ),
        "",
        f"HTTP POST /api/chat, keep-alive, one conversation of {report['options']['messages_per_conversation']} messages at a time per connection, "
        f"{report['options']['level_seconds']:g} s per level, load generator: {report['options']['load_generator']}",
        text_table(
            [
                "workers",
                "concurrency",
                "requests",
                "errors",
                "msg/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "server CPU ms/msg",
                "client CPU ms/msg",
            ],
            [
                [
                    s["workers"],
                    lv["concurrency"],
                    lv["requests"],
                    sum(lv["errors"].values()),
                    _fmt(lv["throughput"]),
                    _fmt(lv["p50_ms"], 2),
                    _fmt(lv["p95_ms"], 2),
                    _fmt(lv["p99_ms"], 2),
                    _fmt(lv["server_cpu_ms_per_message"], 2),
                    _fmt(lv["client_cpu_ms_per_message"], 2),
                ]
                for s in report["servers"]
                for lv in s["levels"]
            ],
        ),
    ]
    scale = report.get("scale_out")
    if scale:
        lines += [
            "",
            f"Scale-out on PostgreSQL ({scale['database']}), wrk, {scale['concurrency']} connections shared between the processes, "
            f"{scale['seconds']:g} s each; order: conversations whose stored turns break the order they were sent in",
            text_table(
                [
                    "layout",
                    "requests",
                    "errors",
                    "msg/s",
                    "× 1 worker",
                    "p50 ms",
                    "p99 ms",
                    "server CPU ms/msg",
                    "conversations",
                    "out of order",
                ],
                [
                    [
                        lay["layout"],
                        lay["requests"],
                        sum(lay["errors"].values()),
                        _fmt(lay["throughput"]),
                        _fmt(lay["speedup"], 2),
                        _fmt(lay["p50_ms"], 2),
                        _fmt(lay["p99_ms"], 2),
                        _fmt(lay["server_cpu_ms_per_message"], 2),
                        lay["order"]["conversations"],
                        lay["order"]["out_of_order"],
                    ]
                    for lay in scale["layouts"]
                ],
            ),
        ]
    errors: Counter[str] = Counter()
    for s in report["servers"]:
        for lv in s["levels"]:
            errors.update(lv["errors"])
    if errors:
        lines.append("errors: " + ", ".join(f"{k} × {v}" for k, v in errors.most_common()))
    return "\n".join(lines)
