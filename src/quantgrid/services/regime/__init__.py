"""The regime service (RS-2, SV-1): current, historical and batch regimes over HTTP.

``create_app(source, detector, cache, settings, authenticator=...)`` classifies the
covered symbols together with a `RegimeDetector` over bars from a `MarketDataSource`
(guarded and cached as in the market-data service) and serves ``/regime``. See
``docs/market-data.md``.
"""

from quantgrid.services.regime._app import SERVICE, create_app
from quantgrid.services.regime._models import (
    MAX_BATCH_SYMBOLS,
    RegimeBatchRequest,
    RegimeBatchResponse,
    RegimeHistoryResponse,
    RegimeIndicators,
    RegimeName,
    RegimeOverviewResponse,
    RegimePoint,
    RegimeResponse,
    RegimeSegment,
)
from quantgrid.services.regime._regimes import MarketRegimes, market_regime, regime_name
from quantgrid.services.regime._settings import RegimeSettings

__all__ = [
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
]
