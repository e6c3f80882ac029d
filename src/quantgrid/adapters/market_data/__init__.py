"""Upstream market data: where the market-data and regime services get prices and bars.

``MarketDataSource`` is the port. ``SyntheticSource`` serves the seeded synthetic market
(the default, deterministic); ``CsvSource`` and ``ParquetSource`` serve bar files that
``load_bars`` reads; ``BinanceRestSource`` speaks a vendor's HTTP API (the Binance spot
REST shape); ``InMemorySource`` is the fake for tests. ``TokenBucket`` keeps calls within
an upstream's rate. See ``docs/market-data.md``.
"""

from quantgrid.adapters.market_data._binance import (
    BINANCE_REQUEST_RATE,
    MAX_KLINES_PER_REQUEST,
    BinanceRestSource,
)
from quantgrid.adapters.market_data._errors import (
    CircuitOpenError,
    MalformedPayloadError,
    MarketDataError,
    RateLimitedError,
    UnknownSymbolError,
    UnsupportedTimeframeError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from quantgrid.adapters.market_data._files import CsvSource, ParquetSource
from quantgrid.adapters.market_data._memory import InMemorySource, SyntheticSource
from quantgrid.adapters.market_data._port import (
    SYMBOL_PATTERN,
    MarketDataSource,
    Price,
    RequestRate,
    Ticker,
    Timeframe,
    is_symbol,
)
from quantgrid.adapters.market_data._ratelimit import TokenBucket

__all__ = [
    "BINANCE_REQUEST_RATE",
    "MAX_KLINES_PER_REQUEST",
    "SYMBOL_PATTERN",
    "BinanceRestSource",
    "CircuitOpenError",
    "CsvSource",
    "InMemorySource",
    "MalformedPayloadError",
    "MarketDataError",
    "MarketDataSource",
    "ParquetSource",
    "Price",
    "RateLimitedError",
    "RequestRate",
    "SyntheticSource",
    "Ticker",
    "Timeframe",
    "TokenBucket",
    "UnknownSymbolError",
    "UnsupportedTimeframeError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "UpstreamUnavailableError",
    "is_symbol",
]
