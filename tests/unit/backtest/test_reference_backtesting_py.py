"""The engine against backtesting.py on real daily prices nobody here generated.

Conventions are aligned, not fudged: both fill market orders at the next bar's open,
charge commission on both sides as a fraction of traded value, size "all cash" entries
at the fill from the buying power in whole units, and flatten on the penultimate bar so
neither engine's end-of-data rule decides the final equity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest
from backtesting import Strategy as BtStrategy

from quantgrid.backtest import BacktestConfig, BacktestResult, run_backtest
from quantgrid.data import load_bars
from quantgrid.indicators import ema, rsi, sma
from quantgrid.model import Bar
from quantgrid.strategy import EmaCross, RsiMeanReversion, SmaCross, Strategy

CASH = 10_000.0


def _flatten_before_end(base: type[Strategy], n_bars: int) -> type[Strategy]:
    class Flattening(base):  # type: ignore[valid-type, misc]
        name: ClassVar[str] = base.name

        def on_start(self) -> None:
            super().on_start()
            self._seen = 0

        def on_bar(self, bar: Bar) -> None:
            self._seen += 1
            if self._seen == n_bars - 1:
                self.close(bar.instrument_id)
            elif self._seen < n_bars - 1:
                super().on_bar(bar)

    return Flattening


def _bt_cross(average: Any, fast: int, slow: int, size: float | None, n_bars: int) -> type:
    class Cross(BtStrategy):  # type: ignore[misc]
        def init(self) -> None:
            close = np.asarray(self.data.Close, dtype=float)
            self.f = self.I(average, close, fast)
            self.s = self.I(average, close, slow)

        def next(self) -> None:
            if len(self.data) == n_bars - 1:
                self.position.close()
                return
            if len(self.data) == n_bars:
                return
            f, s, pf, ps = self.f[-1], self.s[-1], self.f[-2], self.s[-2]
            held = self.position.size
            if f > s and pf <= ps and held <= 0:
                self.position.close()
                self.buy(size=size) if size else self.buy()
            elif f < s and pf >= ps and held >= 0:
                self.position.close()
                self.sell(size=size) if size else self.sell()

    return Cross


def _bt_rsi(size: float | None, n_bars: int) -> type:
    class Rsi(BtStrategy):  # type: ignore[misc]
        def init(self) -> None:
            self.r = self.I(rsi, np.asarray(self.data.Close, dtype=float), 14)

        def next(self) -> None:
            if len(self.data) == n_bars - 1:
                self.position.close()
                return
            if len(self.data) == n_bars:
                return
            value, position = self.r[-1], self.position.size
            if np.isnan(value):
                return
            if position == 0:
                if value < 30:
                    self.buy(size=size) if size else self.buy()
                elif value > 70:
                    self.sell(size=size) if size else self.sell()
            elif (position > 0 and value >= 50) or (position < 0 and value <= 50):
                self.position.close()

    return Rsi


def _compare(ours: BacktestResult, theirs: pd.Series) -> None:
    assert ours.stats.n_trades == theirs["# Trades"]
    assert ours.stats.equity_final == pytest.approx(theirs["Equity Final [$]"], rel=0.005)
    assert ours.stats.max_drawdown_pct == pytest.approx(theirs["Max. Drawdown [%]"], rel=0.005)
    # Much tighter than the 0.5 % asked: the whole curve, bar by bar.
    curve = theirs["_equity_curve"]["Equity"].to_numpy()
    np.testing.assert_allclose(ours.equity, curve, rtol=1e-9)
    trades = theirs["_trades"]
    np.testing.assert_allclose([t.entry_price for t in ours.trades], trades["EntryPrice"])
    np.testing.assert_allclose([t.exit_price for t in ours.trades], trades["ExitPrice"])
    np.testing.assert_allclose([t.size for t in ours.trades], trades["Size"])
    np.testing.assert_allclose([t.pnl for t in ours.trades], trades["PnL"], rtol=1e-9)


@pytest.fixture(scope="module")
def goog(goog_csv: Path) -> tuple[Any, pd.DataFrame]:
    series = load_bars(goog_csv, "GOOG")
    frame = pd.read_csv(goog_csv, index_col=0, parse_dates=True)
    return series, frame


@pytest.mark.parametrize("commission", [0.0, 0.002])
@pytest.mark.parametrize("size", [None, 10.0])
@pytest.mark.parametrize(
    ("ours", "average", "fast", "slow"),
    [(SmaCross, sma, 10, 20), (EmaCross, ema, 12, 26)],
    ids=["sma_cross", "ema_cross"],
)
def test_moving_average_cross_matches_backtesting_py(
    goog: tuple[Any, pd.DataFrame],
    ours: type[Strategy],
    average: Any,
    fast: int,
    slow: int,
    size: float | None,
    commission: float,
) -> None:
    series, frame = goog
    n = len(frame)
    result = run_backtest(
        _flatten_before_end(ours, n),
        series,
        {"fast": fast, "slow": slow, "size": size},
        BacktestConfig(initial_cash=CASH, commission=commission),
    )
    theirs = Backtest(
        frame, _bt_cross(average, fast, slow, size, n), cash=CASH, commission=commission
    ).run()
    assert result.stats.n_trades >= 40
    _compare(result, theirs)


@pytest.mark.parametrize("size", [None, 5.0])
def test_rsi_mean_reversion_matches_backtesting_py(
    goog: tuple[Any, pd.DataFrame], size: float | None
) -> None:
    series, frame = goog
    n = len(frame)
    result = run_backtest(
        _flatten_before_end(RsiMeanReversion, n),
        series,
        {"size": size},
        BacktestConfig(initial_cash=CASH, commission=0.001),
    )
    theirs = Backtest(frame, _bt_rsi(size, n), cash=CASH, commission=0.001).run()
    assert result.stats.n_trades > 10
    _compare(result, theirs)


def test_statistics_equal_empyrical_on_the_backtest_equity(goog: tuple[Any, pd.DataFrame]) -> None:
    empyrical = pytest.importorskip("empyrical")
    series, _ = goog
    result = run_backtest(SmaCross, series, {"fast": 10, "slow": 30}, BacktestConfig())
    index = pd.to_datetime(result.ts, utc=True)
    returns = pd.Series(result.equity, index=index).pct_change().dropna()
    stats = result.stats
    assert stats.periods_per_year == 252
    assert stats.sharpe == pytest.approx(empyrical.sharpe_ratio(returns), rel=1e-6)
    assert stats.sortino == pytest.approx(empyrical.sortino_ratio(returns), rel=1e-6)
    assert stats.volatility_ann_pct == pytest.approx(
        100 * empyrical.annual_volatility(returns), rel=1e-6
    )
    assert stats.cagr_pct == pytest.approx(100 * empyrical.cagr(returns), rel=1e-6)
    assert stats.max_drawdown_pct == pytest.approx(100 * empyrical.max_drawdown(returns), rel=1e-6)
    assert stats.calmar == pytest.approx(empyrical.calmar_ratio(returns), rel=1e-6)
