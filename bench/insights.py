"""How fast the console's insights page answers on a large store.

Seeds 100,000 tickets (``seed_bench.insert_fake_tickets``, the queue benchmark's seeding) and
1,000,000 turns (``seed_turns.insert_fake_turns``), signs an agent in, and times whole page
requests through the ASGI app (session check, every SQL aggregate, template) for several periods
and filters, the way a browser asks for them::

    .venv/bin/python bench/insights.py                                   # SQLite in a temp folder
    .venv/bin/python bench/insights.py --db /tmp/insights.db             # keep the file (re-used if seeded)
    .venv/bin/python bench/insights.py --url postgresql+psycopg://postgres@127.0.0.1/test --schema bench_insights

The acceptance target is under 500 ms per page at 1,000,000 turns and 100,000 tickets.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, make_url, select, text

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench.seed_bench import insert_fake_tickets  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.console import build_console_router  # noqa: E402
from bot.content import load_content  # noqa: E402
from bot.store import Database, Turn, create_user  # noqa: E402
from bot.store.insight_rollups import refresh  # noqa: E402
from bot.store.seed_turns import insert_fake_turns  # noqa: E402

TARGET_MS = 500.0
AGENT, PASSWORD = "bench-lead", "bench-password-1"


def views(today: datetime) -> dict[str, str]:
    day = lambda n: (today - timedelta(days=n)).date().isoformat()  # noqa: E731
    end = today.date().isoformat()
    return {
        "page, last 7 days (default)": "/console/insights",
        "page, 7 days, one brand": f"/console/insights?start={day(6)}&end={end}&brand=kdou",
        "page, 30 days": f"/console/insights?start={day(29)}&end={end}",
        "page, 90 days (everything)": f"/console/insights?start={day(89)}&end={end}",
        "JSON, 30 days": f"/console/api/insights?start={day(29)}&end={end}",
    }


def _client(db: Database, db_url: str) -> TestClient:
    settings = load_settings(PROJECT / "config.yml", environ={"WALLETBOT_STORAGE_DATABASE_URL": db_url})
    content = load_content(settings, lint=False)
    app = FastAPI()
    # The page needs the database, the settings and the flows (for the funnels' order).
    app.state.assistant = SimpleNamespace(db=db, settings=settings, runtime=SimpleNamespace(content=content))
    app.include_router(build_console_router({"WALLETBOT_CONSOLE_SECRET": "bench-" + "k" * 32}))
    client = TestClient(app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text)
    assert token, "no sign-in form"
    signed_in = client.post(
        "/console/login",
        data={"name": AGENT, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    return client


def seed(db: Database, tickets: int, turns: int) -> None:
    with db.session(readonly=True) as s:
        if (s.scalar(select(func.count()).select_from(Turn)) or 0) >= turns:
            print("already seeded")
            return
    started = time.perf_counter()
    insert_fake_tickets(db, tickets)
    counts = insert_fake_turns(db, turns)
    with db.session() as s:
        create_user(s, AGENT, "agent", PASSWORD)
    print(
        f"seeded {tickets:,} tickets and {counts['turns']:,} turns ({counts['ticket_events']:,} ticket events) in {time.perf_counter() - started:.0f} s"
    )


def bench(db_url: str, tickets: int, turns: int, repeat: int) -> dict[str, float]:
    with Database(db_url) as db:
        db.migrate()
        seed(db, tickets, turns)
        started = time.perf_counter()
        days = refresh(db)
        print(
            f"rolled up {days} settled days in {time.perf_counter() - started:.1f} s (once; later pages roll up only new days)"
        )
        client = _client(db, db_url)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        results: dict[str, float] = {}
        for label, url in views(datetime.now(UTC)).items():
            first = client.get(url)
            assert first.status_code == 200, (url, first.status_code, first.text[:300])
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200
            results[label] = statistics.median(times)
            print(
                f"{label:>30}: {results[label]:7.1f} ms median of {repeat} (min {min(times):.1f}, max {max(times):.1f})"
            )
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        client.close()
    worst = max(results.values())
    print(f"slowest view {worst:.1f} ms; target < {TARGET_MS:.0f} ms: {'OK' if worst < TARGET_MS else 'TOO SLOW'}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=1_000_000)
    parser.add_argument("--db", help="SQLite file (created and seeded, or re-used when already seeded)")
    parser.add_argument("--url", help="a PostgreSQL URL instead of SQLite")
    parser.add_argument("--schema", help="with --url: a schema to create (if missing) and use")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            url = make_url(args.url)
            if args.schema:
                admin = create_engine(url, isolation_level="AUTOCOMMIT")
                with admin.connect() as c:
                    c.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{args.schema}"'))
                admin.dispose()
                url = url.update_query_dict({"options": f"-csearch_path={args.schema}"})
            db_url = url.render_as_string(hide_password=False)
        else:
            db_url = f"sqlite:///{Path(args.db) if args.db else Path(tmp) / 'insights.db'}"
        results = bench(db_url, args.tickets, args.turns, args.repeat)
    return 0 if max(results.values()) < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
