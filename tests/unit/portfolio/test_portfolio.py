"""Portfolio accounting: cash, marks, exposure, buying power, and the equity curve."""

from __future__ import annotations

import random
from typing import ClassVar

import numpy as np
import pytest

from quantgrid.core import MessageBus, PriceCache, TestClock
from quantgrid.execution import ExecutionEngine
from quantgrid.model import (
    Bar,
    BarSeries,
    Instrument,
    LiquiditySide,
    OrderFilled,
    OrderSide,
    PositionChanged,
)
from quantgrid.portfolio import POSITION_TOPIC, Portfolio, PortfolioView, PositionSnapshot
from quantgrid.strategy import Strategy
from quantgrid.venues import PercentCommission, SimulatedVenue, VenueConfig

DAY0 = 1_704_067_200_000_000_000
MINUTE = 60_000_000_000
INSTRUMENTS = {"X": Instrument("X"), "F": Instrument("F", multiplier=10.0)}


class Books:
    """A portfolio on a real bus, fed fills the way the execution engine publishes them."""

    def __init__(self, cash: float = 10_000.0, leverage: float = 1.0) -> None:
        self.bus = MessageBus()
        self.prices = PriceCache()
        self.portfolio = Portfolio(self.bus, self.prices, dict(INSTRUMENTS), cash, leverage)
        self.changes: list[PositionChanged] = []
        self.bus.subscribe(POSITION_TOPIC, self.changes.append)
        self._trades = 0

    def fill(
        self, iid: str, side: OrderSide, qty: float, px: float, fee: float = 0.0, ts: int = 1
    ) -> OrderFilled:
        self._trades += 1
        event = OrderFilled(
            f"O-{self._trades}", "S", iid, ts, f"T-{self._trades}", side, qty, px, fee,
            LiquiditySide.TAKER,
        )  # fmt: skip
        self.bus.publish("events.order.filled", event)
        return event


def test_fresh_portfolio_is_all_cash() -> None:
    books = Books(cash=10_000.0)
    p = books.portfolio

    assert (p.cash, p.equity(), p.gross_exposure(), p.buying_power()) == (10_000, 10_000, 0, 10_000)
    assert p.open_positions() == {}
    assert p.position_quantity("X") == 0.0
    assert p.last_price("X") is None


def test_long_position_marked_from_the_price_cache() -> None:
    books = Books(cash=10_000.0)
    p = books.portfolio

    books.fill("X", OrderSide.BUY, 10, 100.0, fee=1.0)
    books.prices.update("X", 110.0)

    assert p.cash == 8_999.0
    assert p.equity() == 8_999.0 + 1_100.0
    assert p.gross_exposure() == 1_100.0
    assert p.buying_power() == 10_099.0 - 1_100.0
    assert p.open_positions() == {"X": 10.0}


def test_short_position_with_multiplier() -> None:
    books = Books(cash=10_000.0)
    p = books.portfolio
    books.fill("X", OrderSide.BUY, 10, 100.0, fee=1.0)
    books.prices.update("X", 110.0)

    books.fill("F", OrderSide.SELL, 5, 50.0, fee=2.0)  # brings in 5 * 50 * 10 = 2_500
    books.prices.update("F", 48.0)

    assert p.cash == 8_999.0 + 2_500.0 - 2.0
    # Short 5 * 48 * 10 = -2_400 of market value, 2_400 of gross exposure.
    assert p.equity() == pytest.approx(11_497.0 + 1_100.0 - 2_400.0)
    assert p.gross_exposure() == pytest.approx(1_100.0 + 2_400.0)
    assert p.buying_power() == pytest.approx(10_197.0 - 3_500.0)
    assert p.open_positions() == {"X": 10.0, "F": -5.0}


def test_leverage_multiplies_equity_in_buying_power() -> None:
    books = Books(cash=10_000.0, leverage=2.0)
    books.fill("X", OrderSide.BUY, 10, 100.0)
    books.prices.update("X", 100.0)

    assert books.portfolio.buying_power() == 2 * 10_000.0 - 1_000.0


def test_buying_power_is_never_negative() -> None:
    books = Books(cash=1_000.0)
    books.fill("X", OrderSide.BUY, 10, 100.0)
    books.fill("F", OrderSide.SELL, 2, 100.0)  # gross 1_000 + 2_000 on equity 1_000
    books.prices.update("X", 100.0)
    books.prices.update("F", 100.0)

    assert books.portfolio.equity() == 1_000.0
    assert books.portfolio.gross_exposure() == 3_000.0
    assert books.portfolio.buying_power() == 0.0


def test_unmarked_position_is_valued_at_its_entry_price() -> None:
    books = Books(cash=10_000.0)
    books.fill("F", OrderSide.BUY, 2, 30.0)

    assert books.portfolio.equity() == 10_000.0
    assert books.portfolio.gross_exposure() == 600.0
    snap = books.portfolio.position("F")
    assert (snap.unrealized_pnl, snap.market_value) == (0.0, 600.0)


def test_position_snapshot() -> None:
    books = Books()
    books.fill("F", OrderSide.BUY, 4, 20.0)
    books.fill("F", OrderSide.SELL, 1, 25.0)
    books.prices.update("F", 22.0)

    assert books.portfolio.position("F") == PositionSnapshot(
        instrument_id="F",
        quantity=3.0,
        avg_px_open=20.0,
        realized_pnl=50.0,
        unrealized_pnl=60.0,
        market_value=660.0,
    )


def test_position_of_unknown_instrument_raises() -> None:
    with pytest.raises(KeyError, match="unknown instrument 'NOPE'"):
        Books().portfolio.position("NOPE")


def test_closing_a_position_records_the_trade_and_removes_the_exposure() -> None:
    books = Books(cash=10_000.0)
    books.fill("X", OrderSide.BUY, 10, 100.0, fee=1.0, ts=1)
    books.fill("X", OrderSide.SELL, 10, 105.0, fee=1.0, ts=2)
    books.prices.update("X", 200.0)  # irrelevant once flat

    p = books.portfolio
    assert p.open_positions() == {}
    assert p.cash == 10_048.0
    assert p.equity() == 10_048.0
    assert p.gross_exposure() == 0.0
    (trade,) = p.closed_trades
    assert (trade.size, trade.pnl) == (10.0, 48.0)
    assert len(p.fills) == 2


def test_every_fill_publishes_the_position_change() -> None:
    books = Books()

    books.fill("X", OrderSide.BUY, 10, 100.0, ts=1)
    books.fill("X", OrderSide.SELL, 15, 110.0, ts=2)

    assert books.changes == [
        PositionChanged("X", 10.0, 100.0, 0.0, 1),
        PositionChanged("X", -5.0, 110.0, 100.0, 2),
    ]


def test_leverage_must_be_positive() -> None:
    with pytest.raises(ValueError, match="leverage must be positive, got 0"):
        Portfolio(MessageBus(), PriceCache(), dict(INSTRUMENTS), 1_000.0, leverage=0)


# -- the read-only view ------------------------------------------------------------------
def test_portfolio_view_answers_the_same_queries() -> None:
    books = Books(cash=10_000.0)
    view = PortfolioView(books.portfolio)
    books.fill("X", OrderSide.BUY, 10, 100.0, ts=1)
    books.fill("X", OrderSide.SELL, 4, 101.0, ts=2)
    books.prices.update("X", 102.0)

    p = books.portfolio
    assert view.cash == p.cash == 10_000.0 - 1_000.0 + 404.0
    assert view.equity() == p.equity() == 9_404.0 + 612.0
    assert view.gross_exposure() == p.gross_exposure() == 612.0
    assert view.buying_power() == p.buying_power()
    assert view.position_quantity("X") == 6.0
    assert view.position("X") == p.position("X")
    assert view.open_positions() == {"X": 6.0}
    assert view.last_price("X") == 102.0
    assert view.closed_trade_count == 1


def test_portfolio_view_exposes_no_mutators() -> None:
    view = PortfolioView(Books().portfolio)

    public = {name for name in dir(view) if not name.startswith("_")}

    assert public == {
        "buying_power",
        "cash",
        "closed_trade_count",
        "equity",
        "gross_exposure",
        "last_price",
        "open_positions",
        "position",
        "position_quantity",
    }
    with pytest.raises(AttributeError):
        view.cash = 1e9  # type: ignore[misc]
    with pytest.raises(AttributeError):
        view.account = None  # type: ignore[attr-defined]


def test_portfolio_view_open_positions_is_a_copy() -> None:
    books = Books()
    view = PortfolioView(books.portfolio)
    books.fill("X", OrderSide.BUY, 1, 100.0)

    view.open_positions()["X"] = 1_000.0

    assert books.portfolio.position_quantity("X") == 1.0


# -- the equity curve --------------------------------------------------------------------
class RandomTrader(Strategy):
    """Trades market orders at random, seeded per bar."""

    name: ClassVar[str] = "random"

    def on_start(self) -> None:
        self.seed = 0

    def on_bar(self, bar: Bar) -> None:
        rng = random.Random(f"{self.seed}-{bar.instrument_id}-{bar.ts_event}")
        roll = rng.random()
        if roll < 0.35:
            self.buy(rng.randint(1, 5), bar.instrument_id)
        elif roll < 0.7:
            self.sell(rng.randint(1, 5), bar.instrument_id)


def _series(iid: str, ts: list[int], closes: list[float]) -> BarSeries:
    close = np.asarray(closes)
    open_ = np.concatenate([[close[0]], close[:-1]])
    return BarSeries.from_arrays(
        iid, ts, open_, np.maximum(open_, close) + 0.5, np.minimum(open_, close) - 0.5, close,
        np.full(len(close), 1e6),
    )  # fmt: skip


def _run(bars: dict[str, BarSeries], seed: int) -> tuple[Portfolio, list[tuple[int, float]]]:
    clock = TestClock(DAY0)
    bus = MessageBus()
    prices = PriceCache()
    instruments = {iid: INSTRUMENTS[iid] for iid in bars}
    portfolio = Portfolio(bus, prices, instruments, 100_000.0)
    venue = SimulatedVenue(
        "SIM", bus, clock, prices, instruments, portfolio,
        VenueConfig(commission=PercentCommission(0.001)),
    )  # fmt: skip
    ExecutionEngine(bus, clock, venue.endpoint)
    trader = RandomTrader()
    trader.attach(clock, bus, PortfolioView(portfolio), instruments)
    trader.on_start()
    trader.seed = seed
    rows = sorted((int(s.ts[i]), iid, i) for iid, s in bars.items() for i in range(len(s)))
    live: list[tuple[int, float]] = []
    for k, (ts, iid, i) in enumerate(rows):
        clock.set_time(ts)
        bar = bars[iid].bar(i)
        venue.process_bar(bar)
        bus.publish(f"data.bars.{iid}", bar)
        if k + 1 == len(rows) or rows[k + 1][0] != ts:
            live.append((ts, portfolio.equity()))
    return portfolio, live


def _per_bar_loop(
    portfolio: Portfolio, bars: dict[str, BarSeries], initial_cash: float
) -> tuple[list[int], list[float], list[float], list[float]]:
    """Equity, cash and gross at each bar time, the slow and obvious way."""
    times = sorted({int(t) for s in bars.values() for t in s.ts})
    equity, cash_out, gross_out = [], [], []
    for t in times:
        cash = initial_cash
        units = dict.fromkeys(bars, 0.0)
        for f in portfolio.fills:
            if f.ts_event <= t:
                mult = INSTRUMENTS[f.instrument_id].multiplier
                cash -= f.side.sign * f.last_qty * f.last_px * mult + f.commission
                units[f.instrument_id] += f.side.sign * f.last_qty
        value = gross = 0.0
        for iid, series in bars.items():
            seen = [float(c) for ts, c in zip(series.ts, series.close, strict=True) if ts <= t]
            if units[iid]:
                v = units[iid] * seen[-1] * INSTRUMENTS[iid].multiplier
                value += v
                gross += abs(v)
        equity.append(cash + value)
        cash_out.append(cash)
        gross_out.append(gross)
    return times, equity, cash_out, gross_out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_equity_curve_of_one_instrument_equals_a_per_bar_loop(seed: int) -> None:
    closes = [100.0, 101.0, 99.5, 102.0, 103.5, 101.0, 98.0, 99.0, 100.5, 104.0, 102.5, 101.5]
    ts = [DAY0 + MINUTE * (k + 1) for k in range(len(closes))]
    bars = {"X": _series("X", ts, closes)}

    portfolio, live = _run(bars, seed)
    times, equity, cash, gross = portfolio.equity_curve(bars)

    assert len(portfolio.fills) >= 3
    exp_times, exp_equity, exp_cash, exp_gross = _per_bar_loop(portfolio, bars, 100_000.0)
    assert times.tolist() == exp_times == ts
    np.testing.assert_allclose(equity, exp_equity, rtol=1e-12)
    np.testing.assert_allclose(cash, exp_cash, rtol=1e-12)
    np.testing.assert_allclose(gross, exp_gross, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(equity, [e for _, e in live], rtol=1e-12)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_equity_curve_of_two_instruments_on_different_clocks(seed: int) -> None:
    x_closes = [100.0, 101.0, 99.5, 102.0, 103.5, 101.0, 98.0, 99.0, 100.5, 104.0]
    f_closes = [50.0, 49.0, 51.5, 52.0, 50.5, 48.0, 49.5]
    x_ts = [DAY0 + MINUTE * (k + 1) for k in range(len(x_closes))]
    # F trades every 90 s from 2.5 minutes in: some times shared with X, most not.
    f_ts = [DAY0 + 150_000_000_000 + 90_000_000_000 * k for k in range(len(f_closes))]
    bars = {"X": _series("X", x_ts, x_closes), "F": _series("F", f_ts, f_closes)}

    portfolio, live = _run(bars, seed)
    times, equity, cash, gross = portfolio.equity_curve(bars)

    assert {f.instrument_id for f in portfolio.fills} == {"X", "F"}
    exp_times, exp_equity, exp_cash, exp_gross = _per_bar_loop(portfolio, bars, 100_000.0)
    assert times.tolist() == exp_times
    assert len(exp_times) < len(x_ts) + len(f_ts)  # shared timestamps appear once
    np.testing.assert_allclose(equity, exp_equity, rtol=1e-12)
    np.testing.assert_allclose(cash, exp_cash, rtol=1e-12)
    np.testing.assert_allclose(gross, exp_gross, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(equity, [e for _, e in live], rtol=1e-12)


def test_equity_curve_without_fills_is_flat_at_the_initial_cash() -> None:
    books = Books(cash=5_000.0)
    bars = {"X": _series("X", [1, 2, 3], [10.0, 11.0, 12.0])}

    times, equity, cash, gross = books.portfolio.equity_curve(bars)

    assert times.tolist() == [1, 2, 3]
    assert equity.tolist() == [5_000.0] * 3
    assert cash.tolist() == [5_000.0] * 3
    assert gross.tolist() == [0.0] * 3


def test_equity_curve_by_hand() -> None:
    books = Books(cash=1_000.0)
    bars = {"X": _series("X", [10, 20, 30, 40], [100.0, 110.0, 90.0, 95.0])}
    books.fill("X", OrderSide.BUY, 2, 100.0, fee=1.0, ts=20)  # at the open of bar 20
    books.fill("X", OrderSide.SELL, 5, 90.0, ts=30)  # flips to short 3

    _, equity, cash, gross = books.portfolio.equity_curve(bars)

    assert cash.tolist() == [1_000.0, 799.0, 1_249.0, 1_249.0]
    assert gross.tolist() == [0.0, 220.0, 270.0, 285.0]
    assert equity.tolist() == [1_000.0, 799.0 + 220.0, 1_249.0 - 270.0, 1_249.0 - 285.0]
