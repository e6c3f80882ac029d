"""Triple-barrier labels: take-profit, stop-loss and a time limit, first touch wins."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from quantgrid.ml._labels import (
    Barrier,
    Labels,
    check_horizon,
    check_prices,
    check_side,
    check_ts,
)
from quantgrid.model import BarSeries, FloatArray, IntArray

_TAKE_PROFIT = int(Barrier.TAKE_PROFIT)
_STOP_LOSS = int(Barrier.STOP_LOSS)
_TIME_LIMIT = int(Barrier.TIME_LIMIT)
_PRICES = ("open", "high", "low", "close")


@njit(cache=True)
def _barrier_kernel(
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    side: npt.NDArray[np.int8],
    scale: FloatArray,
    horizon: int,
    take_profit: float,
    stop_loss: float,
) -> tuple[IntArray, FloatArray, npt.NDArray[np.int8]]:  # pragma: no cover - numba
    n = close.shape[0]
    exit_at = np.full(n, -1, dtype=np.int64)
    ret = np.full(n, np.nan)
    barrier = np.zeros(n, dtype=np.int8)
    for i in range(n):
        s = side[i]
        width = scale[i]
        if s == 0 or math.isnan(width):
            continue
        # Barrier widths as log returns; an infinite barrier is never touched (and
        # inf * 0 would be NaN).
        up = math.inf if take_profit == math.inf else take_profit * width
        down = math.inf if stop_loss == math.inf else stop_loss * width
        entry = close[i]
        if s > 0:
            profit_at = entry * math.exp(up)
            stop_at = entry * math.exp(-down)
        else:
            profit_at = entry * math.exp(-up)
            stop_at = entry * math.exp(down)
        last = min(i + horizon, n - 1)
        for j in range(i + 1, last + 1):
            o = open_[j]
            if s > 0:
                stop_open = o <= stop_at
                profit_open = o >= profit_at
                stop_hit = low[j] <= stop_at
                profit_hit = high[j] >= profit_at
            else:
                stop_open = o >= stop_at
                profit_open = o <= profit_at
                stop_hit = high[j] >= stop_at
                profit_hit = low[j] <= profit_at
            # A bar that opens through a barrier fills at its open. Within a bar the
            # order of high and low is unknown: if both barriers are in its range, the
            # stop is assumed to have come first.
            if stop_open:
                barrier[i] = _STOP_LOSS
                ret[i] = s * math.log(o / entry)
            elif profit_open:
                barrier[i] = _TAKE_PROFIT
                ret[i] = s * math.log(o / entry)
            elif stop_hit:
                barrier[i] = _STOP_LOSS
                ret[i] = -down
            elif profit_hit:
                barrier[i] = _TAKE_PROFIT
                ret[i] = up
            else:
                continue
            exit_at[i] = j
            break
        if exit_at[i] < 0 and i + horizon <= n - 1:
            exit_at[i] = i + horizon
            barrier[i] = _TIME_LIMIT
            ret[i] = s * math.log(close[i + horizon] / entry)
    return exit_at, ret, barrier


def _check_barrier(function: str, name: str, value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or value < 0
    ):
        msg = f"{function}: {name} must be a number >= 0 (math.inf for none), got {value!r}"
        raise ValueError(msg)
    return float(value)


def _check_volatility(function: str, volatility: FloatArray | None, n: int) -> FloatArray:
    if volatility is None:
        return np.ones(n)
    vol = np.asarray(volatility, dtype=np.float64)
    if vol.shape != (n,):
        msg = f"{function}: volatility must have one value per bar ({n}), got shape {vol.shape}"
        raise ValueError(msg)
    if np.any(vol < 0.0) or np.any(np.isinf(vol)):
        msg = (
            f"{function}: volatility must be finite and >= 0 "
            f"(NaN marks a bar whose volatility is not known yet)"
        )
        raise ValueError(msg)
    return vol


def triple_barrier_labels(
    bars: BarSeries,
    horizon: int,
    take_profit: float,
    stop_loss: float,
    *,
    volatility: FloatArray | None = None,
    side: npt.ArrayLike | None = None,
) -> Labels:
    """Label each bar by the first of three barriers its trade touches.

    A trade enters at the close of bar ``i`` and exits at the first of: the
    take-profit barrier, the stop-loss barrier, or the close of bar ``i + horizon``.

    Parameters
    ----------
    bars
        The bars; highs and lows detect touches within a bar.
    horizon
        The time limit in bars, at least 1.
    take_profit, stop_loss
        Barrier distances as log returns, >= 0: fractions of the price when
        ``volatility`` is None, else multiples of ``volatility[i]``. ``math.inf``
        removes a barrier.
    volatility
        Per-bar volatility of log returns known at each bar's close, e.g.
        ``realized_volatility(bars.close, 20)``; NaN (warm-up) makes a row invalid.
    side
        Direction of each trade, e.g. from a primary model: 1 long, -1 short (the
        barriers flip: profit below, stop above), 0 no trade (invalid row). Long
        everywhere when None.

    Returns
    -------
    Labels
        ``label`` 1 at the take-profit, -1 at the stop-loss, the sign of ``ret`` at
        the time limit; ``ret`` the trade's log return; ``t1`` the close of the exit
        bar.

    Raises
    ------
    ValueError
        On a horizon below 1, a negative or NaN barrier, a negative or infinite
        volatility, a side other than -1, 0 or 1, mismatched lengths, ts not
        increasing, or prices that are not positive finite numbers.

    Notes
    -----
    Fills: a touch within a bar exits at the barrier (``ret`` is exactly the
    barrier's log return); a bar that opens beyond a barrier exits at its open, as a
    resting order would. When a bar's range spans both barriers and its open is
    between them, the order of the touches is unknown and the stop-loss is taken:
    labels err toward losses, not toward imagined profits. A row whose barriers are
    not touched before the data ends, and whose time limit is past it, is invalid.
    Point in time: row ``i`` uses bars ``i .. i + horizon``, and is known at ``t1``.
    """
    function = "triple_barrier_labels"
    check_horizon(function, horizon)
    tp = _check_barrier(function, "take_profit", take_profit)
    sl = _check_barrier(function, "stop_loss", stop_loss)
    n = len(bars)
    times = check_ts(function, bars.ts, n)
    open_, high, low, close = (
        check_prices(function, name, getattr(bars, name), n) for name in _PRICES
    )
    sides = check_side(function, side, n)
    scale = _check_volatility(function, volatility, n)

    exit_at, ret, barrier = _barrier_kernel(open_, high, low, close, sides, scale, horizon, tp, sl)
    valid = exit_at >= 0
    t1 = np.full(n, times[-1] if n else 0, dtype=np.int64)
    t1[valid] = times[exit_at[valid]]
    label = np.zeros(n, dtype=np.int8)
    label[barrier == Barrier.TAKE_PROFIT] = 1
    label[barrier == Barrier.STOP_LOSS] = -1
    at_time = barrier == Barrier.TIME_LIMIT
    label[at_time] = np.sign(ret[at_time]).astype(np.int8)
    return Labels(times.copy(), t1, ret, label, barrier, sides, valid)
