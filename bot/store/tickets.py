"""Support tickets: creation exactly once per conversation, and every change to one.

Every change to a ticket writes a ``TicketEvent`` with what it was before and after, so the
console can show who did what; events are never updated or deleted. Finding tickets (the
agents' queue, exports) is ``bot.store.queue``.

Who owns the conversation is part of the ticket's workflow: an agent's reply
(``console_queries.post_agent_reply``) hands it to a human, and ``change_status`` to resolved
or closed gives it back to the bot.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.conversations import LockedConversation, get_conversation
from bot.store.errors import InvalidTransition, StoreError
from bot.store.models import (
    ConsoleUser,
    Conversation,
    EventKind,
    Priority,
    Ticket,
    TicketEvent,
    TicketStatus,
    coerce_enum,
    parse_ticket_number,
    utcnow,
)


def create_ticket_once(
    s: Session,
    conv: Conversation | LockedConversation,
    *,
    brand: str,
    category: str,
    priority: Priority | str,
    summary: str,
    details: dict[str, Any],
    trail: list[dict[str, Any]],
    sla_hours: dict[str, float],
) -> tuple[Ticket, bool]:
    """Open the conversation's ticket, or return the one it already has.

    Safe when two workers escalate the same conversation at once: the unique constraint on
    ``tickets.conversation_id`` lets one insert win; the other's insert fails inside a
    SAVEPOINT, which is rolled back, and the winner's ticket is read and returned.

    Args:
        sla_hours: hours to resolve per priority, e.g. ``{"urgent": 1, "high": 4, ...}``;
            ``due_at`` is the creation time plus ``sla_hours[priority]``.

    Returns:
        ``(ticket, True)`` when this call created it, ``(existing, False)`` otherwise.

    Raises:
        StoreError: unknown priority, or no SLA for it.
    """
    prio = coerce_enum(Priority, priority, "priority")
    hours = sla_hours.get(prio.value)
    if hours is None:
        raise StoreError(
            f"No SLA for priority '{prio}' in sla_hours {sla_hours!r}: add '{prio}' "
            f"(hours to resolve) to brands.{brand}.sla_hours in config.yml."
        )

    existing = get_ticket_for_conversation(s, conv.id)
    if existing is not None:
        return existing, False

    now = utcnow()
    ticket = Ticket(
        conversation_id=conv.id,
        brand=brand,
        category=category,
        status=TicketStatus.OPEN,
        priority=prio,
        summary=summary,
        details=copy.deepcopy(details),
        trail=copy.deepcopy(trail),
        due_at=now + timedelta(hours=float(hours)),
        created_at=now,
        updated_at=now,
    )
    try:
        with s.begin_nested():
            s.add(ticket)
            s.flush()
    except IntegrityError as exc:
        existing = get_ticket_for_conversation(s, conv.id)
        if existing is None:  # not the one-ticket constraint: something else is wrong
            raise StoreError(f"Could not create a ticket for conversation '{conv.id}': {exc.orig}") from exc
        return existing, False

    record_event(
        s,
        ticket,
        actor="bot",
        kind=EventKind.CREATED,
        after={
            "status": ticket.status.value,
            "priority": prio.value,
            "category": category,
            "due_at": ticket.due_at.isoformat(),
        },
    )
    return ticket, True


def add_to_ticket(
    s: Session,
    conv: Conversation | LockedConversation,
    *,
    priority: Priority | str | None = None,
    category: str | None = None,
    problem: str | None = None,
    details: dict[str, Any] | None = None,
    trail: list[dict[str, Any]] | None = None,
    sla_hours: dict[str, float] | None = None,
) -> Ticket | None:
    """What the user said after the conversation's ticket was opened, added to it.

    Details are merged (a later answer replaces an earlier one), a new problem (a line worded by
    the caller) is appended to the summary unless the summary holds it already, the trail grows, and the priority is only ever raised (moving ``due_at``
    earlier when `sla_hours` gives the new priority's hours); the `category` of the problem that
    raises it becomes the ticket's (an account found stolen while a password reset was filed is
    what the agent must route and see first). One ``updated`` event records what
    changed. Returns None when the conversation has no ticket.
    """
    ticket = get_ticket_for_conversation(s, conv.id)
    if ticket is None:
        return None
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if priority is not None:
        prio = coerce_enum(Priority, priority, "priority")
        if prio.rank > Priority(ticket.priority).rank:
            before["priority"], after["priority"] = ticket.priority.value, prio.value
            ticket.priority = prio
            if category and category != ticket.category:
                before["category"], after["category"] = ticket.category, category
                ticket.category = category
            hours = (sla_hours or {}).get(prio.value)
            if hours is not None:
                due = ticket.created_at + timedelta(hours=float(hours))
                if due < ticket.due_at:
                    before["due_at"], after["due_at"] = ticket.due_at.isoformat(), due.isoformat()
                    ticket.due_at = due
    if problem and problem not in ticket.summary:
        before["summary"], after["summary"] = ticket.summary, f"{ticket.summary}\n{problem}"
        ticket.summary = after["summary"]
    changed = {k: v for k, v in (details or {}).items() if v is not None and (ticket.details or {}).get(k) != v}
    if changed:
        after["details"] = sorted(changed)
        ticket.details = {**(ticket.details or {}), **changed}  # a new dict: search_text follows
    if trail:
        ticket.trail = [*(ticket.trail or []), *copy.deepcopy(trail)]
    if not after and not trail:
        return ticket
    ticket.updated_at = utcnow()
    record_event(
        s,
        ticket,
        actor="user",
        kind=EventKind.UPDATED,
        before=before or None,
        after=after or {"trail": len(trail or [])},
    )
    return ticket


def get_ticket(s: Session, number: str) -> Ticket | None:
    """The ticket with this number ("WB-000123"; "wb123" also works), or None."""
    ticket_id = parse_ticket_number(number)
    return None if ticket_id is None else s.get(Ticket, ticket_id)


def get_ticket_for_conversation(s: Session, conv_id: str) -> Ticket | None:
    """The ticket of a conversation, or None if it was never escalated."""
    return s.scalars(select(Ticket).where(Ticket.conversation_id == conv_id)).one_or_none()


# --------------------------------------------------------------------------- changes


def record_event(
    s: Session,
    ticket: Ticket,
    *,
    actor: str,
    kind: EventKind | str,
    before: Any = None,
    after: Any = None,
    note: str | None = None,
) -> TicketEvent:
    """Append one audit event (e.g. an agent revealed a masked field, exported, replied).

    Args:
        actor: "bot", "user", or the console user's name.
        kind: an ``EventKind`` or another short word.
    """
    if not actor or not str(actor).strip():
        raise StoreError(
            f"Ticket event {str(kind)!r} on {ticket.number} needs an actor: pass 'bot', "
            "'user' or the console user's name."
        )
    if ticket.id is None:
        s.flush()
    event = TicketEvent(
        ticket_id=ticket.id,
        actor=actor,
        kind=str(kind),
        before=before,
        after=after,
        note=note,
        created_at=utcnow(),
    )
    s.add(event)
    s.flush()
    return event


def list_events(s: Session, ticket: Ticket) -> list[TicketEvent]:
    """The ticket's audit history, oldest first."""
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    return list(s.scalars(stmt))


def change_status(s: Session, ticket: Ticket, new: TicketStatus | str, *, actor: str) -> TicketEvent:
    """Move the ticket to ``new`` if the lifecycle allows it; on resolved or closed, give the
    conversation back to the bot (``human_owner`` cleared), whoever moves it.

    Lock order is conversation first, then ticket, the same as the engine's: read the ticket
    with ``console_queries.get_ticket_locked`` before changing it.

    Raises:
        InvalidTransition: the move is not allowed (the message lists what is).
        StoreError: ``new`` is not a status at all.
    """
    target = coerce_enum(TicketStatus, new, "ticket status")
    current = ticket.status
    if not current.can_move_to(target):
        raise InvalidTransition(ticket.number, current.value, target.value, [a.value for a in current.allowed_next()])
    ticket.status = target
    ticket.updated_at = utcnow()
    event = record_event(
        s,
        ticket,
        actor=actor,
        kind=EventKind.STATUS,
        before={"status": current.value},
        after={"status": target.value},
    )
    if not target.is_active:
        conv = get_conversation(s, ticket.conversation_id, lock=True)
        if conv is not None and conv.human_owner:
            conv.human_owner = False
            conv.updated_at = utcnow()
    return event


def assign(s: Session, ticket: Ticket, user: ConsoleUser | None, *, actor: str) -> TicketEvent | None:
    """Give the ticket to a console user, or to nobody (``None``).

    Returns the event, or None when the ticket was already assigned that way.
    """
    old = ticket.assignee
    if (old.id if old else None) == (user.id if user else None):
        return None
    if user is not None and user.id is None:
        s.flush()
    ticket.assignee = user
    ticket.assignee_id = user.id if user is not None else None
    ticket.updated_at = utcnow()
    return record_event(
        s,
        ticket,
        actor=actor,
        kind=EventKind.ASSIGN,
        before={"assignee_id": old.id if old else None, "assignee": old.name if old else None},
        after={"assignee_id": user.id if user else None, "assignee": user.name if user else None},
    )


def add_note(s: Session, ticket: Ticket, text: str, *, actor: str) -> TicketEvent:
    """Add an internal note (agents only; never shown to the end user)."""
    if not text or not text.strip():
        raise StoreError(f"Refusing an empty note on ticket {ticket.number}: write some text.")
    ticket.updated_at = utcnow()
    return record_event(s, ticket, actor=actor, kind=EventKind.NOTE, note=text.strip())
