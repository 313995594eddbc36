"""What the support console needs from the store beyond ``tickets.py`` and ``queue.py``: locked
reads, bulk audit events, an agent's reply to the user, the priority change, and the marks of
the queue (who wrote last).

An agent's reply appends an ``agent`` turn and sets ``Conversation.human_owner``, so the engine
stays silent and the user's bubble shows the agent's message at its next poll; moving the
ticket to ``resolved`` or ``closed`` (``tickets.change_status``) clears it again.

Lock order is conversation first, then ticket, the same as the engine's (it locks the
conversation and then creates or reads the ticket), so the two never deadlock on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from bot.store.conversations import append_turn, get_conversation
from bot.store.errors import StoreError
from bot.store.models import (
    ConsoleUser,
    EventKind,
    Priority,
    Ticket,
    TicketEvent,
    Turn,
    TurnRole,
    coerce_enum,
    parse_ticket_number,
    utcnow,
)
from bot.store.tickets import record_event

_EVENT_BATCH = 1000


def get_ticket_locked(s: Session, number: str) -> Ticket | None:
    """The ticket with this number, with its conversation locked first, then its own row.

    Use it before changing a ticket: a second agent changing the same ticket waits for this
    transaction and then sees its result (PostgreSQL row locks; on SQLite the write
    transaction's ``BEGIN IMMEDIATE`` already serialises writers).
    """
    ticket_id = parse_ticket_number(number)
    if ticket_id is None:
        return None
    conv_id = s.scalar(select(Ticket.conversation_id).where(Ticket.id == ticket_id))
    if conv_id is None:
        return None
    get_conversation(s, conv_id, lock=True)
    stmt = select(Ticket).where(Ticket.id == ticket_id).with_for_update().execution_options(populate_existing=True)
    return s.scalars(stmt).one_or_none()


def get_user_by_id(s: Session, user_id: int) -> ConsoleUser | None:
    """The console user with this id, or None (e.g. deleted since the session began)."""
    return s.get(ConsoleUser, user_id)


def record_events(
    s: Session,
    ticket_ids: Iterable[int],
    *,
    actor: str,
    kind: EventKind | str,
    after: Any = None,
    note: str | None = None,
) -> int:
    """The same audit event on many tickets at once (e.g. one export); returns how many.

    Multi-row INSERTs instead of one flush per ticket: an export of 100,000 tickets writes its
    audit trail in seconds.
    """
    if not actor or not actor.strip():
        raise StoreError(f"Ticket event {str(kind)!r} needs an actor: pass the console user's name.")
    now = utcnow()
    written = 0
    rows: list[dict[str, Any]] = []

    def flush() -> None:
        if rows:
            s.execute(insert(TicketEvent), rows)
            rows.clear()

    for ticket_id in ticket_ids:
        rows.append(
            {
                "ticket_id": ticket_id,
                "actor": actor,
                "kind": str(kind),
                "before": None,
                "after": after,
                "note": note,
                "created_at": now,
            }
        )
        written += 1
        if len(rows) >= _EVENT_BATCH:
            flush()
    flush()
    return written


def post_agent_reply(s: Session, ticket: Ticket, text: str, *, actor: str) -> Turn:
    """Send an agent's message to the user of the ticket's conversation.

    Appends an ``agent`` turn (the bubble shows it at its next poll), hands the conversation to
    a human (the engine stays silent until the ticket is resolved) and records a ``reply``
    event with the message.

    Raises:
        StoreError: empty text, or the ticket is resolved/closed (reopen it first: a reply
            would silence the bot in a conversation nobody works on any more).
    """
    text = (text or "").strip()
    if not text:
        raise StoreError(f"Refusing an empty reply on ticket {ticket.number}: write some text.")
    if not ticket.status.is_active:
        raise StoreError(f"Ticket {ticket.number} is '{ticket.status}': reopen it before replying to the user.")
    conv = get_conversation(s, ticket.conversation_id, lock=True)
    if conv is None:  # the foreign key makes this impossible short of manual deletion
        raise StoreError(
            f"Ticket {ticket.number} has no conversation '{ticket.conversation_id}': the reply cannot be delivered."
        )
    turn = append_turn(s, conv, role=TurnRole.AGENT, text=text, meta={"agent": actor})
    was_owner = bool(conv.human_owner)
    conv.human_owner = True
    ticket.updated_at = utcnow()
    record_event(
        s,
        ticket,
        actor=actor,
        kind=EventKind.REPLY,
        before={"human_owner": was_owner},
        after={"human_owner": True, "turn_seq": turn.seq},
        note=text,
    )
    return turn


def set_ticket_priority(
    s: Session, ticket: Ticket, new: Priority | str, *, actor: str, sla_hours: Mapping[str, float]
) -> TicketEvent | None:
    """Change the priority (up or down) and the due time with it: created_at plus the brand's
    hours for the new priority. One ``priority`` event records both; None when unchanged.

    Raises:
        StoreError: ``new`` is not a priority.
    """
    target = coerce_enum(Priority, new, "priority")
    if target == ticket.priority:
        return None
    before: dict[str, Any] = {"priority": ticket.priority.value}
    after: dict[str, Any] = {"priority": target.value}
    hours = sla_hours.get(target.value)
    if hours is not None:
        due = ticket.created_at + timedelta(hours=float(hours))
        if due != ticket.due_at:
            before["due_at"], after["due_at"] = ticket.due_at.isoformat(), due.isoformat()
            ticket.due_at = due
    ticket.priority = target
    ticket.updated_at = utcnow()
    return record_event(s, ticket, actor=actor, kind=EventKind.PRIORITY, before=before, after=after)


def last_user_messages(s: Session, conversation_ids: Iterable[str]) -> dict[str, datetime]:
    """When the user last wrote, per conversation (for the queue's "wrote again" mark)."""
    ids = list(conversation_ids)
    if not ids:
        return {}
    stmt = (
        select(Turn.conversation_id, func.max(Turn.created_at))
        .where(Turn.conversation_id.in_(ids), Turn.role == TurnRole.USER)
        .group_by(Turn.conversation_id)
    )
    return {conv: at for conv, at in s.execute(stmt) if at is not None}


# Audit events written by the user or the bot, not by an agent.
_NOT_AGENTS = ("user", "bot")


def last_agent_actions(s: Session, ticket_ids: Iterable[int]) -> dict[int, datetime]:
    """When an agent last did something on each ticket (replied, noted, changed, viewed a detail)."""
    ids = list(ticket_ids)
    if not ids:
        return {}
    stmt = (
        select(TicketEvent.ticket_id, func.max(TicketEvent.created_at))
        .where(TicketEvent.ticket_id.in_(ids), TicketEvent.actor.not_in(_NOT_AGENTS))
        .group_by(TicketEvent.ticket_id)
    )
    return {ticket_id: at for ticket_id, at in s.execute(stmt) if at is not None}
