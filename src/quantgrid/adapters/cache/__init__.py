"""A cache with TTLs and a hit rate: in-memory by default, Redis when configured.

``Cache`` is the port; ``InMemoryCache`` and ``RedisCache`` implement it. Values are
encoded like bus messages, with the bus's ``MessageRegistry``.
"""

from quantgrid.adapters.cache._errors import CacheError, CacheUnavailableError
from quantgrid.adapters.cache._memory import InMemoryCache
from quantgrid.adapters.cache._open import open_cache
from quantgrid.adapters.cache._port import Cache, CacheStats, Loader
from quantgrid.adapters.cache._redis import RedisCache

__all__ = [
    "Cache",
    "CacheError",
    "CacheStats",
    "CacheUnavailableError",
    "InMemoryCache",
    "Loader",
    "RedisCache",
    "open_cache",
]
