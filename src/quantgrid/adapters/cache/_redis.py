"""The shared cache on Redis: values any process can read, expiring on the server."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable
from typing import Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from quantgrid.adapters.bus import MessageRegistry
from quantgrid.adapters.cache._base import CacheBase
from quantgrid.adapters.cache._errors import CacheError, CacheUnavailableError

T = TypeVar("T")

_START_HINT = "start it with `redis-server`, or point QUANTGRID_REDIS_URL at one"
_SCAN_BATCH = 500


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class RedisCache(CacheBase):
    """A cache on a Redis server, shared by every process that uses the same prefix.

    Parameters
    ----------
    url
        The server, ``redis://host:6379/0`` (``rediss://`` for TLS).
    prefix
        Put before every key, so caches (and test runs) sharing a server stay apart.
    registry
        The Struct types it may hold; the bus's default registry if None.
    connect_timeout_s, timeout_s
        The longest wait for a connection, and for one command's answer.
    retries
        How many times a command that lost its connection is retried, with backoff.

    Notes
    -----
    TTLs are the server's (``SET ... PX``), to the millisecond. The statistics count
    this client's lookups only. Single flight holds within this process: two processes
    missing one key at once each call their loader, and the last write wins.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "quantgrid:cache:",
        registry: MessageRegistry | None = None,
        connect_timeout_s: float = 2.0,
        timeout_s: float = 2.0,
        retries: int = 2,
    ) -> None:
        super().__init__(registry)
        self.url = url
        self.prefix = prefix
        self._redis: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries),
            decode_responses=False,
        )

    async def connect(self) -> Self:
        """Check that the server answers; returns the cache.

        Raises
        ------
        CacheUnavailableError
            Redis cannot be reached at ``url``.
        """
        self._check_open()
        await self._call(self._redis.ping())
        return self

    async def _call(self, command: Awaitable[T]) -> T:
        try:
            return await command
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            msg = f"cannot reach Redis at {_redact(self.url)} ({exc}); {_START_HINT}"
            raise CacheUnavailableError(msg) from exc
        except redis.exceptions.RedisError as exc:
            msg = f"Redis at {_redact(self.url)} refused a command: {exc}"
            raise CacheError(msg) from exc

    async def _read(self, key: str) -> bytes | None:
        data = await self._call(self._redis.get(self.prefix + key))
        assert not isinstance(data, str)  # decode_responses=False
        return data

    async def _write(self, key: str, data: bytes, ttl_s: float | None) -> None:
        px = None if ttl_s is None else max(1, math.ceil(ttl_s * 1000))
        await self._call(self._redis.set(self.prefix + key, data, px=px))

    async def _remove(self, key: str) -> bool:
        removed: int = await self._call(self._redis.delete(self.prefix + key))
        return removed > 0

    async def _remove_all(self) -> None:
        # SCAN, not KEYS: the server keeps serving others while a large prefix goes.
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix) + "*"
        batch: list[bytes] = []
        async for key in self._redis.scan_iter(match=pattern, count=_SCAN_BATCH):
            batch.append(key)
            if len(batch) >= _SCAN_BATCH:
                await self._call(self._redis.unlink(*batch))
                batch.clear()
        if batch:
            await self._call(self._redis.unlink(*batch))

    async def _release(self) -> None:
        await self._redis.aclose()
