"""Price histories for the indicator tests: real daily GOOG and synthetic one-minute bars."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.model import FloatArray

# Long enough to cover every regime of the synthetic market (trends, ranges, chop,
# crises, flat stretches of equal closes) and the 8 * period WMA rebuilds.
MINUTE_BARS = 20_000


@dataclass(frozen=True)
class Ohlcv:
    """One bar series as float64 arrays."""

    name: str
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return int(self.close.shape[0])


def _goog() -> Ohlcv:
    from backtesting.test import GOOG

    def column(name: str) -> FloatArray:
        return np.ascontiguousarray(GOOG[name].to_numpy(dtype=np.float64))

    return Ohlcv("goog_daily", column("High"), column("Low"), column("Close"), column("Volume"))


def _minutes() -> Ohlcv:
    config = SyntheticConfig(instruments=("SYN",), bars=MINUTE_BARS)
    bars = generate_market(config, seed=11).bars["SYN"]
    return Ohlcv("synthetic_1m", bars.high, bars.low, bars.close, bars.volume)


@pytest.fixture(scope="session")
def goog() -> Ohlcv:
    """Return backtesting.py's daily GOOG prices, 2004-2013 (2148 bars)."""
    series = _goog()
    assert len(series) == 2148
    return series


@pytest.fixture(scope="session")
def minutes() -> Ohlcv:
    """Return seeded synthetic one-minute bars, quoted in cents."""
    return _minutes()


@pytest.fixture(scope="session", params=["goog_daily", "synthetic_1m"])
def market(request: pytest.FixtureRequest, goog: Ohlcv, minutes: Ohlcv) -> Ohlcv:
    """Return each price history in turn."""
    return goog if request.param == "goog_daily" else minutes
