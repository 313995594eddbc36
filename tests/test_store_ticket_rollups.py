"""The ticket figures' daily rollups give the same figures as computing them over every ticket,
on SQLite and PostgreSQL, before and after the tickets change (status, assignment, priority) and
across a day boundary: the three tickets of test_store_insights, opened five days back."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from test_store_insight_rollups import SHIFT, settled  # noqa: F401 - fixtures
from test_store_insights import bot, seeded  # noqa: F401 - fixtures

from bot.engine import Assistant
from bot.store import (
    TicketEvent,
    TicketStatus,
    assign,
    change_status,
    create_conversation,
    create_user,
    get_ticket,
)
from bot.store.console_queries import set_ticket_priority
from bot.store.insights import InsightQuery, compute_insights
from bot.store.models import InsightTicketRollup, InsightTicketState, Ticket, utcnow
from bot.store.ticket_rollups import GAP_TTL, rebuild, refresh, split


def week(brand: str | None = None) -> InsightQuery:
    """Ten whole UTC days up to tomorrow: the shifted day is whole, today live."""
    tomorrow = datetime.combine(utcnow().date() + timedelta(days=2), time(), UTC)
    return InsightQuery(tomorrow - timedelta(days=10), tomorrow, brand)


def tickets(bot: Assistant, q: InsightQuery, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ticket figures computed live over every ticket, and from the rollups."""
    with bot.db.session(readonly=True) as s:
        live = compute_insights(s, q, now=now, rollups=False)["tickets"]
        rolled = compute_insights(s, q, now=now, rollups=True)["tickets"]
    return live, rolled


def rolled_days(bot: Assistant, q: InsightQuery) -> list[str]:
    with bot.db.session(readonly=True) as s:
        return split(s, q)[0]


def shifted_day() -> str:
    return (utcnow() - SHIFT).date().isoformat()


def ticket_of(s: Any, seeded: dict[str, Any], name: str) -> Ticket:  # noqa: F811
    ticket = get_ticket(s, seeded["tickets"][name])
    assert ticket is not None
    return ticket


@pytest.mark.parametrize("brand", [None, "generic", "kdou"])
def test_rolled_up_ticket_figures_equal_the_live_ones(
    settled: Assistant,  # noqa: F811
    seeded: dict[str, Any],  # noqa: F811
    brand: str | None,
) -> None:
    now = utcnow()
    assert refresh(settled.db, now=now) >= 5  # every day from the first ticket's to yesterday
    assert shifted_day() in rolled_days(settled, week(brand))
    live, rolled = tickets(settled, week(brand), now)
    assert rolled == live
    # generic's are the misunderstood and the urgent one (both acted on), upay's the handoff
    assert rolled["opened"] == {None: 3, "generic": 2, "kdou": 0}[brand]
    if brand != "kdou":
        assert rolled["time_to_first_action"] == {"tickets": 2, "mean_seconds": 360.0, "max_seconds": 600.0}
    with settled.db.session(readonly=True) as s:
        opened = s.scalar(
            select(func.sum(InsightTicketRollup.value)).where(
                InsightTicketRollup.figure == "priority", InsightTicketRollup.day == shifted_day()
            )
        )
    assert opened == 3
    assert refresh(settled.db, now=now) == 0  # nothing changed, no day ended


def test_changes_are_seen_before_and_after_the_refresh(settled: Assistant, seeded: dict[str, Any]) -> None:  # noqa: F811
    refresh(settled.db)
    q = week()
    with settled.db.session() as s:
        # status change: bob resolves the urgent ticket he had taken
        change_status(s, ticket_of(s, seeded, "urgent"), TicketStatus.RESOLVED, actor="bob")
    now = utcnow()
    assert shifted_day() not in rolled_days(settled, q)  # changed: computed live until the refresh
    live, rolled = tickets(settled, q, now)
    assert rolled == live and rolled["time_to_resolution"]["tickets"] == 2
    assert refresh(settled.db, now=now) == 1  # only the changed day
    assert shifted_day() in rolled_days(settled, q)
    assert tickets(settled, q, now) == (live, live)

    with settled.db.session() as s:
        # reassignment: carol takes the ticket nobody had touched (its first agent action)
        carol = create_user(s, "carol", "agent", "carol-password-1")
        assign(s, ticket_of(s, seeded, "handoff"), carol, actor="carol")
    now = utcnow()
    live, rolled = tickets(settled, q, now)
    assert rolled == live and rolled["time_to_first_action"]["tickets"] == 3
    refresh(settled.db, now=now)
    assert tickets(settled, q, now) == (live, live)

    with settled.db.session() as s:
        # priority change, by an agent: normal -> high
        set_ticket_priority(s, ticket_of(s, seeded, "handoff"), "high", actor="carol", sla_hours={"high": 4})
    now = utcnow()
    live, rolled = tickets(settled, q, now)
    assert rolled == live and rolled["by_priority"] == {"urgent": 1, "high": 1, "normal": 1}
    refresh(settled.db, now=now)
    assert shifted_day() in rolled_days(settled, q)
    assert tickets(settled, q, now) == (live, live)


def test_a_day_boundary(bot: Assistant, seeded: dict[str, Any]) -> None:  # noqa: F811
    """Today's tickets are live; once the day is over the next refresh rolls it up, and a
    change made the next day to one of them is seen."""
    now = utcnow()
    today = now.date().isoformat()
    refresh(bot.db, now=now)
    q = week()
    assert today not in rolled_days(bot, q)
    live, rolled = tickets(bot, q, now)
    assert rolled == live and rolled["opened"] == 3

    tomorrow = now + timedelta(days=1)
    assert refresh(bot.db, now=tomorrow) == 1  # today has ended
    assert today in rolled_days(bot, q)
    live, rolled = tickets(bot, q, tomorrow)
    assert rolled == live and rolled["opened"] == 3
    with bot.db.session() as s:
        change_status(s, ticket_of(s, seeded, "handoff"), TicketStatus.IN_PROGRESS, actor="dave")
    assert today not in rolled_days(bot, q)
    live, rolled = tickets(bot, q, tomorrow)
    assert rolled == live and rolled["time_to_first_action"]["tickets"] == 3
    assert refresh(bot.db, now=tomorrow) == 1
    assert today in rolled_days(bot, q)
    assert tickets(bot, q, tomorrow) == (live, live)
    assert live["overdue"]["total"] == 2  # a day on, the urgent one is overdue too: always live


def test_an_event_committed_late_below_the_mark_is_seen(settled: Assistant, seeded: dict[str, Any]) -> None:  # noqa: F811
    """PostgreSQL hands out ids in order but transactions commit in any order: an event whose id
    is below the mark, committed after the refresh, changes its day all the same."""
    refresh(settled.db)
    with settled.db.session() as s:
        top = s.scalar(select(func.max(TicketEvent.id)))
        handoff = ticket_of(s, seeded, "handoff")
        event = {"ticket_id": handoff.id, "actor": "erin", "kind": "note", "note": "…", "created_at": utcnow()}
        s.execute(insert(TicketEvent), [{"id": top + 2, **event}])  # id top + 1 is still in flight
    refresh(settled.db)
    with settled.db.session(readonly=True) as s:
        assert f'"events": [[{top + 1}, {top + 1}, ' in s.get(InsightTicketState, 1).gaps
    q = week()
    assert shifted_day() in rolled_days(settled, q)
    with settled.db.session() as s:  # the late one: the handoff resolved
        late = {
            "ticket_id": handoff.id,
            "actor": "erin",
            "kind": "status",
            "after": {"status": "resolved"},
            "created_at": utcnow(),
        }
        s.execute(insert(TicketEvent), [{"id": top + 1, **late}])
    assert shifted_day() not in rolled_days(settled, q)
    now = utcnow()
    live, rolled = tickets(settled, q, now)
    assert rolled == live and rolled["time_to_resolution"]["tickets"] == 2
    assert refresh(settled.db, now=now) == 1
    assert shifted_day() in rolled_days(settled, q)
    assert tickets(settled, q, now) == (live, live)
    with settled.db.session(readonly=True) as s:
        assert '"events": []' in s.get(InsightTicketState, 1).gaps  # filled


def test_a_gap_is_forgotten_after_its_time(settled: Assistant, seeded: dict[str, Any]) -> None:  # noqa: F811
    refresh(settled.db)
    with settled.db.session() as s:
        top = s.scalar(select(func.max(TicketEvent.id)))
        handoff = ticket_of(s, seeded, "handoff")
        s.execute(
            insert(TicketEvent),
            [{"id": top + 3, "ticket_id": handoff.id, "actor": "bot", "kind": "x", "created_at": utcnow()}],
        )
    refresh(settled.db)
    with settled.db.session(readonly=True) as s:
        assert f"[{top + 1}, {top + 2}, " in s.get(InsightTicketState, 1).gaps
    refresh(settled.db, now=utcnow() + GAP_TTL + timedelta(minutes=1))
    with settled.db.session(readonly=True) as s:
        assert '"events": []' in s.get(InsightTicketState, 1).gaps


def test_a_ticket_stored_without_an_event_and_rebuild(settled: Assistant, seeded: dict[str, Any]) -> None:  # noqa: F811
    """A ticket written straight into the table (an import, the bench seeding) is seen by its
    id; a change made by hand, without an event, only after ``rebuild``."""
    refresh(settled.db)
    q = week()
    with settled.db.session() as s:
        old = ticket_of(s, seeded, "handoff")
        copy = {
            c.name: getattr(old, c.name) for c in Ticket.__table__.columns if c.name not in ("id", "conversation_id")
        }
        fresh, _ = create_conversation(s, brand="generic", channel="http")  # a ticket needs its own
        s.execute(insert(Ticket.__table__), [{**copy, "conversation_id": fresh.id, "category": "imported"}])
    assert shifted_day() not in rolled_days(settled, q)
    now = utcnow()
    live, rolled = tickets(settled, q, now)
    assert rolled == live and rolled["by_category"]["imported"] == 1
    refresh(settled.db, now=now)
    assert tickets(settled, q, now) == (live, live)

    with settled.db.session() as s:  # by hand: no event
        s.execute(Ticket.__table__.update().where(Ticket.category == "imported").values(category="by_hand"))
    live, rolled = tickets(settled, q, now)
    assert "by_hand" in live["by_category"] and "by_hand" not in rolled["by_category"]
    rebuild(settled.db)
    refresh(settled.db, now=now)
    assert tickets(settled, q, now) == (live, live)


def test_the_console_refreshes_in_the_background(bot: Assistant, seeded: dict[str, Any]) -> None:  # noqa: F811
    """The page does not wait for the rollups: one background refresh at a time rolls up both,
    and the report it reads meanwhile is the same as the one after."""
    from bot.insights.report import build_report
    from bot.store import insight_rollups

    q = week()
    flows = bot.runtime.content.flows
    now = utcnow()
    before = build_report(bot.db, q, flows, now=now, background=True)
    running = insight_rollups._background[bot.db][0]
    assert not insight_rollups.refresh_soon(bot.db)  # one at a time, and not again at once
    running.join(timeout=60)
    assert not running.is_alive()
    with bot.db.session(readonly=True) as s:
        assert s.get(InsightTicketState, 1).through == (utcnow().date() - timedelta(days=1)).isoformat()
        assert s.scalar(select(func.count()).select_from(insight_rollups.InsightRollupDay)) >= 1
    after = build_report(bot.db, q, flows, now=now)
    assert after == before and after["tickets"]["opened"] == 3


def test_two_refreshes_at_once_write_once(
    settled: Assistant,  # noqa: F811
    seeded: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second worker refreshes (and writes) while this one computes: this one writes nothing,
    and the rollup is the other's, right and whole."""
    from bot.store import ticket_rollups

    compute = ticket_rollups.ticket_rows
    others: list[int] = []

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        if not others:
            monkeypatch.setattr(ticket_rollups, "ticket_rows", compute)
            others.append(refresh(settled.db))  # the other worker, start to end
        return compute(*args, **kwargs)

    monkeypatch.setattr(ticket_rollups, "ticket_rows", meanwhile)
    assert refresh(settled.db) == 0  # this one lost: the other created the rollup first
    assert others[0] >= 5
    with settled.db.session(readonly=True) as s:
        assert s.get(InsightTicketState, 1).version == 1  # written once

    with settled.db.session() as s:  # a change, and again two refreshes at once
        change_status(s, ticket_of(s, seeded, "urgent"), TicketStatus.RESOLVED, actor="bob")
    others.clear()
    monkeypatch.setattr(ticket_rollups, "ticket_rows", meanwhile)
    assert refresh(settled.db) == 0  # lost again: the version moved under it
    assert others == [1]
    with settled.db.session(readonly=True) as s:
        assert s.get(InsightTicketState, 1).version == 2
    live, rolled = tickets(settled, week(), utcnow())
    assert rolled == live and rolled["time_to_resolution"]["tickets"] == 2
    assert shifted_day() in rolled_days(settled, week())
