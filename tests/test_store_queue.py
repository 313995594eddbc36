"""bot.store.queue on SQLite and PostgreSQL: the tuned plans of the agents' queue give the pages
the filters mean, exports walk the whole filtered queue in batches."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from store_fixtures import open_ticket

from bench.seed_bench import insert_fake_tickets
from bot.store import (
    Database,
    Ticket,
    TicketQuery,
    create_user,
    list_tickets,
)
from bot.store.queue import SMALL_RESULT, list_categories, ticket_conditions, tickets_after


def test_list_tickets_gives_the_pages_of_the_plain_plan(database: Database) -> None:
    insert_fake_tickets(database, 3000, seed=7)
    with database.session() as s:
        agent = create_user(s, "alice", "agent", "alice-password-1")
        rng = random.Random(3)
        for ticket in s.scalars(select(Ticket)):
            if rng.random() < 0.01:
                ticket.assignee_id = agent.id
            if rng.random() < 0.005:
                ticket.category = "fraud_risk"
        agent_id = agent.id
    queries = [
        TicketQuery(),
        TicketQuery(page=7),
        TicketQuery(active=True),
        TicketQuery(status="open", brand="kdou"),
        TicketQuery(status="open", brand="kdou", page=3),
        TicketQuery(priority="urgent", active=True),
        TicketQuery(category="fraud_risk"),
        TicketQuery(category="fraud_risk", active=True),
        TicketQuery(category="refund", brand="upay", status="resolved"),
        TicketQuery(assignee_id=agent_id),
        TicketQuery(assignee_id=agent_id, active=True),
        TicketQuery(assignee_id=agent_id, category="refund"),
        TicketQuery(unassigned=True, category="limits"),
        TicketQuery(text="提现"),
        TicketQuery(text="500", status="open"),
        TicketQuery(text="500", brand="upay"),
        TicketQuery(text="wb-000123", status="open"),
        TicketQuery(text="WB-000123"),
        TicketQuery(category="no_such_category", active=True),
    ]
    with database.session(readonly=True) as s:
        for q in queries:
            expected_page, expected_total = _plain_plan(s, q)
            page, total = list_tickets(s, q)
            assert total == expected_total, q
            assert [t.id for t in page] == [t.id for t in expected_page], q
    assert 0 < SMALL_RESULT < 3000  # both plans were exercised above


def test_tickets_after_walks_the_whole_filtered_queue(database: Database) -> None:
    insert_fake_tickets(database, 2345, seed=1)
    with database.session(readonly=True) as s:
        for q in (TicketQuery(), TicketQuery(active=True), TicketQuery(brand="upay", text="元")):
            walked: list[int] = []
            after = None
            while batch := tickets_after(s, q, after, limit=400):
                walked += [t.id for t in batch]
                after = batch[-1]
            total = s.scalar(select(func.count()).select_from(Ticket).where(*_conds(q)))
            assert len(walked) == len(set(walked)) == total
            first_page, _ = list_tickets(s, dataclasses.replace(q, per_page=200))
            assert walked[:200] == [t.id for t in first_page]


def _conds(q: TicketQuery) -> list[Any]:
    return ticket_conditions(q)


def _plain_plan(s: Session, q: TicketQuery) -> tuple[list[Ticket], int]:
    """The queue as the filters say it, without the plans tuned for SQLite: the reference."""
    conds = ticket_conditions(q)
    total = s.scalar(select(func.count()).select_from(Ticket).where(*conds)) or 0
    stmt = select(Ticket).where(*conds).order_by(Ticket.queue_rank, Ticket.created_at, Ticket.id)
    return list(s.scalars(stmt.limit(q.per_page).offset((q.page - 1) * q.per_page))), total


def test_list_categories(database: Database) -> None:
    with database.session() as s:
        open_ticket(s, category="topup_problem")
        open_ticket(s, category="refund")
        open_ticket(s, category="refund")
        assert list_categories(s) == ["refund", "topup_problem"]
