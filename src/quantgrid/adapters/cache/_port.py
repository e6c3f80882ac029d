"""The cache port: keyed values with a time to live, and the hit rate they earn."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Protocol, Self

import msgspec

Loader = Callable[[], Awaitable[Any]]
"""An async callable that produces the value of a key the cache missed."""


class CacheStats(msgspec.Struct, frozen=True):
    """What a cache has served since it was made.

    Attributes
    ----------
    hits, misses
        Lookups (``get`` and ``get_or_set``) that found a value, or did not.
    hit_rate
        ``hits / (hits + misses)``; 0.0 before any lookup.
    loads
        Loader calls by ``get_or_set``; below ``misses`` when concurrent misses of one
        key shared a load.
    evictions
        Values dropped to make room (the in-memory cache's LRU); expiries not counted.
    """

    hits: int
    misses: int
    hit_rate: float
    loads: int
    evictions: int


class Cache(Protocol):
    """Values by string key, each with an optional time to live in seconds.

    Notes
    -----
    Values are registered msgspec Structs or plain JSON values (dicts, lists, strings,
    numbers, bools), encoded like bus messages; a ``get`` returns a fresh copy. None
    means a miss, so it cannot be stored.
    """

    async def get(self, key: str) -> Any | None:
        """Return the value of ``key``, or None if absent or expired."""
        ...

    async def set(self, key: str, value: Any, ttl_s: float | None) -> None:
        """Store ``value`` under ``key`` for ``ttl_s`` seconds (None: until evicted)."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove ``key``; tell whether it was there."""
        ...

    async def get_or_set(self, key: str, ttl_s: float | None, loader: Loader) -> Any:
        """Return the value of ``key``, loading and storing it on a miss.

        Concurrent calls for one key that miss share one ``loader`` call. A loader's
        exception reaches every caller that shared it and nothing is stored; a loader's
        None is returned and not stored.
        """
        ...

    def stats(self) -> CacheStats:
        """Return the hits, misses and hit rate so far."""
        ...

    async def clear(self) -> None:
        """Remove every value of this cache (of its key prefix, on a shared server)."""
        ...

    async def close(self) -> None:
        """Release the cache's connections; idempotent."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
