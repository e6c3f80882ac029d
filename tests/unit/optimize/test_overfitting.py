"""Deflated Sharpe ratio and probability of backtest overfitting: hand cases, properties."""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest

from quantgrid.optimize import (
    deflated_sharpe_ratio,
    expected_maximum_sharpe,
    per_period_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)

GAMMA = 0.5772156649015329
N = NormalDist()


def test_expected_maximum_sharpe_by_hand() -> None:
    # sqrt(V) ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e))), N = 10, V = 0.04
    by_hand = 0.2 * ((1 - GAMMA) * N.inv_cdf(0.9) + GAMMA * N.inv_cdf(1 - 1 / (10 * math.e)))
    assert expected_maximum_sharpe(10, 0.04) == pytest.approx(by_hand, rel=1e-12)
    assert expected_maximum_sharpe(1, 0.04) == 0.0
    assert expected_maximum_sharpe(100, 0.0) == 0.0
    with pytest.raises(ValueError, match="n_trials"):
        expected_maximum_sharpe(0, 0.04)


def test_probabilistic_sharpe_ratio_by_hand() -> None:
    r = np.array([0.01, -0.02, 0.03, 0.005, -0.01, 0.02, 0.015, -0.005])
    sr = r.mean() / r.std(ddof=1)
    centred = r - r.mean()
    m2 = np.mean(centred**2)
    skew = np.mean(centred**3) / m2**1.5
    kurt = np.mean(centred**4) / m2**2  # non-excess: 3 for a normal
    z = (sr - 0.1) * math.sqrt(len(r) - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert per_period_sharpe(r) == pytest.approx(sr)
    assert probabilistic_sharpe_ratio(sr, 0.1, r) == pytest.approx(N.cdf(z), rel=1e-12)


def test_deflated_sharpe_is_below_psr_and_falls_with_more_trials() -> None:
    rng = np.random.default_rng(4)
    r = rng.normal(0.0008, 0.01, 750)
    sr = per_period_sharpe(r)
    psr = probabilistic_sharpe_ratio(sr, 0.0, r)
    assert deflated_sharpe_ratio(sr, 1, r, 0.002) == pytest.approx(psr)
    dsrs = [deflated_sharpe_ratio(sr, n, r, 0.002) for n in (2, 10, 100, 1000)]
    assert all(d < psr for d in dsrs)
    assert dsrs == sorted(dsrs, reverse=True)
    assert dsrs[0] > dsrs[-1] + 0.05


def test_annualised_inputs_are_converted_to_per_period() -> None:
    r = np.random.default_rng(5).normal(0.001, 0.01, 500)
    sr = per_period_sharpe(r)
    per_period = deflated_sharpe_ratio(sr, 20, r, 0.001)
    annual = deflated_sharpe_ratio(sr * math.sqrt(252), 20, r, 0.001 * 252, periods_per_year=252)
    assert annual == pytest.approx(per_period)


def test_pbo_hand_case_where_the_in_sample_winner_always_loses() -> None:
    # Two groups of two rows. A wins the first half and loses the second, B the reverse,
    # C is steady: whichever half is in sample, its winner ranks last out of sample.
    a = [0.03, 0.01, -0.01, -0.03]
    b = [-0.01, -0.03, 0.03, 0.01]
    c = [0.01, 0.0, 0.01, 0.0]
    assert probability_of_backtest_overfitting(np.array([a, b, c]).T, n_splits=2) == 1.0
    # A trial best in both halves is always picked and always best out of sample.
    d = [0.05, 0.03, 0.05, 0.03]
    assert probability_of_backtest_overfitting(np.array([a, b, c, d]).T, n_splits=2) == 0.0


def _pbo_brute_force(m: np.ndarray, s: int) -> float:
    groups = np.array_split(np.arange(len(m)), s)
    n = m.shape[1]
    logits = []
    for combo in itertools.combinations(range(s), s // 2):
        rows_in = np.concatenate([groups[g] for g in combo])
        rows_out = np.concatenate([groups[g] for g in range(s) if g not in combo])
        sr_in = m[rows_in].mean(0) / m[rows_in].std(0, ddof=1)
        sr_out = m[rows_out].mean(0) / m[rows_out].std(0, ddof=1)
        best = int(np.argmax(sr_in))
        rank = 1 + np.sum(sr_out < sr_out[best])  # no ties in continuous noise
        omega = rank / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
    return float(np.mean(np.array(logits) <= 0))


def test_pbo_equals_a_brute_force_loop() -> None:
    m = np.random.default_rng(6).normal(0.0, 0.01, (103, 7))
    assert probability_of_backtest_overfitting(m, 6) == _pbo_brute_force(m, 6)


def test_pbo_of_pure_noise_is_about_one_half() -> None:
    pbos = [
        probability_of_backtest_overfitting(
            np.random.default_rng(seed).normal(0.0, 0.01, (500, 20)), 16
        )
        for seed in range(6)
    ]
    assert np.mean(pbos) == pytest.approx(0.5, abs=0.12)


def test_pbo_is_near_zero_when_one_trial_is_truly_better() -> None:
    m = np.random.default_rng(7).normal(0.0, 0.01, (500, 20))
    m[:, 3] += 0.004  # a per-period Sharpe of 0.4 against noise
    assert probability_of_backtest_overfitting(m, 16) < 0.02


@pytest.mark.parametrize(
    ("shape", "splits", "message"),
    [((100, 5), 5, "even"), ((20, 5), 16, "at least 32 periods"), ((100, 1), 4, "2 trials")],
)
def test_pbo_refuses_bad_input(shape: tuple[int, int], splits: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        probability_of_backtest_overfitting(np.zeros(shape), splits)
