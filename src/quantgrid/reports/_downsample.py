"""Shrink long series for charts while keeping their extremes."""

from __future__ import annotations

import numpy as np

from quantgrid.model import FloatArray, IntArray

MAX_POINTS = 5_000


def minmax_indices(values: FloatArray, max_points: int = MAX_POINTS) -> IntArray:
    """Return sorted row indices that keep each bucket's minimum and maximum.

    The rows are cut into equal buckets; each contributes its lowest and highest row,
    and the first and last rows are always kept, so peaks, troughs and the ends of a
    curve survive. At most ``max_points`` indices are returned; all of them when the
    series is no longer than that.
    """
    n = len(values)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    buckets = max(1, (max_points - 2) // 2)
    size = -(-n // buckets)
    # Pad with the last value so the rows reshape into equal buckets; padded rows never
    # win a tie against the real last row (argmin/argmax take the first).
    padded = np.empty(buckets * size, dtype=np.float64)
    padded[:n] = values
    padded[n:] = values[-1]
    grid = padded.reshape(buckets, size)
    offsets = np.arange(buckets, dtype=np.int64) * size
    lows = offsets + np.argmin(grid, axis=1)
    highs = offsets + np.argmax(grid, axis=1)
    keep = np.concatenate(([0, n - 1], lows, highs))
    return np.unique(np.minimum(keep, n - 1)).astype(np.int64)


def even_indices(n: int, max_points: int = MAX_POINTS) -> IntArray:
    """Return up to ``max_points`` evenly spaced indices in ``range(n)``, ends included."""
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))
