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
from sqlalchemy import create_engine, func, make_url, select, text, update

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench.seed_bench import insert_fake_tickets  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.console import build_console_router  # noqa: E402
from bot.content import load_content  # noqa: E402
from bot.store import Database, Turn, create_user  # noqa: E402
from bot.store.insight_rollups import refresh  # noqa: E402
from bot.store.seed_turns import insert_fake_turns  # noqa: E402
from bot.store.ticket_rollups import refresh as refresh_tickets  # noqa: E402

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


def _wait_for_background(db: Database) -> None:
    """Let the background refresh a page started finish, and allow the next one at once."""
    from bot.store import insight_rollups

    running = insight_rollups._background.pop(db, None)
    if running is not None:
        running[0].join()


def _make_provisional_days_stale(db: Database) -> None:
    """Yesterday's and today's rollups as if computed PROVISIONAL_FOR ago and more."""
    from bot.store.insight_rollups import PROVISIONAL_FOR
    from bot.store.models import InsightRollupDay

    since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    with db.session() as s:
        s.execute(
            update(InsightRollupDay)
            .where(InsightRollupDay.day >= since)
            .values(computed_at=datetime.now(UTC) - PROVISIONAL_FOR - timedelta(minutes=1))
        )


def vacuum(db: Database) -> None:
    """On PostgreSQL, VACUUM ANALYZE the tables the page reads when autovacuum is off (as on this
    project's test server): a server with autovacuum vacuums freshly inserted tables by itself,
    and without it PostgreSQL cannot count from an index alone (ix_tickets_overdue)."""
    if db.dialect != "postgresql":
        return
    with db.engine.connect() as c:
        if c.exec_driver_sql("SHOW autovacuum").scalar() == "on":
            return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        for table in ("tickets", "ticket_events", "insight_ticket_rollups", "insight_rollups"):
            c.exec_driver_sql(f"VACUUM ANALYZE {table}")
    print("autovacuum is off: VACUUM ANALYZE done by hand on the tables the page reads")


def bench(db_url: str, tickets: int, turns: int, repeat: int) -> dict[str, float]:
    with Database(db_url) as db:
        db.migrate()
        seed(db, tickets, turns)
        started = time.perf_counter()
        days = refresh(db)
        print(
            f"rolled up {days} settled days in {time.perf_counter() - started:.1f} s (once; later pages roll up only new days)"
        )
        started = time.perf_counter()
        days = refresh_tickets(db)
        print(
            f"rolled up the tickets of {days} days in {time.perf_counter() - started:.1f} s (once, then changed days)"
        )
        vacuum(db)
        client = _client(db, db_url)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        results: dict[str, float] = {}
        stale = "page, 7 days, yesterday and today stale"
        for label, url in [*views(datetime.now(UTC)).items(), (stale, "/console/insights")]:
            first = client.get(url)
            assert first.status_code == 200, (url, first.status_code, first.text[:300])
            times = []
            for _ in range(repeat):
                if label == stale:  # the first page after PROVISIONAL_FOR: the refresh has work to do
                    _wait_for_background(db)
                    _make_provisional_days_stale(db)
                t0 = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200
            results[label] = statistics.median(times)
            print(
                f"{label:>30}: {results[label]:7.1f} ms median of {repeat} (min {min(times):.1f}, max {max(times):.1f})"
            )
        _wait_for_background(db)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        client.close()
    worst = max(results.values())
    print(f"slowest view {worst:.1f} ms; target < {TARGET_MS:.0f} ms: {'OK' if worst < TARGET_MS else 'TOO SLOW'}")
    return results


def figures(db_url: str, repeat: int) -> None:
    """Where a page's time goes: each figure's function alone, with the time of every SQL
    statement it runs (the median of ``repeat`` calls), for the 7-day and the 90-day periods."""
    from sqlalchemy import event

    from bot.store import insight_rollups, insights
    from bot.store.insights import InsightQuery

    try:
        from bot.store import ticket_rollups
    except ImportError:  # the code before the ticket rollups
        ticket_rollups = None  # type: ignore[assignment]

    with Database(db_url) as db:
        db.migrate()
        for name, module in (("turn", insight_rollups), ("ticket", ticket_rollups)):
            if module is not None:
                started = time.perf_counter()
                done = module.refresh(db)
                print(f"{name} rollups: {done} days rolled up in {time.perf_counter() - started:.1f} s")
        spent: list[tuple[str, float]] = []

        @event.listens_for(db.engine, "before_cursor_execute")
        def _start(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            conn.info["t0"] = time.perf_counter()

        @event.listens_for(db.engine, "after_cursor_execute")
        def _stop(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            spent.append((" ".join(statement.split())[:90], (time.perf_counter() - conn.info["t0"]) * 1000))

        now = datetime.now(UTC)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for days in (7, 90):
            q = InsightQuery(midnight - timedelta(days=days), midnight)
            parts: dict[str, object] = {
                "refresh of the turn rollups (nothing to do)": lambda: insight_rollups.refresh(db, now=now),
            }
            if ticket_rollups is not None:
                parts["refresh of the ticket rollups (nothing to do)"] = lambda: ticket_rollups.refresh(db, now=now)
            with_session = {
                "turn figures: split + read the rollups": lambda s, q=q: insight_rollups.read(
                    s, insight_rollups.split(s, q, now=now).rolled_days, None
                ),
                "ticket figures, live over every ticket": lambda s, q=q: insights.ticket_figures(s, q, now=now),
            }
            if ticket_rollups is not None:
                with_session["ticket figures from the rollups"] = lambda s, q=q: ticket_rollups.ticket_figures(
                    s, q, now=now
                )
                with_session["  of which overdue"] = lambda s: ticket_rollups.overdue(s, None, now)
            with_session["the whole compute_insights"] = lambda s, q=q: insights.compute_insights(s, q, now=now)
            print(f"--- {days} days")
            for label, call in [*parts.items(), *with_session.items()]:
                runs, statements = [], {}
                for _ in range(repeat):
                    spent.clear()
                    t0 = time.perf_counter()
                    if label in parts:
                        call()  # type: ignore[operator]
                    else:
                        with db.session(readonly=True) as s:
                            call(s)  # type: ignore[operator]
                    runs.append((time.perf_counter() - t0) * 1000)
                    for sql, ms in spent:
                        statements.setdefault(sql, []).append(ms)
                print(f"{label:>50}: {statistics.median(runs):8.1f} ms")
                for sql, times in sorted(statements.items(), key=lambda kv: -sum(kv[1])):
                    if sum(times) / repeat >= 2:
                        print(f"{'':>14}{sum(times) / repeat:8.1f} ms  {len(times) // repeat:>3}x  {sql}")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=1_000_000)
    parser.add_argument("--db", help="SQLite file (created and seeded, or re-used when already seeded)")
    parser.add_argument("--url", help="a PostgreSQL URL instead of SQLite")
    parser.add_argument("--schema", help="with --url: a schema to create (if missing) and use")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--figures", action="store_true", help="time each figure and its SQL statements instead of whole pages"
    )
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
        if args.figures:
            figures(db_url, args.repeat)
            return 0
        results = bench(db_url, args.tickets, args.turns, args.repeat)
    return 0 if max(results.values()) < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
