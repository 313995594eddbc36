"""One turn of the dialogue: the message being answered, what it says back, and what it asks of
the ticket store. Shared by the policy (bot/dialogue/policy.py) and its parts (bot/dialogue/)."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from bot.text import render

if TYPE_CHECKING:
    from bot.dialogue.policy import Policy

PAYLOAD_HUMAN = "/human"
PAYLOAD_RESTART = "/restart"
PAYLOAD_HELPFUL = "/helpful"
PAYLOAD_NOT_HELPFUL = "/not_helpful"
PAYLOAD_RESUME = "/resume"
PAYLOAD_SKIP = "/skip"
PREFIX_INTENT = "/intent:"
PREFIX_FAQ = "/faq:"
# Spaces and punctuation that do not change what a short reply says (好的！ is 好的).
PUNCT = re.compile(r"[\s,.!?;:，。！？；：、~～…'\"“”‘’()（）]+")


class Button(TypedDict):
    title: str
    payload: str


class Message(TypedDict):
    text: str
    buttons: list[Button]


@dataclass(slots=True)
class TicketRequest:
    category: str
    priority: str
    summary: str
    details: dict[str, Any]
    trail: list[dict[str, Any]]


@dataclass(slots=True)
class TicketInfo:
    number: str
    created: bool
    priority: str


@dataclass(slots=True)
class TicketUpdate:
    """What the user added after the ticket was opened: only ever raises the priority. The
    `category` is the problem that priority is for: it becomes the ticket's when it raises it."""

    priority: str | None = None
    category: str | None = None
    problem: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    trail: list[dict[str, Any]] = field(default_factory=list)


class Outcome(enum.StrEnum):
    """What a turn did, stored with the user's turn (reports count fallbacks, escalations…)."""

    ANSWERED = "answered"  # an FAQ answer, or another direct answer
    FLOW = "flow"  # a checklist started, moved on, or asked again
    CLARIFY = "clarify"  # "did you mean…?" buttons
    FALLBACK = "fallback"  # not understood
    OUT_OF_SCOPE = "out_of_scope"
    ESCALATED = "escalated"  # a ticket opened or added to
    FEEDBACK = "feedback"  # a vote on an answer
    SMALL_TALK = "small_talk"


@dataclass(slots=True)
class TurnResult:
    messages: list[Message] = field(default_factory=list)
    outcome: Outcome = Outcome.ANSWERED
    # (target_kind, target_id, helpful) when the user voted on an answer
    feedback: tuple[str, str, bool] | None = None
    # Unmasked contact details given this turn: they go only into the ticket, never into state.
    protected: dict[str, str] = field(default_factory=dict)
    # What this turn did, for the insights (bot/store/insights.py): stored in the user turn's
    # meta. Keys: steps_flow + steps (the checklist steps shown), choice_step + choice (the
    # answer chosen), resolved_step, escalation (why a ticket opened) + escalated_step, faq.
    report: dict[str, Any] = field(default_factory=dict)


OpenTicket = Callable[[TicketRequest], TicketInfo]
UpdateTicket = Callable[[TicketUpdate], TicketInfo | None]
ReadReply = Callable[[str], list[tuple[str, float]]]


class Turn:
    """One turn: what belongs to the message being answered (its unredacted text, the clock, the
    ticket callbacks) and the messages it collects, rendered for the conversation's brand. One
    Policy answers many conversations at once; nothing of a turn lives on the Policy."""

    def __init__(
        self,
        policy: Policy,
        brand_key: str,
        *,
        raw_text: str | None,
        now: datetime,
        open_ticket: OpenTicket,
        update_ticket: UpdateTicket,
        ticket_status: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.policy = policy
        self.brand_key = brand_key
        self.values = policy.fact_values(brand_key)
        self.result = TurnResult()
        # The message with only its secrets hidden: read for a contact detail the bot asked for.
        self.raw_text = raw_text
        self.now = now
        self.open_ticket = open_ticket
        self.update_ticket = update_ticket
        # The ticket's status in the store (open, in_progress…), read only when the user asks.
        self.ticket_status = ticket_status

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone().replace(tzinfo=None)

    def render(self, text: Any, **extra: str) -> str:
        return render(text, self.brand_key, self.values | extra)

    def say(self, key: str, buttons: list[Button] | None = None, **extra: str) -> None:
        self.add(self.render(self.policy.content.responses.texts.get(key, key), **extra), buttons)

    def add(self, text: str, buttons: list[Button] | None = None) -> None:
        if text or buttons:
            self.result.messages.append({"text": text, "buttons": buttons or []})

    def said_after_ticket(self, text: str) -> dict[str, Any]:
        """A trail entry for words the user said once the ticket existed (news for the agent)."""
        return {
            "flow": None,
            "step": "after_ticket",
            "say": "",
            "answer": text.strip(),
            "at": self.now.isoformat(timespec="seconds"),
        }

    def button(self, key: str, payload: str) -> Button:
        return {"title": self.policy.content.responses.buttons.get(key, key), "payload": payload}
