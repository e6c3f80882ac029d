"""Activity bars: a bar closes after a number of trades, an amount of volume or of
traded value, or a price range, rather than after a span of time.

Every builder finds where each bar ends (a numba loop where the rule is a recursion,
numpy where it is not) and one aggregation turns those ends into OHLCV columns, so all
of them share the same conventions:

- Trades are kept whole: the trade that meets a threshold belongs to the bar it closes,
  and the next bar starts with the next trade.
- A bar's ``ts`` is the ts of its last trade (its close time); open/close are the first
  and last trade prices, high/low the extremes of its trade prices, volume the sum of
  its trade sizes.
- Trades after the last closed bar form a partial bar, dropped unless
  ``include_partial=True``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from quantgrid.bars._checks import check_positive, check_positive_number, check_whole_number
from quantgrid.bars._trades import TradeSeries, TradeSource, as_trades
from quantgrid.model import BarSeries, FloatArray, IntArray


# -- where bars end --------------------------------------------------------------------
@njit(cache=True)
def _threshold_ends(weight: FloatArray, threshold: float) -> IntArray:  # pragma: no cover
    # Each bar's own running total restarts at zero: the overshoot of the trade that
    # closed a bar is not carried into the next one.
    ends = np.empty(weight.shape[0], dtype=np.int64)
    count = 0
    total = 0.0
    for i in range(weight.shape[0]):
        total += weight[i]
        if total >= threshold:
            ends[count] = i + 1
            count += 1
            total = 0.0
    return ends[:count]


@njit(cache=True)
def _range_ends(price: FloatArray, range_size: float) -> IntArray:  # pragma: no cover
    ends = np.empty(price.shape[0], dtype=np.int64)
    count = 0
    high = -np.inf
    low = np.inf
    for i in range(price.shape[0]):
        p = price[i]
        high = max(high, p)
        low = min(low, p)
        if high - low >= range_size:
            ends[count] = i + 1
            count += 1
            high = -np.inf
            low = np.inf
    return ends[:count]


def _aggregate(trades: TradeSeries, ends: IntArray, include_partial: bool) -> BarSeries:
    """Build one bar per run of trades ``[previous end, end)``."""
    n = len(trades)
    last = int(ends[-1]) if ends.size else 0
    if include_partial and last < n:
        ends = np.append(ends, np.int64(n))
    if ends.size == 0:
        empty = np.empty(0)
        return BarSeries.from_arrays(trades.instrument_id, [], empty, empty, empty, empty, empty)
    starts = np.concatenate(([0], ends[:-1]))
    stop = int(ends[-1])
    price = trades.price[:stop]
    return BarSeries.from_arrays(
        trades.instrument_id,
        trades.ts[ends - 1],
        price[starts],
        np.maximum.reduceat(price, starts),
        np.minimum.reduceat(price, starts),
        price[ends - 1],
        np.add.reduceat(trades.size[:stop], starts),
    )


# -- public builders -------------------------------------------------------------------
def tick_bars(
    trades: TradeSource, ticks_per_bar: int, *, include_partial: bool = False
) -> BarSeries:
    """Build bars of ``ticks_per_bar`` trades each.

    Parameters
    ----------
    trades
        A ``TradeSeries``, a sequence of ``TradeTick`` of one instrument, or a
        ``BarSeries`` whose bars are read as trades: each bar's close is a trade of the
        bar's volume at the bar's ts (its open, high and low are not used).
    ticks_per_bar
        Trades (or input bars) per output bar, a whole number >= 1.
    include_partial
        Keep the last ``len(trades) % ticks_per_bar`` trades as a final, short bar.

    Returns
    -------
    BarSeries
        ``len(trades) // ticks_per_bar`` bars (one more with a kept partial bar).

    Raises
    ------
    ValueError
        If ``ticks_per_bar`` is not a whole number >= 1, the ts go backwards, a price is
        not finite or a size is not finite and >= 0.

    Notes
    -----
    A bar's ts is its last trade's ts; open/close are its first and last trade prices,
    high/low the extremes of its trade prices, volume the sum of its trade sizes.
    """
    n_per_bar = check_whole_number("tick_bars", "ticks_per_bar", ticks_per_bar)
    series = as_trades("tick_bars", trades)
    ends = np.arange(n_per_bar, len(series) + 1, n_per_bar, dtype=np.int64)
    return _aggregate(series, ends, include_partial)


def volume_bars(
    trades: TradeSource, volume_per_bar: float, *, include_partial: bool = False
) -> BarSeries:
    """Build bars that close once their traded volume reaches ``volume_per_bar``.

    Parameters
    ----------
    trades
        A ``TradeSeries``, a sequence of ``TradeTick`` of one instrument, or a
        ``BarSeries`` whose bars are read as trades: each bar's close is a trade of the
        bar's volume at the bar's ts (its open, high and low are not used).
    volume_per_bar
        The volume that closes a bar, a finite number > 0.
    include_partial
        Keep the trades after the last closed bar as a final bar below the threshold.

    Returns
    -------
    BarSeries
        One bar per threshold reached.

    Raises
    ------
    ValueError
        If ``volume_per_bar`` is not a finite number > 0, the ts go backwards, a price
        is not finite or a size is not finite and >= 0.

    Notes
    -----
    Trades are kept whole, never split: the trade that takes a bar's volume to or past
    the threshold is the bar's last trade, so every closed bar has volume
    >= ``volume_per_bar`` and the overshoot is not carried into the next bar (a bar's
    count starts from zero). One trade bigger than the threshold makes a bar on its own.
    A bar's ts is its last trade's ts; open/close are its first and last trade prices,
    high/low the extremes of its trade prices.
    """
    threshold = check_positive_number("volume_bars", "volume_per_bar", volume_per_bar)
    series = as_trades("volume_bars", trades)
    return _aggregate(series, _threshold_ends(series.size, threshold), include_partial)


def dollar_bars(
    trades: TradeSource, value_per_bar: float, *, include_partial: bool = False
) -> BarSeries:
    """Build bars that close once their traded value (price * size) reaches a threshold.

    Parameters
    ----------
    trades
        A ``TradeSeries``, a sequence of ``TradeTick`` of one instrument, or a
        ``BarSeries`` whose bars are read as trades: each bar's close is a trade of the
        bar's volume at the bar's ts (its open, high and low are not used).
    value_per_bar
        The traded value, in quote currency, that closes a bar: a finite number > 0.
    include_partial
        Keep the trades after the last closed bar as a final bar below the threshold.

    Returns
    -------
    BarSeries
        One bar per threshold reached; ``volume`` is the sum of sizes, not of values.

    Raises
    ------
    ValueError
        If ``value_per_bar`` is not a finite number > 0, the ts go backwards, a price is
        not finite and > 0, or a size is not finite and >= 0.

    Notes
    -----
    The rules of ``volume_bars`` with each trade weighted by ``price * size`` (no
    contract multiplier): trades are kept whole, the closing trade belongs to the bar it
    closes, and the overshoot is not carried over. Prices must be positive here, since a
    negative value would count down towards the threshold.
    """
    threshold = check_positive_number("dollar_bars", "value_per_bar", value_per_bar)
    series = as_trades("dollar_bars", trades)
    price_column = "bars.close" if isinstance(trades, BarSeries) else "trades.price"
    check_positive("dollar_bars", price_column, series.price)
    ends = _threshold_ends(series.price * series.size, threshold)
    return _aggregate(series, ends, include_partial)


def range_bars(
    trades: TradeSource, range_size: float, *, include_partial: bool = False
) -> BarSeries:
    """Build bars that close once their high - low reaches ``range_size``.

    Parameters
    ----------
    trades
        A ``TradeSeries``, a sequence of ``TradeTick`` of one instrument, or a
        ``BarSeries`` whose bars are read as trades: each bar's close is a trade of the
        bar's volume at the bar's ts (its open, high and low are not used).
    range_size
        The price range that closes a bar, a finite number > 0.
    include_partial
        Keep the trades after the last closed bar as a final bar of smaller range.

    Returns
    -------
    BarSeries
        One bar per range reached; every closed bar has ``high - low >= range_size``.

    Raises
    ------
    ValueError
        If ``range_size`` is not a finite number > 0, the ts go backwards, a price is
        not finite or a size is not finite and >= 0.

    Notes
    -----
    Trades are kept whole and prices are never invented: the trade that takes the range
    to ``range_size`` or beyond closes the bar at its own price, so after a jump a bar's
    range exceeds ``range_size`` (platforms that cap each bar at exactly the range and
    fill the gap with synthetic bars differ here). The next bar opens at the next
    trade's price, not at the previous close. A bar's ts is its last trade's ts.
    """
    size = check_positive_number("range_bars", "range_size", range_size)
    series = as_trades("range_bars", trades)
    return _aggregate(series, _range_ends(series.price, size), include_partial)
