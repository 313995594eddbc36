"""bench/seed_bench.py: bulk fake tickets for the queue benchmark."""

from __future__ import annotations

from sqlalchemy import func, select

from bench.seed_bench import insert_fake_tickets
from bot.store import Conversation, Database, Ticket, TicketQuery, TicketStatus, list_tickets
from bot.store.models import queue_rank


def test_insert_fake_tickets_and_query_a_page(database: Database) -> None:
    assert insert_fake_tickets(database, 2000) == 2000
    with database.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 2000
        assert s.scalar(select(func.count()).select_from(Conversation)) == 2000

        page, total = list_tickets(s, TicketQuery(page=3, per_page=50))
        assert total == 2000 and len(page) == 50
        ranks = [(t.queue_rank, t.created_at) for t in page]
        assert ranks == sorted(ranks)
        assert all(t.queue_rank == queue_rank(t.status, t.priority) for t in page)

        open_page, open_total = list_tickets(s, TicketQuery(status=TicketStatus.OPEN, brand="kdou"))
        assert 0 < open_total < 2000
        assert {(t.status, t.brand) for t in open_page} == {(TicketStatus.OPEN, "kdou")}

        _, found = list_tickets(s, TicketQuery(text="提现"))
        assert 0 < found < 2000
