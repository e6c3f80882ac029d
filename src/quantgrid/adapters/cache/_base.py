"""What every cache shares: argument checks, encoding, statistics and single-flight loads."""

from __future__ import annotations

import asyncio
import math
from abc import ABC, abstractmethod
from functools import partial
from types import TracebackType
from typing import Any, Self

from quantgrid.adapters.bus import DEFAULT_REGISTRY, MessageRegistry
from quantgrid.adapters.cache._errors import CacheError
from quantgrid.adapters.cache._port import CacheStats, Loader

# A shared load's outcome: the encoded value (None if the loader gave None), and
# whether it came from the cache.
_Outcome = tuple[bytes | None, bool]


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        msg = f"a cache key is a non-empty string, not {key!r}"
        raise ValueError(msg)


def _check_ttl(ttl_s: float | None) -> None:
    if ttl_s is not None and not (ttl_s > 0 and math.isfinite(ttl_s)):
        msg = f"ttl_s is a positive number of seconds, or None for no expiry; not {ttl_s!r}"
        raise ValueError(msg)


class CacheBase(ABC):
    """A cache over a store of bytes: subclasses read, write and remove the bytes."""

    def __init__(self, registry: MessageRegistry | None) -> None:
        self.registry = DEFAULT_REGISTRY if registry is None else registry
        self._hits = 0
        self._misses = 0
        self._loads = 0
        self._evictions = 0
        self._inflight: dict[str, asyncio.Future[_Outcome]] = {}
        self._closed = False

    # -- the store ---------------------------------------------------------------------
    @abstractmethod
    async def _read(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def _write(self, key: str, data: bytes, ttl_s: float | None) -> None: ...

    @abstractmethod
    async def _remove(self, key: str) -> bool: ...

    @abstractmethod
    async def _remove_all(self) -> None: ...

    @abstractmethod
    async def _release(self) -> None: ...

    def _check_open(self) -> None:
        if self._closed:
            msg = f"the {type(self).__name__} is closed"
            raise CacheError(msg)

    # -- the port ----------------------------------------------------------------------
    async def get(self, key: str) -> Any | None:
        """Return the value of ``key``, or None if absent or expired."""
        self._check_open()
        _check_key(key)
        data = await self._read(key)
        if data is None:
            self._misses += 1
            return None
        self._hits += 1
        return self.registry.decode(data)

    async def set(self, key: str, value: Any, ttl_s: float | None) -> None:
        """Store ``value`` under ``key`` for ``ttl_s`` seconds (None: until evicted)."""
        self._check_open()
        _check_key(key)
        _check_ttl(ttl_s)
        if value is None:
            msg = "None cannot be cached: a get() returns None for a miss"
            raise ValueError(msg)
        await self._write(key, self.registry.encode(value), ttl_s)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; tell whether it was there."""
        self._check_open()
        _check_key(key)
        return await self._remove(key)

    async def get_or_set(self, key: str, ttl_s: float | None, loader: Loader) -> Any:
        """Return the value of ``key``, loading and storing it on a miss.

        Notes
        -----
        Single flight: calls for one key made while a lookup of it is under way share
        that lookup, and so one ``loader`` call. Each caller counts one hit or miss. A
        caller cancelled while waiting leaves the shared load running for the others.
        """
        self._check_open()
        _check_key(key)
        _check_ttl(ttl_s)
        shared = self._inflight.get(key)
        if shared is None:
            shared = asyncio.ensure_future(self._read_or_load(key, ttl_s, loader))
            self._inflight[key] = shared
            shared.add_done_callback(partial(self._landed, key))
        try:
            data, hit = await asyncio.shield(shared)
        except Exception:
            self._misses += 1
            raise
        if hit:
            self._hits += 1
        else:
            self._misses += 1
        return None if data is None else self.registry.decode(data)

    async def _read_or_load(self, key: str, ttl_s: float | None, loader: Loader) -> _Outcome:
        data = await self._read(key)
        if data is not None:
            return data, True
        self._loads += 1
        value = await loader()
        if value is None:
            return None, False
        data = self.registry.encode(value)
        await self._write(key, data, ttl_s)
        return data, False

    def _landed(self, key: str, shared: asyncio.Future[_Outcome]) -> None:
        if self._inflight.get(key) is shared:
            del self._inflight[key]
        if not shared.cancelled():
            shared.exception()  # retrieved: its callers got it, or all left

    def stats(self) -> CacheStats:
        """Return the hits, misses and hit rate so far."""
        lookups = self._hits + self._misses
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            hit_rate=self._hits / lookups if lookups else 0.0,
            loads=self._loads,
            evictions=self._evictions,
        )

    async def clear(self) -> None:
        """Remove every value of this cache."""
        self._check_open()
        await self._remove_all()

    async def close(self) -> None:
        """Release the cache's connections; idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._release()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
