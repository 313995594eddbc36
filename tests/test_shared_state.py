"""The shared state stores (bot/shared_state.py): memory, the database (SQLite and PostgreSQL) and
Redis (when WALLETBOT_TEST_REDIS_URL is set). Two store objects over one backend stand for two
workers or two hosts: they must count the same hits.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from engine_fixtures import make_settings

from bot.shared_state import DatabaseStore, MemoryStore, RedisStore, StateStore, open_state_store
from bot.store import Database

REDIS_URL_ENV = "WALLETBOT_TEST_REDIS_URL"
SHARED_BACKENDS = ["database"] + (["redis"] if os.environ.get(REDIS_URL_ENV) else [])


@pytest.fixture(params=SHARED_BACKENDS)
def two_stores(
    request: pytest.FixtureRequest, module_database: Database, tmp_path
) -> Iterator[tuple[StateStore, StateStore]]:
    """Two independent store objects on one shared backend (two workers, or two hosts)."""
    if request.param == "redis":
        settings = make_settings("sqlite://", tmp_path, WALLETBOT_STORAGE_REDIS_URL=os.environ[REDIS_URL_ENV])
        stores = (open_state_store(settings, module_database), open_state_store(settings, module_database))
        assert all(isinstance(s, RedisStore) for s in stores)  # storage.redis_url wins over the database
        yield stores
        return
    other = Database(module_database.url.render_as_string(hide_password=False))  # its own pool
    try:
        yield DatabaseStore(module_database), DatabaseStore(other)
    finally:
        other.dispose()


def key() -> str:
    return f"test:{uuid.uuid4().hex}"


def test_a_window_allows_its_limit_then_says_how_long_to_wait(two_stores: tuple[StateStore, StateStore]) -> None:
    first, second = two_stores
    k = key()
    started = time.monotonic()
    assert [first.hit(k, 3, 60) for _ in range(2)] == [None, None]
    assert second.hit(k, 3, 60) is None  # the other worker sees the same two hits
    wait = first.hit(k, 3, 60)
    elapsed = time.monotonic() - started
    # The oldest hit leaves the window 60 s after it came; the database store counts per second,
    # so the wait may be up to a second shorter than that (a loaded machine adds `elapsed`).
    assert wait is not None and 59 - elapsed < wait <= 60


def test_concurrent_hits_from_two_workers_let_exactly_the_limit_through(
    two_stores: tuple[StateStore, StateStore],
) -> None:
    first, second = two_stores
    k = key()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: (first if i % 2 else second).hit(k, 30, 60), range(45)))
    assert sum(r is None for r in results) == 30


def test_failures_are_recorded_read_and_forgotten_across_workers(two_stores: tuple[StateStore, StateStore]) -> None:
    first, second = two_stores
    k = key()
    for _ in range(3):
        first.add(k, 600)
    assert len(second.recent(k, 600)) == 3
    second.forget(k)
    assert first.recent(k, 600) == []


def test_a_session_revoked_on_one_worker_is_revoked_on_the_other(two_stores: tuple[StateStore, StateStore]) -> None:
    import time

    first, second = two_stores
    session = uuid.uuid4().hex
    assert not second.is_revoked(session)
    first.revoke(session, time.time() + 3600)
    assert second.is_revoked(session)
    first.revoke("gone-" + session, time.time() - 1)  # already expired: nothing to remember
    assert not second.is_revoked("gone-" + session)


def test_a_database_window_stays_small_however_many_hits_it_counts(module_database: Database) -> None:
    from sqlalchemy import text

    now = [1000.0]
    store = DatabaseStore(module_database, clock=lambda: now[0])
    k = key()
    for i in range(500):  # four hits a second for 125 s, far under the limit
        now[0] = 1000.0 + i * 0.25
        assert store.hit(k, 10_000, 60) is None
    with module_database.session(readonly=True) as s:
        stored = json.loads(s.execute(text("SELECT value FROM shared_state WHERE key = :k"), {"k": k}).scalar())
    assert len(stored) <= 61 and sum(count for _second, count in stored) == 240  # the last minute
    # The last 60 whole seconds (1065..1124) hold 240 hits: a limit of 240 is reached, the
    # oldest of those seconds leaves the window at 1125.
    assert store.hit(k, 240, 60) == pytest.approx(0.25)
    assert store.hit(k, 241, 60) is None


def test_hits_leave_the_window_with_time() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    assert store.hit("a", 1, 60) is None
    assert store.hit("a", 1, 60) == pytest.approx(60)
    now[0] += 60.5
    assert store.hit("a", 1, 60) is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "memory_on_sqlite"),
        ({"WALLETBOT_HTTP_WORKERS": "2"}, DatabaseStore),
    ],
)
def test_the_store_follows_the_deployment(tmp_path, env: dict[str, str], expected: object) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'w.db'}", tmp_path, **env)
    with Database(settings.database_url) as db:
        store = open_state_store(settings, db)
    assert isinstance(store, MemoryStore if expected == "memory_on_sqlite" else DatabaseStore)


def test_postgresql_always_shares_through_the_database(module_database: Database, tmp_path) -> None:
    settings = make_settings(module_database.url.render_as_string(hide_password=False), tmp_path)
    expected: Callable[..., object] = MemoryStore if module_database.dialect == "sqlite" else DatabaseStore
    assert isinstance(open_state_store(settings, module_database), expected)  # type: ignore[arg-type]
