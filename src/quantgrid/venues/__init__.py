"""Venues: where orders are filled. The simulated venue and its fill models."""

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
    "BpsSlippage",
    "BpsSpread",
    "CommissionModel",
    "FixedSpread",
    "MakerTakerCommission",
    "NoCommission",
    "PerUnitCommission",
    "PercentCommission",
    "SimulatedVenue",
    "SlippageModel",
    "SpreadModel",
    "TickSlippage",
    "VenueConfig",
    "VolumeShareSlippage",
]
