"""Honest figures after tuning: the latest block of the data is held out of the search.

Tuning picks the best of many trials on the same folds, so the folds' figures of the
winner flatter it. `train_on_bars` with ``tune_trials`` therefore tunes on the rows
before a final block (purged of every label still open when the block starts, less an
embargo), and reports the forecasts of the block by the chosen spec trained on those
rows. The checks here: the split's invariants for any label spans (Hypothesis); the
figures are those of the block, computed independently; the search never sees the
block; a random walk tuned with many trials stays within the chance band of
``test_honest_figures.py`` on the block; the planted reversal is still found there.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import quantgrid.ml._tuning as tuning
from quantgrid.data import generate_market
from quantgrid.ml import PurgedKFold, default_feature_set
from quantgrid.ml._model import ModelSpec, fit_model
from quantgrid.ml._pipeline import build_dataset, train_on_bars
from quantgrid.ml._scoring import score_forecasts
from quantgrid.ml._training import HeldOutBlock, hold_out_block, train_model
from quantgrid.model import BarSeries
from tests.conftest import make_bars, random_walk
from tests.unit.ml.test_honest_figures import CHOPPY_MARKET, CHOPPY_SEED, chance_band

MINUTE = 60_000_000_000


# -- the split ----------------------------------------------------------------------------
@st.composite
def label_spans(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Non-decreasing ``ts`` (ties allowed) and label ends 0-8 minutes later."""
    n = draw(st.integers(40, 300))
    steps = draw(st.lists(st.sampled_from([0, 1, 1, 1, 2]), min_size=n, max_size=n))
    spans = draw(st.lists(st.integers(0, 8), min_size=n, max_size=n))
    ts = 1_704_067_200_000_000_000 + MINUTE * np.cumsum(steps, dtype=np.int64)
    return ts, ts + MINUTE * np.asarray(spans, dtype=np.int64)


@settings(max_examples=150, deadline=None)
@given(
    spans=label_spans(),
    fraction=st.floats(0.05, 0.5),
    embargo=st.one_of(st.integers(0, 5), st.floats(0.0, 0.05)),
)
def test_every_training_label_ends_before_the_block_and_nothing_else_is_dropped(
    spans: tuple[np.ndarray, np.ndarray], fraction: float, embargo: int | float
) -> None:
    ts, t1 = spans
    n = ts.size
    first = n - math.ceil(fraction * n)
    # By hand: the rows before the block whose labels end before it, less the embargo.
    eligible = np.flatnonzero(t1[:first] < ts[first])
    gap = embargo if isinstance(embargo, int) else math.ceil(embargo * n)
    expected = eligible[: max(eligible.size - gap, 0)]
    if expected.size == 0:
        with pytest.raises(ValueError, match="leaves no row to tune on"):
            hold_out_block(ts, t1, fraction, embargo)
        return

    block = hold_out_block(ts, t1, fraction, embargo)

    np.testing.assert_array_equal(block.test, np.arange(first, n))
    assert block.start_ns == ts[first] and block.end_ns == ts[-1]
    # No leakage across the gap: every label learnt from is known before the block.
    assert t1[block.train].max() < ts[first]
    assert block.train_end_ns == t1[block.train].max() < block.start_ns
    # The gap is the purged rows and the embargo, nothing more.
    np.testing.assert_array_equal(block.train, expected)
    assert block.n_train + block.n_gap + block.n_test == n


def test_the_block_s_lineage_names_where_it_lies() -> None:
    ts = np.arange(100, dtype=np.int64) * MINUTE
    block = hold_out_block(ts, ts + 2 * MINUTE, 0.2, 3)
    # Rows 78 and 79 end at or after row 80's ts; then 3 more rows of embargo.
    assert block.as_params() == {
        "holdout.fraction": 0.2,
        "holdout.embargo": 3,
        "holdout.start_ns": 80 * MINUTE,
        "holdout.end_ns": 99 * MINUTE,
        "holdout.rows": 20,
        "holdout.train_rows": 75,
        "holdout.gap_rows": 5,
        "holdout.train_end_ns": 76 * MINUTE,
    }


@pytest.mark.parametrize("fraction", [0, 0.0, 1.0, -0.1, 1.5, math.nan, math.inf, True, "0.2"])
def test_a_fraction_outside_0_1_is_refused(fraction: object) -> None:
    ts = np.arange(50, dtype=np.int64)
    with pytest.raises(ValueError, match=r"holdout fraction must be a number in \(0, 1\)"):
        hold_out_block(ts, ts, fraction)  # type: ignore[arg-type]


def test_a_block_that_leaves_nothing_to_tune_on_is_refused() -> None:
    ts = np.arange(50, dtype=np.int64)
    with pytest.raises(ValueError, match="leaves no row to tune on"):
        hold_out_block(ts, np.full(50, 100, dtype=np.int64), 0.2)  # every label open
    with pytest.raises(ValueError, match="leaves no row before the block"):
        hold_out_block(ts[:2], ts[:2], 0.9)
    with pytest.raises(ValueError, match="t1 must not precede ts"):
        hold_out_block(ts, ts - 1, 0.2)


# -- training with a held-out block -------------------------------------------------------
@pytest.fixture(scope="module")
def samples() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A learnable rule plus noise: 600 rows, one-minute labels."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(600, 3))
    y = np.where(x[:, 0] + 0.8 * rng.normal(size=600) > 0, 1, -1).astype(np.int64)
    ts = np.arange(600, dtype=np.int64) * MINUTE
    last = np.where(rng.random(600) > 0.5, 1, -1).astype(np.int64)
    return x, y, ts, ts + MINUTE, last


def test_the_figures_are_the_block_s_forecasts_by_a_model_of_the_rows_before_it(
    samples: tuple[np.ndarray, ...],
) -> None:
    x, y, ts, t1, last = samples
    spec = ModelSpec("logistic", seed=3)
    cv = PurgedKFold(3, embargo=0.01)
    block = hold_out_block(ts, t1, 0.25, 4)

    result = train_model(x, y, ts, t1, spec, cv, last_direction=last, held_out=block)

    train, test = block.train, block.test
    earlier = fit_model(x[train], y[train], spec, ("f0", "f1", "f2"))
    expected = score_forecasts(y[test], earlier.predict_proba(x[test]), (-1, 1), last[test])
    assert result.metrics == expected
    assert result.metrics.n_samples == test.size == 150
    np.testing.assert_array_equal(np.flatnonzero(result.tested), test)
    # The cross-validated figures are of the earlier rows only, and labelled apart.
    alone = train_model(
        x[train], y[train], ts[train], t1[train], spec, cv, last_direction=last[train]
    )
    assert result.cv_metrics == alone.metrics
    assert result.folds == alone.folds
    assert result.held_out is block
    # The model served is fitted on every row, the block included.
    everything = fit_model(x, y, spec, ("f0", "f1", "f2"))
    np.testing.assert_array_equal(result.model.predict_proba(x), everything.predict_proba(x))
    assert result.n_samples == 600


def test_without_a_block_the_figures_are_the_pooled_folds_as_before(
    samples: tuple[np.ndarray, ...],
) -> None:
    x, y, ts, t1, _ = samples
    result = train_model(x, y, ts, t1, ModelSpec("logistic"), PurgedKFold(3))
    assert result.cv_metrics is None and result.held_out is None
    assert result.metrics.n_samples == 600


def test_a_block_of_other_rows_or_with_an_unseen_class_is_refused(
    samples: tuple[np.ndarray, ...],
) -> None:
    x, y, ts, t1, _ = samples
    spec = ModelSpec("logistic")
    shorter = hold_out_block(ts[:500], t1[:500], 0.2)
    with pytest.raises(ValueError, match="held_out must be a block of these 600 rows"):
        train_model(x, y, ts, t1, spec, held_out=shorter)
    with pytest.raises(ValueError, match="held_out must be a block"):
        train_model(x, y, ts, t1, spec, held_out="last 20 %")  # type: ignore[arg-type]
    forged = HeldOutBlock(
        train=np.arange(500), test=np.arange(480, 600), fraction=0.2, embargo=0,
        start_ns=int(ts[480]), end_ns=int(ts[-1]), train_end_ns=int(t1[499]),
    )  # fmt: skip
    with pytest.raises(ValueError, match="held_out must be a block"):
        train_model(x, y, ts, t1, spec, held_out=forged)
    flat_late = y.copy()
    flat_late[-5:] = 0
    with pytest.raises(ValueError, match=r"the held-out block holds class \[0\]"):
        train_model(x, flat_late, ts, t1, spec, held_out=hold_out_block(ts, t1, 0.2))


# -- through the pipeline -----------------------------------------------------------------
def random_walk_bars(bars: int = 4_000, seed: int = 11) -> dict[str, BarSeries]:
    return {"RW": make_bars(random_walk(bars, seed), "RW", spread=0.01)}


def test_the_search_never_sees_the_block_even_with_long_barrier_labels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    real_tune = tuning.tune

    def spy(features: Any, labels: Any, ts: Any, t1: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((np.asarray(ts), np.asarray(t1)))
        return real_tune(features, labels, ts, t1, *args, **kwargs)

    monkeypatch.setattr(tuning, "tune", spy)
    bars = random_walk_bars(1_500)
    options = {"horizon": 20, "labeling": "triple_barrier", "take_profit": 3.0, "stop_loss": 3.0}

    result, data = train_on_bars(
        bars,
        spec=ModelSpec("logistic"),
        cv=PurgedKFold(3, embargo=0.01),
        tune_trials=2,
        holdout=0.3,
        **options,  # type: ignore[arg-type]
    )

    block = result.held_out
    assert block is not None and block.fraction == 0.3
    ts, t1 = seen[0]
    assert t1.max() < block.start_ns  # no label the search used reaches the block
    np.testing.assert_array_equal(ts, data.ts[block.train])
    assert block.n_gap > 1  # barrier labels open at the block's start were purged
    assert result.metrics.n_samples == block.n_test == math.ceil(0.3 * len(data))
    assert result.n_samples == len(data)
    assert build_dataset(bars, **options).data_hash() == data.data_hash()  # type: ignore[arg-type]


def test_a_bad_holdout_is_refused_even_without_tuning() -> None:
    with pytest.raises(ValueError, match=r"holdout fraction must be a number in \(0, 1\)"):
        train_on_bars(random_walk_bars(200), spec=ModelSpec("logistic"), holdout=0.0)


def test_a_random_walk_tuned_with_many_trials_stays_at_chance_on_the_block() -> None:
    result, data = train_on_bars(
        random_walk_bars(),
        spec=ModelSpec("lightgbm", seed=7),
        cv=PurgedKFold(3, embargo=0.01),
        drop_flat=True,
        tune_trials=25,
    )

    block = result.held_out
    assert block is not None and result.cv_metrics is not None
    auc_band, accuracy_band = chance_band(data.labels[block.test])
    m = result.metrics
    # About 790 forecasts of the block: bands of ±0.082 (AUC) and 0.071 (accuracy).
    assert m.n_samples == block.n_test > 750
    assert abs(m.roc_auc - 0.5) < auc_band
    assert m.accuracy - m.majority_accuracy < accuracy_band
    assert result.cv_metrics.n_samples == block.n_train  # reported apart, not instead


def test_the_planted_reversal_still_beats_the_baselines_on_the_block() -> None:
    bars = generate_market(CHOPPY_MARKET, seed=CHOPPY_SEED).bars
    result, _ = train_on_bars(
        bars,
        default_feature_set(),
        ModelSpec("logistic", seed=7),
        PurgedKFold(3, embargo=0.01),
        drop_flat=True,
        tune_trials=4,
    )

    m = result.metrics
    # About 990 forecasts: accuracy's standard error is 0.016, so the ≈ 0.66-0.70 the
    # reversal allows sits 8 or more errors above the baselines' ≈ 0.5 + 0.02.
    assert m.n_samples > 950
    assert m.best_baseline_accuracy < 0.54
    assert m.accuracy_margin > 0.08
    assert m.roc_auc > 0.65
    assert m.log_loss < math.log(2) - 0.03
