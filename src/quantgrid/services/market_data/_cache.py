"""Answers through the cache: a TTL per kind of answer, hits and misses counted per kind."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from quantgrid.adapters.cache import Cache
from quantgrid.services import ServiceMetrics


class EndpointCacheStats(BaseModel):
    """Lookups of one kind of answer."""

    hits: int
    misses: int
    hit_rate: float


class CacheReport(BaseModel):
    """How well the cache serves: what ``GET /market-data/cache`` answers.

    ``hits``, ``misses``, ``hit_rate``, ``loads`` and ``evictions`` are the cache's own
    statistics (``Cache.stats()``), over every lookup made through this cache client;
    ``endpoints`` breaks this service's lookups down by kind of answer.
    """

    backend: str
    hits: int
    misses: int
    hit_rate: float
    loads: int
    evictions: int
    endpoints: dict[str, EndpointCacheStats]


class CachedAnswers:
    """Get answers from ``cache``, loading them on a miss, under a key namespace.

    Parameters
    ----------
    cache
        The cache (in memory, or Redis shared by every instance).
    metrics
        Counts ``quantgrid_cache_hits_total{cache}`` and ``..._misses_total{cache}``,
        ``cache`` being the kind of answer (``price``, ``ohlcv``...).
    namespace
        Put before every key (``md``), so services sharing a cache stay apart.

    Notes
    -----
    A lookup is a miss when its own request loaded the value; one that shared a load
    already under way for the same key (the cache's single flight) counts as a hit
    here, since it cost no upstream call, while ``Cache.stats()`` counts it a miss.
    """

    def __init__(self, cache: Cache, metrics: ServiceMetrics, namespace: str) -> None:
        self.cache = cache
        self.namespace = namespace
        self._metrics = metrics
        self._counts: dict[str, list[int]] = {}

    async def get(
        self, kind: str, key: str, ttl_s: float, load: Callable[[], Awaitable[Any]]
    ) -> Any:
        """Return the cached answer of kind ``kind`` for ``key``, loading it on a miss.

        ``load`` returns a JSON value (dicts, lists, strings, numbers); errors it
        raises reach the caller and nothing is cached.
        """
        loaded = False

        async def loader() -> Any:
            nonlocal loaded
            loaded = True
            return await load()

        try:
            value = await self.cache.get_or_set(f"{self.namespace}:{kind}:{key}", ttl_s, loader)
        except Exception:
            self._count(kind, hit=False)  # a failed load, this caller's or a shared one
            raise
        self._count(kind, hit=not loaded)
        return value

    def _count(self, kind: str, *, hit: bool) -> None:
        counts = self._counts.setdefault(kind, [0, 0])
        counts[0 if hit else 1] += 1
        counter = self._metrics.cache_hits if hit else self._metrics.cache_misses
        counter.labels(kind).inc()

    def report(self) -> CacheReport:
        """Return the cache's statistics, and this service's by kind of answer."""
        stats = self.cache.stats()
        endpoints = {
            kind: EndpointCacheStats(
                hits=hits, misses=misses, hit_rate=hits / (hits + misses) if hits + misses else 0.0
            )
            for kind, (hits, misses) in sorted(self._counts.items())
        }
        return CacheReport(
            backend=type(self.cache).__name__,
            hits=stats.hits,
            misses=stats.misses,
            hit_rate=stats.hit_rate,
            loads=stats.loads,
            evictions=stats.evictions,
            endpoints=endpoints,
        )
