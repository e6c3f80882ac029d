"""Order views answer with one written form per number, live or stored."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantgrid.adapters.storage import OrderRecord
from quantgrid.model import Order, OrderSide, OrderType
from quantgrid.node._views import OrderView, canonical_decimal


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("1.0", "1"),
        ("100", "100"),
        ("2.50", "2.5"),
        ("0.0", "0"),
        ("1E+2", "100"),
        ("0.125", "0.125"),
        ("-0.50", "-0.5"),
        ("1234567890123456789012345678901234.50", "1234567890123456789012345678901234.5"),
        ("1E+40", "1" + "0" * 40),
    ],
)
def test_a_decimal_is_shown_in_its_shortest_form(given: str, shown: str) -> None:
    assert str(canonical_decimal(Decimal(given))) == shown


def test_a_live_order_and_its_stored_record_read_the_same() -> None:
    order = Order("o-1", "manual", "SYN0", OrderSide.BUY, OrderType.LIMIT, 1.0, price=95.5)
    live = OrderView.from_order(order)
    record = OrderRecord.from_order(order)
    assert (str(live.quantity), str(live.price), str(live.filled_qty)) == ("1", "95.5", "0")
    assert str(canonical_decimal(record.quantity or Decimal(0))) == str(live.quantity)
