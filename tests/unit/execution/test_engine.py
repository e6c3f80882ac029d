"""The execution engine: idempotent submissions, event topics, denials."""

from __future__ import annotations

import pytest

from quantgrid.core import MessageBus, TestClock
from quantgrid.execution import (
    EXECUTE_ENDPOINT,
    PROCESS_ENDPOINT,
    ExecutionEngine,
    order_event_topic,
)
from quantgrid.model import (
    CancelAllOrders,
    CancelOrder,
    InvalidStateTransitionError,
    LiquiditySide,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPendingCancel,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderTriggered,
    OrderType,
    OrderUpdated,
    SubmitOrder,
)

VENUE = "venue.FAKE.execute"


class Harness:
    """An engine on a real bus, with a venue endpoint that records what it is sent."""

    def __init__(self) -> None:
        self.clock = TestClock(1_000)
        self.bus = MessageBus()
        self.sent: list[object] = []
        self.bus.register(VENUE, self.sent.append)
        self.engine = ExecutionEngine(self.bus, self.clock, VENUE)
        self.published: list[tuple[str, OrderEvent]] = []
        self.bus.subscribe("events.order.>", self._record)

    def _record(self, event: OrderEvent) -> None:
        self.published.append((order_event_topic(event), event))

    def topics(self) -> list[str]:
        return [topic for topic, _ in self.published]


def _order(oid: str = "O-1", strategy: str = "S") -> Order:
    return Order(oid, strategy, "X", OrderSide.BUY, OrderType.LIMIT, 10.0, price=100.0)


def test_engine_registers_its_two_endpoints() -> None:
    h = Harness()

    assert set(h.bus.endpoints) == {EXECUTE_ENDPOINT, PROCESS_ENDPOINT, VENUE}
    assert (EXECUTE_ENDPOINT, PROCESS_ENDPOINT) == ("ExecEngine.execute", "ExecEngine.process")


def test_submit_records_the_order_marks_it_submitted_and_routes_it() -> None:
    h = Harness()
    order = _order()
    command = SubmitOrder(order, 1_000)

    h.bus.send(EXECUTE_ENDPOINT, command)

    assert h.engine.order("O-1") is order
    assert h.engine.orders == (order,)
    assert order.status is OrderStatus.SUBMITTED
    assert h.sent == [command]
    ((topic, event),) = h.published
    assert topic == "events.order.submitted"
    assert event == OrderSubmitted("O-1", "S", "X", 1_000)


def test_duplicate_client_order_id_never_makes_a_second_order() -> None:
    h = Harness()
    first = _order()
    h.bus.send(EXECUTE_ENDPOINT, SubmitOrder(first, 1_000))
    again = _order()  # same client id, a different object

    h.bus.send(EXECUTE_ENDPOINT, SubmitOrder(again, 1_001))
    h.bus.send(EXECUTE_ENDPOINT, SubmitOrder(first, 1_002))

    assert h.engine.orders == (first,)
    assert h.engine.order("O-1") is first
    assert h.engine.duplicate_submissions == 2
    assert len(h.sent) == 1
    assert again.status is OrderStatus.INITIALIZED
    assert first.status is OrderStatus.SUBMITTED
    assert h.topics() == ["events.order.submitted"]


def test_orders_keep_submission_order() -> None:
    h = Harness()
    orders = [_order(f"O-{k}") for k in (3, 1, 2)]

    for order in orders:
        h.engine.execute(SubmitOrder(order, 1_000))

    assert [o.client_order_id for o in h.engine.orders] == ["O-3", "O-1", "O-2"]
    assert h.engine.order("missing") is None


def _accepted(h: Harness, oid: str, strategy: str = "S") -> Order:
    order = _order(oid, strategy)
    h.engine.execute(SubmitOrder(order, 1_000))
    h.engine.process(OrderAccepted(oid, strategy, "X", 1_001, f"V-{oid}"))
    return order


def test_cancel_of_a_working_order_goes_pending_then_to_the_venue() -> None:
    h = Harness()
    order = _accepted(h, "O-1")
    cancel = CancelOrder("O-1", "X", "S", 5)

    h.engine.execute(cancel)

    assert order.status is OrderStatus.PENDING_CANCEL
    assert h.sent[-1] == cancel
    assert h.topics()[-1] == "events.order.pending_cancel"


def test_cancel_all_cancels_each_working_order_of_the_strategy() -> None:
    h = Harness()
    mine = [_accepted(h, "O-1"), _accepted(h, "O-2")]
    other = _accepted(h, "O-3", strategy="T")
    n_sent = len(h.sent)

    h.engine.execute(CancelAllOrders("S", None, 6))

    assert [type(c).__name__ for c in h.sent[n_sent:]] == ["CancelOrder", "CancelOrder"]
    assert [c.client_order_id for c in h.sent[n_sent:]] == ["O-1", "O-2"]  # type: ignore[attr-defined]
    assert all(o.status is OrderStatus.PENDING_CANCEL for o in mine)
    assert other.status is OrderStatus.ACCEPTED


def test_cancel_of_an_unknown_order_is_counted_and_goes_nowhere() -> None:
    h = Harness()

    h.engine.execute(CancelOrder("nope", "X", "S", 5))

    assert h.sent == []
    assert h.engine.unknown_requests == 1


def test_cancel_of_an_ended_order_is_refused_without_reaching_the_venue() -> None:
    h = Harness()
    order = _accepted(h, "O-1")
    h.engine.process(
        OrderFilled("O-1", "S", "X", 2, "T-1", OrderSide.BUY, 10.0, 100.0, 0.0, LiquiditySide.MAKER)
    )
    n_sent = len(h.sent)

    h.engine.execute(CancelOrder("O-1", "X", "S", 5))

    assert order.status is OrderStatus.FILLED
    assert len(h.sent) == n_sent
    refused = h.published[-1][1]
    assert isinstance(refused, OrderCancelRejected)
    assert refused.reason == "order is already FILLED"


def test_unknown_command_type_is_refused() -> None:
    h = Harness()

    with pytest.raises(TypeError, match="the execution engine cannot handle str"):
        h.engine.execute("buy everything")


def _all_events(oid: str) -> list[OrderEvent]:
    base = (oid, "S", "X", 2_000)
    return [
        OrderAccepted(*base, "V-1"),
        OrderUpdated(*base, quantity=10.0),
        OrderTriggered(*base),
        OrderFilled(*base, "T-1", OrderSide.BUY, 4.0, 100.0, 0.0, LiquiditySide.MAKER),
        OrderPendingCancel(*base),
        OrderCanceled(*base, "bye"),
    ]


def test_venue_events_are_applied_and_published_on_their_topics() -> None:
    h = Harness()
    order = _order()
    h.engine.execute(SubmitOrder(order, 1_000))

    for event in _all_events("O-1"):
        h.bus.send(PROCESS_ENDPOINT, event)

    assert h.topics() == [
        "events.order.submitted",
        "events.order.accepted",
        "events.order.updated",
        "events.order.triggered",
        "events.order.filled",
        "events.order.pending_cancel",
        "events.order.canceled",
    ]
    assert order.status is OrderStatus.CANCELED
    assert order.filled_qty == 4.0
    assert [e for _, e in h.published[1:]] == _all_events("O-1")


@pytest.mark.parametrize(
    ("event", "topic"),
    [
        (OrderSubmitted("O", "S", "X", 1), "events.order.submitted"),
        (OrderDenied("O", "S", "X", 1, "r"), "events.order.denied"),
        (OrderAccepted("O", "S", "X", 1, "V"), "events.order.accepted"),
        (OrderRejected("O", "S", "X", 1, "r"), "events.order.rejected"),
        (OrderUpdated("O", "S", "X", 1, 1.0), "events.order.updated"),
        (OrderTriggered("O", "S", "X", 1), "events.order.triggered"),
        (OrderPendingCancel("O", "S", "X", 1), "events.order.pending_cancel"),
        (OrderCanceled("O", "S", "X", 1), "events.order.canceled"),
        (OrderExpired("O", "S", "X", 1), "events.order.expired"),
        (
            OrderFilled("O", "S", "X", 1, "T", OrderSide.SELL, 1.0, 1.0, 0.0, LiquiditySide.TAKER),
            "events.order.filled",
        ),
    ],
)
def test_order_event_topic(event: OrderEvent, topic: str) -> None:
    assert order_event_topic(event) == topic


def test_rejected_and_expired_are_published() -> None:
    h = Harness()
    rejected, expired = _order("R"), _order("E")
    h.engine.execute(SubmitOrder(rejected, 1))
    h.engine.execute(SubmitOrder(expired, 1))

    h.engine.process(OrderRejected("R", "S", "X", 2, "no"))
    h.engine.process(OrderAccepted("E", "S", "X", 2, "V-2"))
    h.engine.process(OrderExpired("E", "S", "X", 3))

    assert h.topics()[2:] == [
        "events.order.rejected",
        "events.order.accepted",
        "events.order.expired",
    ]
    assert (rejected.status, expired.status) == (OrderStatus.REJECTED, OrderStatus.EXPIRED)


def test_event_for_an_unknown_order_raises_lookup_error_and_publishes_nothing() -> None:
    h = Harness()

    with pytest.raises(LookupError, match="event OrderAccepted for unknown order GHOST"):
        h.bus.send(PROCESS_ENDPOINT, OrderAccepted("GHOST", "S", "X", 1, "V-9"))

    assert h.published == []


def test_illegal_event_is_not_published() -> None:
    h = Harness()
    order = _order()
    h.engine.execute(SubmitOrder(order, 1))

    with pytest.raises(
        InvalidStateTransitionError, match="OrderExpired is not allowed when the order is SUBMITTED"
    ):
        h.engine.process(OrderExpired("O-1", "S", "X", 2))

    assert h.topics() == ["events.order.submitted"]


def test_deny_records_the_order_as_denied_without_reaching_the_venue() -> None:
    h = Harness()
    h.clock.set_time(5_000)
    order = _order()

    h.engine.deny(order, "max position exceeded")

    assert h.engine.order("O-1") is order
    assert order.status is OrderStatus.DENIED
    assert order.is_closed
    assert h.sent == []
    ((topic, event),) = h.published
    assert topic == "events.order.denied"
    assert event == OrderDenied("O-1", "S", "X", 5_000, "max position exceeded")
    assert h.engine.open_orders() == []


def test_denied_order_id_cannot_be_submitted_again() -> None:
    h = Harness()
    order = _order()
    h.engine.deny(order, "risk")

    h.engine.execute(SubmitOrder(_order(), 1))

    assert h.engine.duplicate_submissions == 1
    assert h.sent == []


def test_open_orders_by_strategy() -> None:
    h = Harness()
    a, b, c = _order("A", "S1"), _order("B", "S2"), _order("C", "S1")
    for order in (a, b, c):
        h.engine.execute(SubmitOrder(order, 1))
    h.engine.process(OrderRejected("C", "S1", "X", 2, "no"))

    assert h.engine.open_orders() == [a, b]
    assert h.engine.open_orders("S1") == [a]
    assert h.engine.open_orders("S3") == []
