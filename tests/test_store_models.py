"""bot.store.models: lifecycles, ticket numbers, column types, the append-only audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.store import (
    Database,
    Priority,
    StoreError,
    TicketEvent,
    TicketStatus,
    create_conversation,
    create_ticket_once,
    parse_ticket_number,
    ticket_number,
)
from bot.store.models import Conversation, Ticket, contact_search_token, queue_rank

SLA = {"urgent": 1, "high": 4, "normal": 24, "low": 72}

ALLOWED = {
    ("open", "in_progress"),
    ("open", "resolved"),
    ("open", "closed"),
    ("in_progress", "waiting_on_user"),
    ("in_progress", "resolved"),
    ("in_progress", "open"),
    ("waiting_on_user", "in_progress"),
    ("waiting_on_user", "resolved"),
    ("resolved", "closed"),
    ("resolved", "open"),
    ("closed", "open"),
}


def test_ticket_lifecycle_is_exactly_the_documented_one() -> None:
    actual = {(a.value, b.value) for a in TicketStatus for b in TicketStatus if a.can_move_to(b)}
    assert actual == ALLOWED
    assert TicketStatus.CLOSED.allowed_next() == [TicketStatus.OPEN]
    assert [s.is_active for s in TicketStatus] == [True, True, True, False, False]


def test_priority_ranks_low_to_urgent() -> None:
    ranked = sorted(Priority, key=lambda p: p.rank)
    assert ranked == [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT]


def test_queue_rank_puts_active_tickets_first_then_urgent_first() -> None:
    order = sorted(((s, p) for s in TicketStatus for p in Priority), key=lambda sp: queue_rank(*sp))
    assert order[0][0].is_active and order[0][1] is Priority.URGENT
    assert not order[-1][0].is_active and order[-1][1] is Priority.LOW
    assert queue_rank("waiting_on_user", "high") < queue_rank("open", "normal")
    assert queue_rank("open", "low") < queue_rank("closed", "urgent")


def test_ticket_queue_rank_follows_status_and_priority() -> None:
    ticket = Ticket(status="open", priority="low")
    assert ticket.queue_rank == queue_rank("open", "low")
    ticket.priority = Priority.URGENT
    assert ticket.queue_rank == queue_rank("open", "urgent")
    ticket.status = "closed"
    assert ticket.queue_rank == queue_rank("closed", "urgent")
    assert ticket.status is TicketStatus.CLOSED


def test_unknown_enum_value_is_refused_with_the_choices() -> None:
    with pytest.raises(StoreError) as info:
        Ticket(status="done", priority="low")
    assert str(info.value) == (
        "Unknown ticket status 'done': use one of 'open', 'in_progress', 'waiting_on_user', 'resolved', 'closed'."
    )


def test_ticket_numbers_round_trip() -> None:
    assert ticket_number(123) == "WB-000123"
    assert ticket_number(1234567) == "WB-1234567"
    assert parse_ticket_number("WB-000123") == 123
    assert parse_ticket_number(" wb123 ") == 123
    assert parse_ticket_number("WB-") is None
    assert parse_ticket_number("123") is None
    with pytest.raises(StoreError, match="flush the session first"):
        _ = Ticket(status="open", priority="low").number


def test_timestamps_come_back_timezone_aware_utc(database: Database) -> None:
    shanghai = timezone(timedelta(hours=8))
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
        conv.updated_at = datetime(2025, 3, 1, 20, 0, tzinfo=shanghai)
    with database.session() as s:
        loaded = s.get(Conversation, conv.id)
        assert loaded is not None
        assert loaded.created_at.tzinfo is not None
        assert loaded.updated_at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
        assert loaded.updated_at.utcoffset() == timedelta(0)


def test_naive_timestamp_is_refused(database: Database) -> None:
    with pytest.raises(StoreError, match="Refusing naive timestamp '2025-03-01T20:00:00'"):
        with database.session() as s:
            conv, _ = create_conversation(s, brand="kdou", channel="http")
            conv.updated_at = datetime(2025, 3, 1, 20, 0)
            s.flush()


def test_ticket_events_cannot_be_changed_or_deleted(database: Database) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
        create_ticket_once(
            s,
            conv,
            brand="kdou",
            category="refund",
            priority="normal",
            summary="退款未到账",
            details={},
            trail=[],
            sla_hours=SLA,
        )
    for change in ("update", "delete"):
        with pytest.raises(StoreError, match="append-only audit trail"):
            with database.session() as s:
                event = s.scalars(select(TicketEvent)).one()
                if change == "update":
                    event.note = "rewritten"
                else:
                    s.delete(event)
                s.flush()
    with database.session() as s:
        event = s.scalars(select(TicketEvent)).one()
        assert event.kind == "created" and event.note is None


def test_search_text_follows_summary_and_details() -> None:
    ticket = Ticket(status="open", priority="low", summary="Top-up 失败", details={"amount": "100元"})
    assert ticket.search_text == "top-up 失败\n100元"
    ticket.details = {"contact": {"email": "A@Example.com"}, "tries": [1, 2], "none": None}
    # a contact detail is held as a digest: it matches in full only (see the queue search test)
    email = contact_search_token("A@Example.com")
    assert ticket.search_text == f"top-up 失败\n1\n2\n{email}"
    assert "example" not in ticket.search_text
    ticket.summary = "退款"
    assert ticket.search_text == f"退款\n1\n2\n{email}"


def test_a_contact_written_with_spaces_is_indexed_whole_never_in_pieces() -> None:
    ticket = Ticket(status="open", priority="low", summary="x", details={"contact": "138 0013 8000，a@b.cn"})
    assert contact_search_token("13800138000") in ticket.search_text
    assert contact_search_token("138-0013-8000") in ticket.search_text
    assert contact_search_token("a@b.cn") in ticket.search_text
    assert contact_search_token("0013") not in ticket.search_text and "0013" not in ticket.search_text
