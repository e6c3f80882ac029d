"""The execution service's request bodies and answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from quantgrid.adapters.storage import FillRecord, StoredOrderEvent
from quantgrid.model import LiquiditySide, OrderSide, OrderStatus, OrderType, TimeInForce
from quantgrid.node import OrderDetail, OrderRequest, OrderView

#: Ids clients choose: a letter or digit, then letters, digits, ``.``, ``_``, ``-``.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
# 15 significant digits: a decimal that survives the core's floats exactly.
Quantity = Annotated[Decimal, Field(gt=0, max_digits=15, decimal_places=8, allow_inf_nan=False)]
Price = Annotated[Decimal, Field(gt=0, max_digits=15, decimal_places=8, allow_inf_nan=False)]


class SubmitOrderBody(BaseModel):
    """A new order.

    Without ``client_order_id`` the ``Idempotency-Key`` header names the order; with
    neither a new id is made, and a retry would make a second order.
    """

    model_config = ConfigDict(extra="forbid")

    client_order_id: Id | None = Field(default=None, description="Makes retries safe.")
    strategy_id: Id = "manual"
    instrument_id: Id
    side: OrderSide
    order_type: OrderType
    quantity: Quantity = Field(description="Units, a whole number of lots.")
    price: Price | None = Field(default=None, description="Limit price (LIMIT, STOP_LIMIT).")
    trigger_price: Price | None = Field(default=None, description="Stop (STOP, STOP_LIMIT).")
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    tag: Annotated[str, StringConstraints(max_length=256)] = ""

    def to_request(self, client_order_id: str) -> OrderRequest:
        """Return the node's request for this body under ``client_order_id``."""
        return OrderRequest(
            client_order_id=client_order_id,
            instrument_id=self.instrument_id,
            side=self.side,
            order_type=self.order_type,
            quantity=float(self.quantity),
            price=None if self.price is None else float(self.price),
            trigger_price=None if self.trigger_price is None else float(self.trigger_price),
            time_in_force=self.time_in_force,
            post_only=self.post_only,
            reduce_only=self.reduce_only,
            strategy_id=self.strategy_id,
            tag=self.tag,
        )


class AmendOrderBody(BaseModel):
    """What to change of a working order; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    quantity: Quantity | None = Field(default=None, description="The new total quantity.")
    price: Price | None = None
    trigger_price: Price | None = None


class CancelAllBody(BaseModel):
    """Which working orders to cancel: all, or those of a strategy and/or instrument."""

    model_config = ConfigDict(extra="forbid")

    strategy_id: Id | None = None
    instrument_id: Id | None = None


class OrderOut(BaseModel):
    """An order: its request and its state.

    ``quantity`` and prices are the current ones (after amends); ``reason`` is the last
    denial, rejection, cancel or refusal reason, if any.
    """

    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal | None
    price: Decimal | None
    trigger_price: Decimal | None
    time_in_force: TimeInForce
    post_only: bool
    reduce_only: bool
    tag: str
    status: OrderStatus
    filled_qty: Decimal
    avg_px: Decimal | None
    venue_order_id: str
    ts_init: int = Field(description="Nanoseconds since the epoch, UTC.")
    ts_last: int
    reason: str

    @classmethod
    def of(cls, view: OrderView) -> OrderOut:
        """Return the answer of a node's order view."""
        return cls(
            client_order_id=view.client_order_id,
            strategy_id=view.strategy_id,
            instrument_id=view.instrument_id,
            side=view.side,
            order_type=view.order_type,
            quantity=view.quantity,
            price=view.price,
            trigger_price=view.trigger_price,
            time_in_force=view.time_in_force,
            post_only=view.post_only,
            reduce_only=view.reduce_only,
            tag=view.tag,
            status=view.status,
            filled_qty=view.filled_qty,
            avg_px=view.avg_px,
            venue_order_id=view.venue_order_id,
            ts_init=view.ts_init,
            ts_last=view.ts_last,
            reason=view.reason,
        )


class OrderEventOut(BaseModel):
    """One entry of an order's history."""

    seq: int
    event_type: str
    status: OrderStatus = Field(description="The order's status after the event.")
    ts_event: int
    data: dict[str, Any]

    @classmethod
    def of(cls, event: StoredOrderEvent) -> OrderEventOut:
        """Return the answer of a stored event."""
        return cls(
            seq=event.seq,
            event_type=event.event_type,
            status=event.status,
            ts_event=event.ts_event,
            data=msgspec.json.decode(event.payload),
        )


class FillOut(BaseModel):
    """One execution of an order."""

    trade_id: str
    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    commission: Decimal
    liquidity_side: LiquiditySide
    currency: str
    ts_event: int

    @classmethod
    def of(cls, fill: FillRecord) -> FillOut:
        """Return the answer of a stored fill."""
        return cls(**msgspec.structs.asdict(fill))


class OrderDetailOut(OrderOut):
    """An order with its history and fills."""

    events: list[OrderEventOut]
    fills: list[FillOut]

    @classmethod
    def of_detail(cls, detail: OrderDetail) -> OrderDetailOut:
        """Return the answer of an order's detail."""
        return cls(
            **OrderOut.of(detail.order).model_dump(),
            events=[OrderEventOut.of(e) for e in detail.events],
            fills=[FillOut.of(f) for f in detail.fills],
        )


class OrderPage(BaseModel):
    """A page of orders; pass ``next_cursor`` as ``after`` for the next (none: last)."""

    items: list[OrderOut]
    next_cursor: str | None


class FillPage(BaseModel):
    """A page of fills; pass ``next_cursor`` as ``after`` for the next (none: last)."""

    items: list[FillOut]
    next_cursor: str | None


class CanceledOut(BaseModel):
    """The orders a cancel-all (or the kill switch) cancelled or left pending cancel."""

    canceled: list[str]
