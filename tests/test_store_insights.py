"""The insights' figures on a store seeded through the real Assistant, on SQLite and PostgreSQL.

Seven conversations are driven through the engine; each one's contribution to every figure is
known by construction (see ``seeded``). Agent actions and due times are then set on the
tickets so that durations and the overdue count are known to the second.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from engine_fixtures import Chat
from sqlalchemy import select, update

from bot.engine import Assistant
from bot.store import Conversation, Database, Ticket, TicketEvent, TicketStatus, change_status, record_event
from bot.store.insights import InsightQuery, compute_insights, flow_funnels
from bot.store.models import utcnow


@pytest.fixture
def bot(settings, runtime, database: Database) -> Iterator[Assistant]:
    """The real engine on the parametrised database (SQLite, and PostgreSQL when configured)."""
    yield Assistant(settings, runtime, database)


def walk_until(chat: Chat, title: str, *, stop: str) -> None:
    """Press ``title`` until the bot asks the step whose buttons include ``stop``."""
    for _ in range(10):
        titles = [b["title"] for b in chat.buttons()]
        if stop in titles:
            return
        chat.press_title(title)
    raise AssertionError(f"never reached a step offering {stop!r}: {chat.text()}")


@pytest.fixture
def seeded(bot: Assistant) -> dict[str, Any]:
    """Seven conversations (brand generic unless said), and what each adds:

    (the top-up ones are upay's: its checklist is account_info, network, maintenance,
    source_balance, bank_limit, account_status)


    1 solved: topup -> 成功了 at account_info -> helpful vote      contained
    2 left:   topup -> 还是不行 x5 -> stops at account_status        left there
    3 misunderstood: two messages not understood -> 转人工        escalated (misunderstood)
    4 urgent: account_stolen -> 登不上 (locked_out, urgent)       escalated (urgent)
    5 handoff: topup -> 转人工 at account_info                    escalated (handoff)
    6 faq down: an FAQ question -> not helpful                     not contained
    7 faq up (kdou): an FAQ question -> helpful                    contained
    """
    solved = Chat(bot, brand="upay")  # upay's top-up checklist begins at account_info
    solved.say("充值失败了")
    solved.press_title("成功了")
    solved.press("/helpful")

    left = Chat(bot, brand="upay")
    left.say("充值失败了")
    walk_until(left, "还是不行", stop="有冻结提示")

    missed = Chat(bot)
    missed.say("asdkjh qwe")
    missed.say("zxcv bnm")
    missed.press("/human")

    urgent = Chat(bot)
    urgent.say("我的账号被盗了")
    urgent.press_title("登不上")

    handoff = Chat(bot, brand="upay")
    handoff.say("充值失败了")
    handoff.press("/human")

    faq_down = Chat(bot)
    faq_down.say("怎么向客服描述问题更有效？")
    faq_id = faq_down.state["faq_id"]
    faq_down.press("/not_helpful")

    faq_up = Chat(bot, brand="kdou")
    faq_up.say("怎么向客服描述问题更有效？")
    assert faq_up.state["faq_id"] == faq_id
    faq_up.press("/helpful")

    tickets = {
        name: chat.state["ticket"] for name, chat in (("missed", missed), ("urgent", urgent), ("handoff", handoff))
    }
    assert all(tickets.values()), tickets
    with bot.db.session() as s:
        by_number = {t.number: t for t in s.scalars(select(Ticket))}
        # An agent takes the misunderstood one after 10 minutes and resolves it after an hour;
        # takes the urgent one after 2 minutes; nobody touches the handoff, overdue by now.
        missed_t, urgent_t, handoff_t = (by_number[tickets[k]] for k in ("missed", "urgent", "handoff"))
        first = change_status(s, missed_t, TicketStatus.IN_PROGRESS, actor="alice")
        done = change_status(s, missed_t, TicketStatus.RESOLVED, actor="alice")
        taken = change_status(s, urgent_t, TicketStatus.IN_PROGRESS, actor="bob")
        # Reading is not acting: an export and a reveal by an agent leave the handoff untouched.
        record_event(s, handoff_t, actor="carol", kind="export")
        record_event(s, handoff_t, actor="carol", kind="reveal", after={"field": "contact"})
        s.flush()
        events = TicketEvent.__table__
        for event, ticket, after in ((first, missed_t, 600), (done, missed_t, 3600), (taken, urgent_t, 120)):
            s.execute(
                update(events)
                .where(events.c.id == event.id)
                .values(created_at=ticket.created_at + timedelta(seconds=after))
            )
        s.execute(update(Ticket).where(Ticket.id == handoff_t.id).values(due_at=utcnow() - timedelta(minutes=5)))
    return {"faq_id": faq_id, "tickets": tickets}


def query(**kw: Any) -> InsightQuery:
    return InsightQuery.last(timedelta(days=1), now=utcnow() + timedelta(minutes=1), **kw)


def later() -> Any:
    return utcnow() + timedelta(hours=2)  # every conversation idle: "left" counts


def test_conversations_containment_and_escalation(bot: Assistant, seeded: dict[str, Any]) -> None:
    with bot.db.session(readonly=True) as s:
        figures = compute_insights(s, query(), now=later())
    conv = figures["conversations"]
    assert (conv["conversations"], conv["contained"], conv["escalated"]) == (7, 2, 3)
    assert conv["containment_rate"] == round(2 / 7, 4)
    assert conv["escalation_rate"] == round(3 / 7, 4)
    assert [(b["brand"], b["conversations"], b["contained"], b["escalated"]) for b in conv["brands"]] == [
        ("generic", 3, 0, 2),
        ("kdou", 1, 1, 0),
        ("upay", 3, 1, 1),
    ]
    assert figures["escalation_reasons"] == {"flow": 0, "urgent": 1, "handoff": 1, "misunderstood": 1, "fraud": 0}


def test_brand_filter_narrows_every_figure(bot: Assistant, seeded: dict[str, Any]) -> None:
    with bot.db.session(readonly=True) as s:
        figures = compute_insights(s, query(brand="kdou"), now=later())
    assert (figures["conversations"]["conversations"], figures["conversations"]["contained"]) == (1, 1)
    assert figures["tickets"]["opened"] == 0
    assert figures["tickets"]["overdue"]["total"] == 0
    assert figures["faq"] == [{"faq": seeded["faq_id"], "answered": 1, "helpful": 1, "not_helpful": 0}]
    assert figures["funnels"] == {}


def test_per_day_follows_the_day_a_conversation_started(bot: Assistant, seeded: dict[str, Any]) -> None:
    three_days_ago = utcnow() - timedelta(days=3)
    with bot.db.session() as s:
        kdou = s.scalars(select(Conversation.id).where(Conversation.brand == "kdou")).one()
        s.execute(update(Conversation).where(Conversation.id == kdou).values(created_at=three_days_ago))
    week = InsightQuery.last(timedelta(days=7), now=utcnow() + timedelta(minutes=1))
    with bot.db.session(readonly=True) as s:
        days = compute_insights(s, week, now=later())["conversations"]["days"]
        last_day = compute_insights(s, query(), now=later())["conversations"]
    assert [(d["day"], d["conversations"], d["contained"]) for d in days] == [
        (three_days_ago.strftime("%Y-%m-%d"), 1, 1),
        (utcnow().strftime("%Y-%m-%d"), 6, 1),
    ]
    assert last_day["conversations"] == 6


def test_message_rates_and_top_intents(bot: Assistant, seeded: dict[str, Any]) -> None:
    with bot.db.session(readonly=True) as s:
        figures = compute_insights(s, query(), now=later())
    outcomes = figures["messages"]["outcomes"]
    # 1: flow, flow, feedback; 2: flow x6; 3: fallback, out_of_scope, escalated;
    # 4: flow, escalated; 5: flow, escalated; 6 and 7: answered, feedback.
    assert outcomes == {"flow": 10, "escalated": 3, "feedback": 3, "answered": 2, "fallback": 1, "out_of_scope": 1}
    total = sum(outcomes.values())
    assert figures["messages"]["messages"] == total == 20
    assert figures["messages"]["rates"] == {"fallback": 0.05, "clarify": 0.0, "out_of_scope": 0.05}
    intents = {row["intent"]: row["messages"] for row in figures["top_intents"]}
    assert intents["topup_problem"] == 3
    assert intents["account_stolen"] == 1
    assert sum(intents.values()) == 8  # typed messages; button presses have no intent


def test_faq_votes(bot: Assistant, seeded: dict[str, Any]) -> None:
    with bot.db.session(readonly=True) as s:
        faq = compute_insights(s, query(), now=later())["faq"]
    assert faq == [{"faq": seeded["faq_id"], "answered": 2, "helpful": 1, "not_helpful": 1}]


def test_tickets_by_priority_category_durations_and_overdue(bot: Assistant, seeded: dict[str, Any]) -> None:
    with bot.db.session(readonly=True) as s:
        tickets = compute_insights(s, query(), now=later())["tickets"]
    assert tickets["opened"] == 3
    assert tickets["by_priority"] == {"urgent": 1, "normal": 2}
    assert tickets["by_category"] == {"account_stolen": 1, "human_request": 1, "topup_problem": 1}
    assert tickets["time_to_first_action"] == {"tickets": 2, "mean_seconds": 360.0, "max_seconds": 600.0}
    assert tickets["time_to_resolution"] == {"tickets": 1, "mean_seconds": 3600.0, "max_seconds": 3600.0}
    # Two hours on, the urgent one (due an hour after it opened) is overdue too; the resolved
    # one never is.
    assert tickets["overdue"] == {"total": 2, "by_priority": {"normal": 1, "urgent": 1}}
    with bot.db.session(readonly=True) as s:
        now = compute_insights(s, query(), now=utcnow())["tickets"]
    assert now["overdue"] == {"total": 1, "by_priority": {"normal": 1}}  # the untouched handoff


def test_step_funnel_of_the_topup_checklist(bot: Assistant, seeded: dict[str, Any]) -> None:
    with bot.db.session(readonly=True) as s:
        funnel = flow_funnels(s, query(), flow="topup_problem", now=later())["topup_problem"]
    # Three conversations began at account_info: one solved it there, one went on, one asked
    # for a human there.
    assert funnel["account_info"] == {
        "reached": 3,
        "choices": {"成功了": 1, "还是不行": 1},
        "left": 0,
        "solved": 0,
        "escalated": 1,
    }
    assert funnel["solved"] == {"reached": 1, "choices": {}, "left": 0, "solved": 1, "escalated": 0}
    for step in ("network", "maintenance", "source_balance", "bank_limit"):
        assert funnel[step] == {"reached": 1, "choices": {"还是不行": 1}, "left": 0, "solved": 0, "escalated": 0}, step
    assert funnel["account_status"] == {"reached": 1, "choices": {}, "left": 1, "solved": 0, "escalated": 0}


def test_left_needs_the_conversation_to_be_idle(bot: Assistant, seeded: dict[str, Any]) -> None:
    with bot.db.session(readonly=True) as s:
        funnel = flow_funnels(s, query(), flow="topup_problem", now=utcnow())["topup_problem"]
    assert funnel["account_status"]["left"] == 0  # just asked: the user may still answer


def test_urgent_flow_escalates_at_its_leaf(bot: Assistant, seeded: dict[str, Any]) -> None:
    with bot.db.session(readonly=True) as s:
        funnel = flow_funnels(s, query(), flow="account_stolen", now=later())["account_stolen"]
    assert funnel["can_login"] == {"reached": 1, "choices": {"登不上": 1}, "left": 0, "solved": 0, "escalated": 0}
    assert funnel["locked_out"]["reached"] == 1
    assert funnel["locked_out"]["escalated"] == 1
    assert funnel["locked_out"]["left"] == 0  # it has a ticket: not left, escalated


def test_an_empty_period(bot: Assistant, seeded: dict[str, Any]) -> None:
    past = InsightQuery(utcnow() - timedelta(days=30), utcnow() - timedelta(days=29))
    with bot.db.session(readonly=True) as s:
        figures = compute_insights(s, past, now=later())
    assert figures["conversations"]["conversations"] == 0
    assert figures["conversations"]["containment_rate"] == 0.0
    assert figures["messages"]["rates"] == {"fallback": 0.0, "clarify": 0.0, "out_of_scope": 0.0}
    assert figures["funnels"] == {} and figures["faq"] == [] and figures["top_intents"] == []
    assert figures["tickets"]["time_to_first_action"] == {"tickets": 0, "mean_seconds": None, "max_seconds": None}
