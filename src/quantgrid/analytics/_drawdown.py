"""Drawdowns of an equity curve and its drawdown episodes."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from quantgrid.model import FloatArray, IntArray


class DrawdownEpisodes(NamedTuple):
    """The drawdown episodes of a curve, one element per episode, in time order.

    ``peak`` is the row of the high the episode falls from, ``end`` the row where
    equity first regains it (or the last row if it never does), ``trough`` the deepest
    drawdown in between (a fraction <= 0).
    """

    peak: IntArray
    end: IntArray
    trough: FloatArray


def drawdown(equity: FloatArray) -> FloatArray:
    """Return the drawdown of each row from the running peak, as a fraction <= 0.

    Parameters
    ----------
    equity
        Marked equity per row; the first row must be positive.

    Returns
    -------
    FloatArray
        ``equity / running_max(equity) - 1``, so ``-0.25`` is 25% below the peak.
    """
    equity = np.asarray(equity, dtype=np.float64)
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = equity / peak - 1.0
    # Rows at the peak are exactly 0 (never -0.0), so "at a peak" is an equality test.
    out[equity == peak] = 0.0
    return out


def drawdown_episodes(dd: FloatArray) -> DrawdownEpisodes:
    """Split a drawdown series into episodes: maximal runs of rows below the peak."""
    below = dd < 0
    n = len(dd)
    if n == 0 or not bool(below.any()):
        empty = np.empty(0, dtype=np.int64)
        return DrawdownEpisodes(empty, empty.copy(), np.empty(0, dtype=np.float64))
    edges = np.diff(below.astype(np.int8))
    starts = np.flatnonzero(edges == 1) + 1
    if below[0]:
        starts = np.insert(starts, 0, 0)
    stops = np.flatnonzero(edges == -1) + 1  # first row back at a peak
    if len(stops) < len(starts):
        stops = np.append(stops, n - 1)  # unrecovered: the episode runs to the last row
    # Each reduceat segment spans one episode plus the peak rows before the next one;
    # those rows are 0, so the segment's minimum is the episode's trough.
    trough = np.minimum.reduceat(dd, starts)
    peak = np.maximum(starts - 1, 0)
    return DrawdownEpisodes(peak.astype(np.int64), stops.astype(np.int64), trough)
