"""Turning requests into core orders, with the node's checks, and comparing repeats."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from quantgrid.adapters.storage import InvalidRecordError, OrderRecord, Page, Store, StoredOrder
from quantgrid.model import (
    Instrument,
    InvalidOrderError,
    Order,
    OrderEvent,
    OrderStatus,
    OrderType,
)
from quantgrid.node._errors import InvalidOrderRequestError
from quantgrid.node._views import OrderRequest

# What the store accepts as an id: no whitespace or control characters, 1-128 of them.
_ID = re.compile(r"[^\s\x00-\x1f\x7f]{1,128}")
_NEEDS_PRICE = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_NEEDS_TRIGGER = (OrderType.STOP, OrderType.STOP_LIMIT)
# Request fields compared when an id comes again; ts_init is when it came.
_COMPARED = tuple(f for f in OrderRecord.__struct_fields__ if f != "ts_init")


def new_order(instruments: Mapping[str, Instrument], request: OrderRequest, ts_init: int) -> Order:
    """Return the INITIALIZED ``Order`` of ``request``, checked against its instrument.

    Raises
    ------
    InvalidOrderRequestError
        Naming the field: an id the store would refuse, an unknown instrument, a price
        the order type needs or takes none of, a quantity off the lot, a price off the
        tick.
    """
    for name in ("client_order_id", "strategy_id"):
        value = getattr(request, name)
        if not (isinstance(value, str) and _ID.fullmatch(value)):
            raise InvalidOrderRequestError(
                name, "must be 1-128 characters without spaces or control characters"
            )
    instrument = instruments.get(request.instrument_id)
    if instrument is None:
        known = ", ".join(sorted(instruments))
        raise InvalidOrderRequestError(
            "instrument_id", f"{request.instrument_id!r} is not traded here (known: {known})"
        )
    kind = request.order_type
    for name, needed in (
        ("price", kind in _NEEDS_PRICE),
        ("trigger_price", kind in _NEEDS_TRIGGER),
    ):
        given = getattr(request, name) is not None
        if needed and not given:
            raise InvalidOrderRequestError(name, f"a {kind.value} order needs one")
        if given and not needed:
            raise InvalidOrderRequestError(name, f"a {kind.value} order takes none")
    if request.post_only and kind is not OrderType.LIMIT:
        raise InvalidOrderRequestError("post_only", "applies only to LIMIT orders")
    check_values(instrument, request.quantity, request.price, request.trigger_price)
    try:
        return Order(
            client_order_id=request.client_order_id,
            strategy_id=request.strategy_id,
            instrument_id=request.instrument_id,
            side=request.side,
            order_type=kind,
            quantity=request.quantity,
            price=request.price,
            trigger_price=request.trigger_price,
            time_in_force=request.time_in_force,
            post_only=request.post_only,
            reduce_only=request.reduce_only,
            tag=request.tag,
            ts_init=ts_init,
        )
    except InvalidOrderError as error:
        raise InvalidOrderRequestError("order", str(error)) from error


def check_values(
    instrument: Instrument,
    quantity: float | None,
    price: float | None,
    trigger_price: float | None,
) -> None:
    """Check a quantity against the lot and prices against the tick of ``instrument``.

    Raises
    ------
    InvalidOrderRequestError
        Naming the field and the increment it misses.
    """
    if quantity is not None and not (quantity > 0 and instrument.is_valid_size(quantity)):
        raise InvalidOrderRequestError(
            "quantity",
            f"{quantity:g} is not a positive whole number of lots "
            f"(lot size {instrument.size_increment:g})",
        )
    for name, value in (("price", price), ("trigger_price", trigger_price)):
        if value is None:
            continue
        if not value > 0 or abs(instrument.round_price(value) - value) > 1e-9 * value:
            raise InvalidOrderRequestError(
                name,
                f"{value:g} is not a positive multiple of the tick {instrument.price_increment:g}",
            )


def check_amend(
    instrument: Instrument,
    quantity: float | None,
    price: float | None,
    trigger_price: float | None,
) -> None:
    """Check the values of an amend: something to change, on the lot and tick."""
    if quantity is None and price is None and trigger_price is None:
        raise InvalidOrderRequestError(
            "amend", "give at least one of quantity, price, trigger_price"
        )
    check_values(instrument, quantity, price, trigger_price)


def invalid_record(error: InvalidRecordError) -> InvalidOrderRequestError:
    """Return the request error of a record the store refused."""
    return InvalidOrderRequestError("order", str(error))


def differing_fields(stored: OrderRecord, given: OrderRecord) -> list[str]:
    """Return the request fields (not ``ts_init``) in which two records differ."""
    return [f for f in _COMPARED if getattr(stored, f) != getattr(given, f)]


def read_orders(
    store: Store,
    *,
    strategy_id: str | None,
    status: Collection[OrderStatus] | None,
    since_ns: int | None,
    until_ns: int | None,
    limit: int,
    after: str | None,
) -> Page[StoredOrder]:
    """Return one page of stored orders."""
    return store.list_orders(
        strategy_id=strategy_id,
        status=None if status is None else frozenset(status),
        since_ns=since_ns,
        until_ns=until_ns,
        limit=limit,
        after=after,
    )


def read_histories(store: Store, client_order_ids: list[str]) -> dict[str, list[OrderEvent]]:
    """Return the decoded histories of some orders."""
    return {oid: [e.decode() for e in store.order_events(oid)] for oid in client_order_ids}
