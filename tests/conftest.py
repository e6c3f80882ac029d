"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from quantgrid.model import BarSeries

# Tests that set no example count get the profile's: a quick one by default, and
# `HYPOTHESIS_PROFILE=thorough` for a deeper local search.
settings.register_profile("quick", max_examples=40, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


def make_bars(
    closes: np.ndarray | list[float],
    instrument_id: str = "X",
    start_ns: int = 1_704_067_200_000_000_000,  # 2024-01-01T00:00:00Z
    step_ns: int = 60_000_000_000,
    spread: float = 0.5,
    volume: float = 1_000.0,
) -> BarSeries:
    """Build consistent OHLC bars around ``closes``: open at the previous close."""
    close = np.asarray(closes, dtype=np.float64)
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) + spread
    low = np.maximum(np.minimum(open_, close) - spread, 0.01)
    ts = start_ns + step_ns * np.arange(len(close), dtype=np.int64)
    return BarSeries.from_arrays(
        instrument_id, ts, open_, high, low, close, np.full(len(close), volume)
    )


def random_walk(n: int, seed: int, start: float = 100.0, vol: float = 0.01) -> np.ndarray:
    """Return ``n`` closes of a seeded geometric random walk, rounded to cents."""
    rng = np.random.default_rng(seed)
    return np.round(start * np.exp(np.cumsum(rng.normal(0.0, vol, n))), 2)


@pytest.fixture(scope="session")
def goog_csv() -> Path:
    """Return the path of backtesting.py's daily GOOG prices (real data, 2004-2013)."""
    import backtesting

    return Path(backtesting.__file__).parent / "test" / "GOOG.csv"
