"""The plugin point for automatic checks that flow steps call by name (`action:` in a flow)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import Brand


@dataclass(frozen=True, slots=True)
class ActionContext:
    brand_key: str
    brand: Brand
    now: datetime  # local time of the deployment
    state: dict[str, Any]  # the conversation's dialogue state (read only by convention)


@dataclass(slots=True)
class ActionResult:
    # Key of a text in data/responses.yml to say before the step's own text, if any.
    response: str | None = None
    # Values for placeholders in that response, e.g. {"window": "00:00-02:00"}.
    values: dict[str, str] = field(default_factory=dict)
    # What the check found, recorded in the checklist trail for the support agent.
    facts: dict[str, Any] = field(default_factory=dict)


class Action:
    """One automatic check. Subclasses set `name` and implement `run`.

    Example:
        class CheckServiceHours(Action):
            name = "check_service_hours"

            def run(self, ctx: ActionContext) -> ActionResult:
                return ActionResult(facts={"checked": True})
    """

    name: str = ""

    def run(self, ctx: ActionContext) -> ActionResult:
        raise NotImplementedError(f"Action '{self.name or type(self).__name__}' must implement run(ctx).")
