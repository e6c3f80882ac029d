"""RedisCache against a real Redis: the cache contract with real TTLs, then sharing."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import redis.asyncio as aioredis

from quantgrid.adapters.cache import CacheUnavailableError, RedisCache, open_cache
from tests.integration.cache.conftest import CacheFactory
from tests.unit.adapters.cache.cache_contract import (
    CacheContract,
    CountingLoader,
    Outlast,
    Quote,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


class TestRedisCache(CacheContract):
    @pytest.fixture
    async def cache(self, cache_factory: CacheFactory) -> RedisCache:
        return await cache_factory()

    @pytest.fixture
    def ttl_s(self) -> float:
        return 0.4  # long enough to read back at once, short enough to wait out

    @pytest.fixture
    def outlast(self, ttl_s: float) -> Outlast:
        async def wait() -> None:
            await asyncio.sleep(ttl_s + 0.2)

        return wait


async def test_the_ttl_is_set_on_the_server(
    cache_factory: CacheFactory, redis_url: str, key_root: str
) -> None:
    cache = await cache_factory()

    await cache.set("q", Quote("AAPL", 1.0, 2.0), ttl_s=30.0)

    client = aioredis.Redis.from_url(redis_url)
    try:
        pttl = await client.pttl(f"{key_root}q")
        raw = await client.get(f"{key_root}q")
    finally:
        await client.aclose()
    assert 29_000 < pttl <= 30_000
    assert raw.startswith(b'{"type":"Quote"')


async def test_another_process_reads_what_one_wrote(cache_factory: CacheFactory) -> None:
    writer = await cache_factory()
    reader = await cache_factory()

    await writer.set("q", Quote("AAPL", 1.0, 2.0), ttl_s=30.0)

    assert await reader.get("q") == Quote("AAPL", 1.0, 2.0)
    assert reader.stats().hits == 1
    assert writer.stats().hits == 0  # statistics are each client's own


async def test_a_load_stored_by_one_process_is_a_hit_for_another(
    cache_factory: CacheFactory,
) -> None:
    first = await cache_factory()
    second = await cache_factory()
    loader = CountingLoader({"px": 1.0})

    await first.get_or_set("k", 30.0, loader)
    await second.get_or_set("k", 30.0, loader)

    assert loader.calls == 1
    assert second.stats().hit_rate == 1.0


async def test_clear_keeps_to_its_own_prefix_even_with_glob_characters(
    cache_factory: CacheFactory, key_root: str
) -> None:
    starred = await cache_factory(prefix=f"{key_root}a*:")
    neighbour = await cache_factory(prefix=f"{key_root}ab:")
    await starred.set("k", 1, ttl_s=30.0)
    await neighbour.set("k", 2, ttl_s=30.0)

    await starred.clear()

    assert await starred.get("k") is None
    assert await neighbour.get("k") == 2


async def test_open_cache_connects_to_redis(redis_url: str, key_root: str) -> None:
    cache = await open_cache(redis_url, prefix=key_root)
    try:
        assert isinstance(cache, RedisCache)
        await cache.set("k", 1, ttl_s=5.0)
        assert await cache.get("k") == 1
        await cache.clear()
    finally:
        await cache.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_server_fails_fast_naming_the_url_and_the_fix() -> None:
    url = f"redis://:s3cret@127.0.0.1:{_closed_port()}/0"
    started = time.monotonic()

    with pytest.raises(CacheUnavailableError) as caught:
        await open_cache(url, connect_timeout_s=0.5, retries=1)

    message = str(caught.value)
    assert "127.0.0.1" in message
    assert "redis-server" in message
    assert "s3cret" not in message
    assert time.monotonic() - started < 5.0


async def test_every_operation_names_the_server_when_it_goes_away() -> None:
    cache = RedisCache(f"redis://127.0.0.1:{_closed_port()}/0", retries=0)
    try:
        with pytest.raises(CacheUnavailableError, match="cannot reach Redis"):
            await cache.get_or_set("k", 1.0, CountingLoader(1))
    finally:
        await cache.close()
