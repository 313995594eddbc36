"""The conversation state: a JSON object stored with the conversation, and its public part.

Keys: intent, flow, step, faq_id, ticket, escalated, priority (the ticket's, the highest urgency
the conversation called for), urgency (the highest urgency seen, before any ticket), resolved (this
turn reached a resolved leaf), trail, details, entities, time_period, collecting, paused (the
checklist an FAQ question interrupted), misses, awaiting_feedback, fraud_risk, expecting_code,
offered (the buttons of the last reply), problems (the problems the user reported, in order),
left_flow (the checklist the user gave up on, or whose subject a question was about: a later
转人工 is about it), contact (a phone number
or email the user gave before any ticket, unmasked for the ticket only: {"kind", "value"}).

A state stored by an older version lacks the newer keys (version 1 had no `version` key):
`migrate` fills them, so old conversations go on where they were.
"""

from __future__ import annotations

from typing import Any

PRIORITIES = ("low", "normal", "high", "urgent")
# 2: priority, urgency, resolved, problems; tickets open before their details are asked.
# 3: left_flow, contact.
STATE_VERSION = 3


def fresh_state() -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "intent": None,
        "flow": None,
        "step": None,
        "faq_id": None,
        "ticket": None,
        "escalated": False,
        "priority": None,
        "urgency": None,
        "resolved": False,
        "trail": [],
        "details": {},
        "entities": {},
        "time_period": None,
        "collecting": None,
        "paused": None,
        "misses": 0,
        "awaiting_feedback": None,
        "fraud_risk": False,
        "expecting_code": False,
        "problems": [],
        "left_flow": None,
        "contact": None,
    }


def migrate(state: dict[str, Any]) -> None:
    """Bring a stored state to the current version in place: missing keys get their defaults."""
    for key, value in fresh_state().items():
        state.setdefault(key, value)
    state["version"] = STATE_VERSION


def public_state(state: dict[str, Any]) -> dict[str, Any]:
    """The `state` object of the chat contract."""
    return {k: state.get(k) for k in ("intent", "flow", "step", "faq_id", "ticket", "priority")} | {
        "escalated": bool(state.get("escalated")),
        "resolved": bool(state.get("resolved")),
    }


def higher(a: str | None, b: str | None) -> str | None:
    """The more urgent of two priorities (None counts as none)."""
    ranked = [p for p in (a, b) if p in PRIORITIES]
    return max(ranked, key=PRIORITIES.index) if ranked else None
