"""bot.store.tickets: exactly-once creation, lifecycle, audit events, the queue."""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import bot.store.tickets as tickets_module
from bot.store import (
    ConsoleUser,
    Conversation,
    Database,
    InvalidTransition,
    Priority,
    StoreError,
    Ticket,
    TicketEvent,
    TicketQuery,
    TicketStatus,
    add_note,
    assign,
    change_status,
    create_conversation,
    create_ticket_once,
    create_user,
    get_conversation,
    get_ticket,
    get_ticket_for_conversation,
    list_events,
    list_tickets,
    record_event,
)
from bot.store.console_queries import post_agent_reply

SLA = {"urgent": 1, "high": 4, "normal": 24, "low": 72}
TRAIL = [{"flow": "topup", "step": "net", "say": "网络正常吗？", "answer": "正常", "at": "2025-01-01T00:00:00+00:00"}]


def _open(
    s: Session,
    *,
    brand: str = "kdou",
    category: str = "topup_problem",
    priority: str = "normal",
    summary: str = "充值100元未到账",
    details: dict[str, Any] | None = None,
) -> Ticket:
    conv, _ = create_conversation(s, brand=brand, channel="http")
    ticket, created = create_ticket_once(
        s,
        conv,
        brand=brand,
        category=category,
        priority=priority,
        summary=summary,
        details=details if details is not None else {"amount": "100元"},
        trail=TRAIL,
        sla_hours=SLA,
    )
    assert created
    return ticket


# --------------------------------------------------------------------------- creation


def test_create_ticket_once_creates_then_returns_the_same(database: Database) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="upay", channel="http")
        kwargs: dict[str, Any] = dict(
            brand="upay",
            category="account_stolen",
            priority="urgent",
            summary="账户被盗",
            details={"contact": "13800138000", "time": "昨天晚上"},
            trail=TRAIL,
            sla_hours=SLA,
        )
        ticket, created = create_ticket_once(s, conv, **kwargs)
        again, created_again = create_ticket_once(s, conv, **{**kwargs, "priority": "low"})
    assert (created, created_again) == (True, False)
    assert again.id == ticket.id and again.priority is Priority.URGENT

    with database.session() as s:
        loaded = get_ticket(s, ticket.number)
        assert loaded is not None
        assert loaded.number == f"WB-{ticket.id:06d}"
        assert (loaded.status, loaded.priority, loaded.category) == (
            TicketStatus.OPEN,
            Priority.URGENT,
            "account_stolen",
        )
        assert loaded.details == {"contact": "13800138000", "time": "昨天晚上"}
        assert loaded.trail == TRAIL
        assert loaded.due_at - loaded.created_at == timedelta(hours=1)
        assert loaded.assignee is None
        assert get_ticket_for_conversation(s, conv.id).id == ticket.id  # type: ignore[union-attr]
        events = list_events(s, loaded)
        assert [(e.kind, e.actor, e.before) for e in events] == [("created", "bot", None)]
        assert events[0].after == {
            "status": "open",
            "priority": "urgent",
            "category": "account_stolen",
            "due_at": loaded.due_at.isoformat(),
        }


def test_get_ticket_by_unknown_or_malformed_number(database: Database) -> None:
    with database.session() as s:
        ticket = _open(s)
        assert get_ticket(s, "WB-999999") is None
        assert get_ticket(s, "hello") is None
        assert get_ticket(s, ticket.number.lower().replace("-", "")).id == ticket.id  # type: ignore[union-attr]


def test_missing_sla_is_refused_with_the_config_key(database: Database) -> None:
    with pytest.raises(StoreError) as info:
        with database.session() as s:
            conv, _ = create_conversation(s, brand="kdou", channel="http")
            create_ticket_once(
                s,
                conv,
                brand="kdou",
                category="refund",
                priority="urgent",
                summary="x",
                details={},
                trail=[],
                sla_hours={"normal": 24},
            )
    assert str(info.value) == (
        "No SLA for priority 'urgent' in sla_hours {'normal': 24}: add 'urgent' "
        "(hours to resolve) to brands.kdou.sla_hours in config.yml."
    )


def test_two_threads_escalating_one_conversation_create_one_ticket(database: Database) -> None:
    for _ in range(3):
        with database.session() as s:
            conv, _ = create_conversation(s, brand="kdou", channel="http")
        start = threading.Barrier(2)

        def escalate(conv_id: str = conv.id, start: threading.Barrier = start) -> tuple[int, bool]:
            # Both threads start together; on SQLite the write gate then takes them in turn,
            # on PostgreSQL both transactions overlap and the conversation lock decides.
            start.wait(timeout=10)
            with database.session() as s:
                own = s.get(Conversation, conv_id)
                assert own is not None
                ticket, created = create_ticket_once(
                    s,
                    own,
                    brand="kdou",
                    category="refund",
                    priority="high",
                    summary="退款",
                    details={},
                    trail=[],
                    sla_hours=SLA,
                )
                return ticket.id, created

        with ThreadPoolExecutor(2) as pool:
            results = [f.result() for f in [pool.submit(escalate) for _ in range(2)]]
        assert sorted(created for _, created in results) == [False, True]
        assert results[0][0] == results[1][0]
        with database.session() as s:
            assert s.scalar(select(func.count()).select_from(Ticket).where(Ticket.conversation_id == conv.id)) == 1
            assert (
                s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == results[0][0]))
                == 1
            )


def test_losing_the_insert_race_returns_the_winner_and_keeps_the_transaction(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other worker committed between our check and our insert: the SAVEPOINT path."""
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
        winner, _ = create_ticket_once(
            s,
            conv,
            brand="kdou",
            category="refund",
            priority="high",
            summary="先到",
            details={},
            trail=[],
            sla_hours=SLA,
        )

    real_lookup = tickets_module.get_ticket_for_conversation
    calls: list[str] = []

    def stale_first_lookup(s: Session, conv_id: str) -> Ticket | None:
        calls.append(conv_id)
        return None if len(calls) == 1 else real_lookup(s, conv_id)

    monkeypatch.setattr(tickets_module, "get_ticket_for_conversation", stale_first_lookup)
    with database.session() as s:
        own = s.get(Conversation, conv.id)
        assert own is not None
        own.human_owner = True  # work done before the race must survive the failed insert
        ticket, created = create_ticket_once(
            s,
            own,
            brand="kdou",
            category="refund",
            priority="low",
            summary="后到",
            details={},
            trail=[],
            sla_hours=SLA,
        )
    assert len(calls) == 2
    assert (ticket.id, created, ticket.summary) == (winner.id, False, "先到")
    with database.session() as s:
        assert s.get(Conversation, conv.id).human_owner is True  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1


# --------------------------------------------------------------------------- lifecycle


def _path_to(target: TicketStatus) -> list[TicketStatus]:
    """Shortest list of moves from open to target (breadth-first over the lifecycle)."""
    paths: dict[TicketStatus, list[TicketStatus]] = {TicketStatus.OPEN: []}
    queue = deque([TicketStatus.OPEN])
    while queue:
        current = queue.popleft()
        for nxt in current.allowed_next():
            if nxt not in paths:
                paths[nxt] = [*paths[current], nxt]
                queue.append(nxt)
    return paths[target]


ALLOWED_MOVES = [(a, b) for a in TicketStatus for b in a.allowed_next()]


@pytest.mark.parametrize(("start", "new"), ALLOWED_MOVES, ids=[f"{a}->{b}" for a, b in ALLOWED_MOVES])
def test_every_allowed_transition(database: Database, start: TicketStatus, new: TicketStatus) -> None:
    with database.session() as s:
        ticket = _open(s)
        for step in _path_to(start):
            change_status(s, ticket, step, actor="alice")
        assert ticket.status is start
        event = change_status(s, ticket, new.value, actor="alice")
    assert ticket.status is new
    assert (event.kind, event.actor, event.before, event.after) == (
        "status",
        "alice",
        {"status": start.value},
        {"status": new.value},
    )
    with database.session() as s:
        reloaded = s.get(Ticket, ticket.id)
        assert reloaded is not None and reloaded.status is new
        assert reloaded.queue_rank == (0 if new.is_active else 4) + 2  # normal priority


def test_refused_transition_names_the_allowed_ones(database: Database) -> None:
    with database.session() as s:
        ticket = _open(s)
        change_status(s, ticket, "closed", actor="alice")
    with pytest.raises(InvalidTransition) as info:
        with database.session() as s:
            loaded = s.get(Ticket, ticket.id)
            assert loaded is not None
            change_status(s, loaded, TicketStatus.WAITING_ON_USER, actor="alice")
    assert str(info.value) == (
        f"Cannot move ticket {ticket.number} from 'closed' to 'waiting_on_user': allowed next statuses are 'open'."
    )
    assert (info.value.current, info.value.requested, info.value.allowed) == (
        "closed",
        "waiting_on_user",
        ["open"],
    )
    with database.session() as s:
        loaded = s.get(Ticket, ticket.id)
        assert loaded is not None and loaded.status is TicketStatus.CLOSED
        assert [e.kind for e in list_events(s, loaded)] == ["created", "status"]


def test_refused_transition_with_several_choices_and_unknown_status(database: Database) -> None:
    with database.session() as s:
        ticket = _open(s)
        with pytest.raises(InvalidTransition) as info:
            change_status(s, ticket, "waiting_on_user", actor="alice")
        assert str(info.value) == (
            f"Cannot move ticket {ticket.number} from 'open' to 'waiting_on_user': "
            "allowed next statuses are 'in_progress', 'resolved', 'closed'."
        )
        with pytest.raises(StoreError, match="Unknown ticket status 'done'"):
            change_status(s, ticket, "done", actor="alice")


# --------------------------------------------------------------------------- events


def test_every_change_writes_an_event_with_before_and_after(database: Database) -> None:
    with database.session() as s:
        alice = create_user(s, "alice", "agent", "correct horse")
        bob = create_user(s, "bob", "admin", "battery staple")
        ticket = _open(s)
        created_at = ticket.updated_at
        change_status(s, ticket, "in_progress", actor="alice")
        assign(s, ticket, alice, actor="bob")
        assert assign(s, ticket, alice, actor="bob") is None  # no change, no event
        assign(s, ticket, bob, actor="bob")
        assign(s, ticket, None, actor="bob")
        add_note(s, ticket, "  已联系银行，等待回复  ", actor="alice")
        record_event(s, ticket, actor="alice", kind="reveal", note="contact")
    assert ticket.updated_at >= created_at

    with database.session() as s:
        loaded = s.get(Ticket, ticket.id)
        assert loaded is not None and loaded.assignee_id is None
        rows = [(e.kind, e.actor, e.before, e.after, e.note) for e in list_events(s, loaded)]
    assert rows[1:] == [
        ("status", "alice", {"status": "open"}, {"status": "in_progress"}, None),
        (
            "assign",
            "bob",
            {"assignee_id": None, "assignee": None},
            {"assignee_id": alice.id, "assignee": "alice"},
            None,
        ),
        (
            "assign",
            "bob",
            {"assignee_id": alice.id, "assignee": "alice"},
            {"assignee_id": bob.id, "assignee": "bob"},
            None,
        ),
        (
            "assign",
            "bob",
            {"assignee_id": bob.id, "assignee": "bob"},
            {"assignee_id": None, "assignee": None},
            None,
        ),
        ("note", "alice", None, None, "已联系银行，等待回复"),
        ("reveal", "alice", None, None, "contact"),
    ]


def test_assignee_is_loaded_with_the_ticket(database: Database) -> None:
    with database.session() as s:
        alice = create_user(s, "alice", "agent", "correct horse")
        ticket = _open(s)
        assign(s, ticket, alice, actor="alice")
    with database.session() as s:
        loaded = get_ticket(s, ticket.number)
    assert loaded is not None and isinstance(loaded.assignee, ConsoleUser)
    assert loaded.assignee.name == "alice"  # usable after the session closed


def test_empty_note_and_missing_actor_are_refused(database: Database) -> None:
    with database.session() as s:
        ticket = _open(s)
        with pytest.raises(StoreError) as info:
            add_note(s, ticket, "   ", actor="alice")
        assert str(info.value) == f"Refusing an empty note on ticket {ticket.number}: write some text."
        with pytest.raises(StoreError) as info:
            record_event(s, ticket, actor="", kind="export")
        assert str(info.value) == (
            f"Ticket event 'export' on {ticket.number} needs an actor: pass 'bot', 'user' or the console user's name."
        )


# --------------------------------------------------------------------------- the queue


def _summaries(tickets: list[Ticket]) -> list[str]:
    return [t.summary for t in tickets]


@pytest.fixture
def queue(database: Database) -> Database:
    """Eight tickets with known status, priority, brand, category and age."""
    rows = [
        # summary, brand, category, priority, status
        ("a-open-normal", "kdou", "topup_problem", "normal", "open"),
        ("b-open-urgent", "upay", "account_stolen", "urgent", "open"),
        ("c-closed-urgent", "kdou", "refund", "urgent", "closed"),
        ("d-progress-high", "kdou", "withdrawal_problem", "high", "in_progress"),
        ("e-waiting-normal", "generic", "topup_problem", "normal", "waiting_on_user"),
        ("f-resolved-low", "upay", "refund", "low", "resolved"),
        ("g-open-normal", "upay", "payment_problem", "normal", "open"),
        ("h-open-low", "kdou", "limits", "low", "open"),
    ]
    with database.session() as s:
        alice = create_user(s, "alice", "agent", "correct horse")
        for i, (summary, brand, category, priority, status) in enumerate(rows):
            ticket = _open(
                s,
                brand=brand,
                category=category,
                priority=priority,
                summary=summary,
                details={"amount": f"{100 * (i + 1)}元", "method": "银行卡" if i % 2 else "余额"},
            )
            # Distinct, increasing creation times: a..h from oldest to newest.
            ticket.created_at = ticket.created_at - timedelta(hours=100 - i)
            for step in _path_to(TicketStatus(status)):
                change_status(s, ticket, step, actor="bot")
            if summary.startswith(("d", "g")):
                assign(s, ticket, alice, actor="alice")
    return database


def _list(db: Database, **filters: Any) -> tuple[list[str], int]:
    with db.session(readonly=True) as s:
        page, total = list_tickets(s, TicketQuery(**filters))
    return _summaries(page), total


def test_queue_order_active_first_then_priority_then_oldest(queue: Database) -> None:
    assert _list(queue) == (
        [
            "b-open-urgent",
            "d-progress-high",
            "a-open-normal",
            "e-waiting-normal",
            "g-open-normal",
            "h-open-low",
            "c-closed-urgent",
            "f-resolved-low",
        ],
        8,
    )


def test_queue_filters(queue: Database) -> None:
    with queue.session() as s:
        alice_id = s.scalar(select(ConsoleUser.id).where(ConsoleUser.name == "alice"))
    assert _list(queue, status="open") == (
        ["b-open-urgent", "a-open-normal", "g-open-normal", "h-open-low"],
        4,
    )
    assert _list(queue, priority=Priority.URGENT) == (["b-open-urgent", "c-closed-urgent"], 2)
    assert _list(queue, brand="upay") == (["b-open-urgent", "g-open-normal", "f-resolved-low"], 3)
    assert _list(queue, category="refund") == (["c-closed-urgent", "f-resolved-low"], 2)
    assert _list(queue, assignee_id=alice_id) == (["d-progress-high", "g-open-normal"], 2)
    assert _list(queue, unassigned=True)[1] == 6
    assert _list(queue, active=False) == (["c-closed-urgent", "f-resolved-low"], 2)
    assert _list(queue, active=True)[1] == 6
    assert _list(queue, status="open", brand="kdou", priority="low") == (["h-open-low"], 1)
    assert _list(queue, brand="nobody") == ([], 0)


def test_queue_text_search(queue: Database) -> None:
    assert _list(queue, text="OPEN-URGENT") == (["b-open-urgent"], 1)  # summary, any case
    assert _list(queue, text="300元") == (["c-closed-urgent"], 1)  # inside the details JSON
    assert _list(queue, text="银行卡")[1] == 4  # Chinese detail values
    assert _list(queue, text="100%") == ([], 0)  # LIKE wildcards are literal
    assert _list(queue, text="_") == ([], 0)  # would match everything if not escaped
    with queue.session() as s:
        number = s.scalars(select(Ticket).where(Ticket.summary == "e-waiting-normal")).one().number
    assert _list(queue, text=number) == (["e-waiting-normal"], 1)
    assert _list(queue, text="  ") == (_list(queue)[0], 8)


def test_queue_pagination(queue: Database) -> None:
    everything, _ = _list(queue)
    pages = [_list(queue, page=p, per_page=3) for p in (1, 2, 3, 4)]
    assert [total for _, total in pages] == [8, 8, 8, 8]
    assert [len(p) for p, _ in pages] == [3, 3, 2, 0]
    assert [n for p, _ in pages for n in p] == everything


def test_queue_query_refuses_bad_pages_and_values() -> None:
    with pytest.raises(StoreError) as info:
        TicketQuery(page=0)
    assert str(info.value) == "Page 0 does not exist: pages start at 1."
    with pytest.raises(StoreError) as info:
        TicketQuery(per_page=500)
    assert str(info.value) == "Cannot show 500 tickets per page: use 1 to 200."
    with pytest.raises(StoreError, match="Unknown priority 'asap'"):
        TicketQuery(priority="asap")  # type: ignore[arg-type]
    assert TicketQuery(status="open").status is TicketStatus.OPEN  # type: ignore[arg-type]


# --------------------------------------------------------------------------- added from the chat


def test_add_to_ticket_raises_priority_merges_details_and_records_one_event(database: Database) -> None:
    with database.session() as s:
        ticket = _open(s, priority="normal", details={"amount": "100元"})
        conv = s.get(Conversation, ticket.conversation_id)
        due_before = ticket.due_at
        updated = tickets_module.add_to_ticket(
            s,
            conv,
            priority="urgent",
            problem="另：账户被盗处理：有两笔不是我付的",
            details={"time": "2026-12-01 09:00", "amount": None},
            trail=[{"flow": None, "step": "after_ticket", "say": "", "answer": "有两笔不是我付的"}],
            sla_hours=SLA,
        )
        assert updated is ticket
        assert ticket.priority == Priority.URGENT
        assert ticket.due_at < due_before  # an urgent ticket is due sooner
        assert ticket.summary == "充值100元未到账\n另：账户被盗处理：有两笔不是我付的"
        assert ticket.details == {"amount": "100元", "time": "2026-12-01 09:00"}  # None never erases
        assert ticket.trail[-1]["answer"] == "有两笔不是我付的"
        events = list_events(s, ticket)
        assert [(e.kind, e.actor) for e in events] == [("created", "bot"), ("updated", "user")]
        assert events[-1].before["priority"] == "normal" and events[-1].after["priority"] == "urgent"


def test_add_to_ticket_never_lowers_priority_nor_repeats_a_problem(database: Database) -> None:
    with database.session() as s:
        ticket = _open(s, priority="high")
        conv = s.get(Conversation, ticket.conversation_id)
        tickets_module.add_to_ticket(s, conv, priority="low", problem="充值100元未到账", sla_hours=SLA)
        assert ticket.priority == Priority.HIGH and ticket.summary == "充值100元未到账"
        assert [e.kind for e in list_events(s, ticket)] == ["created"]  # nothing changed, nothing recorded


def test_add_to_ticket_takes_the_category_of_the_problem_that_raises_its_priority(database: Database) -> None:
    with database.session() as s:
        ticket = _open(s, priority="normal")
        conv = s.get(Conversation, ticket.conversation_id)
        before = ticket.category
        tickets_module.add_to_ticket(s, conv, priority="normal", category="refund", sla_hours=SLA)
        assert ticket.category == before  # no higher priority: the ticket stays what it was about
        tickets_module.add_to_ticket(s, conv, priority="urgent", category="account_stolen", sla_hours=SLA)
        assert ticket.category == "account_stolen" and ticket.priority == Priority.URGENT
        event = list_events(s, ticket)[-1]
        assert event.before["category"] == before and event.after["category"] == "account_stolen"


def test_add_to_ticket_without_a_ticket_is_none(database: Database) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
        assert tickets_module.add_to_ticket(s, conv, priority="urgent", problem="x") is None


def test_resolving_or_closing_gives_the_conversation_back_to_the_bot(database: Database) -> None:
    for final in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        with database.session() as s:
            ticket = _open(s)
            post_agent_reply(s, ticket, "您好", actor="alice")
            change_status(s, ticket, TicketStatus.IN_PROGRESS, actor="alice")
            conv = get_conversation(s, ticket.conversation_id)
            assert conv is not None and conv.human_owner is True  # still working on it
            if final is TicketStatus.CLOSED:
                change_status(s, ticket, TicketStatus.RESOLVED, actor="alice")
                change_status(s, ticket, TicketStatus.OPEN, actor="alice")  # reopen…
                post_agent_reply(s, ticket, "再看一下", actor="alice")
                change_status(s, ticket, TicketStatus.IN_PROGRESS, actor="alice")
                change_status(s, ticket, TicketStatus.RESOLVED, actor="alice")
            event = change_status(s, ticket, final, actor="alice")
            assert event.after == {"status": final.value}
            assert get_conversation(s, ticket.conversation_id).human_owner is False  # type: ignore[union-attr]
