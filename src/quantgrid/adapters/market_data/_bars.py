"""Prices, windows and tickers read off stored bars, for the sources that hold bars."""

from __future__ import annotations

import numpy as np

from quantgrid.adapters.market_data._errors import UnsupportedTimeframeError
from quantgrid.adapters.market_data._port import Price, Ticker, Timeframe
from quantgrid.bars import resample
from quantgrid.core import NANOS_PER_DAY, NANOS_PER_SECOND
from quantgrid.model import BarSeries


def spacing_ns(series: BarSeries) -> int | None:
    """Return the smallest gap between two bars, or None for fewer than two bars."""
    if len(series) < 2:
        return None
    return int(np.min(np.diff(series.ts)))


def ceil_to(ts: int, step: int) -> int:
    """Return the first multiple of ``step`` at or after ``ts``."""
    return -((-ts) // step) * step


def floor_to(ts: int, step: int) -> int:
    """Return the last multiple of ``step`` at or before ``ts``."""
    return (ts // step) * step


def window(
    series: BarSeries,
    start: int,
    end: int,
    timeframe: Timeframe,
    *,
    limit: int | None,
    base_ns: int | None,
) -> BarSeries:
    """Return the ``timeframe`` bars of ``series`` lying within ``[start, end]``.

    Parameters
    ----------
    series
        The stored bars, ``ts`` their close times.
    start, end
        The window, UTC nanoseconds.
    timeframe
        The bar length wanted; the stored bars are aggregated into it.
    limit
        Return only the first ``limit`` bars.
    base_ns
        The stored bars' spacing (`spacing_ns`), None if unknown (one bar).

    Raises
    ------
    UnsupportedTimeframeError
        If the stored bars are coarser than ``timeframe`` or do not divide it.
    """
    step = timeframe.nanos
    if base_ns is not None and (base_ns > step or step % base_ns):
        seconds = base_ns / NANOS_PER_SECOND
        detail = f"the stored bars are {seconds:g} s apart, which does not divide {timeframe}"
        raise UnsupportedTimeframeError(series.instrument_id, timeframe.value, detail)
    # Buckets (k*step - step, k*step]; those wholly inside [start, end] run from the
    # first boundary at or after start to the last at or before end.
    first, last = ceil_to(start, step), floor_to(end, step)
    if last <= first:
        return series.slice(0, 0)
    lo = int(np.searchsorted(series.ts, first, side="right"))
    hi = int(np.searchsorted(series.ts, last, side="right"))
    if limit is not None and base_ns is not None:
        # Enough stored bars for ``limit`` buckets, and not the whole history.
        hi = min(hi, lo + limit * (step // base_ns) + 1)
    # Always through resample: bars of the right length but off the boundaries (daily
    # closes at 16:00) are relabelled to their bucket's end like any others.
    bars = resample(series.slice(lo, hi), timeframe.seconds)
    if limit is not None:
        bars = bars.slice(0, limit)
    return bars


def latest_price(series: BarSeries) -> Price:
    """Return the last close as the latest price."""
    i = len(series) - 1
    return Price(series.instrument_id, float(series.close[i]), int(series.ts[i]))


def ticker(series: BarSeries, half_spread: float | None) -> Ticker:
    """Return the ticker of the last bar: 24-hour volume and change from the bars.

    ``bid`` and ``ask`` are the last close minus and plus ``half_spread``, or None
    when it is None (bars carry no quotes).
    """
    i = len(series) - 1
    now = int(series.ts[i])
    last = float(series.close[i])
    day_ago = now - NANOS_PER_DAY
    # The price 24 hours ago: the close of the bar ending then, or the first open.
    before = int(np.searchsorted(series.ts, day_ago, side="right")) - 1
    reference = float(series.close[before]) if before >= 0 else float(series.open[0])
    volume = float(np.sum(series.volume[before + 1 :]))
    change = last - reference
    pct = 100.0 * change / reference if reference else 0.0
    bid = None if half_spread is None else max(last - half_spread, 0.0)
    ask = None if half_spread is None else last + half_spread
    return Ticker(series.instrument_id, bid, ask, last, volume, change, pct, now)
