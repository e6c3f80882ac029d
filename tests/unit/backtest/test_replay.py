"""Tick and quote replays through the order book venue."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from quantgrid.backtest import ReplayConfig, ReplayEngine, ReplayResult, run_replay
from quantgrid.model import (
    Bar,
    Instrument,
    InvalidMarketDataError,
    LiquiditySide,
    Order,
    OrderBookDepth,
    OrderSide,
    OrderStatus,
    QuoteTick,
    TradeTick,
)
from quantgrid.risk import RiskConfig
from quantgrid.strategy import Strategy, StrategyError
from quantgrid.venues import BookVenueConfig, MakerTakerCommission

T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
MS = 1_000_000
X = Instrument("X")


class BidOnce(Strategy):
    """Posts one limit bid at the best bid of the first quote it sees."""

    name: ClassVar[str] = "bid-once"

    def on_start(self) -> None:
        self.order: Order | None = None
        self.seen: list[object] = []

    def on_quote(self, quote: QuoteTick) -> None:
        self.seen.append(quote)
        if self.order is None:
            self.order = self.buy(100, price=quote.bid)

    def on_trade(self, trade: TradeTick) -> None:
        self.seen.append(trade)


def session() -> list[QuoteTick | TradeTick | OrderBookDepth]:
    """A book with 300 bid at 100.00, prints that reach our bid, then the price rises."""
    return [
        QuoteTick("X", T0, 100.00, 100.01, 300.0, 200.0),
        TradeTick("X", T0 + 1 * MS, 100.00, 200.0, OrderSide.SELL),  # queue ahead 300 -> 100
        TradeTick("X", T0 + 2 * MS, 100.00, 150.0, OrderSide.SELL),  # fills 50
        QuoteTick("X", T0 + 3 * MS, 100.00, 100.01, 50.0, 200.0),
        TradeTick("X", T0 + 4 * MS, 99.99, 10.0, OrderSide.SELL),  # through: the other 50
        OrderBookDepth("X", T0 + 5 * MS, ((100.10, 500.0),), ((100.12, 400.0),)),
    ]


def config(**kwargs: object) -> ReplayConfig:
    venue = BookVenueConfig(commission=MakerTakerCommission(-0.0001, 0.0003))
    return ReplayConfig(instruments=[X], initial_cash=100_000.0, venue=venue, **kwargs)  # type: ignore[arg-type]


def test_a_resting_bid_is_filled_by_later_prints() -> None:
    strategy = BidOnce()
    result = run_replay(config(), strategy, session())
    assert strategy.order is not None
    assert strategy.order.status is OrderStatus.FILLED
    assert [(f.ts_event, f.last_px, f.last_qty) for f in result.fills] == [
        (T0 + 2 * MS, 100.00, 50.0),
        (T0 + 4 * MS, 100.00, 50.0),
    ]
    assert all(f.liquidity_side is LiquiditySide.MAKER for f in result.fills)
    rebate = -0.0001 * 100 * 100.00
    assert result.commissions == pytest.approx(rebate)
    assert result.cash == pytest.approx(100_000 - 100 * 100.00 - rebate)
    assert result.positions == {"X": 100.0}
    # Marked at the mid of the last book, 100.11.
    assert result.final_equity == pytest.approx(result.cash + 100 * 100.11)
    assert result.orders == (strategy.order,)
    assert len(strategy.seen) == 5  # quotes and trades reach the strategy; books do not


def test_the_equity_series_has_one_sample_per_data_item() -> None:
    result = run_replay(config(), BidOnce(), session())
    assert result.ts.dtype == np.int64 and result.equity.dtype == np.float64
    assert result.ts.tolist() == [item.ts_event for item in session()]
    assert result.equity[0] == pytest.approx(100_000.0)
    assert result.equity[-1] == pytest.approx(result.final_equity)


def test_replays_are_deterministic_with_seeded_jitter() -> None:
    def once() -> ReplayResult:
        venue = BookVenueConfig(latency_ns=MS, latency_jitter_ns=3 * MS, seed=11)
        return run_replay(ReplayConfig([X], venue=venue), BidOnce(), session())

    first, second = once(), once()
    assert [(f.ts_event, f.last_px, f.last_qty) for f in first.fills] == [
        (f.ts_event, f.last_px, f.last_qty) for f in second.fills
    ]
    assert first.fills  # something happened
    np.testing.assert_array_equal(first.equity, second.equity)


def test_latency_delays_the_order_until_the_clock_passes_its_arrival() -> None:
    venue = BookVenueConfig(latency_ns=2 * MS + MS // 2)
    strategy = BidOnce()
    engine = ReplayEngine(ReplayConfig([X], venue=venue))
    engine.add_strategy(strategy)
    result = engine.run(session())
    # Sent at T0, it arrives at T0 + 2.5 ms, after the prints that would have filled half
    # of it had it been there; they emptied the level, so it is first in the queue, and
    # the print through it at 4 ms fills it completely.
    assert [(f.ts_event, f.last_qty) for f in result.fills] == [(T0 + 4 * MS, 100.0)]
    assert strategy.order is not None
    assert strategy.order.events[1].ts_event == T0 + 2 * MS + MS // 2  # accepted on arrival


def test_components_attached_before_the_run_see_the_data_and_the_clock() -> None:
    engine = ReplayEngine(config())
    books: list[OrderBookDepth] = []
    alerts: list[int] = []
    engine.bus.subscribe("data.book.X", books.append)
    engine.clock.set_alert(T0 + 3 * MS + 1, alerts.append)
    engine.add_strategy(BidOnce())
    engine.run(session())
    assert [b.ts_event for b in books] == [T0 + 5 * MS]
    assert alerts == [T0 + 3 * MS + 1]
    assert engine.execution.orders[0].status is OrderStatus.FILLED


def test_risk_engine_sits_in_front_when_configured() -> None:
    result = run_replay(config(risk=RiskConfig(max_order_quantity=10)), BidOnce(), session())
    assert result.fills == ()
    assert [r.check for r in result.risk_rejections] == ["max_order_quantity"]
    assert result.orders[0].status is OrderStatus.DENIED


def test_an_engine_runs_once() -> None:
    engine = ReplayEngine(config())
    engine.run(session())
    with pytest.raises(RuntimeError, match="runs once"):
        engine.run(session())


def test_strategy_errors_name_the_data_item() -> None:
    class Broken(Strategy):
        name: ClassVar[str] = "broken"

        def on_trade(self, trade: TradeTick) -> None:
            raise ZeroDivisionError("oops")

    with pytest.raises(StrategyError, match=r"data item 1 \(TradeTick of X at .*\): ZeroDivision"):
        run_replay(config(), Broken(), session())


# -- clear errors ---------------------------------------------------------------------------
def test_data_going_back_in_time_is_refused_naming_the_index() -> None:
    data = session()
    data[3] = data[3]._replace(ts_event=T0)
    with pytest.raises(ValueError, match=r"data item 3 \(QuoteTick of X at .*\) goes back in time"):
        run_replay(config(), BidOnce(), data)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (
            QuoteTick("X", T0 + 9 * MS, 100.02, 100.01, 1.0, 1.0),
            InvalidMarketDataError,
            "quote is crossed",
        ),
        (TradeTick("Y", T0 + 9 * MS, 100.0, 1.0), InvalidMarketDataError, "unknown instrument 'Y'"),
        (
            OrderBookDepth("X", T0 + 9 * MS, ((99.0, 1.0), (99.5, 1.0)), ()),
            InvalidMarketDataError,
            "not sorted best first",
        ),
        (TradeTick("X", T0 + 9 * MS, 100.001, 1.0), InvalidMarketDataError, "not on the tick"),
        (Bar("X", T0 + 9 * MS, 1.0, 1.0, 1.0, 1.0, 1.0), TypeError, "is a Bar"),
    ],
)
def test_bad_data_is_refused_naming_the_index(bad: object, error: type, message: str) -> None:
    data: list[object] = [*session(), bad]
    with pytest.raises(error, match=rf"data item 6 .*{message}"):
        run_replay(config(), BidOnce(), data)  # type: ignore[arg-type]


def test_no_data_is_refused() -> None:
    with pytest.raises(ValueError, match="no data"):
        run_replay(config(), BidOnce(), [])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"instruments": []}, "instruments must name at least one instrument"),
        ({"instruments": "X"}, "instruments must be a sequence of Instrument"),
        ({"instruments": ["X"]}, "instruments must hold Instrument objects"),
        ({"instruments": {"Y": X}}, "instruments maps 'Y' to the instrument 'X'"),
        ({"instruments": [X, Instrument("X")]}, "names one instrument twice"),
        (
            {"instruments": [X, Instrument("E", currency="EUR")]},
            "must all trade in one currency",
        ),
        ({"instruments": [X], "initial_cash": 0.0}, "initial_cash must be a positive number"),
        ({"instruments": [X], "initial_cash": "lots"}, "initial_cash must be a number"),
        ({"instruments": [X], "leverage": -1.0}, "leverage must be a positive number"),
        ({"instruments": [X], "venue": "fast"}, "venue must be a BookVenueConfig"),
        ({"instruments": [X], "risk": {"max_position": 1}}, "risk must be a RiskConfig"),
    ],
)
def test_config_refuses_bad_values_with_the_rule(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReplayConfig(**kwargs)  # type: ignore[arg-type]


def test_config_accepts_a_mapping_and_keeps_it_read_only() -> None:
    cfg = ReplayConfig(instruments={"X": X})
    assert cfg.instrument_map() == {"X": X}
    with pytest.raises(TypeError):
        cfg.instruments["Y"] = X  # type: ignore[index]


class BuyThenBuy(Strategy):
    """Buys at the first quote, then tries to buy again on every later quote."""

    name: ClassVar[str] = "buy-then-buy"

    def on_quote(self, quote: QuoteTick) -> None:
        self.buy(10)


def test_drawdown_breaker_halts_a_replay_on_quote_marks() -> None:
    falling = [
        QuoteTick("X", T0 + k * MS, 100.0 - 3 * k, 100.01 - 3 * k, 1_000.0, 1_000.0)
        for k in range(6)
    ]
    result = run_replay(
        ReplayConfig(instruments=[X], initial_cash=5_000.0, risk=RiskConfig(halt_at_drawdown=0.05)),
        BuyThenBuy(),
        falling,
    )

    assert [s.state.value for s in result.trading_states] == ["HALTED"]
    halted_at = result.trading_states[0].ts_event
    denied = [o for o in result.orders if o.status is OrderStatus.DENIED]
    assert denied and all(o.ts_init >= halted_at for o in denied)
    assert {r.check for r in result.risk_rejections} == {"halted"}


def test_drawdown_breaker_also_runs_on_depth_snapshots() -> None:
    falling = [
        OrderBookDepth("X", T0 + k * MS, ((100.0 - 3 * k, 1_000.0),), ((100.01 - 3 * k, 1_000.0),))
        for k in range(6)
    ]
    result = run_replay(
        ReplayConfig(instruments=[X], initial_cash=5_000.0, risk=RiskConfig(halt_at_drawdown=0.05)),
        BuyThenBuyOnBook(),
        falling,
    )

    assert [s.state.value for s in result.trading_states] == ["HALTED"]


class BuyThenBuyOnBook(Strategy):
    """Buys on every depth snapshot."""

    name: ClassVar[str] = "buy-on-book"

    def on_book(self, book: OrderBookDepth) -> None:
        self.buy(10)
