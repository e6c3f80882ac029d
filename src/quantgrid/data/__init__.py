"""Market data in and out: validated file loaders and a seeded synthetic market."""

from quantgrid.data._loaders import load_bars, write_bars
from quantgrid.data._synthetic import (
    SyntheticConfig,
    SyntheticMarket,
    generate_market,
    save_market,
)
from quantgrid.data._validation import DataValidationError

__all__ = [
    "DataValidationError",
    "SyntheticConfig",
    "SyntheticMarket",
    "generate_market",
    "load_bars",
    "save_market",
    "write_bars",
]
