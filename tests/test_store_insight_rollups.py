"""Daily rollups give the same figures as computing everything from the turns, on SQLite and
PostgreSQL: the seven conversations of test_store_insights, moved five days back so that their
day is settled and rolled up."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from test_store_insights import bot, seeded  # noqa: F401 - fixtures

from bot.engine import Assistant
from bot.store import Conversation, Ticket, TicketEvent
from bot.store.insight_rollups import refresh, split
from bot.store.insights import InsightQuery, compute_insights
from bot.store.models import InsightRollup, InsightRollupDay, utcnow

SHIFT = timedelta(days=5)


@pytest.fixture
def settled(bot: Assistant, seeded: dict[str, Any]) -> Assistant:  # noqa: F811
    with bot.db.session() as s:  # row by row: date arithmetic in SQL differs between backends
        for table, columns in (
            (Conversation.__table__, ("created_at", "updated_at")),
            (Ticket.__table__, ("created_at", "due_at")),
            (TicketEvent.__table__, ("created_at",)),
        ):
            key = table.c.id
            for row in s.execute(select(key, *(table.c[c] for c in columns))).all():
                s.execute(update(table).where(key == row[0]).values({c: v - SHIFT for c, v in zip(columns, row[1:])}))
    return bot


def both(bot: Assistant, q: InsightQuery) -> tuple[dict[str, Any], dict[str, Any]]:
    now = utcnow()
    with bot.db.session(readonly=True) as s:
        return compute_insights(s, q, now=now, rollups=False), compute_insights(s, q, now=now, rollups=True)


def test_refresh_rolls_up_settled_days_once(settled: Assistant) -> None:
    assert refresh(settled.db) >= 1
    assert refresh(settled.db) == 0  # nothing new settled
    with settled.db.session(readonly=True) as s:
        day = (utcnow() - SHIFT).date().isoformat()
        assert s.scalar(select(func.count()).select_from(InsightRollupDay).where(InsightRollupDay.day == day)) == 1
        conversations = s.scalar(
            select(func.sum(InsightRollup.value)).where(
                InsightRollup.figure == "conv", InsightRollup.key == "conversations"
            )
        )
    assert conversations == 7


@pytest.mark.parametrize("brand", [None, "kdou"])
def test_rolled_up_figures_equal_the_live_ones(settled: Assistant, brand: str | None) -> None:
    refresh(settled.db)
    week = InsightQuery.last(timedelta(days=10), brand=brand)  # starts mid-day: a live edge
    with settled.db.session(readonly=True) as s:
        parts = split(s, week)
    assert (utcnow() - SHIFT).date().isoformat() in parts.rolled_days
    assert len(parts.live) == 2  # the partial first day, and the days not settled yet
    live, rolled = both(settled, week)
    assert rolled == live
    assert rolled["conversations"]["conversations"] == (1 if brand else 7)


def test_without_rollups_everything_is_live(settled: Assistant) -> None:
    week = InsightQuery.last(timedelta(days=10))
    with settled.db.session(readonly=True) as s:
        assert split(s, week).rolled_days == []
    live, rolled = both(settled, week)
    assert rolled == live and live["conversations"]["contained"] == 2


def test_recent_days_are_provisional(bot: Assistant, seeded: dict[str, Any]) -> None:  # noqa: F811
    """Today's rollup is read like any other, and computed again once older than PROVISIONAL_FOR."""
    from datetime import UTC, datetime, time

    assert refresh(bot.db) >= 1
    assert refresh(bot.db) == 0  # just computed
    today = datetime.combine(utcnow().date(), time(), UTC)
    whole_today = InsightQuery(today, today + timedelta(days=1))
    with bot.db.session(readonly=True) as s:
        parts = split(s, whole_today)
    assert parts.rolled_days == [today.date().isoformat()] and parts.live == []
    live, rolled = both(bot, whole_today)
    assert rolled == live and rolled["conversations"]["conversations"] == 7
    assert refresh(bot.db, now=utcnow() + timedelta(minutes=6)) >= 1  # stale: computed again
