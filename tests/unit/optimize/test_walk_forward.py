"""Walk-forward: window layout, the stitched curve, and no lookahead."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from quantgrid.data import load_bars
from quantgrid.model import BarSeries
from quantgrid.optimize import walk_forward

GRID = {"fast": [5, 10], "slow": [20, 40]}
TRAIN, TEST = 300, 150


@pytest.fixture(scope="module")
def goog(goog_csv: Path) -> BarSeries:
    return load_bars(goog_csv).slice(0, 1000)


@pytest.mark.parametrize("anchored", [False, True])
def test_test_windows_tile_the_data_and_train_windows_precede_them(
    goog: BarSeries, anchored: bool
) -> None:
    result = walk_forward(
        "sma_cross", goog, GRID, train_bars=TRAIN, test_bars=TEST, anchored=anchored
    )
    windows = result.windows
    assert len(windows) == 5  # 700 test bars: 4 of 150 and the 100 left
    assert windows[0].test_start == TRAIN
    assert windows[-1].test_stop == len(goog)
    for before, after in itertools.pairwise(windows):
        assert after.test_start == before.test_stop  # no gap, no overlap
    for w in windows:
        assert w.train_stop == w.test_start
        assert w.train_start == (0 if anchored else w.test_start - TRAIN)
        assert w.params is not None


def test_the_stitched_curve_chains_the_windows_from_the_initial_cash(goog: BarSeries) -> None:
    result = walk_forward("sma_cross", goog, GRID, train_bars=TRAIN, test_bars=TEST)
    assert result.equity[0] == 100_000.0
    np.testing.assert_array_equal(result.ts, goog.ts[TRAIN - 1 :])
    for w in result.windows:
        start = result.equity[w.test_start - TRAIN]  # the anchor bar's row
        end = result.equity[w.test_stop - TRAIN]
        assert end / start - 1 == pytest.approx(w.stats.return_pct / 100, rel=1e-9, abs=1e-12)
    total = np.prod([1 + w.stats.return_pct / 100 for w in result.windows]) - 1
    assert result.stats.return_pct == pytest.approx(100 * total, rel=1e-9)
    assert result.stats.n_trades == sum(w.stats.n_trades for w in result.windows)
    ins = [w.in_sample for w in result.windows]
    outs = [w.out_of_sample for w in result.windows]
    assert result.degradation == pytest.approx(np.mean(outs) - np.mean(ins))


def test_out_of_sample_results_ignore_the_bars_after_the_window(goog: BarSeries) -> None:
    cut = TRAIN + 2 * TEST  # the end of the second test window
    closes = goog.close.copy()
    closes[cut:] = closes[cut:][::-1]  # a different future
    changed = BarSeries.from_arrays(
        goog.instrument_id,
        goog.ts,
        goog.open,
        np.maximum(goog.high, closes),
        np.minimum(goog.low, closes),
        closes,
        goog.volume,
    )
    a = walk_forward("sma_cross", goog, GRID, train_bars=TRAIN, test_bars=TEST)
    b = walk_forward("sma_cross", changed, GRID, train_bars=TRAIN, test_bars=TEST)
    for wa, wb in zip(a.windows[:2], b.windows[:2], strict=True):
        assert (wa.params, wa.in_sample, wa.out_of_sample) == (
            wb.params,
            wb.in_sample,
            wb.out_of_sample,
        )
    np.testing.assert_array_equal(a.equity[: cut - TRAIN + 1], b.equity[: cut - TRAIN + 1])
    assert not np.array_equal(a.equity, b.equity)


def test_optuna_spaces_and_bad_windows(goog: BarSeries) -> None:
    result = walk_forward(
        "sma_cross",
        goog.slice(0, 600),
        space={"fast": (3, 15), "slow": (20, 50)},
        train_bars=TRAIN,
        test_bars=TEST,
        n_trials=5,
        seed=2,
    )
    assert result.method == "optuna" and len(result.windows) == 2
    with pytest.raises(ValueError, match="longer than the data"):
        walk_forward("sma_cross", goog, GRID, train_bars=900, test_bars=200)
    with pytest.raises(ValueError, match="exactly one"):
        walk_forward("sma_cross", goog, GRID, space={"fast": (2, 5)}, train_bars=9, test_bars=9)
    with pytest.raises(ValueError, match="test_bars"):
        walk_forward("sma_cross", goog, GRID, train_bars=TRAIN, test_bars=0)
    with pytest.raises(ValueError, match="unknown objective"):
        walk_forward("sma_cross", goog, GRID, train_bars=TRAIN, test_bars=TEST, objective="x")


def test_windows_without_feasible_parameters_stay_in_cash(goog: BarSeries) -> None:
    result = walk_forward(
        "sma_cross", goog, GRID, train_bars=TRAIN, test_bars=TEST, min_trades=10_000
    )
    assert all(w.params is None for w in result.windows)
    assert (result.equity == 100_000.0).all()
    assert result.stats.n_trades == 0
