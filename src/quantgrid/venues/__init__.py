"""Venues: where orders are filled. The simulated venues (bars, order book) and fill models."""

from quantgrid.venues._book import BookVenueConfig, OrderBookVenue, QueuePosition
from quantgrid.venues._models import (
    BpsSlippage,
    BpsSpread,
    CommissionModel,
    FixedSpread,
    MakerTakerCommission,
    NoCommission,
    PercentCommission,
    PerUnitCommission,
    SlippageModel,
    SpreadModel,
    TickSlippage,
    VolumeShareSlippage,
)
from quantgrid.venues._simulated import AccountState, SimulatedVenue, VenueConfig

__all__ = [
    "AccountState",
    "BookVenueConfig",
    "BpsSlippage",
    "BpsSpread",
    "CommissionModel",
    "FixedSpread",
    "MakerTakerCommission",
    "NoCommission",
    "OrderBookVenue",
    "PerUnitCommission",
    "PercentCommission",
    "QueuePosition",
    "SimulatedVenue",
    "SlippageModel",
    "SpreadModel",
    "TickSlippage",
    "VenueConfig",
    "VolumeShareSlippage",
]
