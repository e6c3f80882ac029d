"""The rules an amend (``ModifyOrder``) must follow, at a venue or before it."""

from __future__ import annotations

import math

from quantgrid.model._commands import ModifyOrder
from quantgrid.model._enums import OrderStatus, OrderType
from quantgrid.model._instrument import Instrument
from quantgrid.model._orders import Order

_PRICED = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_TRIGGERED = (OrderType.STOP, OrderType.STOP_LIMIT)


def check_amend(
    order: Order, command: ModifyOrder, instrument: Instrument, *, held: bool = False
) -> str:
    """Return why ``command`` cannot amend ``order``, or ``""`` to accept it.

    With ``held`` the order may be one the execution engine still holds (a bracket's
    exit waiting for its entry, INITIALIZED).

    Notes
    -----
    An amend may not change nothing, take the quantity to or below what has already
    filled, leave the lot or tick grid, give a price the order type has no use for, or
    move the trigger of a stop that has already triggered.
    """
    quantity, price, trigger = command.quantity, command.price, command.trigger_price
    if quantity is None and price is None and trigger is None:
        return "the amend changes nothing"
    if not (order.is_open or (held and order.status is OrderStatus.INITIALIZED)):
        return f"order is {order.status.value}"
    if quantity is not None:
        if not (math.isfinite(quantity) and quantity > 0):
            return f"quantity must be a positive finite number, got {quantity}"
        if quantity <= order.filled_qty:
            return f"quantity {quantity:g} is not above the filled quantity {order.filled_qty:g}"
        if not instrument.is_valid_size(quantity):
            return (
                f"quantity {quantity} is not a whole number of lots "
                f"(lot size {instrument.size_increment})"
            )
    elif order.quantity is None:
        return "an order sized from cash cannot be amended before it is sized"
    for name, value, allowed in (
        ("price", price, order.order_type in _PRICED),
        ("trigger_price", trigger, order.order_type in _TRIGGERED),
    ):
        if value is None:
            continue
        if not allowed:
            return f"{order.order_type.value} orders take no {name}"
        if not (math.isfinite(value) and value > 0):
            return f"{name} must be a positive finite number, got {value}"
        if abs(instrument.round_price(value) - value) > 1e-9 * value:
            return f"{name} {value} is not a multiple of the tick {instrument.price_increment}"
    if trigger is not None and order.triggered:
        return "the stop has already triggered"
    return ""
