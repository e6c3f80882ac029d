"""The regime service's public API is deliberate: this test changes with it."""

from __future__ import annotations

import quantgrid.services.regime as service

PUBLIC_API = (
    "MAX_BATCH_SYMBOLS",
    "SERVICE",
    "MarketRegimes",
    "RegimeBatchRequest",
    "RegimeBatchResponse",
    "RegimeHistoryResponse",
    "RegimeIndicators",
    "RegimeName",
    "RegimeOverviewResponse",
    "RegimePoint",
    "RegimeResponse",
    "RegimeSegment",
    "RegimeSettings",
    "create_app",
    "market_regime",
    "regime_name",
)


def test_public_api_is_exactly_what_is_listed() -> None:
    assert tuple(service.__all__) == PUBLIC_API
    for name in PUBLIC_API:
        assert hasattr(service, name), name


def test_the_service_is_the_registered_one() -> None:
    from quantgrid.services import SERVICES

    assert service.SERVICE in SERVICES
