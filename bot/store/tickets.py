"""Support tickets: creation exactly once per conversation, the agents' queue, and changes.

Every change to a ticket writes a ``TicketEvent`` with what it was before and after, so the
console can show who did what; events are never updated or deleted.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.conversations import LockedConversation
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
    contact_search_token,
    parse_ticket_number,
    queue_rank,
    utcnow,
)

MAX_PER_PAGE = 200


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
    problem: str | None = None,
    details: dict[str, Any] | None = None,
    trail: list[dict[str, Any]] | None = None,
    sla_hours: dict[str, float] | None = None,
) -> Ticket | None:
    """What the user said after the conversation's ticket was opened, added to it.

    Details are merged (a later answer replaces an earlier one), a new problem (a line worded by
    the caller) is appended to the summary unless the summary holds it already, the trail grows, and the priority is only ever raised (moving ``due_at``
    earlier when `sla_hours` gives the new priority's hours). One ``updated`` event records what
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


# --------------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class TicketQuery:
    """Filters and page of the agents' queue; None means "any".

    Example: ``TicketQuery(status="open", brand="kdou", text="提现", page=2)``.

    Attributes:
        active: True for tickets still needing work (open, in_progress, waiting_on_user),
            False for resolved/closed.
        unassigned: only tickets nobody is assigned to (ignores ``assignee_id``).
        text: case-insensitive substring of the summary or the collected details, or a
            ticket number ("WB-000123").
    """

    status: TicketStatus | None = None
    priority: Priority | None = None
    category: str | None = None
    brand: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    active: bool | None = None
    text: str | None = None
    page: int = 1
    per_page: int = 50

    def __post_init__(self) -> None:
        if self.status is not None:
            object.__setattr__(self, "status", coerce_enum(TicketStatus, self.status, "ticket status"))
        if self.priority is not None:
            object.__setattr__(self, "priority", coerce_enum(Priority, self.priority, "priority"))
        if self.page < 1:
            raise StoreError(f"Page {self.page!r} does not exist: pages start at 1.")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise StoreError(f"Cannot show {self.per_page!r} tickets per page: use 1 to {MAX_PER_PAGE}.")


def _conditions(q: TicketQuery) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if q.status is not None:
        conds.append(Ticket.status == q.status)
    if q.priority is not None:
        conds.append(Ticket.priority == q.priority)
    if q.status is not None or q.priority is not None or q.active is not None:
        # The same filters as queue_rank values, so they use the (queue_rank, created_at)
        # index that also gives the order.
        ranks = sorted(
            {
                queue_rank(status, priority)
                for status in ([q.status] if q.status is not None else TicketStatus)
                for priority in ([q.priority] if q.priority is not None else Priority)
                if q.active is None or status.is_active == q.active
            }
        )
        conds.append(Ticket.queue_rank.in_(ranks))
    if q.category is not None:
        conds.append(Ticket.category == q.category)
    if q.brand is not None:
        conds.append(Ticket.brand == q.brand)
    if q.unassigned:
        conds.append(Ticket.assignee_id.is_(None))
    elif q.assignee_id is not None:
        conds.append(Ticket.assignee_id == q.assignee_id)
    text = (q.text or "").strip()
    if text:
        # A scan of one pre-lowered column: fine at 100,000 tickets (see seed_bench); a
        # trigram index (pg_trgm) would be the next step on PostgreSQL.
        match: ColumnElement[bool] = or_(
            Ticket.search_text.contains(text.lower(), autoescape=True),
            Ticket.search_text.contains(contact_search_token(text)),
        )
        ticket_id = parse_ticket_number(text)
        if ticket_id is not None:
            match = or_(match, Ticket.id == ticket_id)
        conds.append(match)
    return conds


def list_tickets(s: Session, q: TicketQuery) -> tuple[list[Ticket], int]:
    """One page of the queue and the number of tickets matching the filters.

    Order: tickets still needing work first, then by priority (urgent first), then oldest
    first. ``queue_rank`` encodes the first two, so the order is served by the
    ``(queue_rank, created_at)`` / ``(status, queue_rank, created_at)`` indexes. Assignees are
    loaded in one extra query for the whole page.
    """
    conds = _conditions(q)
    total = s.scalar(select(func.count()).select_from(Ticket).where(*conds)) or 0
    stmt = (
        select(Ticket)
        .where(*conds)
        .order_by(Ticket.queue_rank, Ticket.created_at, Ticket.id)
        .limit(q.per_page)
        .offset((q.page - 1) * q.per_page)
    )
    return list(s.scalars(stmt)), total


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
    """Move the ticket to ``new`` if the lifecycle allows it.

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
    return record_event(
        s,
        ticket,
        actor=actor,
        kind=EventKind.STATUS,
        before={"status": current.value},
        after={"status": target.value},
    )


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
