"""Redis on loopback for the market-data and regime services, one key prefix per test.

Without a reachable server the tests skip, saying what to start, except under
``CI=true``, where they fail. Every test's keys live under its own prefix, removed
afterwards.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

from quantgrid.adapters.cache import CacheUnavailableError, RedisCache

REDIS_URL = os.environ.get("QUANTGRID_REDIS_URL", "redis://127.0.0.1:6379/0")
START_HINT = "start `redis-server` on 127.0.0.1:6379 (or set QUANTGRID_REDIS_URL)"

CacheFactory = Callable[[], Awaitable[RedisCache]]


def unavailable(message: str) -> NoReturn:
    """Skip the test, or fail it under CI=true, where Redis must be up."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Return the Redis URL once its port answers on loopback."""
    parts = urlsplit(REDIS_URL)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), timeout=1.0).close()
    except OSError as exc:
        unavailable(f"Redis is not reachable at {REDIS_URL} ({exc}): {START_HINT}")
    return REDIS_URL


@pytest.fixture
async def redis_caches(redis_url: str) -> AsyncIterator[CacheFactory]:
    """Make connected caches sharing a prefix unique to the test; remove its keys after."""
    prefix = f"qgtest:md:{uuid.uuid4().hex[:12]}:"
    caches: list[RedisCache] = []

    async def make() -> RedisCache:
        cache = RedisCache(redis_url, prefix=prefix)
        caches.append(cache)
        try:
            return await cache.connect()
        except CacheUnavailableError as exc:
            unavailable(str(exc))

    try:
        yield make
    finally:
        try:
            for cache in caches:
                await cache.close()
        finally:
            async with RedisCache(redis_url, prefix=prefix) as cleaner:
                await cleaner.clear()
