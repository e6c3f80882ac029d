"""A Redis server on loopback, and one key prefix per test.

Without a reachable server the tests that need it skip, saying what to start, except
under ``CI=true``, where they fail. Every test gets its own key prefix, cleared
afterwards, so runs and xdist workers never see each other's keys.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest

from quantgrid.adapters.bus import MessageRegistry
from quantgrid.adapters.cache import CacheUnavailableError, RedisCache
from tests.unit.adapters.cache.cache_contract import make_registry

REDIS_URL = os.environ.get("QUANTGRID_REDIS_URL", "redis://127.0.0.1:6379/0")
START_HINT = "start `redis-server` on 127.0.0.1:6379 (or set QUANTGRID_REDIS_URL)"

CacheFactory = Callable[..., Awaitable[RedisCache]]


def unavailable(message: str) -> NoReturn:
    """Skip the test, or fail it under CI=true, where the services must be up."""
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
def registry() -> MessageRegistry:
    return make_registry()


@pytest.fixture
def key_root() -> str:
    """Return a key prefix unique to the test."""
    return f"qgtest:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def cache_factory(
    redis_url: str, key_root: str, registry: MessageRegistry
) -> AsyncIterator[CacheFactory]:
    """Make connected caches under the test's prefix; clear every prefix used afterwards."""
    caches: list[RedisCache] = []

    async def make(**overrides: Any) -> RedisCache:
        options: dict[str, Any] = {"prefix": key_root, "registry": registry}
        options.update(overrides)
        if not options["prefix"].startswith(key_root):
            raise AssertionError("a test cache's prefix must start with the test's key_root")
        cache = RedisCache(redis_url, **options)
        caches.append(cache)
        try:
            await cache.connect()
        except CacheUnavailableError as exc:
            unavailable(f"{exc}")
        return cache

    try:
        yield make
    finally:
        try:
            for cache in caches:
                await cache.close()
        finally:
            async with RedisCache(redis_url, prefix=key_root) as cleaner:
                await cleaner.clear()  # the test's root covers every prefix it used
