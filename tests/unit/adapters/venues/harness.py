"""The core around a ``LiveVenue`` for its tests: the real bus, engine and a test clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quantgrid.adapters.venues import LiveVenue, LiveVenueConfig, VenueClient
from quantgrid.core import MessageBus, TestClock
from quantgrid.execution import ExecutionEngine
from quantgrid.model import (
    CancelOrder,
    Instrument,
    ModifyOrder,
    Order,
    OrderEvent,
    OrderSide,
    OrderType,
    SubmitOrder,
    TimeInForce,
)

START_NS = 1_704_207_600_000_000_000  # 2024-01-02T15:00:00Z
AAPL = Instrument("AAPL")
MSFT = Instrument("MSFT")
BTC = Instrument("BTCUSDT", price_increment=0.01, size_increment=0.00001, currency="USDT")
#: Test settings: no waits between resends, no grace before a look-up is believed.
QUICK = LiveVenueConfig(busy_backoff_s=0.0, lookup_grace_s=0.0)


@dataclass
class Harness:
    """A bus, clock and execution engine whose venue is a ``LiveVenue``."""

    bus: MessageBus
    clock: TestClock
    engine: ExecutionEngine
    venue: LiveVenue
    events: list[OrderEvent] = field(default_factory=list)

    def submit(self, order: Order) -> Order:
        """Hand ``order`` to the engine, which sends it to the venue."""
        self.engine.execute(SubmitOrder(order, self.clock.timestamp_ns()))
        return order

    def cancel(self, order: Order) -> None:
        """Ask the engine to cancel ``order``."""
        self.engine.execute(
            CancelOrder(
                order.client_order_id,
                order.instrument_id,
                order.strategy_id,
                self.clock.timestamp_ns(),
            )
        )

    def amend(self, order: Order, **changes: Any) -> None:
        """Ask the engine to amend ``order``."""
        self.engine.execute(
            ModifyOrder(
                order.client_order_id,
                order.instrument_id,
                order.strategy_id,
                self.clock.timestamp_ns(),
                **changes,
            )
        )

    def kinds(self, client_order_id: str) -> list[str]:
        """Return the names of the events of one order, in order."""
        return [type(e).__name__ for e in self.events if e.client_order_id == client_order_id]

    def last(self, client_order_id: str) -> OrderEvent:
        """Return the latest event of one order."""
        return [e for e in self.events if e.client_order_id == client_order_id][-1]


def make_harness(
    client: VenueClient,
    instruments: tuple[Instrument, ...] = (AAPL, MSFT),
    config: LiveVenueConfig = QUICK,
) -> Harness:
    """Wire a ``LiveVenue`` over ``client`` to a fresh engine on a test clock."""
    bus = MessageBus()
    clock = TestClock(START_NS)
    by_id = {i.id: i for i in instruments}
    venue = LiveVenue("LIVE", bus, clock, by_id, client, config)
    engine = ExecutionEngine(bus, clock, venue.endpoint, by_id)
    harness = Harness(bus, clock, engine, venue)
    bus.subscribe("events.order.*", harness.events.append)
    return harness


def limit_buy(
    oid: str = "o-1",
    quantity: float = 10,
    price: float = 189.5,
    instrument_id: str = "AAPL",
    **fields: Any,
) -> Order:
    """Return a GTC limit buy (AAPL 10 at 189.50, as the Alpaca fixtures have it)."""
    values: dict[str, Any] = {"time_in_force": TimeInForce.GTC, "price": price}
    values.update(fields)
    return Order(oid, "s-1", instrument_id, OrderSide.BUY, OrderType.LIMIT, quantity, **values)
