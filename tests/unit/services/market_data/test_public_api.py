"""The market-data service's public API is deliberate: this test changes with it."""

from __future__ import annotations

import quantgrid.services.market_data as service

PUBLIC_API = (
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
)


def test_public_api_is_exactly_what_is_listed() -> None:
    assert tuple(service.__all__) == PUBLIC_API
    for name in PUBLIC_API:
        assert hasattr(service, name), name


def test_the_service_is_the_registered_one() -> None:
    from quantgrid.services import SERVICES

    assert service.SERVICE in SERVICES


def test_settings_come_from_the_environment() -> None:
    settings = service.MarketDataSettings.from_env(
        {"QUANTGRID_PRICE_TTL_S": "0.5", "QUANTGRID_UPSTREAM_RATE_PER_S": "3"}
    )

    assert settings.price_ttl_s == 0.5
    assert settings.upstream_rate_per_s == 3.0
    assert settings.upstream_burst is None  # the source's own
    assert settings.ohlcv_ttl_s == 60.0
