"""The market-data service (MD-5, SV-1): prices, OHLCV history and tickers over HTTP.

``create_app(source, cache, settings, authenticator=...)`` serves ``/market-data`` from a
`MarketDataSource` behind a token-bucket rate limit, a timeout and a circuit breaker
(``GuardedSource``), with answers cached per kind under their own TTLs and the hit rate
reported. See ``docs/market-data.md``.
"""

from quantgrid.services.market_data._app import SERVICE, create_app
from quantgrid.services.market_data._cache import CachedAnswers, CacheReport, EndpointCacheStats
from quantgrid.services.market_data._models import (
    Instant,
    OhlcvBar,
    OhlcvResponse,
    PriceResponse,
    Symbol,
    SymbolsResponse,
    TickerResponse,
)
from quantgrid.services.market_data._problems import (
    UNKNOWN_SYMBOL_PROBLEM,
    UPSTREAM_PROBLEMS,
    InvalidQueryError,
    SymbolNotFoundError,
    as_service_error,
    install_market_data_problems,
)
from quantgrid.services.market_data._routes import MAX_OHLCV_LIMIT
from quantgrid.services.market_data._settings import MarketDataSettings, UpstreamSettings
from quantgrid.services.market_data._upstream import ERROR_REASONS, GuardedSource

__all__ = [
    "ERROR_REASONS",
    "MAX_OHLCV_LIMIT",
    "SERVICE",
    "UNKNOWN_SYMBOL_PROBLEM",
    "UPSTREAM_PROBLEMS",
    "CacheReport",
    "CachedAnswers",
    "EndpointCacheStats",
    "GuardedSource",
    "Instant",
    "InvalidQueryError",
    "MarketDataSettings",
    "OhlcvBar",
    "OhlcvResponse",
    "PriceResponse",
    "Symbol",
    "SymbolNotFoundError",
    "SymbolsResponse",
    "TickerResponse",
    "UpstreamSettings",
    "as_service_error",
    "create_app",
    "install_market_data_problems",
]
