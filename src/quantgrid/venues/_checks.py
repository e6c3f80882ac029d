"""Checks every simulated venue applies the same way: increments, reduce-only, buying power."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from quantgrid.model import Instrument, Order, OrderSide


class _HasBuyingPower(Protocol):
    def buying_power(self) -> float: ...


def check_increments(order: Order, instruments: Mapping[str, Instrument], venue: str) -> str:
    """Return why a new order is refused for its instrument, lot or tick, or ``""``."""
    instrument = instruments.get(order.instrument_id)
    if instrument is None:
        return f"unknown instrument {order.instrument_id!r} at venue {venue}"
    if order.quantity is not None and not instrument.is_valid_size(order.quantity):
        return (
            f"quantity {order.quantity} is not a whole number of lots "
            f"(lot size {instrument.size_increment})"
        )
    for name, value in (("price", order.price), ("trigger_price", order.trigger_price)):
        if value is not None and abs(instrument.round_price(value) - value) > 1e-9 * value:
            return f"{name} {value} is not a multiple of the tick {instrument.price_increment}"
    return ""


def closable_quantity(position: float, side: OrderSide) -> float:
    """Return how much of ``position`` an order of ``side`` would close (0 if none)."""
    return abs(position) if position * side.sign < 0 else 0.0


def buying_power_shortfall(
    account: _HasBuyingPower,
    instrument: Instrument,
    quantity: float,
    price: float,
    commission: float,
    closable: float,
) -> str:
    """Return why a fill would open more exposure than the buying power covers, or ``""``.

    Notes
    -----
    Only the part of the fill beyond ``closable`` opens exposure; the part that closes
    a position frees its value, which counts towards what is available. The commission
    is charged in proportion to the opening part.
    """
    opening = max(0.0, quantity - closable)
    if opening <= 0:
        return ""
    needed = opening * price * instrument.multiplier + commission * opening / quantity
    available = account.buying_power() + min(quantity, closable) * price * instrument.multiplier
    if needed > available * (1 + 1e-12):
        return (
            f"insufficient buying power: opening {opening:g} at {price:g} needs "
            f"{needed:,.2f}, available {available:,.2f}"
        )
    return ""
