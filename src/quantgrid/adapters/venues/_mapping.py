"""Our orders in a venue's terms: checked against what it takes, rounded to increments."""

from __future__ import annotations

import math
from decimal import Decimal

from quantgrid.adapters.venues._port import VenueCapabilities, VenueOrderRequest
from quantgrid.model import Instrument, Order
from quantgrid.venues._checks import check_increments


def decimal_places(increment: float) -> int:
    """Return the decimals that write every multiple of ``increment`` (0.01 -> 2, 5 -> 0)."""
    exponent = Decimal(repr(increment)).normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # a finite increment (the instrument checked it)
    return max(0, -exponent)


def on_increment(value: float, increment: float) -> Decimal:
    """Return ``value`` as the nearest multiple of ``increment``, written exactly."""
    steps = round(value / increment)
    places = decimal_places(increment)
    return (Decimal(repr(increment)) * steps).quantize(Decimal(1).scaleb(-places))


def venue_request(
    order: Order,
    instrument: Instrument,
    symbol: str,
    capabilities: VenueCapabilities,
    venue: str,
) -> VenueOrderRequest | str:
    """Return ``order`` as ``venue`` takes it, or why the venue cannot take it.

    The checks run before any request, so a refusal never reaches the venue: the
    order's type, time in force, post-only and reduce-only flags and client order id
    must be ones the venue takes; the quantity and prices must be whole multiples of
    the instrument's lot and tick (as on the simulated venues; float noise aside).
    Quantities and prices are then written as exact decimals on those increments.
    """
    oid = order.client_order_id
    if order.quantity is None:
        return (
            f"{venue} takes orders with a quantity: an order sized from cash "
            "(cash_fraction) cannot be sent to a live venue"
        )
    kind, tif = order.order_type, order.time_in_force
    if kind not in capabilities.order_types:
        takes = _names(capabilities.order_types)
        return f"{venue} does not take {kind.value} orders (it takes {takes})"
    if tif not in capabilities.time_in_force:
        return (
            f"{venue} does not take time in force {tif.value} "
            f"(it takes {_names(capabilities.time_in_force)})"
        )
    if order.post_only and not capabilities.post_only:
        return f"{venue} does not take post-only orders"
    if order.reduce_only and not capabilities.reduce_only:
        return f"{venue} does not take reduce-only orders"
    if not capabilities.client_order_id.fullmatch(oid):
        return (
            f"client order id {oid!r} is not one {venue} takes "
            f"(it must match {capabilities.client_order_id.pattern})"
        )
    reason = check_increments(order, {instrument.id: instrument}, venue)
    if reason:
        return reason
    quantity = on_increment(order.quantity, instrument.size_increment)
    if (
        quantity != quantity.to_integral_value()
        and tif not in capabilities.fractional_time_in_force
    ):
        return (
            f"{venue} takes a fractional quantity ({quantity}) only with time in force "
            f"{_names(capabilities.fractional_time_in_force)}, not {tif.value}"
        )
    price = _price(order.price, instrument)
    trigger = _price(order.trigger_price, instrument)
    return VenueOrderRequest(
        client_order_id=oid,
        symbol=symbol,
        side=order.side,
        order_type=kind,
        quantity=quantity,
        time_in_force=tif,
        price=price,
        trigger_price=trigger,
        post_only=order.post_only,
    )


def _price(value: float | None, instrument: Instrument) -> Decimal | None:
    if value is None:
        return None
    assert math.isfinite(value)
    return on_increment(value, instrument.price_increment)


def _names(members: frozenset[object]) -> str:
    return ", ".join(sorted(getattr(m, "value", str(m)) for m in members)) or "none"
