"""InMemoryCache: the cache contract on a test clock, plus LRU eviction."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from quantgrid.adapters.bus import MessageRegistry
from quantgrid.adapters.cache import CacheStats, InMemoryCache, open_cache
from quantgrid.core import TestClock
from tests.unit.adapters.cache.cache_contract import CacheContract, Outlast, make_registry

pytestmark = pytest.mark.anyio

SECOND_NS = 1_000_000_000


class TestInMemoryCache(CacheContract):
    @pytest.fixture
    def clock(self) -> TestClock:
        return TestClock(start_ns=0)

    @pytest.fixture
    async def cache(
        self, registry: MessageRegistry, clock: TestClock
    ) -> AsyncIterator[InMemoryCache]:
        async with InMemoryCache(registry=registry, now_ns=clock.timestamp_ns) as cache:
            yield cache

    @pytest.fixture
    def ttl_s(self) -> float:
        return 10.0

    @pytest.fixture
    def outlast(self, clock: TestClock, ttl_s: float) -> Outlast:
        async def advance() -> None:
            clock.set_time(clock.timestamp_ns() + int(ttl_s * SECOND_NS))

        return advance


async def test_a_value_lives_exactly_its_ttl() -> None:
    clock = TestClock(start_ns=0)
    cache = InMemoryCache(registry=make_registry(), now_ns=clock.timestamp_ns)
    await cache.set("k", "v", ttl_s=1.5)

    clock.set_time(1_499_999_999)
    assert await cache.get("k") == "v"
    clock.set_time(1_500_000_000)
    assert await cache.get("k") is None
    assert len(cache) == 0  # dropped when found expired


async def test_the_least_recently_used_value_is_evicted_first() -> None:
    cache = InMemoryCache(max_entries=2, registry=make_registry())
    await cache.set("a", 1, ttl_s=None)
    await cache.set("b", 2, ttl_s=None)
    await cache.get("a")  # now b is the least recently used

    await cache.set("c", 3, ttl_s=None)

    assert len(cache) == 2
    assert await cache.get("b") is None
    assert await cache.get("a") == 1
    assert await cache.get("c") == 3
    assert cache.stats().evictions == 1


async def test_replacing_a_value_evicts_nothing() -> None:
    cache = InMemoryCache(max_entries=2, registry=make_registry())
    await cache.set("a", 1, ttl_s=None)
    await cache.set("b", 2, ttl_s=None)

    await cache.set("a", 10, ttl_s=None)

    assert cache.stats().evictions == 0
    assert await cache.get("b") == 2


async def test_deleting_an_expired_value_reports_it_absent() -> None:
    clock = TestClock(start_ns=0)
    cache = InMemoryCache(registry=make_registry(), now_ns=clock.timestamp_ns)
    await cache.set("k", "v", ttl_s=1.0)
    clock.set_time(SECOND_NS)

    assert await cache.delete("k") is False


def test_the_size_bound_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        InMemoryCache(max_entries=0)


def test_stats_start_at_zero() -> None:
    assert InMemoryCache().stats() == CacheStats(
        hits=0, misses=0, hit_rate=0.0, loads=0, evictions=0
    )


@pytest.mark.parametrize("url", [None, "", "memory://"])
async def test_open_cache_defaults_to_memory(url: str | None) -> None:
    cache = await open_cache(url, max_entries=5)

    assert isinstance(cache, InMemoryCache)
    assert cache.max_entries == 5


async def test_open_cache_refuses_an_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="memcached"):
        await open_cache("memcached://127.0.0.1:11211")
