"""The backtest engine's behaviour and its errors."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from quantgrid.backtest import BacktestConfig, BacktestEngine, run_backtest
from quantgrid.model import Bar, Instrument, OrderFilled, OrderSide
from quantgrid.strategy import SmaCross, Strategy, StrategyError
from tests.conftest import make_bars, random_walk


class BuyOnce(Strategy):
    """Buy ``quantity`` on the first bar of each instrument, then hold."""

    name: ClassVar[str] = "buy_once"
    quantity: float | None = 10.0

    def on_start(self) -> None:
        self.bought: set[str] = set()
        self.fills: list[OrderFilled] = []
        self.stopped = False

    def on_bar(self, bar: Bar) -> None:
        if bar.instrument_id not in self.bought:
            self.bought.add(bar.instrument_id)
            self.buy(self.quantity, bar.instrument_id)

    def on_fill(self, fill: OrderFilled) -> None:
        self.fills.append(fill)

    def on_stop(self) -> None:
        self.stopped = True


def test_market_order_fills_at_next_open_and_is_held_to_the_end() -> None:
    bars = make_bars([100.0, 101.0, 103.0, 102.0, 105.0])
    strategy = BuyOnce()
    result = run_backtest(strategy, bars, config=BacktestConfig(close_at_end=False))
    assert [(f.last_px, f.last_qty) for f in strategy.fills] == [(100.0, 10.0)]
    assert strategy.fills[0].ts_event == bars.ts[1]  # bar 1, whose open is bar 0's close
    assert strategy.stopped
    np.testing.assert_allclose(
        result.equity, 100_000.0 + 10.0 * (np.array([100.0, 101, 103, 102, 105]) - 100.0)
    )
    assert result.trades == ()
    assert result.gross_exposure[-1] == pytest.approx(1050.0)


def test_close_at_end_settles_at_the_last_close_with_commission() -> None:
    bars = make_bars([100.0, 101.0, 103.0, 102.0, 105.0])
    result = run_backtest(BuyOnce(), bars, config=BacktestConfig(commission=0.001))
    (trade,) = result.trades
    assert (trade.entry_price, trade.exit_price, trade.size) == (100.0, 105.0, 10.0)
    assert trade.commission == pytest.approx(0.001 * 1000 + 0.001 * 1050)
    assert trade.pnl == pytest.approx(50.0 - trade.commission)
    assert result.equity[-1] == pytest.approx(100_000.0 + trade.pnl)
    assert result.orders[-1].tag == "end of data"


def test_all_cash_entry_buys_the_most_whole_units_commission_included() -> None:
    bars = make_bars([100.0, 100.0, 100.0])
    strategy = BuyOnce()
    strategy.quantity = None
    run_backtest(strategy, bars, config=BacktestConfig(initial_cash=10_000, commission=0.01))
    # 10,000 / (100 * 1.01) = 99.0099 -> 99 whole units.
    assert strategy.fills[0].last_qty == 99.0


def test_two_instruments_share_one_timeline_and_one_cash_account() -> None:
    a = make_bars([10.0, 11.0, 12.0, 13.0], "A")
    b = make_bars([20.0, 19.0, 18.0], "B", start_ns=int(a.ts[0]) + 30_000_000_000)
    result = run_backtest(BuyOnce(), [a, b], config=BacktestConfig(close_at_end=False))
    assert result.instruments == ("A", "B")
    np.testing.assert_array_equal(result.ts, np.sort(np.concatenate([a.ts, b.ts])))
    # A bought 10 at 10 (bar 1 open), B bought 10 at 20 (bar 1 open); cash pays for both.
    assert result.cash[-1] == pytest.approx(100_000 - 100 - 200)
    assert result.equity[-1] == pytest.approx(100_000 - 300 + 10 * 13 + 10 * 18)


def test_instrument_lot_size_is_honoured() -> None:
    bars = make_bars([100.0, 100.0, 100.0])
    strategy = BuyOnce()
    strategy.quantity = 7.0
    config = BacktestConfig(instruments={"X": Instrument("X", size_increment=5.0)})
    run_backtest(strategy, bars, config=config)
    assert strategy.fills[0].last_qty == 5.0  # rounded down to whole lots


def test_progress_reports_every_chunk() -> None:
    bars = make_bars(random_walk(1_000, 3))
    seen: list[tuple[int, int]] = []
    run_backtest(
        SmaCross,
        bars,
        {"fast": 5, "slow": 20},
        BacktestConfig(chunk_size=300),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(300, 1000), (600, 1000), (900, 1000), (1000, 1000)]


def test_results_do_not_depend_on_chunk_size() -> None:
    bars = make_bars(random_walk(2_000, 4))
    runs = [
        run_backtest(SmaCross, bars, {"fast": 5, "slow": 20}, BacktestConfig(chunk_size=size))
        for size in (1, 7, 65_536)
    ]
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0].equity, other.equity)
        assert runs[0].trades == other.trades


class Boom(Strategy):
    name: ClassVar[str] = "boom"

    def on_bar(self, bar: Bar) -> None:
        if bar.close > 101:
            raise ZeroDivisionError("bad maths")


def test_a_failing_strategy_names_the_bar() -> None:
    bars = make_bars([100.0, 101.0, 102.0])
    with pytest.raises(StrategyError, match=r"X bar at 2024-01-01T00:02:00Z: ZeroDivisionError"):
        run_backtest(Boom(), bars)


class BoomOnStart(Strategy):
    name: ClassVar[str] = "boom_on_start"

    def on_start(self) -> None:
        raise KeyError("missing")


def test_a_failing_on_start_names_the_hook() -> None:
    with pytest.raises(StrategyError, match="boom_on_start failed in on_start: KeyError"):
        run_backtest(BoomOnStart(), make_bars([10.0, 20.0]))


def test_engine_rejects_misuse() -> None:
    bars = make_bars([10.0, 20.0])
    engine = BacktestEngine()
    with pytest.raises(ValueError, match="no data"):
        engine.run()
    engine.add_data(bars)
    with pytest.raises(ValueError, match="added twice"):
        engine.add_data(bars)
    with pytest.raises(ValueError, match="no strategy"):
        engine.run()
    engine.add_strategy(BuyOnce())
    with pytest.raises(ValueError, match="share the id"):
        engine.add_strategy(BuyOnce())
    engine.run()
    with pytest.raises(RuntimeError, match="runs once"):
        engine.run()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("initial_cash", 0.0, "initial_cash must be a positive number"),
        ("commission", 1.5, r"commission must be a fraction in \[0, 1\)"),
        ("leverage", 0.0, "leverage must be positive"),
        ("chunk_size", 0, "chunk_size must be >= 1"),
    ],
)
def test_config_validation_names_the_field(field: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BacktestConfig(**{field: value})  # type: ignore[arg-type]


def test_strategy_sees_only_its_own_fills() -> None:
    bars = make_bars([100.0, 100.0, 100.0])
    first, second = BuyOnce(strategy_id="one"), BuyOnce(strategy_id="two")
    engine = BacktestEngine()
    engine.add_data(bars)
    engine.add_strategy(first)
    engine.add_strategy(second)
    result = engine.run()
    assert [f.strategy_id for f in first.fills] == ["one"]
    assert [f.strategy_id for f in second.fills] == ["two"]
    assert result.strategy == "buy_once+buy_once"
    assert {o.side for o in result.orders} == {OrderSide.BUY, OrderSide.SELL}


def test_prices_too_small_for_the_tick_are_refused_with_the_fix() -> None:
    bars = make_bars([0.0012, 0.0013, 0.0011], spread=0.0001)
    with pytest.raises(
        ValueError, match=r"instrument X: prices go down to 0\.01, less than 100 ticks.*--tick-size"
    ):
        run_backtest(BuyOnce(), bars)
    fine = BacktestConfig(instruments={"X": Instrument("X", price_increment=1e-7)})
    strategy = BuyOnce()
    run_backtest(strategy, bars, config=fine)
    assert strategy.fills[0].last_px == 0.0012
