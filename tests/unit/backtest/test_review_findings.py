"""Regression tests for the findings of the engine review: each failed before its fix."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from quantgrid.backtest import BacktestConfig, run_backtest
from quantgrid.model import (
    Bar,
    BarSeries,
    Instrument,
    OrderAccepted,
    OrderEvent,
    OrderFilled,
    OrderStatus,
    TimeInForce,
)
from quantgrid.strategy import SmaCross, Strategy, StrategyParameterError
from quantgrid.venues import VolumeShareSlippage
from tests.conftest import make_bars, random_walk

DAY = 86_400_000_000_000


def _series(iid: str, opens: list[float], closes: list[float], step: int = DAY) -> BarSeries:
    o, c = np.array(opens), np.array(closes)
    ts = 1_704_067_200_000_000_000 + step * np.arange(len(o), dtype=np.int64)
    return BarSeries.from_arrays(iid, ts, o, np.maximum(o, c) + 1, np.minimum(o, c) - 1, c,
                                 np.full(len(o), 1e6))  # fmt: skip


class BuyBOnFirstBarOfA(Strategy):
    name: ClassVar[str] = "buy_b"

    def on_start(self) -> None:
        self.fills: list[OrderFilled] = []
        self.done = False

    def on_bar(self, bar: Bar) -> None:
        if bar.instrument_id == "A" and not self.done:
            self.done = True
            self.buy(10, "B")

    def on_fill(self, fill: OrderFilled) -> None:
        self.fills.append(fill)


def test_an_order_decided_at_t_never_fills_at_another_instruments_open_at_t() -> None:
    a = _series("A", [100, 100, 100], [100, 100, 100])
    b = _series("B", [100, 50, 70], [100, 200, 80])
    strategy = BuyBOnFirstBarOfA()
    run_backtest(strategy, [a, b], config=BacktestConfig(close_at_end=False))
    # Decided on A's first bar; B's first bar shares that time, so it fills at B's
    # *next* open (50), never at an open of the moment it was decided.
    (fill,) = strategy.fills
    assert fill.ts_event == int(b.ts[1])
    assert fill.last_px == 50.0


def test_the_order_data_is_added_in_does_not_change_results() -> None:
    a = make_bars(random_walk(400, 1), "A")
    b = make_bars(random_walk(400, 2, start=50), "B")
    params = {"fast": 5, "slow": 15, "size": 10.0}
    one = run_backtest(SmaCross, [a, b], params)
    two = run_backtest(SmaCross, [b, a], params)
    np.testing.assert_allclose(one.equity, two.equity, rtol=1e-12)
    assert sorted(one.trades, key=lambda t: (t.exit_ts, t.instrument_id)) == sorted(
        two.trades, key=lambda t: (t.exit_ts, t.instrument_id)
    )


class CancelOnAccept(Strategy):
    name: ClassVar[str] = "cancel_on_accept"

    def on_start(self) -> None:
        self.sent = False

    def on_bar(self, bar: Bar) -> None:
        if not self.sent:
            self.sent = True
            self.buy(1)

    def on_order_event(self, event: OrderEvent) -> None:
        if isinstance(event, OrderAccepted):
            self.cancel(event.client_order_id)


def test_a_cancel_sent_in_reply_to_the_acceptance_is_honoured() -> None:
    result = run_backtest(CancelOnAccept(), make_bars([100.0, 101.0, 102.0]))
    (order,) = result.orders
    assert order.status is OrderStatus.CANCELED
    assert result.fills == ()


class StopBuyer(Strategy):
    name: ClassVar[str] = "stop_buyer"

    def on_start(self) -> None:
        self.order = None

    def on_bar(self, bar: Bar) -> None:
        if self.order is None:
            self.order = self.buy(50, stop=105.0)


def test_a_stop_cut_short_by_the_volume_cap_fills_the_rest_as_a_market_order() -> None:
    opens, closes = [100, 104, 102, 102, 102, 102, 102], [100, 106, 102, 102, 102, 102, 102]
    bars = _series("X", opens, closes, step=60_000_000_000)
    bars = BarSeries.from_arrays("X", bars.ts, bars.open, bars.high, bars.low, bars.close,
                                 np.full(len(opens), 100.0))  # fmt: skip
    strategy = StopBuyer()
    result = run_backtest(
        strategy, bars, config=BacktestConfig(max_volume_fraction=0.1, close_at_end=False)
    )
    fills = [(f.last_qty, f.last_px) for f in result.fills]
    assert fills[0] == (10.0, 105.0)  # stop reached inside bar 1, capped at 10
    assert fills[1:] == [(10.0, 102.0)] * 4  # then market at each open
    assert strategy.order is not None and strategy.order.status is OrderStatus.FILLED


def test_cross_strategies_do_not_pile_up_orders_under_the_volume_cap() -> None:
    bars = make_bars(random_walk(2_000, 3), volume=500.0)
    config = BacktestConfig(max_volume_fraction=0.01, initial_cash=1e7)
    result = run_backtest(SmaCross, bars, {"fast": 5, "slow": 20, "size": 2_000.0}, config)
    positions = np.cumsum([f.side.sign * f.last_qty for f in result.fills])
    assert np.abs(positions).max() <= 2_000.0


class AllIn(Strategy):
    name: ClassVar[str] = "all_in"

    def on_bar(self, bar: Bar) -> None:
        if self.position() == 0 and not self.open_orders():
            self.buy()


def test_cash_sizing_uses_the_leverage() -> None:
    bars = make_bars([100.0, 100.0, 100.0], spread=0.1)
    result = run_backtest(AllIn(), bars, config=BacktestConfig(initial_cash=10_000, leverage=2.0))
    assert result.fills[0].last_qty == 200.0


def test_end_of_data_settlement_uses_the_last_bars_volume_for_slippage() -> None:
    bars = make_bars([100.0, 100.0, 100.0], volume=1e9)
    config = BacktestConfig(slippage=VolumeShareSlippage(impact=0.1, max_bps=100.0))
    result = run_backtest(AllIn(), bars, config=config)
    settle = result.fills[-1]
    assert settle.last_px == pytest.approx(99.99, abs=0.011)  # not the 100 bps cap (99.0)


class DayBuyer(Strategy):
    name: ClassVar[str] = "day_buyer"

    def on_start(self) -> None:
        self.sent = False

    def on_bar(self, bar: Bar) -> None:
        if not self.sent:
            self.sent = True
            self.buy(1, price=bar.close, time_in_force=TimeInForce.DAY)


def test_a_day_order_placed_after_a_daily_close_trades_in_the_next_session() -> None:
    bars = _series("X", [100, 99, 98], [100, 99, 98])
    result = run_backtest(DayBuyer(), bars, config=BacktestConfig(close_at_end=False))
    assert [(f.ts_event, f.last_px) for f in result.fills] == [(int(bars.ts[1]), 99.0)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial_cash": "1000"}, "initial_cash must be a number"),
        ({"chunk_size": 1.5}, "chunk_size must be a whole number"),
        ({"periods_per_year": 0}, "periods_per_year must be a whole number >= 1"),
        ({"risk_free_rate": float("nan")}, "risk_free_rate must be an annual rate"),
        ({"max_volume_fraction": 2.0}, "max_volume_fraction must be in"),
        ({"leverage": float("inf")}, "leverage must be positive"),
    ],
)
def test_config_refuses_bad_values_up_front(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"BacktestConfig.{message}"):
        BacktestConfig(**kwargs)  # type: ignore[arg-type]


def test_instrument_specs_must_match_the_data() -> None:
    bars = make_bars([100.0, 101.0], "AAA")
    config = BacktestConfig(instruments={"aaa": Instrument("aaa", multiplier=50)})
    with pytest.raises(ValueError, match="names 'aaa', which no data has"):
        run_backtest(SmaCross, bars, config=config)


def test_instruments_in_several_currencies_are_refused() -> None:
    a, b = make_bars([100.0, 101.0], "A"), make_bars([100.0, 101.0], "B")
    config = BacktestConfig(instruments={"B": Instrument("B", currency="JPY")})
    with pytest.raises(ValueError, match="trade in JPY and USD"):
        run_backtest(SmaCross, [a, b], config=config)


@pytest.mark.parametrize("size", [0.5, 1.7])
def test_a_size_that_is_not_whole_lots_is_a_parameter_error(size: float) -> None:
    with pytest.raises(StrategyParameterError, match=f"'size': {size:g} is not a whole number"):
        run_backtest(SmaCross, make_bars([100.0, 101.0]), {"size": size})
