"""bot.store.db: engine set-up, sessions as transactions, migrations."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text, update

from bot.store import Conversation, Database, StoreError, create_conversation
from bot.store.models import Base

TABLES = {
    "alembic_version",
    "shared_state",
    "console_users",
    "conversations",
    "insight_rollup_days",
    "insight_rollups",
    "insight_ticket_rollups",
    "insight_ticket_state",
    "feedback",
    "ticket_events",
    "tickets",
    "turns",
}


def test_migrate_creates_every_table_and_is_idempotent(database_url: str) -> None:
    with Database(database_url) as db:
        db.migrate()
        assert set(inspect(db.engine).get_table_names()) == TABLES
        with db.session() as s:
            create_conversation(s, brand="kdou", channel="cli")

        db.migrate()  # a second run changes nothing and keeps the data

        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Conversation)) == 1
            assert s.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0005"]
        assert set(inspect(db.engine).get_table_names()) == TABLES


def test_models_match_the_migrations(database: Database) -> None:
    # The models are what the code uses, the migrations what the database has: they must agree.
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_concurrent_migrations_take_turns(database_url: str) -> None:
    dbs = [Database(database_url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(3) as pool:
            for future in [pool.submit(db.migrate) for db in dbs]:
                future.result()
        assert set(inspect(dbs[0].engine).get_table_names()) == TABLES
    finally:
        for db in dbs:
            db.dispose()


def test_session_commits_on_success_and_rolls_back_on_error(database: Database) -> None:
    with database.session() as s:
        kept, _ = create_conversation(s, brand="kdou", channel="http")
    with pytest.raises(RuntimeError, match="boom"):
        with database.session() as s:
            create_conversation(s, brand="upay", channel="http")
            raise RuntimeError("boom")
    with database.session() as s:
        assert s.scalars(select(Conversation.id)).all() == [kept.id]
    # expire_on_commit=False: rows stay readable after their session closed.
    assert kept.brand == "kdou"


def test_transaction_commits_on_success_and_rolls_back_on_error(database: Database) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
    renamed = update(Conversation).where(Conversation.id == conv.id)
    with database.transaction() as connection:
        connection.execute(renamed.values(brand="upay"))
    with pytest.raises(RuntimeError, match="boom"):
        with database.transaction() as connection:
            connection.execute(renamed.values(brand="generic"))
            raise RuntimeError("boom")
    with database.session() as s:
        assert s.scalars(select(Conversation.brand)).all() == ["upay"]


def test_unparsable_url_is_refused_with_examples() -> None:
    with pytest.raises(StoreError) as info:
        Database("not a url")
    assert str(info.value) == (
        "Cannot parse database URL 'not a url': use e.g. 'sqlite:///walletbot.db' or "
        "'postgresql+psycopg://user@host:5432/walletbot'."
    )


def test_unreachable_database_raises_store_error() -> None:
    # Nothing listens on port 1: the driver's error becomes one StoreError naming the URL.
    with Database("postgresql+psycopg://walletbot:secret@127.0.0.1:1/nowhere") as db:
        with pytest.raises(StoreError) as info:
            with db.session() as s:
                s.execute(text("SELECT 1"))
        message = str(info.value)
        assert message.startswith(
            "Database 'postgresql+psycopg://walletbot:***@127.0.0.1:1/nowhere' did not complete the transaction ("
        )
        assert message.endswith("check that it is reachable and not held by a long transaction, then retry.")
        assert "secret" not in message
        with pytest.raises(StoreError, match="did not complete the transaction"):
            with db.transaction() as connection:
                connection.execute(text("SELECT 1"))
        with pytest.raises(StoreError):
            db.migrate()


def test_postgresql_engine_pings_connections() -> None:
    db = Database("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    try:
        assert db.engine.pool._pre_ping is True
        assert repr(db) == "Database('postgresql+psycopg://postgres@127.0.0.1:1/nowhere')"
    finally:
        db.dispose()


# --------------------------------------------------------------------------- SQLite specifics


def test_sqlite_creates_the_folder_and_applies_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "bot.db"
    with Database(f"sqlite:///{path}") as db:
        with db.engine.connect() as connection:
            pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 5000
            assert pragma("synchronous") == 1  # NORMAL
        assert path.exists()


def test_sqlite_in_memory_database_is_shared_by_sessions() -> None:
    with Database("sqlite://") as db:
        db.migrate()
        with db.session() as s:
            create_conversation(s, brand="kdou", channel="cli")
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Conversation)) == 1


def test_sqlite_write_transactions_serialise(tmp_path: Path) -> None:
    """A second writer waits for the first (BEGIN IMMEDIATE) instead of failing; readers don't."""
    with Database(f"sqlite:///{tmp_path / 'bot.db'}") as db:
        db.migrate()
        second_started = threading.Event()
        reader_done = threading.Event()

        def second_writer() -> float:
            with db.session() as s:
                s.execute(select(Conversation.id)).all()  # BEGIN IMMEDIATE waits here
                second_started.set()
                create_conversation(s, brand="upay", channel="http")
            return time.monotonic()

        def reader() -> None:
            with db.session(readonly=True) as s:
                s.execute(select(Conversation.id)).all()
            reader_done.set()

        with ThreadPoolExecutor(2) as pool:
            with db.session() as s:
                s.execute(select(Conversation.id)).all()  # holds the write lock from here
                waiting = pool.submit(second_writer)
                pool.submit(reader).result(timeout=5)
                assert reader_done.is_set()
                assert not second_started.wait(0.3)
                create_conversation(s, brand="kdou", channel="http")
                committed_at = time.monotonic()
            assert waiting.result(timeout=10) >= committed_at

        with db.session() as s:
            assert sorted(s.scalars(select(Conversation.brand))) == ["kdou", "upay"]


def test_sqlite_lock_held_past_busy_timeout_raises_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.store.db as dbmodule

    monkeypatch.setattr(
        dbmodule,
        "_SQLITE_PRAGMAS",
        tuple(p.replace("busy_timeout=5000", "busy_timeout=100") for p in dbmodule._SQLITE_PRAGMAS),
    )
    monkeypatch.setattr(dbmodule, "SQLITE_BUSY_TIMEOUT_MS", 100)
    with Database(f"sqlite:///{tmp_path / 'bot.db'}") as db:
        db.migrate()
        with db.session() as s:
            s.execute(select(1)).all()  # holds the write lock
            with ThreadPoolExecutor(1) as pool:
                blocked = pool.submit(_run_in_session, db)
                with pytest.raises(StoreError) as info:
                    blocked.result(timeout=10)
        # Threads of one process queue in front of SQLite and give up after the same timeout.
        assert "stayed busy for 0.1 s" in str(info.value)


def _run_in_session(db: Database) -> None:
    with db.session() as s:
        s.execute(select(1)).all()


def test_migration_0002_turns_plain_contacts_in_search_text_into_digests(database: Database) -> None:
    from bot.store import Ticket, create_ticket_once
    from bot.store.models import contact_search_token, ticket_search_text

    details = {"contact": "138 1234 5678", "amount": "100元"}
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
        ticket, _ = create_ticket_once(
            s,
            conv,
            brand="kdou",
            category="refund",
            priority="high",
            summary="退款没到账",
            details=details,
            trail=[],
            sla_hours={"high": 4},
        )
    from alembic import command

    command.downgrade(database.alembic_config(), "0002")  # the revisions after 0002 undone first
    with database.engine.begin() as connection:  # what a database written before 0002 holds
        connection.execute(
            text("UPDATE tickets SET search_text = :plain"), {"plain": "退款没到账\n138 1234 5678\n100元"}
        )
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    database.migrate()
    with database.session() as s:
        stored = s.scalars(select(Ticket.search_text)).one()
    assert stored == ticket_search_text("退款没到账", details)  # the migration's frozen copy agrees
    assert contact_search_token("13812345678") in stored and "1234" not in stored
