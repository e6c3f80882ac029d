"""Portfolio risk (RK-3) against numpy and scipy reference computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from quantgrid.risk import (
    ReturnMoments,
    ewma_correlation,
    ewma_covariance,
    historical_cvar,
    historical_var,
    kelly_fraction,
    kelly_fraction_from_returns,
    monte_carlo_cvar,
    monte_carlo_var,
    parametric_cvar,
    parametric_var,
    portfolio_returns,
    rolling_correlation,
    volatility_target_size,
)


@pytest.fixture
def returns() -> np.ndarray:
    # Student-t returns: fat tails so historical, normal and Cornish-Fisher differ.
    rng = np.random.default_rng(7)
    return 0.0005 + 0.01 * rng.standard_t(df=5, size=2_000)


@pytest.fixture
def returns_matrix() -> np.ndarray:
    rng = np.random.default_rng(11)
    cov = np.array([[1.0, 0.6, -0.2], [0.6, 2.0, 0.3], [-0.2, 0.3, 1.5]]) * 1e-4
    return rng.multivariate_normal([0.0004, 0.0002, 0.0006], cov, size=1_500)


WEIGHTS = np.array([0.5, 0.3, 0.2])


def _cornish_fisher_z(z: float, skew: float, kurt: float) -> float:
    return (
        z + (z**2 - 1) * skew / 6 + (z**3 - 3 * z) * kurt / 24 - (2 * z**3 - 5 * z) * skew**2 / 36
    )


# ----------------------------------------------------------------------- historical


@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_historical_var_and_cvar_match_numpy_quantile(
    returns: np.ndarray, confidence: float
) -> None:
    losses = -returns
    var = np.quantile(losses, confidence)
    assert historical_var(returns, confidence) == pytest.approx(var, rel=1e-12)
    assert historical_cvar(returns, confidence) == pytest.approx(
        losses[losses >= var].mean(), rel=1e-12
    )
    assert historical_cvar(returns, confidence) >= historical_var(returns, confidence) > 0


def test_historical_horizon_uses_overlapping_sums(returns: np.ndarray) -> None:
    h = 10
    sums = np.lib.stride_tricks.sliding_window_view(returns, h).sum(axis=1)
    var = np.quantile(-sums, 0.99)
    assert historical_var(returns, 0.99, h) == pytest.approx(var, rel=1e-9)
    assert historical_cvar(returns, 0.99, h) == pytest.approx((-sums)[-sums >= var].mean())


def test_historical_sqrt_time_scales_the_one_period_figure(returns: np.ndarray) -> None:
    one = historical_var(returns, 0.99)
    assert historical_var(returns, 0.99, 4, scaling="sqrt_time") == pytest.approx(2 * one)
    one_cvar = historical_cvar(returns, 0.99)
    assert historical_cvar(returns, 0.99, 9, scaling="sqrt_time") == pytest.approx(3 * one_cvar)


def test_historical_var_of_all_gains_is_negative() -> None:
    assert historical_var([0.01, 0.02, 0.03], 0.99) < 0


# ----------------------------------------------------------------------- parametric


@pytest.mark.parametrize(("confidence", "horizon"), [(0.95, 1), (0.99, 1), (0.99, 10)])
def test_parametric_normal_matches_scipy_closed_form(
    returns: np.ndarray, confidence: float, horizon: int
) -> None:
    mu = returns.mean() * horizon
    sigma = returns.std(ddof=1) * math.sqrt(horizon)
    z = stats.norm.ppf(confidence)
    assert parametric_var(returns, confidence, horizon) == pytest.approx(-mu + sigma * z)
    assert parametric_cvar(returns, confidence, horizon) == pytest.approx(
        -mu + sigma * stats.norm.pdf(z) / (1 - confidence)
    )
    # The scipy distribution agrees too.
    dist = stats.norm(loc=mu, scale=sigma)
    assert parametric_var(returns, confidence, horizon) == pytest.approx(-dist.ppf(1 - confidence))


def test_parametric_accepts_moments() -> None:
    moments = ReturnMoments(mean=0.001, std=0.02)
    assert parametric_var(moments, 0.99) == pytest.approx(-0.001 + 0.02 * stats.norm.ppf(0.99))
    assert parametric_var(moments, 0.99, 4) == pytest.approx(-0.004 + 0.04 * stats.norm.ppf(0.99))


@pytest.mark.parametrize("horizon", [1, 5])
def test_cornish_fisher_var_matches_direct_formula(returns: np.ndarray, horizon: int) -> None:
    skew = stats.skew(returns) / math.sqrt(horizon)
    kurt = stats.kurtosis(returns) / horizon
    z_cf = _cornish_fisher_z(stats.norm.ppf(0.01), skew, kurt)
    expected = -(returns.mean() * horizon + returns.std(ddof=1) * math.sqrt(horizon) * z_cf)
    actual = parametric_var(returns, 0.99, horizon, method="cornish_fisher")
    assert actual == pytest.approx(expected, rel=1e-12)
    # Fat tails push the 99 % Cornish-Fisher VaR above the normal one.
    assert actual > parametric_var(returns, 0.99, horizon)


@pytest.mark.parametrize(("skew", "kurt"), [(0.0, 0.0), (-0.5, 2.0), (0.3, 1.0)])
def test_cornish_fisher_cvar_is_tail_mean_of_the_quantile(skew: float, kurt: float) -> None:
    moments = ReturnMoments(mean=0.0005, std=0.012, skewness=skew, excess_kurtosis=kurt)
    alpha = 0.025

    def var_at(u: float) -> float:
        return -(0.0005 + 0.012 * _cornish_fisher_z(stats.norm.ppf(u), skew, kurt))

    tail, _ = integrate.quad(var_at, 0.0, alpha, limit=200)
    actual = parametric_cvar(moments, 1 - alpha, method="cornish_fisher")
    assert actual == pytest.approx(tail / alpha, rel=1e-6)
    if skew == 0.0 and kurt == 0.0:
        assert actual == pytest.approx(parametric_cvar(moments, 1 - alpha))


# ---------------------------------------------------------------------- Monte Carlo


def test_portfolio_returns_is_matrix_product(returns_matrix: np.ndarray) -> None:
    np.testing.assert_allclose(
        portfolio_returns(returns_matrix, WEIGHTS), returns_matrix @ WEIGHTS, rtol=1e-15
    )


@pytest.mark.parametrize("horizon", [1, 10])
def test_monte_carlo_normal_converges_to_parametric(
    returns_matrix: np.ndarray, horizon: int
) -> None:
    port = portfolio_returns(returns_matrix, WEIGHTS)
    mc_var = monte_carlo_var(returns_matrix, WEIGHTS, 0.99, horizon, n_paths=400_000, seed=1)
    mc_cvar = monte_carlo_cvar(returns_matrix, WEIGHTS, 0.99, horizon, n_paths=400_000, seed=1)
    assert mc_var == pytest.approx(parametric_var(port, 0.99, horizon), rel=0.02)
    assert mc_cvar == pytest.approx(parametric_cvar(port, 0.99, horizon), rel=0.02)


@pytest.mark.parametrize("bootstrap", [False, True])
def test_monte_carlo_is_reproducible_with_a_seed(
    returns_matrix: np.ndarray, bootstrap: bool
) -> None:
    def run(seed: int) -> float:
        return monte_carlo_var(
            returns_matrix, WEIGHTS, 0.99, 5, n_paths=5_000, seed=seed, bootstrap=bootstrap
        )

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_monte_carlo_bootstrap_converges_to_historical(returns_matrix: np.ndarray) -> None:
    port = portfolio_returns(returns_matrix, WEIGHTS)
    mc = monte_carlo_var(returns_matrix, WEIGHTS, 0.99, 1, n_paths=400_000, seed=2, bootstrap=True)
    assert mc == pytest.approx(historical_var(port, 0.99), rel=0.03)
    mc_cvar = monte_carlo_cvar(
        returns_matrix, WEIGHTS, 0.99, 1, n_paths=400_000, seed=2, bootstrap=True
    )
    assert mc_cvar == pytest.approx(historical_cvar(port, 0.99), rel=0.03)


# ----------------------------------------------------------------- co-movement


def test_rolling_correlation_equals_corrcoef_per_window(returns_matrix: np.ndarray) -> None:
    window = 60
    data = returns_matrix[:200]
    out = rolling_correlation(data, window)
    assert out.shape == (200, 3, 3)
    assert np.isnan(out[: window - 1]).all()
    for t in range(window - 1, 200):
        expected = np.corrcoef(data[t - window + 1 : t + 1], rowvar=False)
        np.testing.assert_allclose(out[t], expected, rtol=1e-10, atol=1e-12)


def test_rolling_correlation_constant_asset_is_nan() -> None:
    data = np.column_stack([np.linspace(0, 1, 10), np.zeros(10)])
    out = rolling_correlation(data, 5)
    assert np.isnan(out[4:, 0, 1]).all()
    assert out[4:, 0, 0] == pytest.approx(1.0)


def _ewma_reference(data: np.ndarray, lam: float, seed_window: int) -> np.ndarray:
    t, n = data.shape
    out = np.full((t, n, n), np.nan)
    sigma = np.cov(data[:seed_window].T)
    out[seed_window - 1] = sigma
    for i in range(seed_window, t):
        for a in range(n):
            for b in range(n):
                sigma[a, b] = lam * sigma[a, b] + (1 - lam) * data[i, a] * data[i, b]
        out[i] = sigma
    return out


def test_ewma_covariance_matches_hand_loop(returns_matrix: np.ndarray) -> None:
    data = returns_matrix[:300]
    np.testing.assert_allclose(
        ewma_covariance(data, lam=0.97, seed_window=30),
        _ewma_reference(data, 0.97, 30),
        rtol=1e-12,
        equal_nan=True,
    )
    # Default is RiskMetrics daily lambda = 0.94; halflife converts to the same decay.
    np.testing.assert_allclose(
        ewma_covariance(data), _ewma_reference(data, 0.94, 20), rtol=1e-12, equal_nan=True
    )
    halflife = math.log(0.5) / math.log(0.94)
    np.testing.assert_allclose(
        ewma_covariance(data, halflife=halflife), ewma_covariance(data), rtol=1e-12, equal_nan=True
    )


def test_ewma_correlation_normalises_the_covariance(returns_matrix: np.ndarray) -> None:
    data = returns_matrix[:300]
    cov = _ewma_reference(data, 0.94, 20)
    corr = ewma_correlation(data)
    assert np.isnan(corr[:19]).all()
    for t in (19, 100, 299):
        std = np.sqrt(np.diag(cov[t]))
        np.testing.assert_allclose(corr[t], cov[t] / np.outer(std, std), rtol=1e-12)


# ---------------------------------------------------------------- position sizing


@pytest.mark.parametrize(
    ("p", "b", "expected"), [(0.6, 1.0, 0.2), (0.5, 2.0, 0.25), (0.4, 1.0, -0.2), (1.0, 3.0, 1.0)]
)
def test_kelly_fraction_known_cases(p: float, b: float, expected: float) -> None:
    assert kelly_fraction(p, b) == pytest.approx(expected)


def test_kelly_fraction_cap() -> None:
    assert kelly_fraction(0.6, 1.0, cap=0.1) == pytest.approx(0.1)
    assert kelly_fraction(0.4, 1.0, cap=0.1) == pytest.approx(-0.1)
    assert kelly_fraction(0.6, 1.0, cap=0.5) == pytest.approx(0.2)


def test_kelly_fraction_from_returns_is_mean_over_variance() -> None:
    r = np.array([0.01, -0.005, 0.02, 0.0, 0.003])
    assert kelly_fraction_from_returns(r) == pytest.approx(r.mean() / r.var(ddof=1))
    assert kelly_fraction_from_returns(r, cap=2.0) == pytest.approx(2.0)


def test_volatility_target_size_arithmetic() -> None:
    # 10 % of 1,000,000 at 20 % asset vol -> 500,000 notional -> 5,000 units at 100.
    assert volatility_target_size(0.10, asset_vol=0.20, price=100.0, equity=1e6) == 5_000
    # Floors rather than rounds: 500,000 / 101 = 4,950.5.
    assert volatility_target_size(0.10, asset_vol=0.20, price=101.0, equity=1e6) == 4_950
    r = np.array([0.01, -0.01, 0.02, -0.02])
    vol = r.std(ddof=1) * math.sqrt(252)
    assert volatility_target_size(0.15, asset_returns=r, price=50.0, equity=2e5) == math.floor(
        0.15 * 2e5 / (vol * 50.0)
    )
    assert volatility_target_size(
        0.15, asset_returns=r, price=50.0, equity=2e5, periods_per_year=52
    ) == math.floor(0.15 * 2e5 / (r.std(ddof=1) * math.sqrt(52) * 50.0))


# ------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: historical_var([0.01, -0.02], 1.0), "confidence"),
        (lambda: historical_var([0.01, -0.02], 0.0), "confidence"),
        (lambda: historical_var([0.01, -0.02], 0.99, 0), "horizon"),
        (lambda: historical_var([0.01, -0.02], 0.99, 3), "at least 3"),
        (lambda: historical_var([0.01, math.nan], 0.99), "finite"),
        (lambda: historical_var([[0.01]], 0.99), "one-dimensional"),
        (lambda: historical_var([0.01], 0.99, scaling="linear"), "scaling"),  # type: ignore[arg-type]
        (lambda: parametric_var([0.01, 0.02, 0.03], 0.99, method="t"), "method"),  # type: ignore[arg-type]
        (lambda: parametric_var([0.01, 0.02], 0.99), "at least 3"),
        (lambda: parametric_var(ReturnMoments(0.0, -1.0), 0.99), "std"),
        (lambda: portfolio_returns(np.zeros((5, 3)), [0.5, 0.5]), "weights"),
        (lambda: portfolio_returns(np.zeros(5), [1.0]), "two-dimensional"),
        (lambda: monte_carlo_var(np.zeros((5, 1)), [1.0], 0.99, n_paths=0), "n_paths"),
        (lambda: rolling_correlation(np.zeros((5, 2)), 1), "window"),
        (lambda: ewma_covariance(np.zeros((5, 2)), lam=1.0), "lam"),
        (lambda: ewma_covariance(np.zeros((5, 2)), lam=0.9, halflife=5), "not both"),
        (lambda: ewma_covariance(np.zeros((5, 2)), halflife=-1), "halflife"),
        (lambda: ewma_covariance(np.zeros((5, 2)), seed_window=6), "seed_window"),
        (lambda: kelly_fraction(1.2, 1.0), "win_rate"),
        (lambda: kelly_fraction(0.5, 0.0), "win_loss_ratio"),
        (lambda: kelly_fraction(0.5, 1.0, cap=0.0), "cap"),
        (lambda: kelly_fraction_from_returns([0.01, 0.01]), "vary"),
        (lambda: volatility_target_size(0.0, asset_vol=0.2, price=1, equity=1), "target"),
        (lambda: volatility_target_size(0.1, asset_vol=0.2, price=0, equity=1), "price"),
        (lambda: volatility_target_size(0.1, asset_vol=0.2, price=1, equity=-1), "equity"),
        (lambda: volatility_target_size(0.1, asset_vol=-0.2, price=1, equity=1), "asset_vol"),
        (lambda: volatility_target_size(0.1, price=1, equity=1), "exactly one"),
        (
            lambda: volatility_target_size(
                0.1, asset_vol=0.2, asset_returns=[0.1], price=1, equity=1
            ),
            "exactly one",
        ),
        (
            lambda: volatility_target_size(
                0.1, asset_returns=[0.1, -0.1], price=1, equity=1, periods_per_year=0
            ),
            "periods_per_year",
        ),
        (lambda: volatility_target_size(0.1, asset_returns=[0.1, 0.1], price=1, equity=1), "vary"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_argument(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]
