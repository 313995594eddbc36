"""What the console shows, as plain data: queue filters, queue rows, a ticket's page.

Why one module of ~415 lines: one masking policy. The queue, the ticket page and the exports
build their data here so that every channel masks the same fields the same way.

No HTML here: templates render these dicts with auto-escaping, and the JSON API and the exports
serialise the same dicts (files: bot/console/export.py), so every channel masks the same
fields the same way.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot import guard
from bot.config import Settings
from bot.config_texts import ConsoleSettings
from bot.errors import WalletbotError
from bot.store import (
    ConsoleUser,
    Priority,
    Ticket,
    TicketEvent,
    TicketQuery,
    TicketStatus,
    Turn,
)
from bot.store.models import CONTACT_DETAILS

ACTIVE = "active"
MINE = "mine"
NOBODY = "none"
_DIGITS = re.compile(r"\d")
# Audit values that are internal bookkeeping: the readable ones next to them say the same.
_INTERNAL_FIELDS = frozenset({"assignee_id", "turn_seq"})
# A trail step that asked for a detail is recorded as "collect:<detail>".
_COLLECT_PREFIX = "collect:"


class FilterError(WalletbotError):
    """A queue filter value that is not one of the choices; the message quotes it."""

    code = "bad_filter"


# --------------------------------------------------------------------------- masking


def is_contact(key: str) -> bool:
    return key in CONTACT_DETAILS


def mask_contact(value: object) -> str:
    """A contact detail as agents see it before revealing: 138****5678, z***@example.com."""
    text = str(value)
    personal = [f for f in guard.scan(text) if f.kind in guard.PERSONAL_KINDS]
    if personal:
        return guard.redact(text, personal)
    if "@" in text:
        return guard.mask("email", text.strip())
    if len(_DIGITS.findall(text)) >= 7:
        return guard.mask("phone", text)
    return "****"


def shown_details(details: Mapping[str, Any], revealed: Iterable[str] = ()) -> dict[str, str]:
    """Every detail as text, contact ones masked unless their key is in ``revealed``."""
    open_keys = set(revealed)
    return {
        key: (mask_contact(value) if is_contact(key) and key not in open_keys else str(value))
        for key, value in details.items()
        if value is not None
    }


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters as they appear in the URL (all texts; "" means any).

    Attributes:
        status: "", "active", or a ticket status.
        assignee: "", "mine", "none" (nobody), or a console user's name.
    """

    q: str = ""
    status: str = ""
    priority: str = ""
    category: str = ""
    brand: str = ""
    assignee: str = ""
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str], settings: Settings) -> QueueFilters:
        """Read and check the filters; raises FilterError quoting a value that is not a choice."""

        def get(name: str) -> str:
            return str(params.get(name) or "").strip()

        status, priority, brand = get("status"), get("priority"), get("brand")
        if status and status != ACTIVE and status not in {s.value for s in TicketStatus}:
            choices = ", ".join([ACTIVE, *(s.value for s in TicketStatus)])
            raise FilterError(f"Unknown status {status!r}: use one of {choices}.")
        if priority and priority not in {p.value for p in Priority}:
            choices = ", ".join(p.value for p in Priority)
            raise FilterError(f"Unknown priority {priority!r}: use one of {choices}.")
        if brand and brand not in settings.brands:
            raise FilterError(f"Unknown brand {brand!r}: use one of {', '.join(settings.brands)}.")
        raw_page = get("page") or "1"
        if (
            not (raw_page.isascii() and raw_page.isdigit()) or int(raw_page) < 1 or len(raw_page) > 9
        ):  # ² is a digit too
            raise FilterError(f"Page {raw_page!r} does not exist: pages are numbered from 1.")
        return cls(
            q=get("q")[:200],
            status=status,
            priority=priority,
            category=get("category")[:64],
            brand=brand,
            assignee=get("assignee")[:64],
            page=int(raw_page),
        )

    def query(self, *, me: ConsoleUser, assignee_id: int | None, per_page: int) -> TicketQuery:
        """The store's query; ``assignee_id`` is the id of the named assignee, if one is named."""
        return TicketQuery(
            status=TicketStatus(self.status) if self.status not in ("", ACTIVE) else None,
            active=True if self.status == ACTIVE else None,
            priority=Priority(self.priority) if self.priority else None,
            category=self.category or None,
            brand=self.brand or None,
            assignee_id=me.id if self.assignee == MINE else assignee_id,
            unassigned=self.assignee == NOBODY,
            text=self.q or None,
            page=self.page,
            per_page=per_page,
        )

    def params(self, **changes: object) -> dict[str, str]:
        """The non-empty filters as URL parameters, with ``changes`` applied (e.g. page=2)."""
        values = {
            "q": self.q,
            "status": self.status,
            "priority": self.priority,
            "category": self.category,
            "brand": self.brand,
            "assignee": self.assignee,
            "page": str(self.page) if self.page != 1 else "",
        }
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class Formatter:
    """Turns stored values into what people read: local times, names of statuses…"""

    config: ConsoleSettings
    settings: Settings
    now: datetime

    def time(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return value.astimezone(self.config.zone).strftime("%Y-%m-%d %H:%M")

    def stamp(self, value: object) -> str:
        """An ISO timestamp stored as text (trail, audit values) in local time; else as is."""
        if not isinstance(value, str) or not value:
            return "" if value is None else str(value)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        return self.time(parsed) if parsed.tzinfo is not None else value

    def duration(self, delta: timedelta) -> str:
        """A length of time the way people say it: 45 分钟, 5 小时, 3 天."""
        minutes = max(0, int(abs(delta.total_seconds()) // 60))
        if minutes < 60:
            return self.config.text("duration_minutes", n=minutes)
        if minutes < 48 * 60:
            return self.config.text("duration_hours", n=minutes // 60)
        return self.config.text("duration_days", n=minutes // (24 * 60))

    def yes_no(self, value: bool) -> str:
        return self.config.text("yes" if value else "no")

    def brand(self, key: str) -> str:
        brand = self.settings.brands.get(key)
        return brand.name if brand else key

    def overdue(self, ticket: Ticket) -> bool:
        return ticket.status.is_active and ticket.due_at < self.now


def ticket_row(
    ticket: Ticket,
    fmt: Formatter,
    *,
    revealed: bool = False,
    user_wrote_at: datetime | None = None,
    agent_acted_at: datetime | None = None,
) -> dict[str, Any]:
    """One ticket of the queue, with readable names (``*_name``) next to the stored values.

    ``user_wrote_at`` / ``agent_acted_at``: when the user last wrote and an agent last acted;
    the ticket is marked "wrote again" when the user wrote after an agent's last action.
    """
    details = dict(ticket.details or {})
    age = fmt.now - ticket.created_at
    due_in = ticket.due_at - fmt.now
    if not ticket.status.is_active:
        due_text = ""
    elif due_in.total_seconds() < 0:
        due_text = fmt.config.text("overdue_by", duration=fmt.duration(due_in))
    else:
        due_text = fmt.config.text("due_in", duration=fmt.duration(due_in))
    return {
        "age_seconds": int(age.total_seconds()),
        "age_text": fmt.duration(age),
        "due_seconds": int(due_in.total_seconds()),
        "due_text": due_text,
        "user_wrote_again": bool(
            ticket.status.is_active and user_wrote_at and agent_acted_at and user_wrote_at > agent_acted_at
        ),
        "number": ticket.number,
        "status": ticket.status.value,
        "status_name": fmt.config.status(ticket.status),
        "priority": ticket.priority.value,
        "priority_name": fmt.config.priority(ticket.priority),
        "priority_rank": ticket.priority.rank,
        "category": ticket.category,
        "category_name": fmt.config.category(ticket.category),
        "brand": ticket.brand,
        "brand_name": fmt.brand(ticket.brand),
        "summary": ticket.summary,
        "assignee": ticket.assignee.name if ticket.assignee else None,
        "created_at": ticket.created_at.isoformat(timespec="seconds"),
        "created_at_local": fmt.time(ticket.created_at),
        "due_at": ticket.due_at.isoformat(timespec="seconds"),
        "due_at_local": fmt.time(ticket.due_at),
        "overdue": fmt.overdue(ticket),
        "updated_at": ticket.updated_at.isoformat(timespec="seconds"),
        "details": shown_details(details, details.keys() if revealed else ()),
    }


@dataclass
class Pager:
    page: int
    per_page: int
    total: int
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        self.pages = max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


# --------------------------------------------------------------------------- ticket page


def _trail_place(entry: Mapping[str, Any], fmt: Formatter, flow_titles: Mapping[str, str]) -> str:
    """Where in the checklist a trail entry was: the checklist's title, and the detail asked."""
    flow = str(entry.get("flow") or "")
    step = str(entry.get("step") or "")
    parts = [flow_titles.get(flow, flow)] if flow else []
    if step.startswith(_COLLECT_PREFIX):
        parts.append(fmt.config.text("trail_collect", detail=fmt.config.name("details", step[len(_COLLECT_PREFIX) :])))
    return " · ".join(parts)


def trail_items(
    trail: Iterable[Mapping[str, Any]], fmt: Formatter, flow_titles: Mapping[str, str] | None = None
) -> list[dict[str, str | None]]:
    """The checklist trail as readable lines: the question asked and what the user answered.

    ``flow_titles``: checklist titles by flow name, so agents read 找回登录密码, not forgot_password.
    """
    config = fmt.config
    titles = flow_titles or {}
    items = []
    for entry in trail:
        at = fmt.stamp(entry.get("at"))
        place = _trail_place(entry, fmt, titles)
        if entry.get("action"):
            facts = entry.get("facts") or {}
            answer: str | None = (
                "; ".join(f"{k}: {v}" for k, v in facts.items()) if isinstance(facts, dict) else str(facts)
            )
            items.append(
                {
                    "kind": "action",
                    "flow": str(entry.get("flow") or ""),
                    "step": str(entry.get("step") or ""),
                    "say": f"{config.text('trail_action')}: {entry['action']}",
                    "answer": answer,
                    "at": at,
                    "place": place,
                }
            )
            continue
        # answer "" marks a step that asked nothing (a notice); None, a question left unanswered.
        answer = entry.get("choice") or entry.get("answer")
        items.append(
            {
                "kind": "step",
                "flow": str(entry.get("flow") or ""),
                "step": str(entry.get("step") or ""),
                "say": str(entry.get("say") or ""),
                "answer": config.text("trail_skipped") if answer is None else str(answer),
                "at": at,
                "place": place,
            }
        )
    return items


def transcript_items(turns: Iterable[Turn], fmt: Formatter) -> list[dict[str, Any]]:
    """The stored turns; a button press is shown with the title of the button that was pressed."""
    titles: dict[str, str] = {}
    items = []
    for turn in turns:
        meta = turn.meta or {}
        buttons = [b for b in meta.get("buttons", []) if isinstance(b, dict)]
        for button in buttons:
            if button.get("payload"):
                titles[str(button["payload"])] = str(button.get("title") or button["payload"])
        pressed = None
        text = turn.text
        if turn.payload:
            pressed = titles.get(turn.payload, turn.payload)
            if text == pressed:
                text = ""  # the button's title, stored as the text: say it once
        items.append(
            {
                "seq": turn.seq,
                "role": turn.role.value,
                "role_name": fmt.config.name("turn_roles", turn.role.value),
                "text": text,
                "pressed": pressed,
                "buttons": [str(b.get("title") or "") for b in buttons],
                "agent": meta.get("agent") if turn.role.value == "agent" else None,
                "time": fmt.time(turn.created_at),
            }
        )
    return items


def _change_text(value: Any, fmt: Formatter) -> str:
    config = fmt.config
    if value is None:
        return ""
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            if key in _INTERNAL_FIELDS:
                continue
            shown = item
            if isinstance(item, bool):
                shown = fmt.yes_no(item)
            elif key == "assignee" and item is None:
                shown = config.text("nobody")
            elif key == "details" and isinstance(item, list):
                shown = "、".join(config.name("details", i) for i in item)
            elif key == "fields" and isinstance(item, list):
                shown = "、".join(config.name("details", i) for i in item)
            elif key == "status":
                shown = config.status(item)
            elif key == "priority":
                shown = config.priority(item)
            elif key == "category":
                shown = config.category(item)
            elif key == "field":
                shown = config.name("details", item)
            elif key.endswith("_at"):
                shown = fmt.stamp(item)
            elif isinstance(item, list):
                shown = ", ".join(str(i) for i in item)
            parts.append(f"{config.name('fields', key)}: {'' if shown is None else shown}")
        return "; ".join(parts)
    return json.dumps(value, ensure_ascii=False)


def event_items(events: Iterable[TicketEvent], fmt: Formatter) -> list[dict[str, str]]:
    """The audit log, oldest first, as read-only text."""
    return [
        {
            "time": fmt.time(event.created_at),
            "actor": event.actor,
            "kind": event.kind,
            "kind_name": fmt.config.name("events", event.kind),
            "before": _change_text(event.before, fmt),
            "after": _change_text(event.after, fmt),
            "note": event.note or "",
        }
        for event in events
    ]
