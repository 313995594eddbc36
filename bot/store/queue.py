"""The agents' queue: which tickets match a set of filters, one page of them, or all of them.

One reading of the filters (``ticket_conditions``) serves the queue page, the JSON API, the
export and ``walletbot tickets list``, so each shows the same tickets. The query plans are
tuned for 100,000 tickets on SQLite (see ``list_tickets``) and stay plain SQL for PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from bot.store.errors import StoreError
from bot.store.models import (
    Priority,
    Ticket,
    TicketStatus,
    coerce_enum,
    contact_search_token,
    parse_ticket_number,
    queue_rank,
)

MAX_PER_PAGE = 200
EXPORT_BATCH = 1000
# Up to this many matches, a queue page is read through the filters' own indexes and sorted,
# instead of walking the queue-order index (see list_tickets).
SMALL_RESULT = 2000


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


def ticket_conditions(q: TicketQuery) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the query's filters (what "matches the filters" means everywhere)."""
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
    first. ``queue_rank`` encodes the first two, so the plain plan walks the
    (queue_rank, created_at) index in order and checks each ticket against the filters. That
    is ideal when many tickets match (the page fills at once), but two cases would read most
    of the table instead (0.3-0.6 s on SQLite, which
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
    conds = ticket_conditions(q)
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
    ``ticket_conditions`` from a query holding only that filter, so it means
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
    return [Ticket.id.in_(select(Ticket.id).where(*ticket_conditions(alone[0])))]


def tickets_after(
    s: Session, q: TicketQuery, after: Ticket | None = None, *, limit: int = EXPORT_BATCH
) -> list[Ticket]:
    """The next ``limit`` tickets matching the queue's filters, in queue order, after ``after``.

    Keyset pagination over (queue_rank, created_at, id) ignoring ``q.page``: an export walks
    the whole filtered queue batch by batch, each batch in its own short transaction, without
    OFFSET scans and without holding 100,000 tickets in memory.
    """
    conds = ticket_conditions(q)
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


def list_categories(s: Session) -> list[str]:
    """Every category that some ticket has, sorted (served by ``ix_tickets_category``)."""
    return list(s.scalars(select(Ticket.category).distinct().order_by(Ticket.category)))
