"""Daily rollups of the ticket figures, so that a period of a large store is summed from a few
rows per day instead of computed again over every ticket and ticket event.

The ticket figures of a period (tickets opened by priority and category, time to the first
agent action and to resolution) are about the tickets *opened* in it, so they are sums over
the UTC days the tickets opened: per day and brand, the count per priority and per category,
and for each of the two durations its count, sum and longest. ``insight_ticket_rollups`` holds
these rows for every day up to ``through`` (the last day over before the last refresh); today
is always computed live. The overdue count is about now, not about an opening day, and stays
one live count (``ix_tickets_overdue``).

Unlike conversations, tickets change long after the day they opened: an agent takes one,
resolves it, raises its priority. Every such change writes a ticket event
(``bot/store/tickets.py``), so the rollup keeps two high-water marks, the last ticket id and the
last ticket event id it has seen. A day is **changed** when a ticket opened that day, or an event
of such a ticket, came after the marks: a report computes changed days live (so it is right
even before the next refresh), and ``refresh`` computes them again and moves the marks.
Identity values may commit out of order on PostgreSQL (a transaction that took id 7 commits
after the one that took id 8); the ids missing below a mark are kept as **gaps** and looked at
again, for ``GAP_TTL``, so a late commit is still seen.

Changes that write no ticket event (SQL typed by hand) are not seen: ``rebuild`` starts over.

Rows (figure, key):
    priority: priority        category: category        (value: tickets)
    first_action | resolution: count | sum | max        (value: tickets, seconds)
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import (
    InsightTicketRollup,
    InsightTicketState,
    Ticket,
    TicketEvent,
    TicketStatus,
    utcnow,
)

# Ids missing below a high-water mark are looked at again this long (a transaction that took an
# id commits within seconds; a rolled-back one leaves its id missing for good).
GAP_TTL = timedelta(minutes=10)
DURATIONS = ("first_action", "resolution")
STATE_ID = 1

Row = tuple[str, str, str, str, float]  # day, brand, figure, key, value
Gap = list[Any]  # [first missing id, last missing id, ISO time first seen missing]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


# --------------------------------------------------------------------------- the figures


def ticket_rows(s: Session, start: datetime, end: datetime, brand: str | None = None) -> list[Row]:
    """The ticket figures of the tickets opened in ``[start, end)`` (of ``brand``), per opening
    day and brand, as rollup rows. Live and rolled-up figures are both made of these."""
    from bot.store.insights import AGENT_ACTIONS, NOT_AGENTS, _day, _seconds

    window = [Ticket.created_at >= start, Ticket.created_at < end]
    if brand is not None:
        window.append(Ticket.brand == brand)
    firsts = {
        "first_action": and_(TicketEvent.actor.not_in(NOT_AGENTS), TicketEvent.kind.in_(AGENT_ACTIONS)),
        "resolution": and_(
            TicketEvent.kind == "status",
            TicketEvent.after["status"].as_string() == TicketStatus.RESOLVED.value,
        ),
    }
    # Each ticket of the window with its first agent action and first resolution, looked up
    # by ticket id (ix_ticket_events_ticket_id): the work follows the window's tickets, not
    # the whole event table.
    per_ticket = (
        select(
            Ticket.created_at.label("opened"),
            Ticket.brand.label("brand"),
            Ticket.priority.label("priority"),
            Ticket.category.label("category"),
            *(
                select(func.min(TicketEvent.created_at))
                .where(TicketEvent.ticket_id == Ticket.id, condition)
                .correlate(Ticket)
                .scalar_subquery()
                .label(name)
                for name, condition in firsts.items()
            ),
        )
        .where(*window)
        # Once per ticket: inlined, PostgreSQL would look each ticket's events up three times
        # (count, sum and longest).
        .cte("per_ticket")
        .prefix_with("MATERIALIZED")
    )
    t = per_ticket.c
    day = _day(s, t.opened).label("day")
    measures = []
    for name in DURATIONS:
        seconds = _seconds(s, t[name], t.opened)
        measures += [func.count(t[name]), func.sum(seconds), func.max(seconds)]
    stmt = select(day, t.brand, t.priority, t.category, func.count(), *measures).group_by(
        day, t.brand, t.priority, t.category
    )
    sums: dict[tuple[str, str, str, str], float] = defaultdict(float)
    longest: dict[tuple[str, str, str], float] = {}
    for d, b, priority, category, n, *values in s.execute(stmt):
        sums[d, b, "priority", str(priority)] += n
        sums[d, b, "category", category] += n
        for i, name in enumerate(DURATIONS):
            count, total, most = values[3 * i : 3 * i + 3]
            if count:
                sums[d, b, name, "count"] += count
                sums[d, b, name, "sum"] += float(total)
                key = (d, b, name)
                longest[key] = max(longest.get(key, float(most)), float(most))
    return [(d, b, figure, key, float(v)) for (d, b, figure, key), v in sums.items()] + [
        (d, b, name, "max", v) for (d, b, name), v in longest.items()
    ]


def assemble(rows: list[Row]) -> dict[str, Any]:
    """Rollup rows (and live ones) summed into the report's ticket figures, overdue aside."""
    from bot.store.insights import _round, by_priority_rank

    priorities: dict[str, int] = defaultdict(int)
    categories: dict[str, int] = defaultdict(int)
    durations: dict[str, dict[str, float | None]] = {
        name: {"count": 0.0, "sum": 0.0, "max": None} for name in DURATIONS
    }
    for _day, _brand, figure, key, value in rows:
        if figure == "priority":
            priorities[key] += int(value)
        elif figure == "category":
            categories[key] += int(value)
        elif figure in durations:
            d = durations[figure]
            if key == "max":
                most = d["max"]
                d["max"] = value if most is None else max(most, value)
            else:
                d[key] = (d[key] or 0.0) + value
    times = {
        name: {
            "tickets": int(d["count"] or 0),
            "mean_seconds": _round((d["sum"] or 0.0) / d["count"]) if d["count"] else None,
            "max_seconds": _round(d["max"]) if d["count"] and d["max"] is not None else None,
        }
        for name, d in durations.items()
    }
    return {
        "opened": sum(priorities.values()),
        "by_priority": by_priority_rank(priorities),
        "by_category": dict(sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))),
        "time_to_first_action": times["first_action"],
        "time_to_resolution": times["resolution"],
    }


def overdue(s: Session, brand: str | None, now: datetime) -> dict[str, Any]:
    """Active tickets past their due time now, whatever their opening day, by priority."""
    conds = [Ticket.status.in_([st.value for st in TicketStatus if st.is_active]), Ticket.due_at < now]
    if brand is not None:
        conds.append(Ticket.brand == brand)
    found = {
        str(p): int(n)
        for p, n in s.execute(select(Ticket.priority, func.count()).where(*conds).group_by(Ticket.priority))
    }
    from bot.store.insights import by_priority_rank

    return {"total": sum(found.values()), "by_priority": by_priority_rank(found)}


def ticket_figures(s: Session, q: Any, *, now: datetime | None = None) -> dict[str, Any]:
    """The ticket figures of ``q`` (an ``InsightQuery``): its whole days that are rolled up and
    unchanged since are read from the rollup, the rest (today, a partial first or last day, days
    changed since the last refresh) computed live. Equal to ``insights.ticket_figures``."""
    now = now or utcnow()
    rolled, live = split(s, q)
    rows = read(s, rolled, q.brand) if rolled else []
    for start, end in live:
        rows += ticket_rows(s, start, end, q.brand)
    return {**assemble(rows), "overdue": overdue(s, q.brand, now)}


# --------------------------------------------------------------------------- reading


def _state(s: Session) -> InsightTicketState | None:
    return s.get(InsightTicketState, STATE_ID)


def _gaps(state: InsightTicketState) -> dict[str, list[Gap]]:
    gaps: dict[str, list[Gap]] = json.loads(state.gaps or "{}")
    return gaps


def _after(column: Any, seen: int, gaps: list[Gap]) -> ColumnElement[bool]:
    """Ids past the mark, or in one of its gaps."""
    return or_(column > seen, *(column.between(lo, hi) for lo, hi, _since in gaps))


def _changed_tickets(state: InsightTicketState) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    gaps = _gaps(state)
    return (
        _after(Ticket.id, state.tickets_seen, gaps.get("tickets", [])),
        _after(TicketEvent.id, state.events_seen, gaps.get("events", [])),
    )


def changed_days(s: Session, state: InsightTicketState, *, upto: tuple[int, int] | None = None) -> set[str]:
    """Opening days of the tickets created or changed since the rollup's marks (up to the ids
    ``upto``, tickets' and events', when given)."""
    from bot.store.insights import _day

    new_ticket, new_event = _changed_tickets(state)
    if upto is not None:
        new_ticket, new_event = and_(new_ticket, Ticket.id <= upto[0]), and_(new_event, TicketEvent.id <= upto[1])
    day = _day(s, Ticket.created_at)
    days = set(s.scalars(select(day).where(new_ticket).distinct()))
    days |= set(
        s.scalars(select(day).join(TicketEvent, TicketEvent.ticket_id == Ticket.id).where(new_event).distinct())
    )
    return days


def split(s: Session, q: Any) -> tuple[list[str], list[tuple[datetime, datetime]]]:
    """The whole days of ``q`` read from the rollup, and the windows computed live."""
    state = _state(s)
    if state is None or state.through is None:
        return [], [(q.start, q.end)]
    through = date.fromisoformat(state.through)
    changed = changed_days(s, state)
    first = (q.start + timedelta(days=1) - timedelta(microseconds=1)).date()  # first whole day
    last = min(q.end.date() - timedelta(days=1), through)  # last whole day that is rolled up
    rolled: list[str] = []
    live: list[tuple[datetime, datetime]] = []
    window_start = q.start
    day = first
    while day <= last:
        if day.isoformat() not in changed:
            if window_start < _midnight(day):
                live.append((window_start, _midnight(day)))
            rolled.append(day.isoformat())
            window_start = _midnight(day + timedelta(days=1))
        day += timedelta(days=1)
    if window_start < q.end:
        live.append((window_start, q.end))
    return rolled, live


def read(s: Session, days: list[str], brand: str | None) -> list[Row]:
    """The rollup rows of these days (of one brand, or all), summed over days and brands (the
    longest durations: their maximum)."""
    r = InsightTicketRollup
    conds = [r.day.in_(days)] + ([r.brand == brand] if brand is not None else [])
    total = func.sum(r.value)
    value = func.max(r.value)
    stmt = select(r.figure, r.key, total, value).where(*conds).group_by(r.figure, r.key)
    return [("", "", figure, key, longest if key == "max" else n) for figure, key, n, longest in s.execute(stmt)]


# --------------------------------------------------------------------------- writing


def _marks(s: Session, column: Any, seen: int, gaps: list[Gap], now: datetime) -> tuple[int, list[Gap]]:
    """The new high-water mark of an id column and its gaps: ids missing below it, each kept
    until ``GAP_TTL`` after it was first seen missing, or until it shows up."""
    present = sorted(s.scalars(select(column).where(_after(column, seen, gaps))))
    top = max([seen, *present[-1:]])
    found = set(present)
    kept: list[Gap] = []
    for lo, hi, since in gaps:  # the old gaps, less what arrived
        if datetime.fromisoformat(since) < now - GAP_TTL:
            continue
        run: int | None = None
        for i in range(lo, hi + 2):
            if i <= hi and i not in found:
                run = i if run is None else run
            elif run is not None:
                kept.append([run, i - 1, since])
                run = None
    previous = seen
    for i in present:  # new gaps between the old mark and the new one
        if i > seen:
            if i > previous + 1:
                kept.append([previous + 1, i - 1, now.isoformat()])
            previous = i
    return top, kept


def refresh(db: Database, *, now: datetime | None = None) -> int:
    """Bring the rollup up to date: roll up the days that ended since the last refresh, and
    compute again the days whose tickets changed (new events) since. Returns how many days
    were written. The first refresh of a store rolls up every past day in one pass.

    The days are computed in a read-only transaction (on SQLite it neither waits for nor
    blocks the chat's writes), then written in one short write transaction. When another
    worker refreshed meanwhile (the state row's ``version`` moved), nothing is written and 0
    is returned: that worker's rollup is as new.
    """
    now = now or utcnow()
    yesterday = now.date() - timedelta(days=1)
    with db.session(readonly=True) as s:
        state = _state(s)
        if (  # nothing to do, the usual case
            state is not None
            and state.through == yesterday.isoformat()
            and not any(_gaps(state).values())
            and (s.scalar(select(func.max(Ticket.id))) or 0) == state.tickets_seen
            and (s.scalar(select(func.max(TicketEvent.id))) or 0) == state.events_seen
        ):
            return 0
        version = None if state is None else state.version
        through = None if state is None or state.through is None else date.fromisoformat(state.through)
        # The marks first: what commits after this is past them or in their gaps, and is seen
        # by the next refresh; what is below them is in the days computed now.
        gaps = {} if state is None else _gaps(state)
        tickets_seen, ticket_gaps = _marks(
            s, Ticket.id, state.tickets_seen if state else 0, gaps.get("tickets", []), now
        )
        events_seen, event_gaps = _marks(
            s, TicketEvent.id, state.events_seen if state else 0, gaps.get("events", []), now
        )
        days: set[date] = set()
        if state is None or through is None:
            first = s.scalar(select(func.min(Ticket.created_at)))
            start = first.date() if first is not None else now.date()
        else:
            start = through + timedelta(days=1)
            days |= {date.fromisoformat(d) for d in changed_days(s, state, upto=(tickets_seen, events_seen))}
        day = start
        while day <= yesterday:
            days.add(day)
            day += timedelta(days=1)
        runs = _runs(sorted(d for d in days if d <= yesterday))
        computed = [(lo, hi, ticket_rows(s, _midnight(lo), _midnight(hi + timedelta(days=1)))) for lo, hi in runs]
    try:
        with db.session() as s:
            if version is None:
                s.add(InsightTicketState(id=STATE_ID, tickets_seen=0, events_seen=0, gaps="{}", version=0))
                s.flush()  # a second worker doing the same fails here, on the primary key
                version = 0
            taken = s.execute(
                update(InsightTicketState)
                .where(InsightTicketState.id == STATE_ID, InsightTicketState.version == version)
                .values(
                    version=version + 1,
                    through=max(yesterday, through or yesterday).isoformat(),
                    tickets_seen=tickets_seen,
                    events_seen=events_seen,
                    gaps=json.dumps({"tickets": ticket_gaps, "events": event_gaps}),
                    computed_at=now,
                )
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult: an INSERT
                s.rollback()
                return 0
            for lo, hi, rows in computed:
                s.execute(
                    delete(InsightTicketRollup).where(InsightTicketRollup.day.between(lo.isoformat(), hi.isoformat()))
                )
                if rows:
                    s.execute(
                        insert(InsightTicketRollup),
                        [{"day": d, "brand": b, "figure": f, "key": k, "value": v} for d, b, f, k, v in rows],
                    )
        return sum((hi - lo).days + 1 for lo, hi, _rows in computed)
    except IntegrityError:
        return 0  # another worker created the state meanwhile


def rebuild(db: Database) -> None:
    """Forget the rollup; the next refresh rolls up every day again (after changes made to the
    tickets outside the product, which write no ticket event)."""
    with db.session() as s:
        s.execute(delete(InsightTicketRollup))
        s.execute(delete(InsightTicketState))


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs."""
    runs: list[tuple[date, date]] = []
    for d in days:
        if runs and runs[-1][1] + timedelta(days=1) == d:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs
