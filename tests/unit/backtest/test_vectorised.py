"""The vectorised engine equals the event-driven one: trades, equity, statistics."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantgrid.backtest import (
    BacktestConfig,
    BacktestResult,
    cross_signals,
    run_backtest,
    run_vectorised,
)
from quantgrid.indicators import ema, sma
from quantgrid.model import Bar, BarSeries, Instrument
from quantgrid.strategy import EmaCross, SmaCross, Strategy
from quantgrid.venues import BpsSpread, PercentCommission, PerUnitCommission
from tests.conftest import make_bars, random_walk


class TargetSignal(Strategy):
    """The event-driven twin of a target signal: hold its side from the next open."""

    name: ClassVar[str] = "target_signal"
    signal: np.ndarray = np.array([])
    size: float | None = None

    def on_start(self) -> None:
        self.i = 0

    def on_bar(self, bar: Bar) -> None:
        desired = self.signal[self.i]
        self.i += 1
        if np.isnan(desired):
            return
        position = self.position()
        if self.size is not None:
            delta = desired * self.size - position
            if delta > 0:
                self.buy(delta)
            elif delta < 0:
                self.sell(-delta)
            return
        if position != 0 and (desired == 0 or (position > 0) != (desired > 0)):
            self.close()
            position = 0.0
        if desired != 0 and position == 0:
            (self.buy if desired > 0 else self.sell)()


def assert_same(event: BacktestResult, vector: BacktestResult) -> None:
    def fills(result: BacktestResult) -> list[tuple[object, ...]]:
        return [(f.ts_event, f.side, f.last_qty, f.last_px, f.commission) for f in result.fills]

    assert fills(vector) == fills(event)
    assert vector.trades == event.trades
    np.testing.assert_array_equal(vector.ts, event.ts)
    np.testing.assert_array_equal(vector.equity, event.equity)
    np.testing.assert_array_equal(vector.cash, event.cash)
    stats_e = event.stats.to_dict()
    stats_v = vector.stats.to_dict()
    for key in ("engine_seconds",):
        stats_e.pop(key)
        stats_v.pop(key)
    assert stats_v == stats_e


@pytest.mark.parametrize("size", [None, 10.0])
@pytest.mark.parametrize("commission", [0.0, 0.001, PercentCommission(0.0005, minimum=2.0)])
@pytest.mark.parametrize(
    ("strategy", "average"), [(SmaCross, sma), (EmaCross, ema)], ids=["sma", "ema"]
)
def test_crosses_equal_the_event_driven_engine(
    strategy: type[Strategy], average: object, commission: object, size: float | None
) -> None:
    bars = make_bars(random_walk(3_000, 11, vol=0.004))
    config = BacktestConfig(initial_cash=10_000.0, commission=commission)  # type: ignore[arg-type]
    params = {"fast": 8, "slow": 21, "size": size}
    event = run_backtest(strategy, bars, params, config)
    signal = cross_signals(average(bars.close, 8), average(bars.close, 21))  # type: ignore[operator]
    vector = run_vectorised(bars, signal, size, config, strategy.name, params)
    assert event.stats.n_trades > 20
    assert_same(event, vector)


@given(
    seed=st.integers(0, 2**31),
    size=st.sampled_from([None, 3.0, 250.0]),
    cash=st.sampled_from([2_000.0, 50_000.0]),
    leverage=st.sampled_from([1.0, 2.0]),
    close_at_end=st.booleans(),
)
def test_random_target_signals_equal_the_event_driven_engine(
    seed: int, size: float | None, cash: float, leverage: float, close_at_end: bool
) -> None:
    rng = np.random.default_rng(seed)
    bars = make_bars(random_walk(300, seed, vol=0.02))
    signal = rng.choice([np.nan, np.nan, np.nan, 1.0, -1.0, 0.0], size=len(bars))
    config = BacktestConfig(
        initial_cash=cash,
        commission=PercentCommission(0.001, minimum=1.0),
        leverage=leverage,
        close_at_end=close_at_end,
    )
    twin = TargetSignal()
    twin.signal, twin.size = signal, size
    event = run_backtest(twin, bars, config=config)
    vector = run_vectorised(bars, signal, size, config, TargetSignal.name, {})
    assert_same(event, vector)


def test_off_tick_prices_round_alike() -> None:
    closes = random_walk(500, 5) + 0.0037  # every price off the 0.01 tick
    bars = make_bars(closes)
    signal = cross_signals(sma(bars.close, 5), sma(bars.close, 13))
    config = BacktestConfig(commission=0.001)
    event = run_backtest(SmaCross, bars, {"fast": 5, "slow": 13}, config)
    assert_same(event, run_vectorised(bars, signal, None, config))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"config": BacktestConfig(spread=BpsSpread(1.0))}, "does not model spread"),
        ({"config": BacktestConfig(max_volume_fraction=0.1)}, "max_volume_fraction"),
        ({"config": BacktestConfig(commission=PerUnitCommission(0.01))}, "percentage commissions"),
        ({"size": -1.0}, "size must be a positive number"),
        ({"size": 1.5}, "not a whole number of lots"),
        (
            {"config": BacktestConfig(instruments={"X": Instrument("X", 0.3)})},
            "tick and lot sizes of the form 1/n",
        ),
    ],
)
def test_unsupported_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    bars = make_bars(random_walk(50, 1))
    with pytest.raises(ValueError, match=message):
        run_vectorised(bars, np.full(50, np.nan), **kwargs)  # type: ignore[arg-type]


def test_bad_signals_are_refused() -> None:
    bars = make_bars(random_walk(50, 1))
    with pytest.raises(ValueError, match="signal has 3 values for 50 bars"):
        run_vectorised(bars, np.ones(3))
    bad = np.full(50, np.nan)
    bad[7] = 0.5
    with pytest.raises(ValueError, match=r"signal\[7\] is 0.5"):
        run_vectorised(bars, bad)


def test_cross_signals_follow_the_strategy_rule() -> None:
    fast = np.array([np.nan, 1.0, 2.0, 2.0, 3.0, 1.0])
    slow = np.array([np.nan, 2.0, 2.0, 2.0, 2.0, 2.0])
    np.testing.assert_array_equal(
        cross_signals(fast, slow), [np.nan, np.nan, np.nan, np.nan, 1.0, -1.0]
    )


def test_a_million_bars_in_one_call() -> None:
    n = 1_000_000
    bars = BarSeries.from_arrays(
        "X",
        np.arange(n, dtype=np.int64) * 60_000_000_000,
        np.full(n, 100.0),
        np.full(n, 101.0),
        np.full(n, 99.0),
        np.full(n, 100.0),
    )
    signal = np.where(
        np.arange(n) % 1000 == 0, np.where(np.arange(n) % 2000 == 0, 1.0, -1.0), np.nan
    )
    result = run_vectorised(bars, signal, 1.0)
    assert result.stats.n_trades == 1000
