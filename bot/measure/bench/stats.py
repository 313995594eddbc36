"""Latency percentiles of a list of timings, and CPU time per message."""

from __future__ import annotations

from collections.abc import Sequence


def latency_summary(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50, p95, p99, mean and max in milliseconds."""
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None, "max_ms": None}
    import numpy as np

    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "p50_ms": round(float(p50), 3),
        "p95_ms": round(float(p95), 3),
        "p99_ms": round(float(p99), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "max_ms": round(float(ms.max()), 3),
    }


def ms_per_message(seconds: float, messages: int) -> float | None:
    """`seconds` of CPU spent on `messages` as milliseconds per message (None when there were none)."""
    return round(seconds * 1000 / messages, 3) if messages else None
