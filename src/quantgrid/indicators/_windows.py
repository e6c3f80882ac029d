"""Rolling-window building blocks: extremes (monotonic deque) and moments (shifted sums).

Each block comes twice, as a numba kernel over a whole array and as a streaming class,
and both forms perform the same float operations in the same order, so an indicator
built from them agrees bit for bit between its vectorised and streaming forms.

Indicators combine these kernels from Python, array by array, and never call a kernel
of another module from inside their own: numba's on-disk cache only notices edits to a
kernel's own file, so a cross-module call would keep running the old code after an edit.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numba import njit

from quantgrid.model import FloatArray


# -- rolling extremes ---------------------------------------------------------------------
@njit(cache=True)
def _ring_size(period: int) -> int:  # pragma: no cover - numba
    # A power of two above period: a full window plus the newcomer fits, and masking
    # replaces the modulo.
    size = 1
    while size <= period:
        size *= 2
    return size


@njit(cache=True)
def rolling_max(x: FloatArray, period: int) -> FloatArray:  # pragma: no cover - numba
    """Return the maximum of each ``period``-bar window (NaN for the first ``period - 1``)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    # Indices whose values decrease from front to back: a monotonic deque in a ring.
    # ``front`` and ``back`` only grow; ``& mask`` turns them into slots.
    mask = _ring_size(period) - 1
    queue = np.empty(mask + 1, dtype=np.int64)
    front = 0
    back = 0
    for i in range(n):
        value = x[i]
        while back > front and x[queue[(back - 1) & mask]] <= value:
            back -= 1
        queue[back & mask] = i
        back += 1
        if queue[front & mask] <= i - period:
            front += 1
        if i >= period - 1:
            out[i] = x[queue[front & mask]]
    return out


@njit(cache=True)
def rolling_min(x: FloatArray, period: int) -> FloatArray:  # pragma: no cover - numba
    """Return the minimum of each ``period``-bar window (NaN for the first ``period - 1``)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    mask = _ring_size(period) - 1
    queue = np.empty(mask + 1, dtype=np.int64)
    front = 0
    back = 0
    for i in range(n):
        value = x[i]
        while back > front and x[queue[(back - 1) & mask]] >= value:
            back -= 1
        queue[back & mask] = i
        back += 1
        if queue[front & mask] <= i - period:
            front += 1
        if i >= period - 1:
            out[i] = x[queue[front & mask]]
    return out


class RollingMax:
    """Streaming maximum of the last ``period`` values: amortised O(1) per update."""

    __slots__ = ("_count", "_deque", "period")

    def __init__(self, period: int) -> None:
        self.period = period
        self._count = 0
        self._deque: deque[tuple[int, float]] = deque()

    def update(self, x: float) -> float:
        """Add one value and return the maximum of the window that ends with it."""
        i = self._count
        self._count = i + 1
        window = self._deque
        if window and window[0][0] <= i - self.period:
            window.popleft()
        while window and window[-1][1] <= x:
            window.pop()
        window.append((i, x))
        return window[0][1]


class RollingMin(RollingMax):
    """Streaming minimum of the last ``period`` values: amortised O(1) per update.

    The maximum of the negated values: negation is exact and reverses the order, so
    the result is the window's minimum bit for bit.
    """

    __slots__ = ()

    def update(self, x: float) -> float:
        """Add one value and return the minimum of the window that ends with it."""
        return -super().update(-x)


# -- rolling mean and sum of squared deviations ------------------------------------------
# The running sums below are rebuilt from the window (fresh sums, so rounding cannot pile
# up) every REBUILD_EVERY * period bars, and at once when they can no longer be trusted:
# when the value leaving outweighs what stays by STALE_RATIO, its rounding residue
# would swamp the small values left behind. TA-Lib re-anchors its VAR and WMA sums the
# same way. Rebuilds cost O(period), so updates are amortised O(1) on market data.
REBUILD_EVERY = 8
STALE_RATIO = 1e6


@njit(cache=True)
def rolling_moments(
    x: FloatArray, period: int
) -> tuple[FloatArray, FloatArray]:  # pragma: no cover - numba
    """Return each window's newest value minus its mean, and its sum of squared deviations.

    Running sums of deviations from a shift near the window's mean stay at the scale of
    the deviations, so no large sum of squares cancels against a squared mean. The
    sums are rebuilt around the window's mean (two passes) on the first full window,
    every ``REBUILD_EVERY * period`` bars, when the value leaving outweighs the rest and
    when the shift has drifted so far that ``m2`` would lose six digits. A window of
    identical values gives exactly that value and 0. NaN for the first ``period - 1``
    bars.
    """
    n = x.shape[0]
    dev_out = np.full(n, np.nan)
    m2_out = np.full(n, np.nan)
    shift = x[0] if n > 0 else 0.0
    total = 0.0  # sum of (x - shift) over the window
    total2 = 0.0  # sum of (x - shift) ** 2 over the window
    run = 0  # how many values in a row equal their predecessor
    to_rebuild = 1
    for i in range(n):
        xi = x[i]
        run = run + 1 if i > 0 and xi == x[i - 1] else 0
        dev = xi - shift
        total = total + dev
        total2 = total2 + dev * dev
        gone = 0.0
        if i >= period:
            dev = x[i - period] - shift
            gone = dev * dev
            total = total - dev
            total2 = total2 - gone
        if i < period - 1:
            continue
        to_rebuild -= 1
        m2 = total2 - total * (total / period)
        if run >= period - 1:
            shift = xi
            total = 0.0
            total2 = 0.0
            m2 = 0.0
        elif to_rebuild <= 0 or m2 < 1e-6 * total2 or gone > STALE_RATIO * total2:
            to_rebuild = REBUILD_EVERY * period
            start = i - period + 1
            window_sum = 0.0
            for j in range(start, i + 1):
                window_sum = window_sum + x[j]
            shift = window_sum / period
            total = 0.0
            total2 = 0.0
            for j in range(start, i + 1):
                dev = x[j] - shift
                total = total + dev
                total2 = total2 + dev * dev
            m2 = total2 - total * (total / period)
        # (x - shift) is exact or nearly so, as the shift sits near x: more accurate
        # than x - mean with the mean rounded to the price's precision.
        dev_out[i] = (xi - shift) - total / period
        # Rounding can leave a hair below zero; NaN input stays NaN.
        m2_out[i] = 0.0 if m2 < 0.0 else m2
    return dev_out, m2_out


class RollingMoments:
    """Streaming form of `rolling_moments`: amortised O(1) per update with a ring buffer.

    After each update, ``deviation`` holds the newest value minus the window's mean and
    ``m2`` the window's sum of squared deviations (meaningful once ``ready``).
    """

    __slots__ = (
        "_buffer",
        "_count",
        "_head",
        "_prev",
        "_run",
        "_shift",
        "_to_rebuild",
        "_total",
        "_total2",
        "deviation",
        "m2",
        "period",
    )

    def __init__(self, period: int) -> None:
        self.period = period
        self._buffer = [0.0] * period
        self._head = 0
        self._count = 0
        self._prev = 0.0
        self._run = 0
        self._shift = 0.0
        self._total = 0.0
        self._total2 = 0.0
        self._to_rebuild = 1
        self.deviation = 0.0
        self.m2 = 0.0

    @property
    def ready(self) -> bool:
        """Tell whether a full window has been seen."""
        return self._count >= self.period

    def update(self, x: float) -> None:
        """Add one value; the oldest leaves once the window is full."""
        i = self._count
        self._count = i + 1
        period = self.period
        if i == 0:
            self._shift = x
        self._run = self._run + 1 if i > 0 and x == self._prev else 0
        self._prev = x
        shift = self._shift
        dev = x - shift
        total = self._total + dev
        total2 = self._total2 + dev * dev
        gone = 0.0
        buffer = self._buffer
        head = self._head
        if i >= period:
            dev = buffer[head] - shift
            gone = dev * dev
            total = total - dev
            total2 = total2 - gone
        buffer[head] = x
        head += 1
        head = 0 if head == period else head
        self._head = head
        if i < period - 1:
            self._total = total
            self._total2 = total2
            return
        self._to_rebuild -= 1
        m2 = total2 - total * (total / period)
        if self._run >= period - 1:
            shift = x
            total = 0.0
            total2 = 0.0
            m2 = 0.0
        elif self._to_rebuild <= 0 or m2 < 1e-6 * total2 or gone > STALE_RATIO * total2:
            self._to_rebuild = REBUILD_EVERY * period
            # The ring is full and ``head`` points at the oldest value of the window.
            window_sum = 0.0
            for k in range(period):
                window_sum = window_sum + buffer[(head + k) % period]
            shift = window_sum / period
            total = 0.0
            total2 = 0.0
            for k in range(period):
                dev = buffer[(head + k) % period] - shift
                total = total + dev
                total2 = total2 + dev * dev
            m2 = total2 - total * (total / period)
        self._shift = shift
        self._total = total
        self._total2 = total2
        self.deviation = (x - shift) - total / period
        self.m2 = 0.0 if m2 < 0.0 else m2
