"""Real venues behind the venue port: Alpaca for US equities, ccxt for crypto exchanges.

``LiveVenue`` takes the execution engine's commands at a venue endpoint, as the
simulated venues do, and reports the venue's answers as order events; a
``VenueClient`` speaks one venue's API (``AlpacaClient`` over httpx, ``CcxtClient``
over ccxt, which is optional: ``pip install 'quantgrid[venues]'``). See
``docs/venues-live.md``. Nothing in the core imports this package.
"""

from quantgrid.adapters.venues._alpaca import ALPACA_CAPABILITIES, LIVE_URL, PAPER_URL, AlpacaClient
from quantgrid.adapters.venues._bridge import LiveVenue, LiveVenueConfig
from quantgrid.adapters.venues._ccxt import BINANCE_SPOT_CAPABILITIES, CcxtClient
from quantgrid.adapters.venues._port import (
    DuplicateClientOrderIdError,
    OrderRef,
    VenueBusyError,
    VenueCapabilities,
    VenueClient,
    VenueError,
    VenueFill,
    VenueOrder,
    VenueOrderRequest,
    VenueOrderStatus,
    VenuePosition,
    VenueRejectedError,
    VenueUnreachableError,
)
from quantgrid.adapters.venues._reconcile import (
    FillDifference,
    PositionDifference,
    ReconcileReport,
    compare_with_venue,
)

__all__ = [
    "ALPACA_CAPABILITIES",
    "BINANCE_SPOT_CAPABILITIES",
    "LIVE_URL",
    "PAPER_URL",
    "AlpacaClient",
    "CcxtClient",
    "DuplicateClientOrderIdError",
    "FillDifference",
    "LiveVenue",
    "LiveVenueConfig",
    "OrderRef",
    "PositionDifference",
    "ReconcileReport",
    "VenueBusyError",
    "VenueCapabilities",
    "VenueClient",
    "VenueError",
    "VenueFill",
    "VenueOrder",
    "VenueOrderRequest",
    "VenueOrderStatus",
    "VenuePosition",
    "VenueRejectedError",
    "VenueUnreachableError",
    "compare_with_venue",
]
