"""The training pipeline: bars of many instruments to one leak-free, time-ordered dataset.

The leakage test is the point-in-time guarantee of the pipeline: replacing every bar
after a cut with other data changes no row's features at or before the cut, and no row
whose label was known by the cut. A feature that peeks one bar ahead fails the same
check, so the check has teeth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.ml import (
    FeatureSet,
    FeatureState,
    LogReturn,
    PurgedKFold,
    RealizedVol,
    RelativeStrengthIndex,
    default_feature_set,
    fixed_horizon_labels,
    triple_barrier_labels,
)
from quantgrid.ml._model import ModelSpec
from quantgrid.ml._pipeline import Dataset, build_dataset, train_on_bars
from quantgrid.model import BarSeries, FloatArray
from tests.conftest import make_bars, random_walk

SMALL = FeatureSet("small", [LogReturn(1), LogReturn(3), RelativeStrengthIndex(5)])
HALF_MINUTE = 30_000_000_000


def market(bars: int = 400, seed: int = 3) -> dict[str, BarSeries]:
    """Two correlated synthetic instruments on one clock, and a third half a minute off."""
    generated = generate_market(SyntheticConfig(instruments=("SYN1", "SYN0"), bars=bars), seed)
    offset = make_bars(
        random_walk(bars, seed + 1),
        "OFF",
        start_ns=int(generated.bars["SYN0"].ts[0]) + HALF_MINUTE,
    )
    return {**generated.bars, "OFF": offset}


@pytest.fixture(scope="module")
def bars() -> dict[str, BarSeries]:
    return market()


@pytest.fixture(scope="module")
def dataset(bars: dict[str, BarSeries]) -> Dataset:
    return build_dataset(bars, horizon=3)


def row_index(bars: BarSeries, ts: int) -> int:
    i = int(np.searchsorted(bars.ts, ts))
    assert bars.ts[i] == ts
    return i


# -- what the rows hold -------------------------------------------------------------------
def test_rows_are_every_instruments_features_and_labels_at_their_bar(
    bars: dict[str, BarSeries], dataset: Dataset
) -> None:
    feature_set = default_feature_set()
    frames = {iid: feature_set.compute(series) for iid, series in bars.items()}
    assert dataset.feature_names == feature_set.names
    assert dataset.feature_set_fingerprint == feature_set.fingerprint
    for k in range(0, len(dataset), 7):
        iid = str(dataset.instrument_ids[k])
        series = bars[iid]
        i = row_index(series, int(dataset.ts[k]))
        # Features: the frame's row at that bar; label: the close 3 bars later, by hand.
        np.testing.assert_array_equal(dataset.features[k], frames[iid].values[i])
        assert dataset.t1[k] == series.ts[i + 3]
        assert dataset.labels[k] == np.sign(series.close[i + 3] - series.close[i])
        assert dataset.returns[k] == pytest.approx(np.log(series.close[i + 3] / series.close[i]))
        assert dataset.last_direction[k] == np.sign(series.close[i] - series.close[i - 3])


def test_rows_are_dropped_only_in_the_warm_up_and_where_no_label_is_known(
    bars: dict[str, BarSeries], dataset: Dataset
) -> None:
    warmup = default_feature_set().warmup
    per_instrument = {iid: len(series) - warmup - 3 for iid, series in bars.items()}

    assert dataset.n_warmup == warmup * len(bars)
    assert dataset.n_unlabelled == 3 * len(bars)  # the last 3 bars: no close 3 bars on
    assert dataset.n_flat == 0
    assert len(dataset) + dataset.n_warmup + dataset.n_unlabelled == sum(map(len, bars.values()))
    for iid, expected in per_instrument.items():
        mine = dataset.ts[dataset.instrument_ids == iid]
        np.testing.assert_array_equal(mine, bars[iid].ts[warmup:-3])
        assert mine.size == expected
    assert dataset.instruments == ("OFF", "SYN0", "SYN1")


def test_the_stacked_rows_are_in_time_order_and_instrument_order_within_a_time(
    bars: dict[str, BarSeries], dataset: Dataset
) -> None:
    ts = dataset.ts
    assert np.all(np.diff(ts) >= 0)
    same = np.flatnonzero(np.diff(ts) == 0)
    assert same.size > 0  # SYN0 and SYN1 share every bar time
    assert np.all(dataset.instrument_ids[same] < dataset.instrument_ids[same + 1])
    # OFF's rows sit between the others', half a minute after theirs.
    assert set(dataset.instrument_ids[:3].tolist()) <= {"SYN0", "SYN1", "OFF"}
    reordered = build_dataset(dict(reversed(list(bars.items()))), horizon=3)
    assert reordered.data_hash() == dataset.data_hash()


def test_purged_folds_of_the_stacked_set_keep_every_instrument_out_of_the_test_span(
    dataset: Dataset,
) -> None:
    for train, test in PurgedKFold(n_splits=4).split(dataset.ts, dataset.t1):
        start, end = dataset.ts[test[0]], dataset.t1[test].max()
        overlapping = (dataset.t1[train] >= start) & (dataset.ts[train] <= end)
        assert not overlapping.any()
        assert set(dataset.instrument_ids[train].tolist()) == {"OFF", "SYN0", "SYN1"}


def test_triple_barrier_rows_carry_the_barrier_labels_and_their_exit_times(
    bars: dict[str, BarSeries],
) -> None:
    data = build_dataset(
        bars, SMALL, horizon=10, labeling="triple_barrier", take_profit=1.5, stop_loss=1.0
    )
    series = bars["SYN0"]
    labels = triple_barrier_labels(series, 10, 1.5, 1.0, volatility=RealizedVol(20).compute(series))
    mine = data.instrument_ids == "SYN0"
    # SMALL warms up in 5 bars, the volatility in 20: its warm-up rows have no label.
    expected = labels.valid & np.isfinite(SMALL.compute(series).values).all(axis=1)
    np.testing.assert_array_equal(data.ts[mine], labels.ts[expected])
    np.testing.assert_array_equal(data.t1[mine], labels.t1[expected])
    np.testing.assert_array_equal(data.labels[mine], labels.label[expected])
    assert np.any(data.t1[mine] < data.ts[mine] + 10 * 60_000_000_000)  # a barrier first
    assert data.label_params["labeling"] == "triple_barrier"
    assert data.n_unlabelled >= 20 - 5  # the volatility's warm-up, at least


def test_flat_rows_are_dropped_only_when_asked_and_counted(
    bars: dict[str, BarSeries],
) -> None:
    kept = build_dataset(bars, SMALL)
    dropped = build_dataset(bars, SMALL, drop_flat=True)

    flat = int(np.count_nonzero(kept.labels == 0))
    assert flat > 0  # unchanged closes at the tick
    assert kept.n_flat == 0
    assert dropped.n_flat == flat
    assert len(dropped) == len(kept) - flat
    assert not np.any(dropped.labels == 0)
    assert dict(dropped.label_params) == {
        "labeling": "fixed",
        "horizon": 1,
        "threshold": 0.0,
        "drop_flat": True,
    }


def test_a_threshold_labels_small_moves_flat(bars: dict[str, BarSeries]) -> None:
    data = build_dataset(bars, SMALL, threshold=0.001)
    flat = data.labels == 0
    assert np.all(np.abs(data.returns[flat]) <= 0.001)
    assert np.all(np.abs(data.returns[~flat]) > 0.001)
    assert np.all(np.sign(data.returns[~flat]) == data.labels[~flat])


def test_the_data_hash_follows_the_rows(bars: dict[str, BarSeries], dataset: Dataset) -> None:
    assert build_dataset(bars, horizon=3).data_hash() == dataset.data_hash()
    assert build_dataset(bars, horizon=2).data_hash() != dataset.data_hash()
    fewer = {iid: series.slice(0, len(series) - 1) for iid, series in bars.items()}
    assert build_dataset(fewer, horizon=3).data_hash() != dataset.data_hash()


# -- no leakage ---------------------------------------------------------------------------
def replace_future(series: BarSeries, cut_ns: int, seed: int) -> BarSeries:
    """Return the bars with every bar after ``cut_ns`` replaced by a shuffled, jumped one."""
    cut = int(np.searchsorted(series.ts, cut_ns, side="right"))
    columns = np.stack([series.open, series.high, series.low, series.close, series.volume])
    future = columns[:, cut:][:, np.random.default_rng(seed).permutation(len(series) - cut)]
    future = future * np.array([[1.5], [1.5], [1.5], [1.5], [0.5]])
    return BarSeries.from_arrays(
        series.instrument_id, series.ts, *np.concatenate([columns[:, :cut], future], axis=1)
    )


def known_rows(data: Dataset, cut_ns: int) -> dict[tuple[str, int], tuple[object, ...]]:
    """Return the rows whose features and label were both known at ``cut_ns``."""
    return {
        (str(data.instrument_ids[k]), int(data.ts[k])): (
            data.features[k].tobytes(),
            int(data.labels[k]),
            int(data.t1[k]),
        )
        for k in np.flatnonzero(data.t1 <= cut_ns)
    }


def past_changed(before: Dataset, after: Dataset, cut_ns: int) -> bool:
    """Tell whether a feature row at or before the cut, or a label known by it, changed."""
    features_changed = not np.array_equal(
        before.features[before.ts <= cut_ns], after.features[after.ts <= cut_ns]
    )
    return features_changed or known_rows(before, cut_ns) != known_rows(after, cut_ns)


@dataclass(frozen=True)
class NextReturn(LogReturn):
    """A leaky feature: the return of the next bar, which is not known at the close."""

    kind = "next_return"

    def _compute(self, bars: BarSeries) -> FloatArray:
        return np.append(np.log(bars.close[1:] / bars.close[:-1]), np.nan)

    def stream(self) -> FeatureState:
        raise NotImplementedError


@settings(max_examples=25, deadline=None)
@given(position=st.floats(0.1, 0.95), seed=st.integers(0, 1_000), horizon=st.integers(1, 5))
def test_changing_the_future_changes_no_row_known_before_it(
    position: float, seed: int, horizon: int
) -> None:
    bars = market(bars=200, seed=5)
    timeline = np.unique(np.concatenate([s.ts for s in bars.values()]))
    cut = int(timeline[int(position * (timeline.size - 1))])
    changed = {iid: replace_future(series, cut, seed) for iid, series in bars.items()}

    before = build_dataset(bars, SMALL, horizon=horizon)
    after = build_dataset(changed, SMALL, horizon=horizon)

    # Features at or before the cut are the same; labels known by then too.
    assert not past_changed(before, after, cut)
    assert len(known_rows(before, cut)) > 0


def test_the_leakage_check_catches_a_feature_that_peeks_one_bar_ahead() -> None:
    bars = market(bars=200, seed=5)
    cut = int(bars["SYN0"].ts[100])
    changed = {iid: replace_future(series, cut, 0) for iid, series in bars.items()}
    leaky = FeatureSet("leaky", [LogReturn(1), NextReturn(1)])

    honest = FeatureSet("honest", [LogReturn(1), LogReturn(2)])

    assert past_changed(build_dataset(bars, leaky), build_dataset(changed, leaky), cut)
    assert not past_changed(build_dataset(bars, honest), build_dataset(changed, honest), cut)


# -- training -----------------------------------------------------------------------------
def test_train_on_bars_trains_on_the_dataset_and_reports_progress(
    bars: dict[str, BarSeries],
) -> None:
    steps: list[tuple[int, int]] = []
    cv = PurgedKFold(n_splits=3, embargo=0.01)

    result, data = train_on_bars(
        bars,
        SMALL,
        ModelSpec("logistic"),
        cv,
        horizon=2,
        drop_flat=True,
        progress=lambda done, total: steps.append((done, total)),
    )

    assert result.n_samples == len(data)
    assert result.held_out is None and result.cv_metrics is None  # untuned: as before
    assert result.metrics.n_samples == len(data)  # every row forecast out of fold
    assert result.feature_names == SMALL.names
    assert result.cv == repr(cv)  # lineage is the same with a progress callback
    expected_last = float(np.mean(data.last_direction == data.labels))
    assert result.metrics.last_direction_accuracy == pytest.approx(expected_last)
    assert steps == [(k, 4) for k in range(1, 5)]  # three folds, then the final fit
    reference = build_dataset(bars, SMALL, horizon=2, drop_flat=True)
    assert reference.data_hash() == data.data_hash()


def test_tuning_first_counts_every_trials_folds(bars: dict[str, BarSeries]) -> None:
    steps: list[tuple[int, int]] = []

    result, _ = train_on_bars(
        bars,
        SMALL,
        ModelSpec("logistic", {"max_iter": 500}),
        PurgedKFold(n_splits=2),
        drop_flat=True,
        tune_trials=2,
        progress=lambda done, total: steps.append((done, total)),
    )

    assert set(result.spec.params) == {"max_iter", "C"}  # fixed, and the one searched
    assert result.held_out is not None and result.held_out.fraction == 0.2  # the default
    assert result.spec.params["max_iter"] == 500
    assert [done for done, _ in steps] == list(range(1, 8))
    assert {total for _, total in steps} == {7}  # (2 trials + 1) x 2 folds + final fit


# -- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 0}, "horizon must be a whole number of bars >= 1"),
        ({"horizon": 1.5}, "horizon must be a whole number of bars >= 1"),
        ({"labeling": "meta"}, "labeling must be one of fixed, triple_barrier"),
        ({"threshold": -0.1}, "threshold must be a finite number >= 0"),
        ({"threshold": float("nan")}, "threshold must be a finite number >= 0"),
        ({"labeling": "triple_barrier", "threshold": 0.01}, "threshold applies to labeling"),
        ({"labeling": "triple_barrier", "take_profit": 0}, "take_profit must be a finite"),
        ({"labeling": "triple_barrier", "stop_loss": -1.0}, "stop_loss must be a finite"),
        ({"labeling": "triple_barrier", "volatility_window": 1}, "volatility_window must"),
        ({"drop_flat": "yes"}, "drop_flat must be True or False"),
        ({"feature_set": ["rsi"]}, "feature_set must be a FeatureSet or None"),
    ],
)
def test_bad_settings_are_refused_naming_the_rule(
    bars: dict[str, BarSeries], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_dataset(bars, **kwargs)  # type: ignore[arg-type]


def test_bad_bars_are_refused_naming_the_instrument(bars: dict[str, BarSeries]) -> None:
    with pytest.raises(ValueError, match="at least one instrument"):
        build_dataset({})
    with pytest.raises(ValueError, match=r"bars_by_instrument\['X'\] holds the bars of 'SYN0'"):
        build_dataset({"X": bars["SYN0"]})
    with pytest.raises(ValueError, match=r"bars_by_instrument\['X'\] must be a BarSeries"):
        build_dataset({"X": [1.0, 2.0]})  # type: ignore[dict-item]


def test_too_few_bars_leave_no_row_and_say_why(bars: dict[str, BarSeries]) -> None:
    short = {"SYN0": bars["SYN0"].slice(0, 52)}
    with pytest.raises(ValueError, match=r"no training row is left.*warm-up \(50 bars\).*SYN0 52"):
        build_dataset(short, horizon=3)


def test_tune_trials_must_be_a_count(bars: dict[str, BarSeries]) -> None:
    with pytest.raises(ValueError, match="tune_trials must be a whole number >= 0"):
        train_on_bars(bars, SMALL, ModelSpec("logistic"), tune_trials=-1)


def test_a_dataset_refuses_rows_that_do_not_line_up() -> None:
    ts = np.array([1, 2, 3], dtype=np.int64)
    columns = {
        "labels": np.array([1, -1, 1], dtype=np.int64),
        "ts": ts,
        "t1": ts + 1,
        "instrument_ids": np.array(["A", "A", "A"]),
        "returns": np.zeros(3),
        "last_direction": np.zeros(3, dtype=np.int64),
        "feature_names": ("a", "b"),
        "feature_set_name": "s",
        "feature_set_fingerprint": "f",
    }
    with pytest.raises(ValueError, match=r"features must have shape \(3, 2\)"):
        Dataset(features=np.zeros((3, 3)), **columns)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ts must be non-decreasing"):
        Dataset(features=np.zeros((3, 2)), **{**columns, "ts": ts[::-1], "t1": ts + 5})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="t1 must not precede ts"):
        Dataset(features=np.zeros((3, 2)), **{**columns, "t1": ts - 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="returns must hold one value per row"):
        Dataset(features=np.zeros((3, 2)), **{**columns, "returns": np.zeros(2)})  # type: ignore[arg-type]


def test_fixed_labels_here_are_the_library_s(bars: dict[str, BarSeries], dataset: Dataset) -> None:
    series = bars["SYN1"]
    labels = fixed_horizon_labels(series, 3)
    mine = dataset.instrument_ids == "SYN1"
    start = default_feature_set().warmup
    np.testing.assert_array_equal(dataset.labels[mine], labels.label[start:-3])
    np.testing.assert_array_equal(dataset.t1[mine], labels.t1[start:-3])


def test_the_lineage_a_run_records_names_the_labelling_and_the_rows(dataset: Dataset) -> None:
    lineage = dataset.lineage()
    assert lineage["label.horizon"] == 3  # what the prediction cycle must read back
    assert lineage["data.rows"] == len(dataset)
    assert lineage["data.instruments"] == ",".join(dataset.instruments)
    rows = lineage["data.warmup_rows"], lineage["data.unlabelled_rows"], lineage["data.flat_rows"]
    assert rows == (dataset.n_warmup, dataset.n_unlabelled, dataset.n_flat)
    assert {k for k in lineage if k.startswith("label.")} == {
        f"label.{key}" for key in dataset.label_params
    }
