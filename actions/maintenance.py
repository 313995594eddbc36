"""Is a top-up/payment channel of the brand inside a configured maintenance window right now?"""

from __future__ import annotations

from datetime import time

from actions.base import Action, ActionContext, ActionResult

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


class CheckMaintenanceWindow(Action):
    name = "check_maintenance_window"

    def run(self, ctx: ActionContext) -> ActionResult:
        today = _DAYS[ctx.now.weekday()]
        now = ctx.now.time()
        for window in ctx.brand.maintenance_windows:
            start, end = _parse(window.start), _parse(window.end)
            inside = start <= now < end if start <= end else (now >= start or now < end)
            if today in window.days and inside:
                values = {"window": f"{window.start}-{window.end}", "channel": window.channel or ""}
                return ActionResult("maintenance_now", values, {"maintenance": values})
        return ActionResult(facts={"maintenance": None})
