"""The execution engine: the one place where orders change state.

Strategies send commands to ``ExecEngine.execute``; the engine records the order,
routes it to its venue, applies every event the venue reports to the order's state
machine, and publishes the event on ``events.order.<kind>``. Risk checks (a later
component) sit in front of this endpoint without changing it.
"""

from __future__ import annotations

from quantgrid.core import Clock, MessageBus
from quantgrid.model import (
    CancelAllOrders,
    CancelOrder,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPendingCancel,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
    SubmitOrder,
)

EXECUTE_ENDPOINT = "ExecEngine.execute"
PROCESS_ENDPOINT = "ExecEngine.process"

_TOPICS: dict[type[OrderEvent], str] = {
    OrderSubmitted: "events.order.submitted",
    OrderDenied: "events.order.denied",
    OrderAccepted: "events.order.accepted",
    OrderRejected: "events.order.rejected",
    OrderUpdated: "events.order.updated",
    OrderTriggered: "events.order.triggered",
    OrderPendingCancel: "events.order.pending_cancel",
    OrderCanceled: "events.order.canceled",
    OrderExpired: "events.order.expired",
    OrderFilled: "events.order.filled",
}


def order_event_topic(event: OrderEvent) -> str:
    """Return the topic an order event is published on."""
    return _TOPICS[type(event)]


class ExecutionEngine:
    """Keeps every order, routes commands to venues and applies venue events.

    Notes
    -----
    Client order ids are idempotent: a second ``SubmitOrder`` with an id already seen
    never creates a second order; it is counted in ``duplicate_submissions`` and dropped.
    """

    def __init__(self, bus: MessageBus, clock: Clock, venue_endpoint: str) -> None:
        self._bus = bus
        self._clock = clock
        self._venue_endpoint = venue_endpoint
        self._orders: dict[str, Order] = {}
        self.duplicate_submissions = 0
        bus.register(EXECUTE_ENDPOINT, self.execute)
        bus.register(PROCESS_ENDPOINT, self.process)

    @property
    def orders(self) -> tuple[Order, ...]:
        """Return every order seen, in submission order."""
        return tuple(self._orders.values())

    def order(self, client_order_id: str) -> Order | None:
        """Return the order with this client id, if any."""
        return self._orders.get(client_order_id)

    def open_orders(self, strategy_id: str | None = None) -> list[Order]:
        """Return the orders that can still fill, optionally of one strategy."""
        return [
            o
            for o in self._orders.values()
            if o.is_open and (strategy_id is None or o.strategy_id == strategy_id)
        ]

    def execute(self, command: object) -> None:
        """Handle a trading command from a strategy."""
        if isinstance(command, SubmitOrder):
            order = command.order
            if order.client_order_id in self._orders:
                self.duplicate_submissions += 1
                return
            self._orders[order.client_order_id] = order
            self._apply(
                OrderSubmitted(
                    order.client_order_id,
                    order.strategy_id,
                    order.instrument_id,
                    self._clock.timestamp_ns(),
                )
            )
            self._bus.send(self._venue_endpoint, command)
        elif isinstance(command, CancelOrder | CancelAllOrders):
            self._bus.send(self._venue_endpoint, command)
        else:
            msg = f"the execution engine cannot handle {type(command).__name__}"
            raise TypeError(msg)

    def process(self, event: OrderEvent) -> None:
        """Apply an event reported by a venue and publish it."""
        self._apply(event)

    def deny(self, order: Order, reason: str) -> None:
        """Record ``order`` as denied before it reached a venue (used by risk checks)."""
        self._orders.setdefault(order.client_order_id, order)
        self._apply(
            OrderDenied(
                order.client_order_id,
                order.strategy_id,
                order.instrument_id,
                self._clock.timestamp_ns(),
                reason,
            )
        )

    def _apply(self, event: OrderEvent) -> None:
        order = self._orders.get(event.client_order_id)
        if order is None:
            msg = f"event {type(event).__name__} for unknown order {event.client_order_id}"
            raise LookupError(msg)
        order.apply(event)
        self._bus.publish(_TOPICS[type(event)], event)
