"""The figures the product aims for (docs/performance.md), each with the limit it must meet, and
how a report's measurements compare with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Target:
    """One figure the product aims for (docs/performance.md) and the limit it must meet."""

    name: str
    label: str
    limit: float
    unit: str
    higher_is_better: bool = False

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.limit if self.higher_is_better else value <= self.limit


TARGETS = (
    Target("http_c8_throughput", "chat throughput, concurrency 8 (1 worker)", 600.0, "msg/s", higher_is_better=True),
    Target("http_c1_p50_ms", "chat p50, concurrency 1 (1 worker)", 3.0, "ms"),
    Target("server_cpu_ms_per_message", "server CPU per chat message, concurrency 8 (1 worker)", 1.5, "ms"),
    Target("ready_seconds", "start to ready (1 worker)", 3.0, "s"),
    Target("rss_mb", "peak server RSS (1 worker)", 300.0, "MB"),
    Target("training_seconds", "training (`walletbot train` end to end, else in-process)", 5.0, "s"),
)


def measured_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    servers = {s["workers"]: s for s in report["servers"]}
    one = servers.get(1) or (report["servers"][0] if report["servers"] else None)

    def level(server: dict[str, Any] | None, concurrency: int) -> dict[str, Any] | None:
        return next((lv for lv in server["levels"] if lv["concurrency"] == concurrency), None) if server else None

    c1, c8 = level(one, 1), level(one, 8)
    training = report["training"]
    measured = {
        "http_c8_throughput": c8["throughput"] if c8 else None,
        "http_c1_p50_ms": c1["p50_ms"] if c1 else None,
        "server_cpu_ms_per_message": c8["server_cpu_ms_per_message"] if c8 else None,
        "ready_seconds": one["ready_seconds"] if one else None,
        "rss_mb": one["peak_rss_mb"] if one else None,
        "training_seconds": training["cli_seconds"] if training["cli_seconds"] is not None else training["seconds"],
    }
    return [
        {
            "name": t.name,
            "label": t.label,
            "target": t.limit,
            "unit": t.unit,
            "higher_is_better": t.higher_is_better,
            "measured": measured[t.name],
            "met": t.met(measured[t.name]),
        }
        for t in TARGETS
    ]
