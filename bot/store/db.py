"""The database handle: one engine, sessions as transactions, and migrations.

Usage::

    db = Database("sqlite:///var/walletbot.db")   # or postgresql+psycopg://user@host/db
    db.migrate()                                  # Alembic upgrade head, safe to repeat
    with db.session() as s:                       # commits on success, rolls back on error
        conv, token = create_conversation(s, brand="kdou", channel="http")
    db.dispose()

Several app workers (processes) may share one database. Messages of one conversation must be
processed one at a time, so every write transaction takes the database's write lock up front:
on SQLite with ``BEGIN IMMEDIATE`` (a second writer waits up to ``busy_timeout`` instead of
failing half-way with "database is locked"), on PostgreSQL with ``SELECT ... FOR UPDATE`` on the
conversation row (``get_conversation(lock=True)``).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, OperationalError, StatementError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from bot.errors import WalletbotError
from bot.store.errors import StoreError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# SQLite settings applied to every new connection. WAL lets readers run while one writer
# writes; NORMAL sync is durable across application crashes (only a power loss can drop the
# last transactions) and much faster than FULL.
SQLITE_BUSY_TIMEOUT_MS = 5000
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA synchronous=NORMAL",
)

# Any constant: migrating processes of one PostgreSQL database take turns on it.
_PG_MIGRATION_LOCK = 0x57A11E7B07

_READONLY_OPTION = "walletbot_readonly"


def _json_default(value: object) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(
        f"Cannot store {value!r} ({type(value).__name__}) as JSON: convert it to a string, number, list or dict first."
    )


def _json_dumps(value: object) -> str:
    # ensure_ascii=False keeps Chinese readable in the database, and searchable with LIKE.
    return json.dumps(value, ensure_ascii=False, default=_json_default)


class Database:
    """One database (SQLite file or PostgreSQL server) and its connection pool.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///walletbot.db`` or
            ``postgresql+psycopg://user@host:5432/walletbot``.

    Raises:
        StoreError: the URL cannot be parsed.
    """

    def __init__(self, url: str) -> None:
        try:
            self.url: URL = make_url(url)
        except ArgumentError as exc:
            raise StoreError(
                f"Cannot parse database URL {url!r}: use e.g. 'sqlite:///walletbot.db' or "
                "'postgresql+psycopg://user@host:5432/walletbot'."
            ) from exc
        self.engine: Engine = self._create_engine()
        # Re-entrant: a nested write session in the same thread keeps SQLite's own semantics
        # (it waits for the busy timeout, then fails) instead of deadlocking here.
        self._write_gate = threading.RLock()
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readonly_sessions = sessionmaker(
            self.engine.execution_options(**{_READONLY_OPTION: True}), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.dispose()

    # ------------------------------------------------------------------ engine

    def _create_engine(self) -> Engine:
        kwargs: dict[str, Any] = {"json_serializer": _json_dumps}
        if self.url.get_backend_name() != "sqlite":
            # Workers live for days; a connection dropped by a server restart or a firewall
            # must be replaced silently instead of failing the next user's message.
            return create_engine(self.url, pool_pre_ping=True, **kwargs)

        database = self.url.database or ""
        in_memory = database in ("", ":memory:") or self.url.query.get("mode") == "memory"
        if in_memory:
            # One shared connection, or every checkout would see a new empty database.
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        elif not database.startswith("file:"):
            _create_private_file(Path(database).expanduser())
        engine = create_engine(self.url, **kwargs)
        _install_sqlite_transactions(engine, wal=not in_memory)
        return engine

    # ------------------------------------------------------------------ sessions

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """A session that is one transaction: committed on success, rolled back on error.

        Args:
            readonly: only read in this session. On SQLite it then starts with a plain
                ``BEGIN`` and does not wait for (or block) writers; writes made in it are not
                serialised with other workers. No effect on PostgreSQL.

        Raises:
            StoreError: the database is unreachable or stayed locked past the busy timeout.
        """
        factory = self._readonly_sessions if readonly else self._sessions
        with self._write_turn(readonly), factory() as session:
            try:
                yield session
                session.commit()
            except BaseException as exc:
                session.rollback()
                error = self._store_error(exc)
                if error is exc:
                    raise
                raise error from exc

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction on a plain connection: committed on success, rolled back on error.

        The per-message path: Core statements on a connection skip the ORM session's own
        bookkeeping (about a tenth of a message's cost). Code that needs ORM objects in the same
        transaction opens ``Session(bind=connection)`` on it (``OrmOnDemand`` below).

        Raises:
            StoreError: the database is unreachable or stayed locked past the busy timeout.
        """
        with self._write_turn(readonly=False):
            try:
                with self.engine.begin() as connection:
                    yield connection
            except BaseException as exc:
                error = self._store_error(exc)
                if error is exc:
                    raise
                raise error from exc

    def _write_turn(self, readonly: bool) -> AbstractContextManager[None]:
        # SQLite has one write lock per file and its busy handler sleeps with back-off rather
        # than queueing: threads of one process queue here instead, in order, without sleeping.
        # Other processes still serialise through BEGIN IMMEDIATE and the busy timeout.
        return self._sqlite_write_turn() if (self.dialect == "sqlite" and not readonly) else nullcontext()

    def _store_error(self, exc: BaseException) -> BaseException:
        """What a failed transaction raises: StoreError for an unreachable or locked database,
        our own error when SQLAlchemy wrapped one raised while binding a value (e.g. UTCDateTime
        refusing a naive timestamp), else the error itself."""
        if isinstance(exc, OperationalError):
            return self._unavailable(exc)
        if isinstance(exc, StatementError) and isinstance(exc.orig, WalletbotError):
            return exc.orig
        return exc

    @contextmanager
    def _sqlite_write_turn(self) -> Iterator[None]:
        """Wait for this process's turn to write, as long as SQLite itself would wait."""
        if not self._write_gate.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            raise StoreError(
                f"The database {self.url.database!r} stayed busy for {SQLITE_BUSY_TIMEOUT_MS / 1000:g} s; "
                "try again, or use PostgreSQL for this much concurrent traffic."
            )
        try:
            yield
        finally:
            self._write_gate.release()

    def _unavailable(self, exc: OperationalError) -> StoreError:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return StoreError(
            f"Database {self.url.render_as_string(hide_password=True)!r} did not complete the "
            f"transaction ({reason}): check that it is reachable and not held by a long "
            "transaction, then retry."
        )

    # ------------------------------------------------------------------ migrations

    def alembic_config(self) -> Config:
        """Alembic configuration built in code, so no alembic.ini is needed at run time."""
        config = Config()
        # configparser interpolates '%': escape it in case the install path contains one.
        config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
        config.set_main_option("sqlalchemy.url", self.url.render_as_string(hide_password=False).replace("%", "%%"))
        return config

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic ``upgrade head``); safe to repeat.

        The whole upgrade is one transaction, and concurrent callers take turns (SQLite write
        lock, PostgreSQL advisory lock), so several workers may call this at start-up.

        Raises:
            StoreError: the database is unreachable or locked.
        """
        config = self.alembic_config()
        try:
            with self.engine.begin() as connection:
                if self.dialect == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except OperationalError as exc:
            raise self._unavailable(exc) from exc

    def ping(self) -> bool:
        """Whether the database answers a trivial query now (readiness checks); never raises."""
        try:
            with self.session(readonly=True) as s:
                s.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - readiness reports, never raises
            return False
        return True

    def dispose(self) -> None:
        """Close every pooled connection (at shutdown, or before forking workers)."""
        self.engine.dispose()


def _create_private_file(path: Path) -> None:
    """Create a new SQLite file readable by its owner only (0600): it holds conversations.

    SQLite gives its -wal and -shm files the permissions of the database file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # an existing file keeps the permissions its owner gave it


def _install_sqlite_transactions(engine: Engine, *, wal: bool) -> None:
    """Apply the pragmas and let SQLAlchemy, not the sqlite3 module, emit BEGIN.

    The sqlite3 module's legacy transaction handling starts a transaction only at the first
    INSERT/UPDATE, after our SELECTs have already read a possibly stale conversation, and
    upgrading that read to a write can fail with "database is locked" immediately (no busy
    wait). We switch its handling off and begin every write transaction with BEGIN IMMEDIATE,
    the recipe of SQLAlchemy's SQLite documentation ("Enabling Non-Legacy SQLite Transactional
    Modes"): a second writer waits for the first instead of failing.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # sqlite3 must not emit BEGIN itself
        cursor = dbapi_connection.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                if wal or "journal_mode" not in pragma:
                    cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(_READONLY_OPTION):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class OrmOnDemand:
    """An ORM session on the message's own transaction, opened only when a step needs ORM
    objects (a ticket, a vote): most messages are Core statements on the connection alone.
    Its changes are flushed when the block ends, before the transaction commits."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = Session(bind=self.connection, expire_on_commit=False)
        return self._session

    def __enter__(self) -> OrmOnDemand:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self._session is None:
            return
        try:
            if exc_type is None:
                self._session.flush()
        finally:
            self._session.close()
