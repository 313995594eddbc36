"""Fake conversations with turns, ticket events and votes in bulk, to measure the insights at
realistic sizes. Not used by the product.

Extends the queue's bench seeding (``bench/seed_bench.py``): each ticket's empty
conversation gets the turns of a checklist that escalated, and conversations without a ticket
are added (solved, FAQ answered and voted, not understood, or left at a step) until the store
holds ``turns`` turns. Every user turn carries the ``meta`` keys the engine writes, so the
insights compute on it exactly as on real traffic.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from bot.store.conversations import hash_token
from bot.store.db import Database
from bot.store.models import Conversation, Feedback, Ticket, TicketEvent, Turn, table_of, utcnow

BATCH_ROWS = 5_000
TURNS_PER_TICKET_CONVERSATION = 6  # three user messages, three replies
TURNS_PER_OTHER_CONVERSATION = 8
_FLOW = "topup_problem"
_STEPS = ("account_info", "network", "maintenance", "source_balance", "bank_limit", "account_status")
_INTENTS = (
    "topup_problem",
    "withdrawal_problem",
    "payment_problem",
    "refund",
    "forgot_password",
    "out_of_scope",
    "greet",
)
_FAQS = ("describe_problem_clearly", "two_factor_auth", "contact_channels", "refund_time")
_REASONS = (("flow", 50), ("handoff", 25), ("misunderstood", 15), ("urgent", 8), ("fraud", 2))
_OTHER_KINDS = (("solved", 35), ("faq", 30), ("fallback", 15), ("left", 20))


def _user(conv: str, seq: int, at: datetime, meta: dict[str, Any], intent: str | None = None) -> dict[str, Any]:
    return {
        "conversation_id": conv,
        "seq": seq,
        "role": "user",
        "text": "…",
        "payload": None,
        "intent": intent,
        "confidence": 0.9 if intent else None,
        "meta": meta,
        "created_at": at,
    }


def _bot(conv: str, seq: int, at: datetime) -> dict[str, Any]:
    return {
        "conversation_id": conv,
        "seq": seq,
        "role": "bot",
        "text": "…",
        "payload": None,
        "intent": None,
        "confidence": None,
        "meta": {"buttons": []},
        "created_at": at,
    }


def _flow_meta(step: int, *, choice: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "outcome": "flow",
        "flow": _FLOW,
        "step": _STEPS[step],
        "faq_id": None,
        "steps_flow": _FLOW,
        "steps": [_STEPS[step]],
    }
    if choice:
        meta |= {"choice_step": _STEPS[step - 1], "choice": "还是不行"}
    return meta


def _ticket_turns(conv: str, start: datetime, rng: random.Random) -> list[dict[str, Any]]:
    reason = rng.choices([r for r, _ in _REASONS], [w for _, w in _REASONS])[0]
    at = [start + timedelta(seconds=20 * i) for i in range(6)]
    escalated = {
        "outcome": "escalated",
        "flow": None,
        "step": None,
        "faq_id": None,
        "escalation": reason,
        "escalated_flow": _FLOW,
        "escalated_step": _STEPS[1],
    }
    return [
        _user(conv, 1, at[0], _flow_meta(0, choice=False), rng.choice(_INTENTS[:5])),
        _bot(conv, 2, at[1]),
        _user(conv, 3, at[2], _flow_meta(1, choice=True)),
        _bot(conv, 4, at[3]),
        _user(conv, 5, at[4], escalated),
        _bot(conv, 6, at[5]),
    ]


def _other_turns(
    conv: str, start: datetime, kind: str, rng: random.Random
) -> tuple[list[dict[str, Any]], dict[str, Any], str | None]:
    """Eight turns of a conversation without a ticket; its final state; the FAQ voted on, if any."""
    at = [start + timedelta(seconds=20 * i) for i in range(8)]
    state: dict[str, Any] = {"flow": None, "step": None}
    voted = None
    if kind == "solved":
        metas = [
            _flow_meta(0, choice=False),
            _flow_meta(1, choice=True),
            _flow_meta(2, choice=True),
            {
                "outcome": "flow",
                "flow": None,
                "step": None,
                "steps_flow": _FLOW,
                "steps": ["solved"],
                "choice_step": _STEPS[2],
                "choice": "成功了",
                "resolved_step": "solved",
            },
        ]
    elif kind == "faq":
        voted = rng.choice(_FAQS)
        metas = [
            {"outcome": "answered", "faq": voted, "faq_id": voted},
            {"outcome": "feedback"},
            {"outcome": "small_talk"},
            {"outcome": "small_talk"},
        ]
    elif kind == "fallback":
        metas = [
            {"outcome": "fallback"},
            {"outcome": "clarify"},
            {"outcome": "out_of_scope"},
            {"outcome": "small_talk"},
        ]
    else:  # left at a random step
        stop = rng.randrange(1, 4)
        metas = [_flow_meta(i, choice=i > 0) for i in range(stop + 1)] + [{"outcome": "small_talk"}] * (3 - stop)
        state = {"flow": _FLOW, "step": _STEPS[stop]}
    rows = []
    for i, meta in enumerate(metas):
        intent = rng.choice(_INTENTS) if i == 0 else None
        rows += [_user(conv, 2 * i + 1, at[2 * i], meta, intent), _bot(conv, 2 * i + 2, at[2 * i + 1])]
    return rows, state, voted


def _batches(rows: Iterator[dict[str, Any]], size: int = BATCH_ROWS) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def insert_fake_turns(db: Database, turns: int, *, seed: int = 0, days: int = 90) -> dict[str, int]:
    """Give every empty conversation (the bench tickets') the turns of an escalated checklist,
    then add conversations without a ticket until about ``turns`` turns exist. Agents act on
    about half of the tickets (a first action, and a resolution for some). Returns the counts."""
    rng = random.Random(f"turns-{seed}")  # not the tickets' sequence: their ids would repeat
    now = utcnow()
    with db.engine.begin() as c:
        empty = [
            (cid, created)
            for cid, created in c.execute(
                select(Conversation.id, Conversation.created_at)
                .where(Conversation.turn_count == 0)
                .order_by(Conversation.id)
            )
        ]
        tickets = list(c.execute(select(Ticket.id, Ticket.created_at).order_by(Ticket.id)))
    written = 0

    def ticket_rows() -> Iterator[dict[str, Any]]:
        for cid, created in empty:
            yield from _ticket_turns(cid, created, rng)

    for batch in _batches(ticket_rows()):
        with db.engine.begin() as c:
            c.execute(insert(table_of(Turn)), batch)
        written += len(batch)
    with db.engine.begin() as c:
        c.execute(
            update(Conversation).where(Conversation.turn_count == 0).values(turn_count=TURNS_PER_TICKET_CONVERSATION)
        )

    events: list[dict[str, Any]] = []
    for ticket_id, created in tickets:
        if rng.random() < 0.5:
            first = created + timedelta(minutes=rng.randrange(1, 240))
            events.append(
                {
                    "ticket_id": ticket_id,
                    "actor": "bench-agent",
                    "kind": "assign",
                    "before": None,
                    "after": {"assignee": "bench-agent"},
                    "note": None,
                    "created_at": first,
                }
            )
            if rng.random() < 0.6:
                done = first + timedelta(minutes=rng.randrange(5, 2000))
                events.append(
                    {
                        "ticket_id": ticket_id,
                        "actor": "bench-agent",
                        "kind": "status",
                        "before": {"status": "in_progress"},
                        "after": {"status": "resolved"},
                        "note": None,
                        "created_at": done,
                    }
                )
    for batch in _batches(iter(events)):
        with db.engine.begin() as c:
            c.execute(insert(table_of(TicketEvent)), batch)

    conversations = max(0, (turns - written) // TURNS_PER_OTHER_CONVERSATION)
    kinds, weights = [k for k, _ in _OTHER_KINDS], [w for _, w in _OTHER_KINDS]
    brands = ("generic", "kdou", "upay")
    votes: list[dict[str, Any]] = []

    def other_rows() -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        for _ in range(conversations):
            cid = f"{rng.getrandbits(128):032x}"
            created = now - timedelta(seconds=rng.randrange(days * 24 * 3600))
            rows, state, voted = _other_turns(cid, created, rng.choices(kinds, weights)[0], rng)
            conv = {
                "id": cid,
                "token_hash": hash_token(cid),
                "brand": rng.choice(brands),
                "channel": "http",
                "state": state,
                "human_owner": False,
                "turn_count": len(rows),
                "created_at": created,
                "updated_at": rows[-1]["created_at"],
            }
            if voted is not None:
                votes.append(
                    {
                        "conversation_id": cid,
                        "turn_seq": 3,
                        "target_kind": "faq",
                        "target_id": voted,
                        "helpful": rng.random() < 0.7,
                        "created_at": rows[2]["created_at"],
                    }
                )
            yield conv, rows

    pending_convs: list[dict[str, Any]] = []
    pending_turns: list[dict[str, Any]] = []

    def flush() -> None:
        with db.engine.begin() as c:
            if pending_convs:
                c.execute(insert(table_of(Conversation)), pending_convs)
            if pending_turns:
                c.execute(insert(table_of(Turn)), pending_turns)
            if votes:
                c.execute(insert(table_of(Feedback)), votes)
        pending_convs.clear()
        pending_turns.clear()
        votes.clear()

    for conv, rows in other_rows():
        pending_convs.append(conv)
        pending_turns.extend(rows)
        written += len(rows)
        if len(pending_turns) >= BATCH_ROWS:
            flush()
    flush()
    with db.engine.begin() as c:
        c.exec_driver_sql("ANALYZE")
        total_turns = c.scalar(select(func.count()).select_from(Turn))
    return {"turns": int(total_turns or 0), "ticket_events": len(events), "conversations_without_ticket": conversations}
