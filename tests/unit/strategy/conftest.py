"""A hand-built trading node for the strategy tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from quantgrid.core import MessageBus, PriceCache, TestClock
from quantgrid.execution import ExecutionEngine
from quantgrid.model import Bar, Instrument, Order
from quantgrid.portfolio import Portfolio, PortfolioView
from quantgrid.strategy import Strategy
from quantgrid.venues import SimulatedVenue, VenueConfig

DAY0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000_000_000


class Node:
    """Clock, bus, prices, portfolio, venue and engine around one attached strategy."""

    def __init__(
        self,
        strategy: Strategy,
        instruments: tuple[Instrument, ...] = (Instrument("X"),),
        cash: float = 1_000_000.0,
    ) -> None:
        self.clock = TestClock(DAY0)
        self.bus = MessageBus()
        self.prices = PriceCache()
        self.instruments = {i.id: i for i in instruments}
        self.portfolio = Portfolio(self.bus, self.prices, self.instruments, cash)
        self.venue = SimulatedVenue(
            "SIM", self.bus, self.clock, self.prices, self.instruments, self.portfolio,
            VenueConfig(),
        )  # fmt: skip
        self.engine = ExecutionEngine(self.bus, self.clock, self.venue.endpoint)
        self.strategy = strategy
        strategy.attach(self.clock, self.bus, PortfolioView(self.portfolio), self.instruments)
        strategy.on_start()
        self.ts = DAY0
        self.last_close: dict[str, float] = {}

    def bar(self, close: float, instrument_id: str = "X", open: float | None = None) -> Bar:
        """Publish a bar a minute on, opening at the previous close."""
        self.ts += MINUTE
        self.clock.set_time(self.ts)
        open_ = self.last_close.get(instrument_id, close) if open is None else open
        bar = Bar(
            instrument_id, self.ts, open_, max(open_, close) + 0.5,
            min(open_, close) - 0.5, close, 1e6,
        )  # fmt: skip
        self.last_close[instrument_id] = close
        self.venue.process_bar(bar)  # the backtest engine hands the venue each bar first
        self.bus.publish(f"data.bars.{instrument_id}", bar)
        return bar

    def run(self, closes: list[float], instrument_id: str = "X") -> list[Bar]:
        return [self.bar(c, instrument_id) for c in closes]

    @property
    def orders(self) -> tuple[Order, ...]:
        return self.engine.orders


@pytest.fixture
def make_node() -> Callable[..., Node]:
    """Return a factory of nodes around a strategy."""
    return Node
