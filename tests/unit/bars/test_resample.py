"""``resample`` against pandas ``resample(closed="right", label="right")``, and its errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantgrid.bars import resample
from quantgrid.model import BarSeries

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
START = 1_704_067_200 * SECOND  # 2024-01-01T00:00:00Z


def _random_bars(ts: np.ndarray, seed: int) -> BarSeries:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, ts.size)))
    open_ = close * np.exp(rng.normal(0.0, 0.001, ts.size))
    high = np.maximum(open_, close) + rng.uniform(0.0, 0.2, ts.size)
    low = np.minimum(open_, close) - rng.uniform(0.0, 0.2, ts.size)
    volume = rng.uniform(0.0, 1_000.0, ts.size)
    return BarSeries.from_arrays("X", ts, open_, high, low, close, volume)


def _minute_bars_with_gaps(n: int, seed: int) -> BarSeries:
    """One-minute bars on the minute grid (so many sit exactly on coarser boundaries),
    with a fifth of them and a whole two-hour block missing."""
    rng = np.random.default_rng(seed)
    ts = START + MINUTE * np.arange(1, n + 1, dtype=np.int64)
    keep = rng.random(n) > 0.2
    keep[n // 3 : n // 3 + 120] = False
    return _random_bars(ts[keep], seed)


def _irregular_bars(n: int, seed: int) -> BarSeries:
    """Bars at irregular whole-second times, some sharing a ts."""
    rng = np.random.default_rng(seed)
    ts = START + SECOND * np.cumsum(rng.integers(0, 97, n)).astype(np.int64)
    return _random_bars(ts, seed)


def _pandas(bars: BarSeries, seconds: int, origin_ns: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        },
        index=pd.to_datetime(bars.ts, unit="ns"),
    )
    resampled = frame.resample(
        f"{seconds}s", closed="right", label="right", origin=pd.Timestamp(origin_ns)
    ).agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    return resampled.dropna(subset=["open"])  # pandas keeps empty buckets as NaN rows


def _assert_matches_pandas(bars: BarSeries, seconds: int, origin_ns: int = 0) -> None:
    ours = resample(bars, seconds, origin_ns=origin_ns)
    theirs = _pandas(bars, seconds, origin_ns)
    np.testing.assert_array_equal(ours.ts, theirs.index.asi8)
    for name in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(ours, name), theirs[name].to_numpy(), name)
    # pandas sums with compensated summation, so the last bits may differ.
    np.testing.assert_allclose(ours.volume, theirs["volume"].to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("seconds", [120, 300, 900, 3_600, 14_400, 86_400, 7 * 86_400, 420])
def test_minute_bars_with_gaps_match_pandas(seconds: int) -> None:
    _assert_matches_pandas(_minute_bars_with_gaps(20_000, seed=seconds), seconds)


@pytest.mark.parametrize("seconds", [1, 13, 60, 300, 3_600])
def test_irregular_bars_match_pandas(seconds: int) -> None:
    _assert_matches_pandas(_irregular_bars(5_000, seed=seconds), seconds)


@pytest.mark.parametrize("origin_ns", [START + 30 * SECOND, START - 7 * MINUTE - 1, -MINUTE])
def test_origin_moves_the_boundaries_as_in_pandas(origin_ns: int) -> None:
    _assert_matches_pandas(_minute_bars_with_gaps(3_000, seed=7), 900, origin_ns)


def test_bar_on_a_boundary_belongs_to_the_bucket_that_ends_there() -> None:
    # Five-minute buckets ending at :05 and :10; bars close at :05 (on the boundary),
    # :06 and :10 (on the next boundary) and :10:01.
    ts = START + np.array([5 * MINUTE, 6 * MINUTE, 10 * MINUTE, 10 * MINUTE + SECOND])
    bars = BarSeries.from_arrays(
        "X", ts, [1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 4.5], [0.5, 1.5, 2.5, 3.5],
        [1.1, 2.1, 3.1, 4.1], [10.0, 20.0, 30.0, 40.0],
    )  # fmt: skip
    out = resample(bars, 300)
    np.testing.assert_array_equal(out.ts, START + np.array([5, 10, 15]) * MINUTE)
    np.testing.assert_array_equal(out.open, [1.0, 2.0, 4.0])
    np.testing.assert_array_equal(out.high, [1.5, 3.5, 4.5])
    np.testing.assert_array_equal(out.low, [0.5, 1.5, 3.5])
    np.testing.assert_array_equal(out.close, [1.1, 3.1, 4.1])
    np.testing.assert_array_equal(out.volume, [10.0, 50.0, 40.0])
    _assert_matches_pandas(bars, 300)


def test_target_finer_than_the_input_relabels_each_bar_to_its_bucket_end() -> None:
    bars = _irregular_bars(50, seed=3)
    unique = np.concatenate(([True], bars.ts[1:] != bars.ts[:-1]))
    bars = BarSeries.from_arrays(
        "X", bars.ts[unique] + 1, bars.open[unique], bars.high[unique],
        bars.low[unique], bars.close[unique], bars.volume[unique],
    )  # fmt: skip
    out = resample(bars, 1)  # input ts are whole seconds + 1 ns, all distinct
    np.testing.assert_array_equal(out.ts, bars.ts - 1 + SECOND)
    np.testing.assert_array_equal(out.close, bars.close)
    np.testing.assert_array_equal(out.volume, bars.volume)


def test_empty_input_gives_empty_output() -> None:
    out = resample(_irregular_bars(0, seed=1), 60)
    assert len(out) == 0
    assert out.instrument_id == "X"


@pytest.mark.parametrize("seconds", [0, -60, 1.5, True, "60", None, 10**11])
def test_refuses_bad_seconds(seconds: object) -> None:
    with pytest.raises(ValueError, match="resample: seconds must"):
        resample(_irregular_bars(5, seed=1), seconds)  # type: ignore[arg-type]


def test_accepts_numpy_integer_seconds() -> None:
    bars = _irregular_bars(100, seed=1)
    np.testing.assert_array_equal(resample(bars, np.int64(60)).ts, resample(bars, 60).ts)


def test_refuses_a_float_origin_and_an_open_label() -> None:
    bars = _irregular_bars(5, seed=1)
    with pytest.raises(ValueError, match="resample: origin_ns must be a whole number"):
        resample(bars, 60, origin_ns=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="resample: label must be 'close'"):
        resample(bars, 60, label="open")  # type: ignore[arg-type]


def test_refuses_unordered_or_non_finite_bars() -> None:
    bars = _irregular_bars(5, seed=1)
    backwards = BarSeries.from_arrays(
        "X", bars.ts[::-1], bars.open, bars.high, bars.low, bars.close, bars.volume
    )
    with pytest.raises(ValueError, match=r"resample: bars.ts must be non-decreasing.*row 1"):
        resample(backwards, 60)
    high = bars.high.copy()
    high[2] = np.nan
    with pytest.raises(ValueError, match=r"resample: bars.high must be finite.*row 2"):
        resample(BarSeries.from_arrays("X", bars.ts, bars.open, high, bars.low, bars.close), 60)
    volume = bars.volume.copy()
    volume[4] = -1.0
    bad = BarSeries.from_arrays("X", bars.ts, bars.open, bars.high, bars.low, bars.close, volume)
    with pytest.raises(ValueError, match=r"resample: bars.volume must be >= 0.*row 4"):
        resample(bad, 60)


@given(
    st.lists(st.integers(0, 400), min_size=1, max_size=80),
    st.sampled_from([1, 5, 60, 90, 300]),
    st.integers(-1_000, 1_000),
)
def test_random_bars_match_pandas(steps: list[int], seconds: int, origin_s: int) -> None:
    ts = START + SECOND * np.cumsum(np.asarray(steps, dtype=np.int64))
    _assert_matches_pandas(_random_bars(ts, seed=len(steps)), seconds, START + origin_s * SECOND)
