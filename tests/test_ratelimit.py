"""bot.ratelimit: the one sliding-window limiter, on the memory store and the database store,
and the console's sign-in limit built on it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.console.auth import LoginLimiter
from bot.ratelimit import SlidingWindowLimiter, retry_after_header
from bot.shared_state import DatabaseStore, MemoryStore, StateStore, seconds_until_room
from bot.store import Database


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "database"])
def store(request: pytest.FixtureRequest, clock: Clock, tmp_path: Path) -> Iterator[StateStore]:
    """Each store the limiter runs on, on the test's clock."""
    if request.param == "memory":
        yield MemoryStore(clock=clock)
        return
    db = Database(f"sqlite:///{tmp_path / 'limits.db'}")
    db.migrate()
    try:
        yield DatabaseStore(db, clock=clock)
    finally:
        db.dispose()


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("times", "limit", "expected"),
    [
        ([], 1, None),
        ([990.0], 2, None),  # room for one more
        ([990.0, 995.0], 2, 50.0),  # full: the oldest leaves at 990 + 60
        ([970.0, 985.0, 995.0], 2, 45.0),  # past the limit (failures are recorded anyway): the 2nd newest counts
        ([940.0], 1, 0.001),  # leaving this very instant: never a wait of 0
    ],
)
def test_seconds_until_room(times: list[float], limit: int, expected: float | None) -> None:
    assert seconds_until_room(times, limit, 60.0, 1000.0) == (None if expected is None else pytest.approx(expected))


# --------------------------------------------------------------------------- hit


def test_the_sliding_window_forgets_hits_older_than_the_window(store: StateStore, clock: Clock) -> None:
    limiter = SlidingWindowLimiter(2, 60.0, clock=clock)

    assert limiter.hit("a", store) is None
    clock.now += 30
    assert limiter.hit("a", store) is None
    assert limiter.hit("a", store) == pytest.approx(30.0)  # the first hit leaves the window in 30 s
    assert limiter.hit("b", store) is None  # keys are independent
    clock.now += 30.5
    assert limiter.hit("a", store) is None
    assert limiter.hit("a", store) == pytest.approx(29.5)


def test_a_refused_hit_is_not_counted(store: StateStore, clock: Clock) -> None:
    limiter = SlidingWindowLimiter(1, 10.0, clock=clock)
    assert limiter.hit("a", store) is None
    for _ in range(5):
        clock.now += 1
        assert limiter.hit("a", store) is not None
    clock.now = 1010.0  # ten seconds after the one counted hit, however many were refused
    assert limiter.hit("a", store) is None


def test_limiters_with_different_names_keep_separate_counts(store: StateStore, clock: Clock) -> None:
    ip = SlidingWindowLimiter(1, 60.0, name="ip", clock=clock)
    conversation = SlidingWindowLimiter(1, 60.0, name="conversation", clock=clock)
    assert ip.hit("x", store) is None
    assert conversation.hit("x", store) is None
    assert ip.hit("x", store) is not None
    # Keys are stored as name:key, the form the shared store has always held.
    assert store.recent("ip:x", 60.0) == [1000.0]


def test_without_a_store_the_limiter_counts_in_its_own_memory(clock: Clock) -> None:
    limiter = SlidingWindowLimiter(1, 60.0, clock=clock)
    assert limiter.hit("a") is None
    assert limiter.hit("a") is not None
    assert limiter.memory.recent("rate:a", 60.0) == [1000.0]


def test_the_limiter_forgets_the_quietest_keys_beyond_its_capacity() -> None:
    limiter = SlidingWindowLimiter(1, 60.0, max_keys=2, clock=lambda: 0.0)
    limiter.hit("a")
    limiter.hit("b")
    limiter.hit("c")  # "a" is forgotten

    assert limiter.hit("a") is None
    assert limiter.hit("c") is not None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SlidingWindowLimiter(0), "A rate limit must allow at least one hit per window, got 0."),
        (lambda: SlidingWindowLimiter(1, 0), "A rate-limit window must be positive, got 0 seconds."),
    ],
)
def test_a_limiter_needs_a_positive_limit_and_window(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError) as error:
        make()
    assert str(error.value) == message


@pytest.mark.parametrize(("seconds", "header"), [(0.001, "1"), (0.2, "1"), (1.0, "1"), (1.01, "2"), (59.5, "60")])
def test_retry_after_is_whole_seconds_rounded_up(seconds: float, header: str) -> None:
    assert retry_after_header(seconds) == header


# --------------------------------------------------------------------------- wait, record, forget


def test_wait_records_nothing_and_record_counts_past_the_limit(store: StateStore, clock: Clock) -> None:
    limiter = SlidingWindowLimiter(2, 60.0, name="login-ip", clock=clock)
    assert limiter.wait("1.2.3.4", store) is None
    assert limiter.wait("1.2.3.4", store) is None  # asking twice counts nothing
    for step in range(3):
        limiter.record("1.2.3.4", store)
        clock.now += 10 * (step + 1)
    # hits at 1000, 1010, 1030, now 1060: the two newest are at 1010 and 1030; 1010 leaves at 1070
    assert limiter.wait("1.2.3.4", store) == pytest.approx(10.0)
    limiter.forget("1.2.3.4", store)
    assert limiter.wait("1.2.3.4", store) is None


# --------------------------------------------------------------------------- the console's sign-in limit


def test_sign_in_failures_limit_the_name_and_the_address(store: StateStore) -> None:
    limiter = LoginLimiter(store, per_name=2, per_ip=3, window_seconds=600)
    limiter.failed("10.0.0.1", "Alice")
    assert limiter.wait_seconds("10.0.0.1", "alice") is None
    limiter.failed("10.0.0.2", " alice ")  # case and spaces: the same name
    wait = limiter.wait_seconds("10.0.0.9", "ALICE")  # the name is limited from any address
    assert wait is not None and 0 < wait <= 600
    assert limiter.wait_seconds("10.0.0.1", "bob") is None  # 10.0.0.1 has one failure of three

    limiter.succeeded("alice")  # the right password forgets the name's failures…
    assert limiter.wait_seconds("10.0.0.9", "alice") is None
    limiter.failed("10.0.0.1", "carol")
    limiter.failed("10.0.0.1", "dave")
    wait = limiter.wait_seconds("10.0.0.1", "erin")  # …but not the address's: three from 10.0.0.1
    assert wait is not None and 0 < wait <= 600


def test_sign_in_failures_use_the_keys_already_stored_by_earlier_versions() -> None:
    store = MemoryStore()
    limiter = LoginLimiter(store, per_name=5, per_ip=5, window_seconds=600)
    limiter.failed("10.0.0.1", "Alice")
    assert len(store.recent("login-ip:10.0.0.1", 600)) == 1
    assert len(store.recent("login-name:alice", 600)) == 1
    assert time.time() - store.recent("login-name:alice", 600)[0] < 60
