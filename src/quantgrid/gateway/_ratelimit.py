"""Request budgets: a token bucket per caller, in memory (a Redis one can follow)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

from quantgrid.core import Clock, LiveClock
from quantgrid.gateway._settings import RateLimit

_NANOS = 1_000_000_000
_PRUNE_EVERY_NS = 60 * _NANOS


class RateLimiter(Protocol):
    """Keeps a token bucket per name and spends from it."""

    async def acquire(self, bucket: str, limit: RateLimit) -> float:
        """Spend one token of ``bucket``; return 0.0 if there was one, else the wait.

        The wait is the seconds until the bucket holds a token again; nothing is spent
        when there was none.
        """
        ...


class InMemoryRateLimiter:
    """A ``RateLimiter`` in this process's memory.

    Parameters
    ----------
    clock
        What the buckets refill by; the wall clock by default.

    Notes
    -----
    Each process counts on its own: with several gateway processes a caller gets each
    process's budget. A bucket is three numbers, kept for every caller seen (one
    per user, key, or login attempt name); buckets that have refilled to full are
    dropped once a minute, since a new bucket starts full anyway.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or LiveClock()
        # name -> (tokens, at ns, full again at ns)
        self._buckets: dict[str, tuple[float, int, int]] = {}
        self._lock = threading.Lock()
        self._next_prune_ns = 0

    async def acquire(self, bucket: str, limit: RateLimit) -> float:
        """Spend one token of ``bucket``; return 0.0 if there was one, else the wait."""
        return self.take(bucket, limit)

    def take(self, bucket: str, limit: RateLimit) -> float:
        """Do what ``acquire`` does, synchronously."""
        now = self._clock.timestamp_ns()
        burst = float(limit.burst)
        with self._lock:
            self._prune(now)
            tokens, at, _ = self._buckets.get(bucket, (burst, now, now))
            tokens = min(burst, tokens + max(0, now - at) / _NANOS * limit.per_second)
            wait = 0.0
            if tokens < 1.0:
                wait = (1.0 - tokens) / limit.per_second
            else:
                tokens -= 1.0
            full_at = now + round((burst - tokens) / limit.per_second * _NANOS)
            self._buckets[bucket] = (tokens, now, full_at)
            return wait

    def _prune(self, now: int) -> None:
        # A bucket that is full again holds nothing a new bucket would not: drop it.
        if now < self._next_prune_ns:
            return
        self._next_prune_ns = now + _PRUNE_EVERY_NS
        self._buckets = {name: b for name, b in self._buckets.items() if b[2] > now}


if TYPE_CHECKING:  # mypy holds the class to the port
    _IS_A_RATE_LIMITER: type[RateLimiter] = InMemoryRateLimiter
