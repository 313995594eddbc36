"""State that every worker and every host of a deployment must agree on: sliding windows of hits
(rate limits, failed sign-ins) and revoked console sessions.

Three stores keep it, chosen by `open_state_store(settings, db)`:

- `RedisStore` when ``storage.redis_url`` is set: sorted sets and keys with an expiry, one atomic
  script per hit;
- `DatabaseStore` otherwise, when several processes may serve (``http.workers`` > 1, or a
  PostgreSQL database, which several hosts may share): the ``shared_state`` table, one short
  transaction per hit that locks the key's row;
- `MemoryStore` for one process on a SQLite file: nothing to share, and no write lock taken.

Times are Unix times (``time.time()``), the one clock several hosts share.

    store = open_state_store(settings, db)
    wait = store.hit("ip:203.0.113.7", limit=120, window=60)   # None: allowed; else seconds
"""

from __future__ import annotations

import json
import math
import random
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import text

from bot.errors import ConfigError
from bot.store.errors import StoreError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.store import Database

Clock = Callable[[], float]


class StateStore(Protocol):
    """Windows of hit times per key, and revoked session ids, shared by whoever uses the store."""

    def hit(self, key: str, limit: int, window: float) -> float | None:
        """Record a hit unless `limit` hits already fall in the last `window` seconds.

        Returns None when recorded, else the seconds until the oldest of them leaves the window
        (a refused hit is not recorded, so a client that waits that long gets through).
        """

    def recent(self, key: str, window: float) -> list[float]:
        """The times of the key's hits in the last `window` seconds, oldest first."""

    def add(self, key: str, window: float) -> None:
        """Record a hit whatever the count (a failed sign-in)."""

    def forget(self, key: str) -> None:
        """Drop every hit of the key."""

    def revoke(self, session_id: str, until: float) -> None:
        """Remember a logged-out session until `until` (its cookie's expiry)."""

    def is_revoked(self, session_id: str) -> bool: ...


def seconds_until_room(times: Sequence[float], limit: int, window: float, now: float) -> float | None:
    """The rule of every sliding window: None while fewer than `limit` of `times` (the hits in the
    window, oldest first) are there, else the seconds until enough leave for one more hit."""
    if len(times) < limit:
        return None
    return max(times[-limit] + window - now, 0.001)


def _hit_times(items: list[Any]) -> list[float]:
    """Times from a stored window: exact times, or the [second, count] pairs of `DatabaseStore.hit`."""
    times: list[float] = []
    for item in items:
        if isinstance(item, list):
            times.extend([float(item[0])] * int(item[1]))
        else:
            times.append(item)
    return times


class MemoryStore:
    """The store of one process; with more than `max_keys` keys the quietest is forgotten."""

    def __init__(self, *, max_keys: int = 100_000, clock: Clock = time.time) -> None:
        self.max_keys = max_keys
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def _window(self, key: str, window: float, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= now - window:
            hits.popleft()
        return hits

    def _trim(self) -> None:
        while len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)

    def hit(self, key: str, limit: int, window: float) -> float | None:
        now = self._clock()
        with self._lock:
            hits = self._window(key, window, now)
            if (wait := seconds_until_room(hits, limit, window, now)) is not None:
                return wait
            hits.append(now)
            self._trim()
            return None

    def recent(self, key: str, window: float) -> list[float]:
        now = self._clock()
        with self._lock:
            if key not in self._hits:
                return []
            return list(self._window(key, window, now))

    def add(self, key: str, window: float) -> None:
        now = self._clock()
        with self._lock:
            self._window(key, window, now).append(now)
            self._trim()

    def forget(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)

    def revoke(self, session_id: str, until: float) -> None:
        now = self._clock()
        with self._lock:
            self._revoked = {sid: t for sid, t in self._revoked.items() if t > now}
            self._revoked[session_id] = until

    def is_revoked(self, session_id: str) -> bool:
        with self._lock:
            until = self._revoked.get(session_id)
        return until is not None and until > self._clock()


class DatabaseStore:
    """The store in the ``shared_state`` table; every call is one short transaction.

    A hit locks its key's row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write
    transactions are serial anyway), so two workers never both take the last place in a window.

    A rate-limit key (`hit`) keeps a count per second, ``[[second, count], …]``, not the time of
    every hit: a window then costs at most `window` + 1 pairs to read and rewrite whatever the
    limit (a list of every hit of a busy address, with a high limit, grew to thousands of times
    per key and cost milliseconds per request). A hit counts from the start of its second, so a
    window is up to one second shorter than `window`; `Retry-After` is whole seconds anyway.
    Failed sign-ins (`add`, `recent`) are few and keep their exact times.
    """

    _CLEANUP_CHANCE = 0.01  # about one hit in a hundred also deletes expired rows

    def __init__(self, db: Database, *, clock: Clock = time.time) -> None:
        self.db = db
        self._clock = clock
        self._lock_clause = " FOR UPDATE" if db.dialect == "postgresql" else ""

    def _value(self, s: Any, key: str, window: float, now: float, *, lock: bool) -> Any:
        """The key's stored JSON; with `lock`, the row is created if missing and locked."""
        if lock:
            s.execute(
                text(
                    "INSERT INTO shared_state (key, value, expires_at) VALUES (:key, '[]', :expires) "
                    "ON CONFLICT (key) DO NOTHING"
                ),
                {"key": key, "expires": now + window},
            )
        value = s.execute(
            text("SELECT value FROM shared_state WHERE key = :key" + (self._lock_clause if lock else "")),
            {"key": key},
        ).scalar()
        return json.loads(value or "[]")

    def _times(self, s: Any, key: str, window: float, now: float, *, lock: bool) -> list[float]:
        return [t for t in _hit_times(self._value(s, key, window, now, lock=lock)) if t > now - window]

    def _seconds(self, s: Any, key: str, window: float, now: float) -> list[list[float]]:
        """The key's [second, count] pairs still in the window, its row locked."""
        stored = self._value(s, key, window, now, lock=True)
        pairs = [item if isinstance(item, list) else [math.floor(item), 1] for item in stored]
        return [pair for pair in pairs if pair[0] > now - window]

    def _store(self, s: Any, key: str, times: list[float], window: float) -> None:
        s.execute(
            text("UPDATE shared_state SET value = :value, expires_at = :expires WHERE key = :key"),
            {"key": key, "value": json.dumps(times), "expires": (times[-1] if times else self._clock()) + window},
        )

    def _maybe_clean(self, s: Any, now: float) -> None:
        if random.random() < self._CLEANUP_CHANCE:
            s.execute(text("DELETE FROM shared_state WHERE expires_at < :now"), {"now": now})

    def hit(self, key: str, limit: int, window: float) -> float | None:
        now = self._clock()
        with self.db.session() as s:
            pairs = self._seconds(s, key, window, now)
            if sum(count for _second, count in pairs) >= limit:
                return max(pairs[0][0] + window - now, 0.001)  # room once the oldest second leaves
            second = math.floor(now)
            if pairs and pairs[-1][0] == second:
                pairs[-1][1] += 1
            else:
                pairs.append([second, 1])
            s.execute(
                text("UPDATE shared_state SET value = :value, expires_at = :expires WHERE key = :key"),
                {"key": key, "value": json.dumps(pairs), "expires": second + 1 + window},
            )
            self._maybe_clean(s, now)
            return None

    def recent(self, key: str, window: float) -> list[float]:
        now = self._clock()
        with self.db.session(readonly=True) as s:
            return self._times(s, key, window, now, lock=False)

    def add(self, key: str, window: float) -> None:
        now = self._clock()
        with self.db.session() as s:
            self._store(s, key, self._times(s, key, window, now, lock=True) + [now], window)

    def forget(self, key: str) -> None:
        with self.db.session() as s:
            s.execute(text("DELETE FROM shared_state WHERE key = :key"), {"key": key})

    def revoke(self, session_id: str, until: float) -> None:
        with self.db.session() as s:
            s.execute(
                text(
                    "INSERT INTO shared_state (key, value, expires_at) VALUES (:key, 'revoked', :until) "
                    "ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at"
                ),
                {"key": "revoked:" + session_id, "until": until},
            )
            self._maybe_clean(s, self._clock())

    def is_revoked(self, session_id: str) -> bool:
        with self.db.session(readonly=True) as s:
            until = s.execute(
                text("SELECT expires_at FROM shared_state WHERE key = :key"), {"key": "revoked:" + session_id}
            ).scalar()
        return until is not None and until > self._clock()


# Drop hits older than the window, then record one if there is room; else return the seconds
# until the oldest leaves. One script: atomic on the Redis server, whatever the clients.
_HIT_SCRIPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return false
"""


class RedisStore:
    """The store in Redis (``storage.redis_url``): a sorted set of hit times per key."""

    PREFIX = "walletbot:"

    def __init__(self, url: str, *, clock: Clock = time.time) -> None:
        try:
            import redis
        except ImportError as exc:  # an optional dependency
            raise ConfigError(
                "storage.redis_url is set but the 'redis' package is not installed: "
                "pip install 'walletbot[redis]', or leave storage.redis_url empty."
            ) from exc
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._hit = self.client.register_script(_HIT_SCRIPT)
        self._clock = clock
        self._errors = redis.RedisError
        kwargs = self.client.connection_pool.connection_kwargs
        self._where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"  # never the password

    def _run(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except self._errors as exc:
            raise StoreError(f"Redis at {self._where} did not answer ({exc}): check that it is reachable.") from exc

    def hit(self, key: str, limit: int, window: float) -> float | None:
        now = self._clock()
        member = f"{now}:{secrets.token_hex(4)}"
        wait = self._run(lambda: self._hit(keys=[self.PREFIX + key], args=[now, window, limit, member]))
        return None if wait is None else max(float(wait), 0.001)

    def recent(self, key: str, window: float) -> list[float]:
        now = self._clock()
        pairs = self._run(lambda: self.client.zrangebyscore(self.PREFIX + key, now - window, "+inf", withscores=True))
        return [float(t) for _member, t in pairs]

    def add(self, key: str, window: float) -> None:
        now = self._clock()
        pipe = self.client.pipeline()
        pipe.zadd(self.PREFIX + key, {f"{now}:{secrets.token_hex(4)}": now})
        pipe.pexpire(self.PREFIX + key, int(window * 1000) + 1)
        self._run(pipe.execute)

    def forget(self, key: str) -> None:
        self._run(lambda: self.client.delete(self.PREFIX + key))

    def revoke(self, session_id: str, until: float) -> None:
        milliseconds = int((until - self._clock()) * 1000)
        if milliseconds > 0:  # an expired cookie opens nothing anyway
            self._run(lambda: self.client.set(self.PREFIX + "revoked:" + session_id, "1", px=milliseconds))

    def is_revoked(self, session_id: str) -> bool:
        return bool(self._run(lambda: self.client.exists(self.PREFIX + "revoked:" + session_id)))


def open_state_store(settings: Settings, db: Database) -> StateStore:
    """The store this deployment shares: Redis if configured, else the database when several
    processes or hosts may serve it, else this process's memory."""
    if settings.storage.redis_url:
        return RedisStore(settings.storage.redis_url)
    if settings.http.workers > 1 or db.dialect != "sqlite":
        return DatabaseStore(db)
    return MemoryStore()
