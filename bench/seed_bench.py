"""Fake tickets in bulk, to measure the agents' queue at realistic sizes.

Not used by the product. From a shell::

    python bench/seed_bench.py sqlite:///bench.db 100000

migrates the database, inserts the tickets and times a few typical queue queries.
"""

from __future__ import annotations

import itertools
import random
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: this checkout's bot

from bot.store.conversations import hash_token  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.store.models import (  # noqa: E402
    Conversation,
    Priority,
    Ticket,
    TicketStatus,
    queue_rank,
    table_of,
    ticket_search_text,
    utcnow,
)
from bot.store.queue import TicketQuery, list_tickets  # noqa: E402

BATCH_SIZE = 5_000

_BRANDS = ("generic", "kdou", "upay")
_CATEGORIES = (
    "topup_problem",
    "withdrawal_problem",
    "payment_problem",
    "transaction_failed",
    "refund",
    "account_stolen",
    "account_frozen",
    "limits",
    "balance_issue",
)
_SUMMARIES = (
    "充值{amount}元未到账，已检查网络和余额",
    "提现{amount}元失败，交易记录显示银行处理中",
    "付款{amount}元被扣款但订单未成功",
    "账户被冻结，无法转账",
    "申请退款{amount}元超过七天未到账",
    "怀疑账户被盗，有陌生设备登录",
    "单日支付限额不足，需要提高额度",
)
_STATUSES = (
    (TicketStatus.OPEN, 30),
    (TicketStatus.IN_PROGRESS, 15),
    (TicketStatus.WAITING_ON_USER, 10),
    (TicketStatus.RESOLVED, 25),
    (TicketStatus.CLOSED, 20),
)
_PRIORITIES = ((Priority.LOW, 20), (Priority.NORMAL, 50), (Priority.HIGH, 22), (Priority.URGENT, 8))
_TRAIL_ENTRY = {"flow": "demo", "step": "check_network", "say": "网络正常吗？", "answer": "正常"}
_SLA_HOURS = {Priority.URGENT: 1, Priority.HIGH: 4, Priority.NORMAL: 24, Priority.LOW: 72}


def _fake_rows(n: int, rng: random.Random) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    now = utcnow()
    statuses, status_weights = [st for st, _ in _STATUSES], [w for _, w in _STATUSES]
    priorities, priority_weights = [pr for pr, _ in _PRIORITIES], [w for _, w in _PRIORITIES]
    status_cum = list(itertools.accumulate(status_weights))
    priority_cum = list(itertools.accumulate(priority_weights))
    ranks = {(st, pr): queue_rank(st, pr) for st in statuses for pr in priorities}
    for _ in range(n):
        conv_id = f"{rng.getrandbits(128):032x}"  # seeded, unlike uuid4: reruns are identical
        created = now - timedelta(seconds=rng.randrange(90 * 24 * 3600))
        brand = rng.choice(_BRANDS)
        status = rng.choices(statuses, cum_weights=status_cum)[0]
        priority = rng.choices(priorities, cum_weights=priority_cum)[0]
        amount = rng.choice((50, 100, 200, 500, 1000, 5000))
        conv = {
            "id": conv_id,
            "token_hash": hash_token(conv_id),
            "brand": brand,
            "channel": "http",
            "state": {},
            "human_owner": False,
            "turn_count": 0,
            "created_at": created,
            "updated_at": created,
        }
        summary = rng.choice(_SUMMARIES).format(amount=amount)
        details = {"amount": f"{amount}元", "method": rng.choice(("银行卡", "余额", "信用卡"))}
        ticket = {
            "conversation_id": conv_id,
            "brand": brand,
            "category": rng.choice(_CATEGORIES),
            "priority": priority,
            "status": status,
            "queue_rank": ranks[status, priority],
            "summary": summary,
            "details": details,
            "search_text": ticket_search_text(summary, details),
            "trail": [_TRAIL_ENTRY],
            "assignee_id": None,
            "due_at": created + timedelta(hours=_SLA_HOURS[priority]),
            "created_at": created,
            "updated_at": created,
        }
        yield conv, ticket


def insert_fake_tickets(db: Database, n: int, *, seed: int = 0) -> int:
    """Insert ``n`` fake tickets (each with its own empty conversation); returns ``n``.

    Rows go in as multi-row INSERTs of ``BATCH_SIZE`` rows, one transaction per batch, so
    100,000 tickets take seconds, not the minutes one ORM flush per ticket would take.
    No ticket events are written. Ends with ANALYZE so that query plans are realistic.
    """
    rng = random.Random(seed)
    rows = _fake_rows(n, rng)
    done = 0
    while done < n:
        size = min(BATCH_SIZE, n - done)
        convs, tickets = zip(*(next(rows) for _ in range(size)), strict=True)
        with db.engine.begin() as connection:
            connection.execute(insert(table_of(Conversation)), list(convs))
            connection.execute(insert(table_of(Ticket)), list(tickets))
        done += size
    with db.engine.begin() as connection:
        # Fresh statistics, as autovacuum would gather soon: without them the planners guess
        # and the queue benchmark would measure the guesses.
        connection.exec_driver_sql("ANALYZE")
    return done


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[1].isdigit():
        print("usage: python bench/seed_bench.py DATABASE_URL COUNT", file=sys.stderr)
        return 2
    with Database(args[0]) as db:
        db.migrate()
        started = time.perf_counter()
        insert_fake_tickets(db, int(args[1]))
        print(f"inserted {args[1]} tickets in {time.perf_counter() - started:.1f}s")
        queries = {
            "first page": TicketQuery(),
            "page 50": TicketQuery(page=50),
            "open, kdou": TicketQuery(status=TicketStatus.OPEN, brand="kdou"),
            "active, urgent": TicketQuery(active=True, priority=Priority.URGENT),
            "text 提现": TicketQuery(text="提现"),
            "unassigned, category": TicketQuery(unassigned=True, category="refund"),
        }
        for label, query in queries.items():
            with db.session(readonly=True) as s:
                started = time.perf_counter()
                page, total = list_tickets(s, query)
                elapsed = (time.perf_counter() - started) * 1000
            print(f"{label:>22}: {len(page)} of {total} in {elapsed:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
