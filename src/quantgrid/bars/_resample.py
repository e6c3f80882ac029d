"""Time bars from finer time bars."""

from __future__ import annotations

from typing import Literal

import numpy as np

from quantgrid.bars._checks import (
    check_finite,
    check_non_negative,
    check_ordered,
    check_whole_number,
)
from quantgrid.core import NANOS_PER_SECOND
from quantgrid.model import BarSeries

_INT64_MAX = np.iinfo(np.int64).max


def resample(
    bars: BarSeries,
    seconds: int,
    *,
    origin_ns: int = 0,
    label: Literal["close"] = "close",
) -> BarSeries:
    """Aggregate time bars into bars of ``seconds``.

    Parameters
    ----------
    bars
        Time bars of one instrument, ``ts`` being each bar's close time.
    seconds
        The length of an output bar in seconds, a whole number >= 1.
    origin_ns
        A bucket boundary (UTC nanoseconds); boundaries are ``origin_ns + k * seconds``.
        The default, the epoch, aligns minutes, hours and UTC days.
    label
        Only ``"close"``: an output ts is its bucket's end, since a ``BarSeries`` ts is
        a close time.

    Returns
    -------
    BarSeries
        One bar per bucket holding at least one input bar: open = first open, high =
        max high, low = min low, close = last close, volume = sum of volumes.

    Raises
    ------
    ValueError
        If ``seconds`` is not a whole number >= 1 (or overflows nanoseconds),
        ``origin_ns`` is not a whole number, ``label`` is not ``"close"``, the ts go
        backwards, a price is not finite or a volume is not finite and >= 0.

    Notes
    -----
    - Buckets are right-closed and right-labelled, as pandas
      ``resample(closed="right", label="right")``: bucket ``(end - seconds, end]``
      holds the input bars whose close time is after its start and at or before its
      end, and is labelled ``end``. An input bar whose ts is exactly on a boundary
      closed there, so it belongs to the bucket that ends there, not the one that
      starts there.
    - Empty buckets (gaps, nights, weekends) produce no bar.
    - The last bucket is emitted even if the input ends before the bucket does (pandas
      does the same); its ts is still the bucket's end.
    - An input bar is never split: it goes whole to the bucket holding its close time.
      A target finer than the input spacing therefore returns the input bars
      one-to-one (several input bars only if they share a bucket), each relabelled to
      the end of its bucket; a spacing that does not divide ``seconds`` puts a bar
      that straddles a boundary in the bucket where it closed.
    """
    length = check_whole_number("resample", "seconds", seconds)
    origin = check_whole_number("resample", "origin_ns", origin_ns, minimum=-_INT64_MAX)
    if label != "close":
        msg = (
            f"resample: label must be 'close' (a BarSeries ts is the bar's close time), "
            f"got {label!r}"
        )
        raise ValueError(msg)
    if length > _INT64_MAX // NANOS_PER_SECOND:
        msg = f"resample: seconds must fit int64 nanoseconds, got {seconds!r}"
        raise ValueError(msg)
    step = length * NANOS_PER_SECOND
    check_ordered("resample", "bars.ts", bars.ts)
    for name in ("open", "high", "low", "close"):
        check_finite("resample", f"bars.{name}", getattr(bars, name))
    check_non_negative("resample", "bars.volume", bars.volume)

    # Bucket end = the first boundary at or after ts: origin + ceil((ts - origin) / step).
    # Computed as origin - floor((origin - ts) / step) * step, all int64 (floor division
    # rounds towards minus infinity, so this holds on both sides of the origin).
    end = origin - ((origin - bars.ts) // step) * step
    if end.size == 0:
        return bars.slice(0, 0)
    starts = np.flatnonzero(np.concatenate(([True], end[1:] != end[:-1])))
    last = np.concatenate((starts[1:], [end.size])) - 1
    return BarSeries.from_arrays(
        bars.instrument_id,
        end[starts],
        bars.open[starts],
        np.maximum.reduceat(bars.high, starts),
        np.minimum.reduceat(bars.low, starts),
        bars.close[last],
        np.add.reduceat(bars.volume, starts),
    )
