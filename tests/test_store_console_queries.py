"""bot.store.console_queries on SQLite and PostgreSQL: the console's queue plans, exports in
batches, bulk audit events, agent replies and handing a conversation back to the bot."""

from __future__ import annotations

import dataclasses
import itertools
import random
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store import (
    Database,
    InvalidTransition,
    StoreError,
    Ticket,
    TicketEvent,
    TicketQuery,
    TicketStatus,
    append_turn,
    create_conversation,
    create_ticket_once,
    create_user,
    get_conversation,
    list_events,
    list_tickets,
    list_turns,
)
from bot.store.console_queries import (
    SMALL_RESULT,
    get_ticket_locked,
    list_categories,
    list_queue,
    post_agent_reply,
    record_events,
    set_ticket_status,
    tickets_after,
)
from bot.store.seed_bench import insert_fake_tickets

SLA = {"urgent": 1, "high": 4, "normal": 24, "low": 72}


def _open(
    s: Session,
    *,
    brand: str = "kdou",
    category: str = "refund",
    priority: str = "normal",
    summary: str = "申请退款500元未到账",
    details: dict[str, Any] | None = None,
) -> Ticket:
    conv, _ = create_conversation(s, brand=brand, channel="http")
    append_turn(s, conv, role="user", text="我要退款")
    ticket, _ = create_ticket_once(
        s,
        conv,
        brand=brand,
        category=category,
        priority=priority,
        summary=summary,
        details=details if details is not None else {"amount": "500元", "contact": "13812345678"},
        trail=[],
        sla_hours=SLA,
    )
    return ticket


def test_list_queue_gives_the_same_pages_as_list_tickets(database: Database) -> None:
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
            expected_page, expected_total = list_tickets(s, q)
            page, total = list_queue(s, q)
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
    from bot.store.tickets import _conditions

    return _conditions(q)


def test_list_categories(database: Database) -> None:
    with database.session() as s:
        _open(s, category="topup_problem")
        _open(s, category="refund")
        _open(s, category="refund")
        assert list_categories(s) == ["refund", "topup_problem"]


def test_record_events_writes_one_event_per_ticket(database: Database) -> None:
    with database.session() as s:
        tickets = [_open(s) for _ in range(3)]
        written = record_events(s, [t.id for t in tickets[:2]], actor="root", kind="export", after={"format": "csv"})
        assert written == 2
        assert [(e.kind, e.actor, e.after) for e in list_events(s, tickets[0])][-1] == (
            "export",
            "root",
            {"format": "csv"},
        )
        assert [e.kind for e in list_events(s, tickets[2])] == ["created"]
        with pytest.raises(StoreError, match="needs an actor"):
            record_events(s, [tickets[0].id], actor=" ", kind="export")
    with database.session() as s:
        big = _open(s)
        assert record_events(s, itertools.repeat(big.id, 2500), actor="root", kind="export") == 2500
        count = s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == big.id))
        assert count == 2501


def test_an_agent_reply_hands_the_conversation_to_a_human(database: Database) -> None:
    with database.session() as s:
        ticket = _open(s)
        number, conv_id = ticket.number, ticket.conversation_id
    with database.session() as s:
        ticket = get_ticket_locked(s, number)
        assert ticket is not None
        turn = post_agent_reply(s, ticket, "  您好，我是客服小王。  ", actor="alice")
        assert (turn.role.value, turn.text, turn.meta) == ("agent", "您好，我是客服小王。", {"agent": "alice"})
    with database.session(readonly=True) as s:
        conv = get_conversation(s, conv_id)
        assert conv is not None and conv.human_owner is True
        assert [t.role.value for t in list_turns(s, conv_id)] == ["user", "agent"]
        reply = list_events(s, get_ticket_locked(s, number))[-1]  # type: ignore[arg-type]
        assert (reply.kind, reply.actor, reply.note) == ("reply", "alice", "您好，我是客服小王。")
        assert reply.before == {"human_owner": False}
        assert reply.after == {"human_owner": True, "turn_seq": 2}


def test_replies_are_refused_when_empty_or_after_resolution(database: Database) -> None:
    with database.session() as s:
        ticket = _open(s)
        with pytest.raises(StoreError, match=r"Refusing an empty reply on ticket WB-\d+: write some text\."):
            post_agent_reply(s, ticket, "   ", actor="alice")
        ticket.status = TicketStatus.RESOLVED
        with pytest.raises(StoreError, match=r"is 'resolved': reopen it before replying to the user\."):
            post_agent_reply(s, ticket, "还在吗？", actor="alice")


def test_resolving_or_closing_gives_the_conversation_back_to_the_bot(database: Database) -> None:
    for final in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        with database.session() as s:
            ticket = _open(s)
            post_agent_reply(s, ticket, "您好", actor="alice")
            set_ticket_status(s, ticket, TicketStatus.IN_PROGRESS, actor="alice")
            conv = get_conversation(s, ticket.conversation_id)
            assert conv is not None and conv.human_owner is True  # still working on it
            if final is TicketStatus.CLOSED:
                set_ticket_status(s, ticket, TicketStatus.RESOLVED, actor="alice")
                set_ticket_status(s, ticket, TicketStatus.OPEN, actor="alice")  # reopen…
                post_agent_reply(s, ticket, "再看一下", actor="alice")
                set_ticket_status(s, ticket, TicketStatus.IN_PROGRESS, actor="alice")
                set_ticket_status(s, ticket, TicketStatus.RESOLVED, actor="alice")
            event = set_ticket_status(s, ticket, final, actor="alice")
            assert event.after == {"status": final.value}
            assert get_conversation(s, ticket.conversation_id).human_owner is False  # type: ignore[union-attr]


def test_set_ticket_status_refuses_what_the_lifecycle_refuses(database: Database) -> None:
    with database.session() as s:
        ticket = _open(s)
        with pytest.raises(InvalidTransition) as refused:
            set_ticket_status(s, ticket, TicketStatus.WAITING_ON_USER, actor="alice")
        assert refused.value.allowed == ["in_progress", "resolved", "closed"]
        with pytest.raises(StoreError, match="Unknown ticket status 'done'"):
            set_ticket_status(s, ticket, "done", actor="alice")
        assert ticket.status is TicketStatus.OPEN


def test_get_ticket_locked(database: Database) -> None:
    with database.session() as s:
        number = _open(s).number
    with database.session() as s:
        ticket = get_ticket_locked(s, number)
        assert ticket is not None and ticket.number == number
        assert get_ticket_locked(s, "WB-999999") is None
        assert get_ticket_locked(s, "not a number") is None
