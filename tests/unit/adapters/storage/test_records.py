"""Records from the domain: floats enter storage through their shortest decimal form."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantgrid.adapters.storage import (
    ORDER_EVENT_TYPES,
    FillRecord,
    InvalidRecordError,
    OrderRecord,
    StoredOrderEvent,
    to_decimal,
)
from quantgrid.model import (
    ContingencyType,
    LiquiditySide,
    Order,
    OrderEvent,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)


def test_to_decimal_keeps_the_shortest_repr():
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal(0.1 + 0.2) == Decimal("0.30000000000000004")  # the float's own value
    assert to_decimal(1e-5) == Decimal("0.00001")
    assert to_decimal(3) == Decimal("3.0")
    with pytest.raises(InvalidRecordError, match="price must be a finite number, got nan"):
        to_decimal(float("nan"), "price")


def test_an_order_record_keeps_the_request_not_the_state():
    order = Order(
        "o-1",
        "s-1",
        "AAPL",
        OrderSide.SELL,
        OrderType.STOP_LIMIT,
        5.0,
        price=99.95,
        trigger_price=100.05,
        time_in_force=TimeInForce.DAY,
        tag="exit",
        ts_init=7,
        contingency=ContingencyType.OCO,
        linked_order_ids=("o-2",),
        order_list_id="L-1",
    )
    order.status = OrderStatus.ACCEPTED
    record = OrderRecord.from_order(order)
    assert record == OrderRecord(
        client_order_id="o-1",
        strategy_id="s-1",
        instrument_id="AAPL",
        side=OrderSide.SELL,
        order_type=OrderType.STOP_LIMIT,
        quantity=Decimal("5.0"),
        ts_init=7,
        price=Decimal("99.95"),
        trigger_price=Decimal("100.05"),
        time_in_force=TimeInForce.DAY,
        tag="exit",
        contingency=ContingencyType.OCO,
        linked_order_ids=("o-2",),
        order_list_id="L-1",
    )


def test_a_fill_record_from_an_event():
    event = OrderFilled(
        "o-1",
        "s-1",
        "AAPL",
        9,
        trade_id="t-1",
        side=OrderSide.BUY,
        last_qty=0.3,
        last_px=187.25,
        commission=-0.01,
        liquidity_side=LiquiditySide.MAKER,
        currency="EUR",
    )
    fill = FillRecord.from_event(event)
    assert (fill.quantity, fill.price, fill.commission) == (
        Decimal("0.3"),
        Decimal("187.25"),
        Decimal("-0.01"),
    )
    assert (fill.trade_id, fill.ts_event, fill.currency) == ("t-1", 9, "EUR")


def test_every_order_event_type_of_the_model_can_be_stored():
    def subclasses(cls: type) -> set[type]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(c) for c in found))

    assert set(ORDER_EVENT_TYPES.values()) == subclasses(OrderEvent)


def test_a_stored_event_decodes_to_the_model_type():
    stored = StoredOrderEvent(
        seq=1,
        client_order_id="o-1",
        event_type="OrderCanceled",
        status=OrderStatus.CANCELED,
        ts_event=5,
        payload=b'{"client_order_id":"o-1","strategy_id":"s","instrument_id":"X",'
        b'"ts_event":5,"reason":"user"}',
    )
    event = stored.decode()
    assert type(event).__name__ == "OrderCanceled"
    assert event.ts_event == 5
