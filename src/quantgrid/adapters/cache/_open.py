"""Pick the cache a URL names: in-memory by default, Redis when configured."""

from __future__ import annotations

from typing import Any

from quantgrid.adapters.bus import MessageRegistry
from quantgrid.adapters.cache._memory import InMemoryCache
from quantgrid.adapters.cache._port import Cache
from quantgrid.adapters.cache._redis import RedisCache

_MEMORY = ("", "memory", "memory://")


async def open_cache(
    url: str | None = None,
    *,
    registry: MessageRegistry | None = None,
    **options: Any,
) -> Cache:
    """Return a ready cache for ``url``.

    Parameters
    ----------
    url
        None, ``""`` or ``memory://`` for the in-memory cache; ``redis://``,
        ``rediss://`` or ``unix://`` for Redis, checked with a PING.
    registry
        The Struct types the cache may hold.
    **options
        Passed to the chosen cache (``max_entries``; ``prefix``, ``timeout_s``...).
    """
    if url is None or url in _MEMORY:
        return InMemoryCache(registry=registry, **options)
    if url.startswith(("redis://", "rediss://", "unix://")):
        cache = RedisCache(url, registry=registry, **options)
        try:
            return await cache.connect()
        except BaseException:
            await cache.close()
            raise
    msg = f"no cache for {url.split('://')[0]!r} URLs: use memory:// or redis://host:6379/0"
    raise ValueError(msg)
