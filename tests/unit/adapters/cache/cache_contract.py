"""What every Cache must do, written once and run against each adapter.

A test class inherits ``CacheContract`` and provides the fixtures ``cache`` (ready, built
with ``registry``), ``ttl_s`` (a time to live the test can outlast) and ``outlast``
(an async callable that lets more than ``ttl_s`` pass: a test clock, or real time).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest

from quantgrid.adapters.bus import MessageRegistry, UnknownMessageTypeError
from quantgrid.adapters.cache import Cache, CacheError, CacheStats

Outlast = Callable[[], Awaitable[None]]

WAIT_S = 5.0


class Quote(msgspec.Struct, frozen=True):
    """A small cached value."""

    instrument_id: str
    bid: float
    ask: float


class Unregistered(msgspec.Struct, frozen=True):
    """A Struct no test registry knows."""

    n: int


def make_registry() -> MessageRegistry:
    """Return a registry that knows Quote."""
    registry = MessageRegistry()
    registry.register(Quote)
    return registry


class CountingLoader:
    """A loader that counts its calls and, if gated, waits to be released."""

    def __init__(self, value: Any, *, gated: bool = False, error: Exception | None = None):
        self.value = value
        self.error = error
        self.calls = 0
        self.release = asyncio.Event()
        if not gated:
            self.release.set()

    async def __call__(self) -> Any:
        self.calls += 1
        await asyncio.wait_for(self.release.wait(), WAIT_S)
        if self.error is not None:
            raise self.error
        return self.value


class CacheContract:
    """The behaviour shared by InMemoryCache and RedisCache."""

    pytestmark = pytest.mark.anyio

    @pytest.fixture
    def registry(self) -> MessageRegistry:
        return make_registry()

    # -- get, set, delete ------------------------------------------------------------------
    async def test_a_miss_then_a_hit(self, cache: Cache) -> None:
        assert await cache.get("AAPL") is None

        await cache.set("AAPL", {"bid": 187.1, "ask": 187.2}, ttl_s=None)

        assert await cache.get("AAPL") == {"bid": 187.1, "ask": 187.2}
        assert cache.stats() == CacheStats(hits=1, misses=1, hit_rate=0.5, loads=0, evictions=0)

    async def test_a_struct_comes_back_as_its_type(self, cache: Cache) -> None:
        quote = Quote("AAPL", 187.1, 187.2)
        await cache.set("q", quote, ttl_s=60.0)

        assert await cache.get("q") == quote

    async def test_each_get_returns_a_fresh_copy(self, cache: Cache) -> None:
        await cache.set("k", {"levels": [1, 2]}, ttl_s=None)

        first = await cache.get("k")
        first["levels"].append(3)

        assert await cache.get("k") == {"levels": [1, 2]}

    async def test_set_replaces_the_value(self, cache: Cache) -> None:
        await cache.set("k", 1, ttl_s=None)
        await cache.set("k", 2, ttl_s=None)

        assert await cache.get("k") == 2

    async def test_delete_tells_whether_the_key_was_there(self, cache: Cache) -> None:
        await cache.set("k", "v", ttl_s=None)

        assert await cache.delete("k") is True
        assert await cache.delete("k") is False
        assert await cache.get("k") is None

    async def test_clear_removes_every_value(self, cache: Cache) -> None:
        for n in range(5):
            await cache.set(f"k{n}", n, ttl_s=None)

        await cache.clear()

        assert [await cache.get(f"k{n}") for n in range(5)] == [None] * 5

    # -- time to live ----------------------------------------------------------------------
    async def test_a_value_expires_after_its_ttl(
        self, cache: Cache, ttl_s: float, outlast: Outlast
    ) -> None:
        await cache.set("short", "v", ttl_s=ttl_s)
        await cache.set("forever", "v", ttl_s=None)
        assert await cache.get("short") == "v"

        await outlast()

        assert await cache.get("short") is None
        assert await cache.get("forever") == "v"

    async def test_get_or_set_loads_again_after_expiry(
        self, cache: Cache, ttl_s: float, outlast: Outlast
    ) -> None:
        loader = CountingLoader(Quote("AAPL", 1.0, 2.0))
        assert await cache.get_or_set("q", ttl_s, loader) == Quote("AAPL", 1.0, 2.0)
        assert await cache.get_or_set("q", ttl_s, loader) == Quote("AAPL", 1.0, 2.0)
        assert loader.calls == 1

        await outlast()
        await cache.get_or_set("q", ttl_s, loader)

        assert loader.calls == 2
        assert cache.stats() == CacheStats(hits=1, misses=2, hit_rate=1 / 3, loads=2, evictions=0)

    # -- get_or_set ------------------------------------------------------------------------
    async def test_concurrent_misses_of_one_key_share_one_load(self, cache: Cache) -> None:
        loader = CountingLoader({"px": 101.0}, gated=True)
        callers = [asyncio.ensure_future(cache.get_or_set("k", 60.0, loader)) for _ in range(20)]
        await asyncio.sleep(0.05)  # every caller is waiting on the one load
        assert loader.calls == 1

        loader.release.set()
        values = await asyncio.wait_for(asyncio.gather(*callers), WAIT_S)

        assert values == [{"px": 101.0}] * 20
        assert loader.calls == 1
        assert await cache.get_or_set("k", 60.0, loader) == {"px": 101.0}
        assert cache.stats() == CacheStats(hits=1, misses=20, hit_rate=1 / 21, loads=1, evictions=0)

    async def test_different_keys_load_independently(self, cache: Cache) -> None:
        a, b = CountingLoader("a"), CountingLoader("b")

        assert await asyncio.gather(
            cache.get_or_set("a", 60.0, a), cache.get_or_set("b", 60.0, b)
        ) == ["a", "b"]
        assert (a.calls, b.calls) == (1, 1)

    async def test_a_failed_load_reaches_every_waiter_and_is_not_cached(self, cache: Cache) -> None:
        failing = CountingLoader(None, gated=True, error=ConnectionError("feed down"))
        callers = [asyncio.ensure_future(cache.get_or_set("k", 60.0, failing)) for _ in range(3)]
        await asyncio.sleep(0.05)
        failing.release.set()

        outcomes = await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), WAIT_S)

        assert [type(o) for o in outcomes] == [ConnectionError] * 3
        assert failing.calls == 1
        assert await cache.get_or_set("k", 60.0, CountingLoader("ok")) == "ok"

    async def test_a_loader_returning_none_is_not_cached(self, cache: Cache) -> None:
        loader = CountingLoader(None)

        assert await cache.get_or_set("k", 60.0, loader) is None
        assert await cache.get_or_set("k", 60.0, loader) is None
        assert loader.calls == 2

    async def test_a_cancelled_waiter_leaves_the_load_to_the_others(self, cache: Cache) -> None:
        loader = CountingLoader("v", gated=True)
        leaving = asyncio.ensure_future(cache.get_or_set("k", 60.0, loader))
        staying = asyncio.ensure_future(cache.get_or_set("k", 60.0, loader))
        await asyncio.sleep(0.05)

        leaving.cancel()
        loader.release.set()

        assert await asyncio.wait_for(staying, WAIT_S) == "v"
        assert leaving.cancelled()
        assert await cache.get("k") == "v"

    # -- what is refused -------------------------------------------------------------------
    async def test_an_unregistered_struct_is_refused(self, cache: Cache) -> None:
        with pytest.raises(UnknownMessageTypeError, match="register_message_type"):
            await cache.set("k", Unregistered(1), ttl_s=None)

    async def test_none_cannot_be_cached(self, cache: Cache) -> None:
        with pytest.raises(ValueError, match="None cannot be cached"):
            await cache.set("k", None, ttl_s=None)

    @pytest.mark.parametrize("ttl_s", [0.0, -1.0, math.inf, math.nan])
    async def test_a_ttl_is_positive_and_finite(self, cache: Cache, ttl_s: float) -> None:
        with pytest.raises(ValueError, match="ttl_s"):
            await cache.set("k", 1, ttl_s=ttl_s)
        with pytest.raises(ValueError, match="ttl_s"):
            await cache.get_or_set("k", ttl_s, CountingLoader(1))

    async def test_a_key_is_a_non_empty_string(self, cache: Cache) -> None:
        with pytest.raises(ValueError, match="cache key"):
            await cache.get("")

    async def test_a_closed_cache_refuses_to_work(self, cache: Cache) -> None:
        await cache.close()
        await cache.close()  # idempotent

        with pytest.raises(CacheError, match="closed"):
            await cache.get("k")
