"""A Redis server on loopback, and an online feature store under a key prefix per test.

Without a reachable server the tests skip, saying what to start, except under
``CI=true``, where they fail. Every test's keys are deleted afterwards.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from typing import NoReturn
from urllib.parse import urlsplit

import pytest
import redis

from quantgrid.adapters.features import RedisOnlineStore

REDIS_URL = os.environ.get("QUANTGRID_REDIS_URL", "redis://127.0.0.1:6379/0")
START_HINT = "start `redis-server` on 127.0.0.1:6379 (or set QUANTGRID_REDIS_URL)"


def unavailable(message: str) -> NoReturn:
    """Skip the test, or fail it under CI=true, where the services must be up."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


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
def key_root() -> str:
    """Return a key prefix unique to the test."""
    return f"qgtest:features:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def client(redis_url: str, key_root: str) -> Iterator[redis.Redis]:
    """Yield a client; delete every key under the test's prefix afterwards."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        yield client
    finally:
        keys = list(client.scan_iter(match=key_root + "*", count=500))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def store(client: redis.Redis, key_root: str) -> RedisOnlineStore:
    """Return an online store on the test's prefix."""
    return RedisOnlineStore(client, prefix=key_root)
