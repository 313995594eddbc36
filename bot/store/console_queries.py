"""What the support console needs from the store beyond ``tickets.py``: locked reads, the whole
filtered queue for exports, bulk audit events, and the two changes that also touch the ticket's
conversation (an agent's reply, and handing the conversation back to the bot).

Who owns the conversation is part of the ticket's workflow:

- an agent's reply appends an ``agent`` turn and sets ``Conversation.human_owner``, so the
  engine stays silent and the user's bubble shows the agent's message at its next poll;
- moving the ticket to ``resolved`` or ``closed`` clears ``human_owner``: the bot answers again.

Lock order is conversation first, then ticket, the same as the engine's (it locks the
conversation and then creates or reads the ticket), so the two never deadlock on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select
from sqlalchemy.orm import Session

from bot.store.conversations import append_turn, get_conversation
from bot.store.errors import StoreError
from bot.store.models import (
    ConsoleUser,
    Conversation,
    EventKind,
    Priority,
    Ticket,
    TicketEvent,
    TicketStatus,
    Turn,
    TurnRole,
    coerce_enum,
    parse_ticket_number,
    utcnow,
)
from bot.store.tickets import TicketQuery, _conditions, change_status, record_event

EXPORT_BATCH = 1000
# Up to this many matches, a queue page is read through the filters' own indexes and sorted,
# instead of walking the queue-order index (see list_queue).
SMALL_RESULT = 2000
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


def list_categories(s: Session) -> list[str]:
    """Every category that some ticket has, sorted (served by ``ix_tickets_category``)."""
    return list(s.scalars(select(Ticket.category).distinct().order_by(Ticket.category)))


def list_queue(s: Session, q: TicketQuery) -> tuple[list[Ticket], int]:
    """``tickets.list_tickets`` with query plans that stay fast for every filter at 100,000.

    ``list_tickets`` finds a page by walking the (queue_rank, created_at) index in order and
    checking each ticket against the filters. That is ideal when many tickets match (the page
    fills at once), but two cases read most of the table instead (0.3-0.6 s on SQLite, which
    plans without statistics unless someone runs ANALYZE):

    - few matches ("mine", a rare category): the walk goes to the end to find them. The count
      comes first and tells: up to ``SMALL_RESULT`` matches the ORDER BY uses
      ``queue_rank + 0`` (the same order, but an expression, so the planner cannot walk the
      index for it) and the few tickets are found through their filter's index and sorted;
    - an assignee, category, text or brand together with a status filter: SQLite counts
      through the status index and looks every candidate row up. Restating the most
      selective of them as ``id IN (SELECT id ... WHERE assignee_id = ?)`` lets it collect
      the ids from that filter's index (or one pass over the table for a text) first
      (0.2 ms instead of 380 ms for "my unfinished tickets").

    Both are plain SQL with the same results on PostgreSQL, whose planner has statistics.

    Returns:
        One page of tickets in queue order, and the number matching the filters.
    """
    conds = _conditions(q)
    narrowed = conds + _narrowing(q)
    total = s.scalar(select(func.count()).select_from(Ticket).where(*narrowed)) or 0
    if total > SMALL_RESULT:
        stmt = select(Ticket).where(*conds).order_by(Ticket.queue_rank, Ticket.created_at, Ticket.id)
    else:
        stmt = select(Ticket).where(*narrowed).order_by(Ticket.queue_rank + 0, Ticket.created_at, Ticket.id)
    stmt = stmt.limit(q.per_page).offset((q.page - 1) * q.per_page)
    return list(s.scalars(stmt)), total


def _narrowing(q: TicketQuery) -> list[ColumnElement[bool]]:
    """The most selective filter restated as an id subquery, when other filters join it.

    In order of preference: one assignee's tickets, one category, the text search (a single
    sequential pass, cheaper than looking rows up one by one), one brand. Each is built by
    the store's own ``_conditions`` from a query holding only that filter, so it means
    exactly what the queue means by it.
    """
    alone: list[TicketQuery] = []
    if q.assignee_id is not None and not q.unassigned:
        alone.append(TicketQuery(assignee_id=q.assignee_id))
    if q.category is not None:
        alone.append(TicketQuery(category=q.category))
    if (q.text or "").strip():
        alone.append(TicketQuery(text=q.text))
    if q.brand is not None:
        alone.append(TicketQuery(brand=q.brand))
    status_like = q.status is not None or q.priority is not None or q.active is not None
    selective = q.category is not None or (q.assignee_id is not None and not q.unassigned)
    if not alone or not (status_like or q.unassigned or (selective and len(alone) > 1)):
        return []  # served by one index, or one scan (text and brand together)
    return [Ticket.id.in_(select(Ticket.id).where(*_conditions(alone[0])))]


def tickets_after(
    s: Session, q: TicketQuery, after: Ticket | None = None, *, limit: int = EXPORT_BATCH
) -> list[Ticket]:
    """The next ``limit`` tickets matching the queue's filters, in queue order, after ``after``.

    Keyset pagination over (queue_rank, created_at, id) ignoring ``q.page``: an export walks
    the whole filtered queue batch by batch, each batch in its own short transaction, without
    OFFSET scans and without holding 100,000 tickets in memory.
    """
    conds = _conditions(q)
    if after is not None:
        conds.append(
            or_(
                Ticket.queue_rank > after.queue_rank,
                and_(
                    Ticket.queue_rank == after.queue_rank,
                    or_(
                        Ticket.created_at > after.created_at,
                        and_(Ticket.created_at == after.created_at, Ticket.id > after.id),
                    ),
                ),
            )
        )
    stmt = select(Ticket).where(*conds).order_by(Ticket.queue_rank, Ticket.created_at, Ticket.id).limit(limit)
    return list(s.scalars(stmt))


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


def set_ticket_status(s: Session, ticket: Ticket, new: TicketStatus | str, *, actor: str) -> TicketEvent:
    """``change_status``, plus giving the conversation back to the bot on resolved/closed.

    Raises:
        InvalidTransition: the lifecycle does not allow the move.
    """
    target = coerce_enum(TicketStatus, new, "ticket status")
    event = change_status(s, ticket, target, actor=actor)
    if not target.is_active:
        conv: Conversation | None = get_conversation(s, ticket.conversation_id, lock=True)
        if conv is not None and conv.human_owner:
            conv.human_owner = False
            conv.updated_at = utcnow()
    return event
