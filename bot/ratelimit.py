"""Sliding-window rate limits: at most `limit` hits per key in any `window` seconds.

One class for every limit of the product: the HTTP API's per address and per conversation
(`hit`: count the request, refuse it when the window is full) and the console's failed sign-ins
(`wait` before checking a password, `record` only a failure, `forget` after a success).

The limiter remembers the time of each hit within the window, so a burst at the end of one minute
and another at the start of the next are counted together, unlike fixed per-minute buckets. The
hits live in a `bot.shared_state` store: in this process by default, or the deployment's shared
store (database or Redis), so that the limit holds whatever the number of workers and hosts.

    limiter = SlidingWindowLimiter(limit=30, window=60, name="conversation")
    retry_after = limiter.hit("203.0.113.7", store)
    if retry_after is not None:
        ...  # answer 429 with Retry-After: ceil(retry_after)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from bot.shared_state import MemoryStore, StateStore, seconds_until_room


class SlidingWindowLimiter:
    """Counts hits per key over the last `window` seconds; thread-safe.

    Keys are stored as `name:key`, so limiters with different names never share a count.
    """

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        name: str = "rate",
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1:
            raise ValueError(f"A rate limit must allow at least one hit per window, got {limit}.")
        if window <= 0:
            raise ValueError(f"A rate-limit window must be positive, got {window} seconds.")
        self.limit = limit
        self.window = window
        self.name = name
        self._clock = clock
        # Used when no shared store is given (a single process, or the app is still starting).
        self.memory = MemoryStore(max_keys=max_keys, clock=clock)

    def _key(self, key: str) -> str:
        return f"{self.name}:{key}"

    def hit(self, key: str, store: StateStore | None = None) -> float | None:
        """Record a hit for `key`; None if allowed, else the seconds until one is allowed again.

        A refused hit is not recorded, so a client that waits `Retry-After` gets through.
        """
        return (store or self.memory).hit(self._key(key), self.limit, self.window)

    def wait(self, key: str, store: StateStore | None = None) -> float | None:
        """None if a hit for `key` would be allowed now, else the seconds until one is; records nothing."""
        times = (store or self.memory).recent(self._key(key), self.window)
        return seconds_until_room(times, self.limit, self.window, self._clock())

    def record(self, key: str, store: StateStore | None = None) -> None:
        """Record a hit for `key` whatever the count (a failed sign-in is counted even past the limit)."""
        (store or self.memory).add(self._key(key), self.window)

    def forget(self, key: str, store: StateStore | None = None) -> None:
        """Drop every hit of `key`."""
        (store or self.memory).forget(self._key(key))


def retry_after_header(seconds: float) -> str:
    """Retry-After takes whole seconds; round up so that the retry is not refused again."""
    return str(max(1, math.ceil(seconds)))
