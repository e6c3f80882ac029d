"""Renko bricks: bars of a fixed price height, drawn when price moves far enough."""

from __future__ import annotations

import numpy as np
from numba import njit

from quantgrid.bars._checks import check_positive_number
from quantgrid.bars._trades import TradeSource, as_trades
from quantgrid.model import BarSeries, FloatArray, IntArray


@njit(cache=True)
def _renko_kernel(
    price: FloatArray,
    size: FloatArray,
    brick: float,
    write: bool,
    out_level: IntArray,
    out_step: IntArray,
    out_row: IntArray,
    out_volume: FloatArray,
) -> tuple[int, int]:  # pragma: no cover - numba
    """Count (and with ``write``, record) the bricks; return (bricks, trades consumed).

    Levels are whole multiples of ``brick`` from the first price, kept as integers so
    boundaries do not drift. Brick ``k`` opens at level ``out_level[k]`` and closes at
    ``out_level[k] + out_step[k]`` (step +1 up, -1 down).
    """
    anchor = price[0]
    close_level = 0  # level of the last brick's close (the first price before any brick)
    direction = 0  # +1 after an up brick, -1 after a down brick, 0 before the first
    count = 0
    consumed = 0
    volume = 0.0
    for i in range(price.shape[0]):
        p = price[i]
        volume += size[i]
        # A reversal opens at the last brick's open, one level behind its close.
        up_from = close_level + 1 if direction == -1 else close_level
        down_from = close_level - 1 if direction == 1 else close_level
        start = 0
        step = 0
        if p >= anchor + (up_from + 1) * brick:
            start = up_from
            step = 1
        elif p <= anchor + (down_from - 1) * brick:
            start = down_from
            step = -1
        if step == 0:
            continue
        level = start
        first = True
        while (step == 1 and p >= anchor + (level + 1) * brick) or (
            step == -1 and p <= anchor + (level - 1) * brick
        ):
            if write:
                out_level[count] = level
                out_step[count] = step
                out_row[count] = i
                # The volume since the last brick goes on the first brick this trade
                # draws; the others it draws (a gap) carry none.
                out_volume[count] = volume if first else 0.0
            first = False
            count += 1
            level += step
        close_level = level
        direction = step
        volume = 0.0
        consumed = i + 1
    return count, consumed


def renko_bars(
    trades: TradeSource, brick_size: float, *, include_partial: bool = False
) -> BarSeries:
    """Build classic Renko bricks of height ``brick_size`` from trade prices.

    Parameters
    ----------
    trades
        A ``TradeSeries``, a sequence of ``TradeTick`` of one instrument, or a
        ``BarSeries`` whose bars are read as trades: each bar's close is a trade of the
        bar's volume at the bar's ts (its open, high and low are not used).
    brick_size
        The height of a brick in price units, a finite number > 0.
    include_partial
        Add a final bar for the trades after the last brick: open at the last brick's
        close (the first price if there is no brick), close at the last price, high/low
        spanning both and those trades' prices. It is not a brick: its height is not
        ``brick_size``.

    Returns
    -------
    BarSeries
        One bar per brick, ``abs(close - open) == brick_size`` (up to float rounding).

    Raises
    ------
    ValueError
        If ``brick_size`` is not a finite number > 0, the ts go backwards, a price is
        not finite or a size is not finite and >= 0.

    Notes
    -----
    - Brick boundaries are the first trade's price plus whole multiples of
      ``brick_size``; every brick opens and closes on two adjacent boundaries, and
      ``high``/``low`` are the brick's top and bottom (no wicks).
    - A brick in the trend's direction is drawn when a price reaches one brick beyond
      the last brick's close; a reversal needs two, and its first brick opens at the
      last brick's open. Before the first brick either direction needs one brick.
    - Prices are compared with ``>=`` / ``<=``: reaching a boundary is enough.
    - A trade that moves price several bricks draws them all, each with that trade's
      ts; the volume traded since the last brick, including that trade, goes on the
      first of them, and the others carry zero volume, so the volume of the bricks
      (and the partial bar) adds up to the volume of the trades.
    """
    height = check_positive_number("renko_bars", "brick_size", brick_size)
    series = as_trades("renko_bars", trades)
    n = len(series)
    count, consumed = 0, 0
    if n:
        # First pass counts the bricks, so the second can write them into exact arrays.
        none = np.empty(0, dtype=np.int64)
        count, consumed = _renko_kernel(
            series.price, series.size, height, False, none, none, none, np.empty(0)
        )
    level = np.empty(count, dtype=np.int64)
    step = np.empty(count, dtype=np.int64)
    row = np.empty(count, dtype=np.int64)
    volume = np.empty(count)
    if count:
        _renko_kernel(series.price, series.size, height, True, level, step, row, volume)
    anchor = float(series.price[0]) if n else 0.0
    open_ = anchor + level * height
    close = anchor + (level + step) * height
    ts = series.ts[row]
    high = np.maximum(open_, close)
    low = np.minimum(open_, close)
    if include_partial and consumed < n:
        rest = series.price[consumed:]
        start = float(close[-1]) if count else anchor
        ts = np.append(ts, series.ts[-1])
        open_ = np.append(open_, start)
        high = np.append(high, max(start, float(rest.max())))
        low = np.append(low, min(start, float(rest.min())))
        close = np.append(close, rest[-1])
        volume = np.append(volume, series.size[consumed:].sum())
    return BarSeries.from_arrays(series.instrument_id, ts, open_, high, low, close, volume)
