"""Statistics against empyrical, quantstats and backtesting.py on the same returns."""

from __future__ import annotations

import json
import math

import empyrical
import numpy as np
import pandas as pd
import pytest
import quantstats
from backtesting._stats import compute_stats
from hypothesis import example, given, settings
from hypothesis import strategies as st

from quantgrid.analytics import STAT_KEYS, Statistics, compute_statistics, daily_returns, drawdown
from quantgrid.core import NANOS_PER_DAY, dt_to_ns
from quantgrid.model import ClosedTrade

HOUR = NANOS_PER_DAY // 24
MONDAY = dt_to_ns(pd.Timestamp("2024-01-01", tz="UTC").to_pydatetime())


def _close(actual: float, expected: float) -> bool:
    if math.isnan(expected) or math.isinf(expected):
        return actual == expected or (math.isnan(actual) and math.isnan(expected))
    return actual == pytest.approx(expected, rel=1e-6, abs=1e-10)


def _stats(ts: np.ndarray, equity: np.ndarray, **kwargs: object) -> Statistics:
    return compute_statistics(
        ts,
        equity,
        np.ones(len(equity)),
        [],
        closes={"A": equity},
        commissions=0.0,
        engine_seconds=0.0,
        **kwargs,  # type: ignore[arg-type]
    )


def _check_against_references(stats: Statistics, ts: np.ndarray, equity: np.ndarray) -> None:
    days, rets = daily_returns(ts, equity)
    returns = pd.Series(rets, index=pd.to_datetime(days, unit="ns", utc=True))
    periods = stats.periods_per_year
    rf = stats.risk_free_rate / periods
    expected = {
        "sharpe": empyrical.sharpe_ratio(returns, risk_free=rf, annualization=periods),
        "sortino": empyrical.sortino_ratio(returns, required_return=rf, annualization=periods),
        "volatility_ann_pct": 100 * empyrical.annual_volatility(returns, annualization=periods),
        "return_ann_pct": 100 * empyrical.annual_return(returns, annualization=periods),
        "cagr_pct": 100 * quantstats.stats.cagr(returns, rf=stats.risk_free_rate, periods=periods),
        "calmar": empyrical.calmar_ratio(returns, annualization=periods),
    }
    for key, value in expected.items():
        assert _close(getattr(stats, key), float(value)), (key, getattr(stats, key), value)


def _daily_ts(n: int, *, business_days: bool, start: int = MONDAY) -> np.ndarray:
    if not business_days:
        return start + np.arange(n, dtype=np.int64) * NANOS_PER_DAY
    days = pd.bdate_range(pd.Timestamp(start, unit="ns", tz="UTC"), periods=n)
    return days.as_unit("ns").asi8.astype(np.int64)


def _equity(returns: np.ndarray, initial: float = 10_000.0) -> np.ndarray:
    return initial * np.cumprod(np.concatenate(([1.0], 1.0 + returns)))


def test_stat_keys_follow_the_field_order() -> None:
    assert STAT_KEYS == (
        "start", "end", "bars", "exposure_pct", "equity_final", "equity_peak", "return_pct",
        "buy_hold_return_pct", "return_ann_pct", "volatility_ann_pct", "cagr_pct", "sharpe",
        "sortino", "calmar", "max_drawdown_pct", "avg_drawdown_pct",
        "max_drawdown_duration_days", "n_trades", "win_rate_pct", "best_trade_pct",
        "worst_trade_pct", "avg_trade_pct", "profit_factor", "expectancy_pct", "sqn", "kelly",
        "commissions", "engine_seconds", "periods_per_year", "risk_free_rate",
    )  # fmt: skip


@pytest.mark.parametrize("business_days", [True, False])
def test_daily_curve_with_fixed_seed_matches_references(business_days: bool) -> None:
    rng = np.random.default_rng(7)
    equity = _equity(rng.normal(0.0004, 0.012, 500))
    ts = _daily_ts(len(equity), business_days=business_days)
    stats = _stats(ts, equity)
    assert stats.periods_per_year == (252 if business_days else 365)
    _check_against_references(stats, ts, equity)
    # On daily bars the bar-level drawdown is the daily-return drawdown.
    _, rets = daily_returns(ts, equity)
    assert _close(stats.max_drawdown_pct, 100 * empyrical.max_drawdown(rets))
    assert stats.cagr_pct == stats.return_ann_pct


@settings(max_examples=15, deadline=None)
@given(
    returns=st.lists(
        st.floats(-0.08, 0.08, allow_nan=False, allow_subnormal=False), min_size=2, max_size=200
    ),
    business_days=st.booleans(),
    risk_free_rate=st.sampled_from([0.0, 0.02]),
)
# Near-zero return and drawdown: their ratio (Calmar) only agrees with identical arithmetic.
@example(returns=[0.0, -2.220446049250313e-16], business_days=False, risk_free_rate=0.0)
def test_random_daily_curves_match_references(
    returns: list[float], business_days: bool, risk_free_rate: float
) -> None:
    equity = _equity(np.array(returns))
    ts = _daily_ts(len(equity), business_days=business_days)
    stats = _stats(ts, equity, risk_free_rate=risk_free_rate)
    _check_against_references(stats, ts, equity)
    assert _close(stats.max_drawdown_pct, 100 * empyrical.max_drawdown(np.array(returns)))


def test_intraday_curve_resamples_to_days_like_pandas() -> None:
    rng = np.random.default_rng(11)
    n = 24 * 40 + 5  # 40 days of hourly bars, starting mid-day, ending mid-day
    ts = MONDAY + 13 * HOUR + np.arange(n, dtype=np.int64) * HOUR
    equity = 50_000.0 * np.cumprod(1.0 + rng.normal(0.0, 0.004, n))
    stats = _stats(ts, equity)
    assert stats.periods_per_year == 365  # bars every day of the week

    frame = pd.Series(equity, index=pd.to_datetime(ts, unit="ns", utc=True))
    expected = frame.resample("D").last().dropna().pct_change().dropna()
    days, rets = daily_returns(ts, equity)
    np.testing.assert_allclose(rets, expected.to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(days, expected.index.as_unit("ns").asi8)
    _check_against_references(stats, ts, equity)
    # The bar-level drawdown sees intraday troughs the daily closes miss.
    assert stats.max_drawdown_pct <= 100 * empyrical.max_drawdown(rets)
    assert _close(stats.max_drawdown_pct, 100 * float(drawdown(equity).min()))


def test_nonzero_risk_free_rate_matches_references() -> None:
    rng = np.random.default_rng(3)
    equity = _equity(rng.normal(0.0005, 0.01, 300))
    ts = _daily_ts(len(equity), business_days=True)
    stats = _stats(ts, equity, risk_free_rate=0.05)
    base = _stats(ts, equity)
    assert stats.risk_free_rate == 0.05
    assert stats.sharpe < base.sharpe
    assert stats.sortino < base.sortino
    assert stats.return_ann_pct == base.return_ann_pct
    _check_against_references(stats, ts, equity)


def test_drawdown_statistics_match_backtesting_py() -> None:
    rng = np.random.default_rng(5)
    equity = _equity(rng.normal(0.001, 0.015, 400))
    equity = np.append(equity, equity.max() * 1.01)  # end on a new high
    ts = _daily_ts(len(equity), business_days=True)
    trades = _trades()
    stats = compute_statistics(
        ts,
        equity,
        np.ones(len(equity)),
        trades,
        closes={"A": equity},
        commissions=0.0,
        engine_seconds=0.0,
    )
    index = pd.to_datetime(ts, unit="ns", utc=True).tz_localize(None)
    trades_df = pd.DataFrame(
        {
            "PnL": [t.pnl for t in trades],
            "ReturnPct": [t.return_pct for t in trades],
            "EntryBar": [0] * len(trades),
            "ExitBar": [1] * len(trades),
            "Duration": [pd.Timedelta(days=1)] * len(trades),
        }
    )
    ohlc = pd.DataFrame({"Close": equity}, index=index)
    ref = compute_stats(trades_df, equity, ohlc, None)
    assert _close(stats.max_drawdown_pct, ref["Max. Drawdown [%]"])
    assert _close(stats.avg_drawdown_pct, ref["Avg. Drawdown [%]"])
    assert stats.max_drawdown_duration_days == ref["Max. Drawdown Duration"].days
    for key, label in [
        ("win_rate_pct", "Win Rate [%]"),
        ("best_trade_pct", "Best Trade [%]"),
        ("worst_trade_pct", "Worst Trade [%]"),
        ("avg_trade_pct", "Avg. Trade [%]"),
        ("profit_factor", "Profit Factor"),
        ("expectancy_pct", "Expectancy [%]"),
        ("sqn", "SQN"),
        ("kelly", "Kelly Criterion"),
        ("return_pct", "Return [%]"),
        ("buy_hold_return_pct", "Buy & Hold Return [%]"),
    ]:
        assert _close(getattr(stats, key), float(ref[label])), key


def test_drawdown_episodes_by_hand() -> None:
    day = NANOS_PER_DAY
    ts = np.arange(8, dtype=np.int64) * day
    equity = np.array([100.0, 110.0, 99.0, 88.0, 110.0, 120.0, 114.0, 108.0])
    np.testing.assert_allclose(drawdown(equity), [0, 0, -0.1, -0.2, 0, 0, -0.05, -0.1])
    stats = _stats(ts, equity, periods_per_year=252)
    assert stats.max_drawdown_pct == pytest.approx(-20.0)
    # Episodes: peak 1 -> recovered at 4 (trough -20%), peak 5 -> unrecovered at 7 (-10%).
    assert stats.avg_drawdown_pct == pytest.approx(-15.0)
    assert stats.max_drawdown_duration_days == 3.0
    assert stats.equity_peak == 120.0
    assert stats.return_pct == pytest.approx(8.0)


def test_one_bar_unrecovered_drawdown_at_the_end_counts_as_an_episode() -> None:
    # backtesting.py drops this episode (its peak is the second-to-last bar); we keep it.
    ts = np.arange(4, dtype=np.int64) * NANOS_PER_DAY
    stats = _stats(ts, np.array([100.0, 95.0, 120.0, 108.0]), periods_per_year=252)
    assert stats.avg_drawdown_pct == pytest.approx((-5.0 - 10.0) / 2)
    assert stats.max_drawdown_duration_days == 2.0


def _trade(pnl: float, return_pct: float) -> ClosedTrade:
    return ClosedTrade(
        instrument_id="A",
        size=1.0,
        entry_ts=0,
        entry_price=100.0,
        exit_ts=NANOS_PER_DAY,
        exit_price=100.0,
        pnl=pnl,
        return_pct=return_pct,
        commission=1.0,
    )


def _trades() -> list[ClosedTrade]:
    return [_trade(100.0, 0.10), _trade(-50.0, -0.05), _trade(200.0, 0.20), _trade(-25.0, -0.025)]


def test_trade_statistics_by_hand() -> None:
    ts = _daily_ts(3, business_days=True)
    stats = compute_statistics(
        ts,
        np.array([1000.0, 1100.0, 1225.0]),
        np.array([0.0, 500.0, 0.0]),
        _trades(),
        closes={"A": np.array([10.0, 11.0, 12.0]), "B": np.array([20.0, 19.0, 18.0])},
        commissions=4.0,
        engine_seconds=0.5,
    )
    assert stats.n_trades == 4
    assert stats.win_rate_pct == 50.0
    assert stats.best_trade_pct == pytest.approx(20.0)
    assert stats.worst_trade_pct == pytest.approx(-5.0)
    assert stats.avg_trade_pct == pytest.approx(100 * ((1.1 * 0.95 * 1.2 * 0.975) ** 0.25 - 1))
    assert stats.profit_factor == pytest.approx(0.30 / 0.075)
    assert stats.expectancy_pct == pytest.approx((10 - 5 + 20 - 2.5) / 4)
    # pnl mean 56.25, squared deviations sum to 40468.75.
    assert stats.sqn == pytest.approx(2 * 56.25 / math.sqrt(40468.75 / 3))
    assert stats.kelly == pytest.approx(0.5 - 0.5 / (150.0 / 37.5))
    assert stats.exposure_pct == pytest.approx(100 / 3)
    assert stats.buy_hold_return_pct == pytest.approx((20.0 - 10.0) / 2)
    assert (stats.commissions, stats.engine_seconds) == (4.0, 0.5)


def test_one_sided_trade_lists_leave_undefined_stats_nan() -> None:
    ts = _daily_ts(3, business_days=True)
    equity = np.array([1000.0, 1010.0, 1020.0])
    stats = compute_statistics(
        ts, equity, np.zeros(3), [_trade(10.0, 0.01)], closes={}, commissions=0, engine_seconds=0
    )
    assert stats.win_rate_pct == 100.0
    assert math.isnan(stats.profit_factor)  # no losing trade, as backtesting.py
    assert math.isnan(stats.sqn)  # one trade has no sample deviation
    assert math.isnan(stats.kelly)
    assert math.isnan(stats.buy_hold_return_pct)


def test_no_trades_and_flat_equity() -> None:
    ts = _daily_ts(30, business_days=True)
    stats = compute_statistics(
        ts, np.full(30, 1e6), np.zeros(30), [], closes={}, commissions=0.0, engine_seconds=0.0
    )
    assert stats.n_trades == 0
    assert stats.exposure_pct == 0.0
    assert stats.return_pct == 0.0
    assert stats.volatility_ann_pct == 0.0
    assert stats.return_ann_pct == 0.0
    assert stats.max_drawdown_pct == 0.0
    assert math.copysign(1.0, stats.max_drawdown_pct) == 1.0
    assert stats.avg_drawdown_pct == 0.0
    assert stats.max_drawdown_duration_days == 0.0
    for key in ("sharpe", "sortino", "calmar", "win_rate_pct", "sqn", "kelly", "avg_trade_pct"):
        assert math.isnan(getattr(stats, key)), key
    data = stats.to_dict()
    assert list(data) == list(STAT_KEYS)
    assert data["sharpe"] is None
    assert data["win_rate_pct"] is None
    assert data["bars"] == 30
    assert isinstance(data["n_trades"], int)
    assert data["start"] == "2024-01-01T00:00:00Z"
    json.dumps(data, allow_nan=False)


def test_constant_positive_returns_give_infinite_sharpe_as_empyrical() -> None:
    equity = 1024.0 * 1.5 ** np.arange(20)  # exact in binary: every return is exactly 0.5
    ts = _daily_ts(len(equity), business_days=True)
    stats = _stats(ts, equity)
    _check_against_references(stats, ts, equity)
    assert stats.sharpe == math.inf
    assert stats.sortino == math.inf
    assert math.isnan(stats.calmar)
    assert stats.to_dict()["sharpe"] is None


def test_single_day_of_intraday_bars_has_no_daily_returns() -> None:
    ts = MONDAY + np.arange(10, dtype=np.int64) * HOUR
    stats = _stats(ts, np.linspace(100.0, 90.0, 10))
    assert math.isnan(stats.sharpe)
    assert math.isnan(stats.return_ann_pct)
    assert stats.max_drawdown_pct == pytest.approx(-10.0)


@pytest.mark.parametrize("rows", [0, 1])
def test_too_short_equity_is_rejected(rows: int) -> None:
    with pytest.raises(ValueError, match="at least 2 rows"):
        _stats(np.arange(rows, dtype=np.int64), np.full(rows, 100.0))


def test_bad_inputs_are_rejected() -> None:
    ts = np.arange(3, dtype=np.int64) * NANOS_PER_DAY
    with pytest.raises(ValueError, match="differ in length"):
        _stats(ts, np.full(4, 100.0))
    with pytest.raises(ValueError, match="sorted"):
        _stats(ts[::-1].copy(), np.full(3, 100.0))
    with pytest.raises(ValueError, match="NaN"):
        _stats(ts, np.array([100.0, math.nan, 100.0]))
    with pytest.raises(ValueError, match="initial equity"):
        _stats(ts, np.array([0.0, 1.0, 2.0]))


def _sunday_sessions() -> np.ndarray:
    # Futures-style weeks: a bar late on Sunday, then Monday to Friday. One day in six is
    # on a weekend, below the 2/7 * 0.6 threshold.
    sundays = MONDAY - HOUR + np.arange(8, dtype=np.int64) * 7 * NANOS_PER_DAY
    return np.sort(np.concatenate([_daily_ts(40, business_days=True), sundays]))


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (_daily_ts(60, business_days=True), 252),
        (_daily_ts(60, business_days=False), 365),
        (MONDAY + np.arange(24 * 21, dtype=np.int64) * HOUR, 365),  # 24/7 hourly bars
        (MONDAY + np.arange(60, dtype=np.int64) * 7 * NANOS_PER_DAY, 52),
        (_sunday_sessions(), 252),
    ],
)
def test_periods_per_year_follows_the_calendar(ts: np.ndarray, expected: int) -> None:
    assert _stats(ts, np.linspace(100.0, 110.0, len(ts))).periods_per_year == expected


def test_explicit_periods_per_year_is_used_and_recorded() -> None:
    rng = np.random.default_rng(9)
    equity = _equity(rng.normal(0.0, 0.01, 100))
    ts = _daily_ts(len(equity), business_days=False)
    stats = _stats(ts, equity, periods_per_year=252)
    assert stats.periods_per_year == 252
    _check_against_references(stats, ts, equity)
    with pytest.raises(ValueError, match="periods_per_year"):
        _stats(ts, equity, periods_per_year=0)


def test_a_million_rows() -> None:
    n = 1_000_000
    rng = np.random.default_rng(0)
    ts = MONDAY + np.arange(n, dtype=np.int64) * 60_000_000_000
    equity = 1e6 * np.cumprod(1.0 + rng.normal(0.0, 1e-4, n))
    stats = _stats(ts, equity)
    assert stats.bars == n
    assert stats.max_drawdown_pct < 0
