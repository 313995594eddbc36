"""bot.store.console_queries on SQLite and PostgreSQL: locked reads, bulk audit events and agent
replies (the queue itself is tests/test_store_queue.py)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select
from store_fixtures import open_ticket

from bot.store import (
    Database,
    StoreError,
    TicketEvent,
    TicketStatus,
    get_conversation,
    list_events,
    list_turns,
)
from bot.store.console_queries import get_ticket_locked, post_agent_reply, record_events


def test_record_events_writes_one_event_per_ticket(database: Database) -> None:
    with database.session() as s:
        tickets = [open_ticket(s) for _ in range(3)]
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
        big = open_ticket(s)
        assert record_events(s, itertools.repeat(big.id, 2500), actor="root", kind="export") == 2500
        count = s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == big.id))
        assert count == 2501


def test_an_agent_reply_hands_the_conversation_to_a_human(database: Database) -> None:
    with database.session() as s:
        ticket = open_ticket(s)
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
        ticket = open_ticket(s)
        with pytest.raises(StoreError, match=r"Refusing an empty reply on ticket WB-\d+: write some text\."):
            post_agent_reply(s, ticket, "   ", actor="alice")
        ticket.status = TicketStatus.RESOLVED
        with pytest.raises(StoreError, match=r"is 'resolved': reopen it before replying to the user\."):
            post_agent_reply(s, ticket, "还在吗？", actor="alice")


def test_get_ticket_locked(database: Database) -> None:
    with database.session() as s:
        number = open_ticket(s).number
    with database.session() as s:
        ticket = get_ticket_locked(s, number)
        assert ticket is not None and ticket.number == number
        assert get_ticket_locked(s, "WB-999999") is None
        assert get_ticket_locked(s, "not a number") is None
