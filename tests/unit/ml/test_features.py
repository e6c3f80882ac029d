"""Features: values against independent references, stream equal to vector, no leakage.

The leakage tests are the point-in-time guarantee of issue 6: replacing every bar after
a cut with other data (shuffled, shifted, a different walk, a jump in level) changes no
feature value at or before the cut, and computing on the bars up to the cut gives the
same rows as computing on the whole history.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import talib
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.ml import (
    AverageDirectionalIndex,
    BollingerPercentB,
    Choppiness,
    CloseZScore,
    EMADistance,
    Feature,
    FeatureFrame,
    FeatureLookupError,
    FeatureSet,
    FeatureState,
    LogReturn,
    MACDHistogram,
    NormalizedATR,
    RealizedVol,
    RelativeStrengthIndex,
    VolatilityRatio,
    VolumeZScore,
    default_feature_set,
)
from quantgrid.model import Bar, BarSeries, FloatArray
from tests.conftest import make_bars, random_walk

CATALOGUE: list[Feature] = [
    LogReturn(1),
    LogReturn(7),
    RelativeStrengthIndex(14),
    RelativeStrengthIndex(2),
    RealizedVol(20),
    RealizedVol(2),
    VolatilityRatio(10, 50),
    VolatilityRatio(2, 3),
    CloseZScore(20),
    CloseZScore(2),
    VolumeZScore(20),
    VolumeZScore(3),
    AverageDirectionalIndex(14),
    AverageDirectionalIndex(2),
    Choppiness(14),
    Choppiness(2),
    MACDHistogram(12, 26, 9),
    MACDHistogram(3, 7, 1),
    NormalizedATR(14),
    NormalizedATR(1),
    BollingerPercentB(20, 2.0),
    BollingerPercentB(2, 0.5),
    EMADistance(50, 20),
    EMADistance(1, 2),
]
EVERY_FEATURE = FeatureSet("every", CATALOGUE)


def synthetic(bars: int = 3_000, seed: int = 7, instrument: str = "SYN") -> BarSeries:
    config = SyntheticConfig(instruments=(instrument,), bars=bars)
    return generate_market(config, seed=seed).bars[instrument]


@pytest.fixture(scope="module")
def minutes() -> BarSeries:
    """Return synthetic one-minute bars: trends, ranges, chop, crises and flat stretches."""
    return synthetic()


@pytest.fixture(scope="module")
def goog() -> BarSeries:
    """Return backtesting.py's real daily GOOG bars, 2004-2013."""
    from backtesting.test import GOOG

    ts = GOOG.index.to_numpy().astype("datetime64[ns]").astype(np.int64)
    return BarSeries.from_arrays(
        "GOOG",
        ts,
        GOOG["Open"].to_numpy(),
        GOOG["High"].to_numpy(),
        GOOG["Low"].to_numpy(),
        GOOG["Close"].to_numpy(),
        GOOG["Volume"].to_numpy(),
    )


def stream_all(feature_set: FeatureSet, bars: BarSeries) -> FloatArray:
    stream = feature_set.online()
    return np.array([stream.update(bars.bar(i)) for i in range(len(bars))]).reshape(
        len(bars), len(feature_set.features)
    )


def windows(x: FloatArray, period: int) -> FloatArray:
    return np.lib.stride_tricks.sliding_window_view(x, period)


def nan_head(values: FloatArray, warmup: int) -> FloatArray:
    return np.concatenate([np.full(warmup, np.nan), values])


# -- stream == vector ---------------------------------------------------------------------
@pytest.mark.parametrize("feature", CATALOGUE, ids=[f.name for f in CATALOGUE])
def test_the_stream_gives_the_vector_values_bit_for_bit(
    feature: Feature, minutes: BarSeries, goog: BarSeries
) -> None:
    one = FeatureSet("one", [feature])
    for bars in (minutes, goog):
        assert np.array_equal(stream_all(one, bars)[:, 0], feature.compute(bars), equal_nan=True), (
            bars.instrument_id
        )


def test_a_feature_set_stream_gives_its_frame_rows_bit_for_bit(minutes: BarSeries) -> None:
    feature_set = default_feature_set()
    frame = feature_set.compute(minutes)

    assert np.array_equal(stream_all(feature_set, minutes), frame.values, equal_nan=True)


@st.composite
def flat_prone_bars(draw: st.DrawFn) -> BarSeries:
    """Draw bars in runs of equal moves and volumes: flat windows, zero ranges, idle bars."""
    run = st.tuples(
        st.integers(1, 25),
        st.one_of(st.just(0.0), st.floats(-0.05, 0.05, allow_subnormal=False)),
        st.one_of(st.just(0.0), st.floats(0.0, 1e5, allow_subnormal=False)),
    )
    runs = draw(st.lists(run, min_size=1, max_size=10))
    moves = [move for length, move, _ in runs for _ in range(length)]
    volume = [size for length, _, size in runs for _ in range(length)]
    level = draw(st.sampled_from([0.0001, 1.0, 30_000.0]))
    close = level * np.maximum(np.round(100.0 * np.exp(np.cumsum(moves))), 1.0) / 100.0
    open_ = np.concatenate([close[:1], close[:-1]])
    wick = draw(st.sampled_from([0.0, 0.002]))
    high = np.maximum(open_, close) * (1.0 + wick)
    low = np.minimum(open_, close) * (1.0 - wick)
    ts = np.arange(len(close), dtype=np.int64) * 60_000_000_000
    return BarSeries.from_arrays("GEN", ts, open_, high, low, close, volume)


@settings(max_examples=30, deadline=None)
@given(bars=flat_prone_bars())
def test_the_stream_equals_the_vector_on_flat_and_idle_stretches(bars: BarSeries) -> None:
    expected = EVERY_FEATURE.compute(bars).values

    assert np.array_equal(stream_all(EVERY_FEATURE, bars), expected, equal_nan=True)


# -- warm-ups -----------------------------------------------------------------------------
@pytest.mark.parametrize("feature", CATALOGUE, ids=[f.name for f in CATALOGUE])
def test_the_warmup_is_the_number_of_nan_bars_before_the_first_value(
    feature: Feature, goog: BarSeries
) -> None:
    values = feature.compute(goog)

    assert np.isnan(values[: feature.warmup]).all()
    assert np.isfinite(values[feature.warmup])


def test_a_stream_is_ready_after_the_longest_warmup(minutes: BarSeries) -> None:
    feature_set = default_feature_set()
    stream = feature_set.online()
    assert feature_set.warmup == 50
    assert stream.last_ts is None

    ready = []
    for i in range(60):
        row = stream.update(minutes.bar(i))
        ready.append(stream.ready)
        assert stream.ready == bool(np.isfinite(row).all())

    assert ready.index(True) == feature_set.warmup
    assert stream.last_ts == int(minutes.ts[59])


# -- values against independent references ------------------------------------------------
@pytest.fixture(scope="module")
def history() -> BarSeries:
    return synthetic(bars=400, seed=3)


def test_log_return_by_hand() -> None:
    bars = make_bars([100.0, 110.0, 121.0, 60.5])

    by_hand = {
        1: [np.nan, math.log(1.1), math.log(1.1), math.log(0.5)],
        2: [np.nan, np.nan, math.log(1.21), math.log(0.55)],
    }
    for lag, expected in by_hand.items():
        got = LogReturn(lag).compute(bars)
        assert np.allclose(got, expected, equal_nan=True, rtol=0, atol=1e-15)


def test_talib_features_equal_talib(history: BarSeries) -> None:
    h, lo, c = history.high, history.low, history.close

    assert np.allclose(
        RelativeStrengthIndex(14).compute(history), talib.RSI(c, 14), equal_nan=True, rtol=1e-12
    )
    assert np.allclose(
        AverageDirectionalIndex(14).compute(history),
        talib.ADX(h, lo, c, 14),
        equal_nan=True,
        rtol=1e-12,
    )
    assert np.allclose(
        NormalizedATR(14).compute(history),
        talib.NATR(h, lo, c, 14) / 100.0,
        equal_nan=True,
        rtol=1e-12,
    )
    _, _, hist = talib.MACD(c, 12, 26, 9)
    assert np.allclose(
        MACDHistogram(12, 26, 9).compute(history), hist / c, equal_nan=True, rtol=1e-9, atol=1e-15
    )


def test_rolling_features_equal_window_by_window_references(history: BarSeries) -> None:
    c, v = history.close, history.volume
    r = np.log(c[1:] / c[:-1])

    def z(x: FloatArray, p: int) -> FloatArray:
        w = windows(x, p)
        sd = w.std(axis=1)
        return nan_head(np.where(sd == 0, 0.0, (x[p - 1 :] - w.mean(axis=1)) / sd), p - 1)

    vol20 = nan_head(windows(r, 20).std(axis=1, ddof=1), 20)
    vol10 = nan_head(windows(r, 10).std(axis=1, ddof=1), 10)
    vol50 = nan_head(windows(r, 50).std(axis=1, ddof=1), 50)
    w = windows(c, 20)
    lower = w.mean(axis=1) - 1.5 * w.std(axis=1)
    upper = w.mean(axis=1) + 1.5 * w.std(axis=1)
    percent_b = nan_head((c[19:] - lower) / (upper - lower), 19)
    distance = (c / talib.EMA(c, 30) - 1.0) / vol20

    tolerance = {"equal_nan": True, "rtol": 1e-9, "atol": 1e-12}
    assert np.allclose(RealizedVol(20).compute(history), vol20, **tolerance)
    assert np.allclose(VolatilityRatio(10, 50).compute(history), vol10 / vol50, **tolerance)
    assert np.allclose(CloseZScore(20).compute(history), z(c, 20), **tolerance)
    assert np.allclose(VolumeZScore(20).compute(history), z(v, 20), **tolerance)
    assert np.allclose(BollingerPercentB(20, 1.5).compute(history), percent_b, **tolerance)
    assert np.allclose(EMADistance(30, 20).compute(history), distance, **tolerance)


def test_choppiness_equals_its_formula(history: BarSeries) -> None:
    h, lo, c = history.high, history.low, history.close
    tr = np.maximum(h[1:], c[:-1]) - np.minimum(lo[1:], c[:-1])
    p = 14
    spread = windows(h[1:], p).max(axis=1) - windows(lo[1:], p).min(axis=1)
    chop = 100 * np.log10(windows(tr, p).sum(axis=1) / spread) / np.log10(p)

    assert np.allclose(Choppiness(p).compute(history), nan_head(chop, p), equal_nan=True, rtol=1e-9)


def test_flat_windows_have_defined_values() -> None:
    bars = make_bars([50.0] * 30, spread=0.0, volume=0.0)

    assert BollingerPercentB(5).compute(bars)[-1] == 0.5
    assert EMADistance(3, 4).compute(bars)[-1] == 0.0
    assert VolatilityRatio(2, 4).compute(bars)[-1] == 1.0
    assert VolumeZScore(5).compute(bars)[-1] == 0.0
    assert CloseZScore(5).compute(bars)[-1] == 0.0


def test_features_are_scale_free(history: BarSeries) -> None:
    # Powers of two scale floats exactly, so a tie of +DM and -DM in the ADX (prices on
    # a cent grid) stays a tie; a scale of 1000 rounds ties either way and moves the ADX.
    price_scale, volume_scale = 1024.0, 8.0
    scaled = BarSeries.from_arrays(
        history.instrument_id,
        history.ts,
        history.open * price_scale,
        history.high * price_scale,
        history.low * price_scale,
        history.close * price_scale,
        history.volume * volume_scale,
    )

    assert np.allclose(
        EVERY_FEATURE.compute(scaled).values,
        EVERY_FEATURE.compute(history).values,
        equal_nan=True,
        rtol=1e-9,
        atol=1e-12,
    )


# -- no leakage ---------------------------------------------------------------------------
def replace_future(bars: BarSeries, cut: int, mode: str, seed: int) -> BarSeries:
    """Return the bars with every bar after ``cut`` replaced by other data (ts kept)."""
    columns = np.stack([bars.open, bars.high, bars.low, bars.close, bars.volume])
    future = columns[:, cut + 1 :]
    rng = np.random.default_rng(seed)
    if mode == "shuffled":
        future = future[:, rng.permutation(future.shape[1])]
    elif mode == "shifted":
        future = np.roll(future, rng.integers(1, 50), axis=1)
    elif mode == "jump":
        future = future * np.array([[3.0], [3.0], [3.0], [3.0], [0.1]])
    else:  # another market altogether
        other = synthetic(len(bars), seed=seed + 1000)
        future = np.stack([other.open, other.high, other.low, other.close, other.volume])
        future = future[:, cut + 1 :]
    columns = np.concatenate([columns[:, : cut + 1], future], axis=1)
    return BarSeries.from_arrays(bars.instrument_id, bars.ts, *columns)


LEAK_SET = FeatureSet("leak", [*CATALOGUE, LogReturn(20)])


@settings(max_examples=40, deadline=None)
@given(
    cut=st.integers(0, 598),
    mode=st.sampled_from(["shuffled", "shifted", "jump", "other"]),
    seed=st.integers(0, 10_000),
)
def test_changing_the_future_changes_no_feature_known_before_it(
    cut: int, mode: str, seed: int
) -> None:
    bars = synthetic(bars=600, seed=5)
    changed = replace_future(bars, cut, mode, seed)
    assume(not np.array_equal(changed.close[cut + 1 :], bars.close[cut + 1 :]))

    assert not past_changed(LEAK_SET, bars, changed, cut)


def past_changed(feature_set: FeatureSet, bars: BarSeries, changed: BarSeries, cut: int) -> bool:
    before = feature_set.compute(bars).values[: cut + 1]
    after = feature_set.compute(changed).values[: cut + 1]
    return not np.array_equal(before, after, equal_nan=True)


@dataclass(frozen=True)
class NextReturn(Feature):
    """A leaky feature: the return of the next bar, which is not known at the close."""

    kind = "next_return"

    @property
    def warmup(self) -> int:
        return 0

    def _compute(self, bars: BarSeries) -> FloatArray:
        return np.append(np.log(bars.close[1:] / bars.close[:-1]), np.nan)

    def stream(self) -> FeatureState:
        raise NotImplementedError


def test_the_leakage_check_catches_a_feature_that_peeks_one_bar_ahead() -> None:
    bars = synthetic(bars=200, seed=5)
    leaky = FeatureSet("leaky", [LogReturn(1), NextReturn()])

    assert past_changed(leaky, bars, replace_future(bars, 100, "jump", 0), 100)
    assert not past_changed(LEAK_SET, bars, replace_future(bars, 100, "jump", 0), 100)


def test_features_of_a_truncated_history_are_the_full_history_rows(minutes: BarSeries) -> None:
    bars = minutes.slice(0, 800)
    full = LEAK_SET.compute(bars).values
    for cut in range(0, 800, 13):
        prefix = LEAK_SET.compute(bars.slice(0, cut + 1)).values
        assert np.array_equal(prefix, full[: cut + 1], equal_nan=True), cut


# -- frames and point-in-time lookups -----------------------------------------------------
def small_frame() -> FeatureFrame:
    ts = np.array([10, 20, 30], dtype=np.int64)
    values = np.array([[1.0, np.nan], [2.0, 20.0], [3.0, 30.0]])
    return FeatureFrame("X", ts, ("a", "b"), values)


def test_as_of_returns_the_latest_row_known_at_the_time() -> None:
    frame = small_frame()

    assert frame.as_of(20).ts == 20
    assert frame.as_of(29).as_dict() == {"a": 2.0, "b": 20.0}
    assert frame.as_of(10_000).ts == 30
    row = frame.as_of(10)
    assert row.instrument_id == "X"
    assert row.names == ("a", "b")
    assert row.values[0] == 1.0
    assert math.isnan(row.values[1])


def test_as_of_before_the_first_row_is_an_error_naming_the_time() -> None:
    with pytest.raises(FeatureLookupError, match=r"as of ts=9: the first row is at 10"):
        small_frame().as_of(9)
    empty = FeatureFrame("X", np.array([], dtype=np.int64), ("a",), np.empty((0, 1)))
    with pytest.raises(ValueError, match="the frame is empty"):
        empty.as_of(5)


def test_as_of_join_matches_a_row_by_row_lookup() -> None:
    frame = small_frame()
    queries = np.array([0, 9, 10, 15, 30, 31], dtype=np.int64)

    joined = frame.as_of_join(queries)

    assert np.array_equal(joined.ts, queries)
    assert np.isnan(joined.values[:2]).all()
    for q, ts in enumerate(queries[2:], start=2):
        assert np.array_equal(joined.values[q], frame.as_of(int(ts)).values, equal_nan=True)


def test_between_is_inclusive_and_column_and_complete_read_the_frame() -> None:
    frame = small_frame()

    assert frame.between(20, 30).ts.tolist() == [20, 30]
    assert frame.between(11, 19).ts.tolist() == []
    assert frame.between(None, 20).ts.tolist() == [10, 20]
    assert frame.column("b")[1:].tolist() == [20.0, 30.0]
    assert frame.complete.tolist() == [False, True, True]
    with pytest.raises(ValueError, match="no feature named 'c'"):
        frame.column("c")


@pytest.mark.parametrize(
    ("ts", "names", "values", "message"),
    [
        ([10, 10], ("a",), np.zeros((2, 1)), "strictly increasing"),
        ([10, 20], ("a", "a"), np.zeros((2, 2)), r"unique, but \['a'\]"),
        ([10, 20], ("a",), np.zeros((2, 2)), r"shape \(2, 1\)"),
        ([10, 20], ("",), np.zeros((2, 1)), "non-empty strings"),
    ],
)
def test_a_malformed_frame_is_refused(
    ts: list[int], names: tuple[str, ...], values: FloatArray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        FeatureFrame("X", np.array(ts, dtype=np.int64), names, values)


def test_as_of_join_refuses_unordered_queries() -> None:
    with pytest.raises(ValueError, match="query_ts must be strictly increasing"):
        small_frame().as_of_join(np.array([20, 10], dtype=np.int64))


# -- feature sets and fingerprints --------------------------------------------------------
def test_the_default_set_is_pinned() -> None:
    feature_set = default_feature_set()

    # A change here changes every model's lineage: bump a feature's version instead of
    # editing a formula in place, and update this literal on purpose.
    assert feature_set.fingerprint == "54f5204f7659fbd3"
    assert feature_set.names[:4] == ("log_return_1", "log_return_5", "log_return_20", "rsi_14")
    assert len(set(feature_set.names)) == len(feature_set.names) == 14
    assert json.loads(json.dumps(feature_set.definition()))["fingerprint"] == "54f5204f7659fbd3"


def test_the_fingerprint_follows_the_definitions_not_the_name() -> None:
    base = FeatureSet("a", [LogReturn(1), RelativeStrengthIndex(14)])

    assert FeatureSet("b", (LogReturn(1), RelativeStrengthIndex(14))).fingerprint == (
        base.fingerprint
    )
    assert FeatureSet("a", [LogReturn(2), RelativeStrengthIndex(14)]).fingerprint != (
        base.fingerprint
    )
    assert FeatureSet("a", [RelativeStrengthIndex(14), LogReturn(1)]).fingerprint != (
        base.fingerprint
    )
    assert (
        FeatureSet("p", [BollingerPercentB(20, 2)]).fingerprint
        == FeatureSet("p", [BollingerPercentB(20, 2.0)]).fingerprint
    )


@dataclass(frozen=True)
class RangeFraction(Feature):
    """A custom feature: the bar's high-low range over its close."""

    kind = "range_fraction"

    @property
    def warmup(self) -> int:
        return 0

    def _compute(self, bars: BarSeries) -> FloatArray:
        return (bars.high - bars.low) / bars.close

    def stream(self) -> FeatureState:
        return _RangeState()


class _RangeState:
    def update(self, bar: Bar) -> float:
        return (bar.high - bar.low) / bar.close


@dataclass(frozen=True)
class RangeFractionV2(RangeFraction):
    version = 2


def test_a_custom_feature_joins_a_set_and_its_version_is_in_the_fingerprint(
    history: BarSeries,
) -> None:
    feature_set = FeatureSet("custom", [RangeFraction(), LogReturn(1)])

    assert feature_set.names == ("range_fraction", "log_return_1")
    assert np.array_equal(
        stream_all(feature_set, history), feature_set.compute(history).values, equal_nan=True
    )
    assert FeatureSet("custom", [RangeFractionV2(), LogReturn(1)]).fingerprint != (
        feature_set.fingerprint
    )


@dataclass(frozen=True)
class Nameless(RangeFraction):
    kind = ""


@pytest.mark.parametrize(
    ("name", "features", "message"),
    [
        ("", [LogReturn(1)], "name must be a non-empty string"),
        ("s", [], "features must be a non-empty sequence"),
        ("s", [LogReturn(1), LogReturn(1)], r"unique, but \['log_return_1'\]"),
        ("s", [Nameless()], "must be a Feature with a kind"),
        ("s", ["rsi_14"], "must be a Feature with a kind"),
    ],
)
def test_a_malformed_feature_set_is_refused(name: str, features: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FeatureSet(name, features)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: LogReturn(0), r"LogReturn: bars must be a whole number >= 1, got 0"),
        (lambda: LogReturn(True), "LogReturn: bars must be a whole number"),
        (lambda: RelativeStrengthIndex(0), "RelativeStrengthIndex: period"),
        (lambda: RealizedVol(1), r"RealizedVol: period must be a whole number >= 2"),
        (lambda: VolatilityRatio(5, 5), "long_period must be greater than short_period"),
        (lambda: CloseZScore(1), "CloseZScore: period"),
        (lambda: VolumeZScore(2.5), "VolumeZScore: period"),
        (lambda: AverageDirectionalIndex(1), "AverageDirectionalIndex: period"),
        (lambda: Choppiness(1), "Choppiness: period"),
        (lambda: MACDHistogram(26, 12, 9), "slow_period must be greater than fast_period"),
        (lambda: MACDHistogram(12, 26, 0), "signal_period"),
        (lambda: NormalizedATR(0), "NormalizedATR: period"),
        (lambda: BollingerPercentB(20, 0.0), r"nbdev must be a finite number > 0"),
        (lambda: BollingerPercentB(20, math.nan), "nbdev"),
        (lambda: EMADistance(20, 1), "EMADistance: vol_period"),
    ],
)
def test_a_bad_parameter_is_refused_by_name(build: Callable[[], Feature], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


# -- bad bars -----------------------------------------------------------------------------
def with_column(bars: BarSeries, name: str, i: int, value: float) -> BarSeries:
    columns = {c: getattr(bars, c).copy() for c in ("ts", "open", "high", "low", "close", "volume")}
    columns[name][i] = value
    return BarSeries.from_arrays(bars.instrument_id, **columns)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("close", math.nan, r"close must be finite and > 0, but bar 5 .* has nan"),
        ("low", 0.0, r"low must be finite and > 0, but bar 5"),
        ("high", math.inf, "high must be finite"),
        ("volume", -1.0, r"volume must be finite and >= 0, but bar 5"),
        ("ts", 0, r"ts must be strictly increasing, but bar 5 .* does not come after bar 4"),
    ],
)
def test_bad_bars_are_refused_by_compute(column: str, value: float, message: str) -> None:
    bars = with_column(make_bars(random_walk(30, seed=1)), column, 5, value)

    with pytest.raises(ValueError, match=message):
        default_feature_set().compute(bars)
    with pytest.raises(ValueError, match=message):
        RelativeStrengthIndex(3).compute(bars)


def test_a_stream_refuses_bad_bars_and_keeps_its_state(history: BarSeries) -> None:
    feature_set = default_feature_set()
    stream = feature_set.online()
    rows = []
    for i in range(120):
        bar = history.bar(i)
        if i == 60:
            refused = [
                bar._replace(instrument_id="OTHER"),
                bar._replace(ts_event=int(history.ts[i - 1])),
                bar._replace(close=math.nan),
                bar._replace(open=0.0),
                bar._replace(volume=-5.0),
            ]
            messages = ["one stream per instrument", "strictly increasing", "close", "open"]
            for bad, message in zip(refused, [*messages, "volume"], strict=True):
                with pytest.raises(ValueError, match=message):
                    stream.update(bad)
        rows.append(stream.update(bar))

    expected = feature_set.compute(history.slice(0, 120)).values
    assert np.array_equal(np.array(rows), expected, equal_nan=True)


def test_no_bars_give_an_empty_frame_and_one_bar_a_row_of_warmup() -> None:
    for n in (0, 1):
        bars = make_bars([100.0] * n) if n else BarSeries.from_arrays("X", [], [], [], [], [])

        frame = EVERY_FEATURE.compute(bars)

        assert frame.values.shape == (n, len(CATALOGUE))
        assert np.isnan(frame.values).all()
