"""A flow's funnel in the order an editor reads the flow: its steps as the YAML lists them,
each with its answers in the order of its options."""

from __future__ import annotations

from typing import Any

from bot.flows.model import Flow

EMPTY_CELL = {"reached": 0, "choices": {}, "left": 0, "solved": 0, "escalated": 0}


def ordered_funnel(flow: Flow, counts: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per step of ``flow`` (steps no conversation reached included, with zeros), then
    any step the counts know that the flow no longer has (renamed since), at the end."""
    rows = []
    for step_id, step in flow.steps.items():
        cell = counts.get(step_id, EMPTY_CELL)
        titles = [option.title for option in step.options]
        choices = [{"title": t, "conversations": cell["choices"].get(t, 0)} for t in titles]
        choices += [{"title": t, "conversations": n} for t, n in sorted(cell["choices"].items()) if t not in titles]
        rows.append(
            {"step": step_id, **{k: cell[k] for k in ("reached", "left", "solved", "escalated")}, "choices": choices}
        )
    for step_id in sorted(set(counts) - set(flow.steps)):
        cell = counts[step_id]
        choices = [{"title": t, "conversations": n} for t, n in sorted(cell["choices"].items())]
        rows.append(
            {"step": step_id, **{k: cell[k] for k in ("reached", "left", "solved", "escalated")}, "choices": choices}
        )
    return rows
