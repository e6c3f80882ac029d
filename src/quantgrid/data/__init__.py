"""Market data in and out: validated file loaders, a seeded synthetic market and tick stream."""

from quantgrid.data._loaders import load_bars, write_bars
from quantgrid.data._synthetic import (
    SyntheticConfig,
    SyntheticMarket,
    generate_market,
    save_market,
)
from quantgrid.data._ticks import TickConfig, TickStream, generate_ticks
from quantgrid.data._validation import DataValidationError

__all__ = [
    "DataValidationError",
    "SyntheticConfig",
    "SyntheticMarket",
    "TickConfig",
    "TickStream",
    "generate_market",
    "generate_ticks",
    "load_bars",
    "save_market",
    "write_bars",
]
