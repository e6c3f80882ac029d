"""Labels: what happened after each bar, for a model to learn to foresee.

`fixed_horizon_labels` takes the direction and return over a fixed number of bars;
`triple_barrier_labels` follows each trade until it takes its profit, hits its stop or
runs out of time; `meta_labels` tells whether a primary strategy's trade paid, for a
second model that learns when to trust it. Every label records when its outcome became
known (``t1``), which purged cross-validation needs, and no label is made up where the
data ends before the outcome is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from quantgrid.model import BarSeries, FloatArray, IntArray

Int8Array = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]


class Barrier(IntEnum):
    """Which barrier ended a label (the ``barrier`` codes of `Labels`)."""

    NONE = 0  # no outcome: the row is not valid
    TAKE_PROFIT = 1
    STOP_LOSS = 2
    TIME_LIMIT = 3


@dataclass(frozen=True, eq=False)
class Labels:
    """One label per bar: the outcome of a trade entered at that bar's close.

    Attributes
    ----------
    ts
        Decision time: the close of the entry bar, UTC nanoseconds.
    t1
        When the outcome was known: the close of the exit bar (the horizon's end or the
        bar that touched a barrier). On invalid rows, the last bar's ts: the outcome is
        not known by the end of the data.
    ret
        Log return of the trade from entry to exit, in the direction of ``side`` (a
        short gains when the price falls). NaN on invalid rows.
    label
        int8: 1 the trade won, -1 it lost, 0 flat (within the threshold, or a zero
        return at the time limit). With the default long side this is the price's
        direction. `meta_labels` returns 1 (take the trade) or 0 (pass). 0 on invalid
        rows.
    barrier
        int8 `Barrier` code of what ended the trade; `Barrier.NONE` on invalid rows.
    side
        int8 direction each trade was labelled for: 1 long, -1 short, 0 no trade.
    valid
        False where there is no outcome: the data ends first, there is no trade
        (``side == 0``), or the barrier width is unknown (NaN volatility).

    Notes
    -----
    ``ts <= t1`` everywhere. Filter rows with ``valid`` before training.
    """

    ts: IntArray
    t1: IntArray
    ret: FloatArray
    label: Int8Array
    barrier: Int8Array
    side: Int8Array
    valid: BoolArray

    def __post_init__(self) -> None:
        n = self.ts.shape[0]
        expected = {
            "ts": np.int64,
            "t1": np.int64,
            "ret": np.float64,
            "label": np.int8,
            "barrier": np.int8,
            "side": np.int8,
            "valid": np.bool_,
        }
        for name, dtype in expected.items():
            column = getattr(self, name)
            if column.dtype != dtype or column.shape != (n,):
                msg = (
                    f"Labels: {name} must be a {np.dtype(dtype).name} array of {n} rows, "
                    f"got {column.dtype} of shape {column.shape}"
                )
                raise ValueError(msg)

    def __len__(self) -> int:
        return int(self.ts.shape[0])


# -- argument checks ----------------------------------------------------------------------
def check_horizon(function: str, horizon: int) -> None:
    """Raise ValueError unless ``horizon`` is a whole number of bars, at least 1."""
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        msg = f"{function}: horizon must be a whole number of bars >= 1, got {horizon!r}"
        raise ValueError(msg)


def check_ts(function: str, ts: IntArray, n: int) -> IntArray:
    """Return ``ts`` as int64 after checking its length and strict ordering."""
    arr = np.asarray(ts)
    if arr.ndim != 1 or arr.shape[0] != n:
        msg = f"{function}: ts must be one-dimensional with {n} values, got shape {arr.shape}"
        raise ValueError(msg)
    if not np.issubdtype(arr.dtype, np.integer):
        msg = f"{function}: ts must be integer nanoseconds, got {arr.dtype}"
        raise ValueError(msg)
    arr = arr.astype(np.int64, copy=False)
    if n > 1 and not np.all(np.diff(arr) > 0):
        i = int(np.argmax(np.diff(arr) <= 0)) + 1
        msg = f"{function}: ts must be strictly increasing, but ts[{i}] <= ts[{i - 1}]"
        raise ValueError(msg)
    return arr


def check_prices(function: str, name: str, prices: FloatArray, n: int | None = None) -> FloatArray:
    """Return ``prices`` as float64 after checking they are positive finite numbers."""
    arr = np.asarray(prices, dtype=np.float64)
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        want = "" if n is None else f" with {n} values"
        msg = f"{function}: {name} must be one-dimensional{want}, got shape {arr.shape}"
        raise ValueError(msg)
    bad = ~(np.isfinite(arr) & (arr > 0.0))
    if bad.any():
        i = int(np.argmax(bad))
        msg = f"{function}: {name} must be finite and > 0, but {name}[{i}] is {float(arr[i])!r}"
        raise ValueError(msg)
    return arr


def check_side(function: str, side: object, n: int) -> Int8Array:
    """Return the sides as int8, all 1 (long) when None; each must be -1, 0 or 1."""
    if side is None:
        return np.ones(n, dtype=np.int8)
    arr = np.asarray(side)
    if arr.ndim != 1 or arr.shape[0] != n:
        msg = f"{function}: side must be one-dimensional with {n} values, got shape {arr.shape}"
        raise ValueError(msg)
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isin(arr, (-1, 0, 1))):
        msg = f"{function}: side must hold only -1 (short), 0 (no trade) or 1 (long)"
        raise ValueError(msg)
    return arr.astype(np.int8)


def _check_threshold(function: str, threshold: float | FloatArray, n: int) -> FloatArray:
    if isinstance(threshold, bool):
        msg = f"{function}: threshold must be a number or an array of numbers, got {threshold!r}"
        raise ValueError(msg)
    arr = np.asarray(threshold, dtype=np.float64)
    if arr.ndim == 0:
        if not (math.isfinite(float(arr)) and float(arr) >= 0.0):
            msg = f"{function}: threshold must be a finite number >= 0, got {threshold!r}"
            raise ValueError(msg)
        return np.full(n, float(arr))
    if arr.shape != (n,):
        msg = f"{function}: a threshold array must have one value per bar ({n}), got {arr.shape}"
        raise ValueError(msg)
    if np.any(arr < 0.0) or np.any(np.isinf(arr)):
        msg = f"{function}: threshold must be >= 0 and finite (NaN marks an unknown threshold)"
        raise ValueError(msg)
    return arr


def direction(ret: FloatArray, threshold: FloatArray) -> Int8Array:
    """Return 1 where ``ret > threshold``, -1 where ``ret < -threshold``, else 0."""
    label = np.zeros(ret.shape[0], dtype=np.int8)
    label[ret > threshold] = 1
    label[ret < -threshold] = -1
    return label


# -- fixed horizon ------------------------------------------------------------------------
def fixed_horizon_labels(
    prices: BarSeries | FloatArray,
    horizon: int,
    threshold: float | FloatArray = 0.0,
    *,
    ts: IntArray | None = None,
    side: npt.ArrayLike | None = None,
) -> Labels:
    """Label each bar with the direction and log return of the next ``horizon`` bars.

    Parameters
    ----------
    prices
        The bars, or their closes (then ``ts`` is required).
    horizon
        Bars to hold, at least 1: entry at the close of bar ``i``, exit at the close
        of bar ``i + horizon``.
    threshold
        A return no larger than this in size labels 0 (flat): a number >= 0, or one
        per bar (e.g. a multiple of the volatility known at the bar; NaN makes that
        row invalid).
    ts
        Bar close times, int64 nanoseconds, strictly increasing; only with closes.
    side
        Direction of each trade, -1, 0 or 1; long everywhere when None.

    Returns
    -------
    Labels
        ``ret[i] = side[i] * log(close[i + horizon] / close[i])``, ``t1[i] =
        ts[i + horizon]`` and ``barrier`` `Barrier.TIME_LIMIT`. The last ``horizon``
        rows are invalid: their exit is past the data.

    Raises
    ------
    ValueError
        On a horizon below 1, a negative threshold, prices that are not positive and
        finite, ts that are missing, mismatched or not increasing, or a side other
        than -1, 0 or 1.
    """
    function = "fixed_horizon_labels"
    check_horizon(function, horizon)
    if isinstance(prices, BarSeries):
        if ts is not None:
            msg = f"{function}: pass ts only with an array of closes; bars carry their own"
            raise ValueError(msg)
        close = check_prices(function, "close", prices.close)
        times = check_ts(function, prices.ts, close.shape[0])
    else:
        if ts is None:
            msg = f"{function}: ts is required with an array of closes"
            raise ValueError(msg)
        close = check_prices(function, "close", prices)
        times = check_ts(function, ts, close.shape[0])
    n = close.shape[0]
    sides = check_side(function, side, n)
    limits = _check_threshold(function, threshold, n)

    ret = np.full(n, np.nan)
    t1 = np.full(n, times[-1] if n else 0, dtype=np.int64)
    if n > horizon:
        ret[:-horizon] = sides[:-horizon] * np.log(close[horizon:] / close[:-horizon])
        t1[:-horizon] = times[horizon:]
    valid = (np.arange(n) < n - horizon) & (sides != 0) & ~np.isnan(limits)
    ret[~valid] = np.nan
    t1[~valid] = times[-1] if n else 0
    label = np.where(valid, direction(ret, limits), 0).astype(np.int8)
    barrier = np.where(valid, Barrier.TIME_LIMIT, Barrier.NONE).astype(np.int8)
    return Labels(times.copy(), t1, ret, label, barrier, sides, valid)


# -- meta-labels --------------------------------------------------------------------------
def meta_labels(side: npt.ArrayLike, labels: Labels) -> Labels:
    """Label whether each trade of a primary strategy paid: 1 take it, 0 pass.

    Parameters
    ----------
    side
        The primary strategy's direction at each bar: 1 long, -1 short, 0 no trade.
    labels
        The outcome of those very trades: labels computed with ``side=side``
        (`triple_barrier_labels` or `fixed_horizon_labels`).

    Returns
    -------
    Labels
        ``label`` is 1 where the trade won (its label is 1: it took its profit, or
        ended with a return above the threshold) and 0 otherwise; invalid where
        ``side`` is 0 or the outcome is unknown. The other columns are ``labels``'s.

    Raises
    ------
    ValueError
        If ``side`` is not -1, 0 or 1 at every bar, has another length than
        ``labels``, or differs from the side ``labels`` were computed for at a bar
        with a trade: barriers sit on different sides for a long and a short, so an
        outcome cannot be flipped.
    """
    function = "meta_labels"
    sides = check_side(function, side, len(labels))
    mismatched = (sides != 0) & (labels.side != sides)
    if mismatched.any():
        i = int(np.argmax(mismatched))
        msg = (
            f"{function}: labels were computed for another side at {int(mismatched.sum())} "
            f"bars (first at ts={int(labels.ts[i])}: side {int(sides[i])}, labels for "
            f"{int(labels.side[i])}); compute them with side=side"
        )
        raise ValueError(msg)
    valid = labels.valid & (sides != 0)
    label = (valid & (labels.label == 1)).astype(np.int8)
    end = labels.ts[-1] if len(labels) else 0
    return Labels(
        labels.ts,
        np.where(valid, labels.t1, end).astype(np.int64),
        np.where(valid, labels.ret, np.nan),
        label,
        np.where(valid, labels.barrier, Barrier.NONE).astype(np.int8),
        sides,
        valid,
    )
