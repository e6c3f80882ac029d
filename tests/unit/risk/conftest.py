"""A hand-built node with a risk engine in front of the execution engine."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from quantgrid.core import MessageBus, PriceCache, TestClock
from quantgrid.execution import ExecutionEngine
from quantgrid.model import (
    Bar,
    Instrument,
    Order,
    OrderEvent,
    OrderSide,
    OrderType,
    SubmitOrder,
)
from quantgrid.portfolio import Portfolio, PortfolioView
from quantgrid.risk import RISK_ENDPOINT, RiskConfig, RiskEngine, TradingStateChanged
from quantgrid.venues import SimulatedVenue, VenueConfig

DAY0 = 1_704_067_200_000_000_000
MINUTE = 60_000_000_000


class Node:
    """Clock, real bus, prices, portfolio, venue, execution and risk engines."""

    def __init__(
        self,
        config: RiskConfig,
        cash: float = 100_000.0,
        instruments: tuple[Instrument, ...] = (Instrument("X"), Instrument("Y")),
        regime_of: Callable[[str], int | None] | None = None,
        price: float = 100.0,
    ) -> None:
        self.clock = TestClock(DAY0)
        self.bus = MessageBus()
        self.prices = PriceCache()
        self.instruments = {i.id: i for i in instruments}
        self.portfolio = Portfolio(self.bus, self.prices, self.instruments, cash)
        self.venue = SimulatedVenue(
            "SIM",
            self.bus,
            self.clock,
            self.prices,
            self.instruments,
            self.portfolio,
            VenueConfig(),
        )
        self.execution = ExecutionEngine(self.bus, self.clock, self.venue.endpoint)
        for iid in self.instruments:
            self.prices.update(iid, price)
        self.risk = RiskEngine(
            self.bus,
            self.clock,
            PortfolioView(self.portfolio),
            self.instruments,
            config,
            self.execution,
            regime_of,
        )
        self.events: list[OrderEvent] = []
        self.states: list[TradingStateChanged] = []
        self.bus.subscribe("events.order.>", self.events.append)
        self.bus.subscribe("events.risk.state", self.states.append)
        self.ts = DAY0
        self._count = 0

    def order(
        self,
        side: OrderSide,
        quantity: float | None,
        instrument_id: str = "X",
        *,
        price: float | None = None,
        stop: float | None = None,
        reduce_only: bool = False,
        strategy_id: str = "S",
    ) -> Order:
        """Build an order (market unless a price or stop is given)."""
        self._count += 1
        if price is not None:
            kind = OrderType.STOP_LIMIT if stop is not None else OrderType.LIMIT
        else:
            kind = OrderType.STOP if stop is not None else OrderType.MARKET
        return Order(
            f"{strategy_id}-{self._count}",
            strategy_id,
            instrument_id,
            side,
            kind,
            quantity,
            price=price,
            trigger_price=stop,
            reduce_only=reduce_only,
            cash_fraction=1.0 if quantity is None else None,
        )

    def submit(self, order: Order) -> Order:
        """Send ``order`` through the risk engine, as a strategy does."""
        self.bus.send(RISK_ENDPOINT, SubmitOrder(order, self.clock.timestamp_ns()))
        return order

    def bar(self, price: float, instrument_id: str = "X") -> Bar:
        """Publish a one-price bar a minute later: working market orders fill at it."""
        self.ts += MINUTE
        self.clock.set_time(self.ts)
        bar = Bar(instrument_id, self.ts, price, price, price, price, 1e9)
        self.venue.process_bar(bar)
        self.bus.publish(f"data.bars.{instrument_id}", bar)
        return bar

    def hold(self, quantity: float, instrument_id: str = "X", price: float = 100.0) -> None:
        """Open a position past the risk checks (straight to execution) and fill it."""
        side = OrderSide.BUY if quantity > 0 else OrderSide.SELL
        order = self.order(side, abs(quantity), instrument_id, strategy_id="setup")
        self.execution.execute(SubmitOrder(order, self.clock.timestamp_ns()))
        self.bar(price, instrument_id)
        assert self.portfolio.position_quantity(instrument_id) == quantity


@pytest.fixture
def make_node() -> Callable[..., Node]:
    """Return the ``Node`` class, to build a node per test."""
    return Node


@pytest.fixture(scope="session")
def make_node_cls() -> Callable[..., Node]:
    """Return the ``Node`` class (session-scoped, for Hypothesis tests)."""
    return Node
