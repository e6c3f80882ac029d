"""The default cache: a bounded dictionary in this process, least recently used out first."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from quantgrid.adapters.bus import MessageRegistry
from quantgrid.adapters.cache._base import CacheBase


class InMemoryCache(CacheBase):
    """A cache in this process's memory: the default, and the unit tests' fake.

    Parameters
    ----------
    max_entries
        The most values held; storing one more evicts the least recently used.
    registry
        The Struct types it may hold; the bus's default registry if None.
    now_ns
        The monotonic clock TTLs run on, in nanoseconds (a ``TestClock``'s
        ``timestamp_ns`` in tests).

    Notes
    -----
    Values are held encoded, as Redis holds them: what fails to encode fails here too,
    and a caller that mutates a value it got cannot change the cached one. An expired
    value is dropped when next looked up, or evicted like any other.
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        registry: MessageRegistry | None = None,
        now_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if max_entries < 1:
            msg = f"max_entries must be at least 1, not {max_entries}"
            raise ValueError(msg)
        super().__init__(registry)
        self.max_entries = max_entries
        self._now_ns = now_ns
        # key -> (encoded value, expiry in ns or None), least recently used first
        self._entries: OrderedDict[str, tuple[bytes, int | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def _read(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        data, expires_ns = entry
        if expires_ns is not None and self._now_ns() >= expires_ns:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return data

    async def _write(self, key: str, data: bytes, ttl_s: float | None) -> None:
        expires_ns = None if ttl_s is None else self._now_ns() + round(ttl_s * 1e9)
        self._entries[key] = (data, expires_ns)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self._evictions += 1

    async def _remove(self, key: str) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        expires_ns = entry[1]
        return expires_ns is None or self._now_ns() < expires_ns

    async def _remove_all(self) -> None:
        self._entries.clear()

    async def _release(self) -> None:
        self._entries.clear()
