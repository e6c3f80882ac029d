"""Events: frozen, past-tense facts published on the bus.

Messages are msgspec Structs: immutable, about twenty times cheaper to build than frozen
dataclasses (the backtest makes several per order), and ready to encode for a network bus.
They hold only strings, numbers and enums, so they can never be part of a reference
cycle: ``gc=False`` keeps the collector from re-scanning every event of a long run.
"""

from __future__ import annotations

import msgspec

from quantgrid.model._enums import LiquiditySide, OrderSide


class OrderEvent(msgspec.Struct, frozen=True, gc=False):
    """What every order event carries."""

    client_order_id: str
    strategy_id: str
    instrument_id: str
    ts_event: int


class OrderSubmitted(OrderEvent, frozen=True, gc=False):
    """The order left the execution engine for the venue."""


class OrderDenied(OrderEvent, frozen=True, gc=False):
    """The order was refused before reaching the venue (e.g. by a risk check)."""

    reason: str


class OrderAccepted(OrderEvent, frozen=True, gc=False):
    """The venue accepted the order; it is working."""

    venue_order_id: str


class OrderRejected(OrderEvent, frozen=True, gc=False):
    """The venue refused the order."""

    reason: str


class OrderUpdated(OrderEvent, frozen=True, gc=False):
    """The order's quantity or prices changed (an amend, or cash sizing resolved)."""

    quantity: float
    price: float | None = None
    trigger_price: float | None = None


class OrderTriggered(OrderEvent, frozen=True, gc=False):
    """A stop-limit order's stop was reached; it now works as a limit order."""


class OrderPendingCancel(OrderEvent, frozen=True, gc=False):
    """A cancel was requested and is on its way to the venue."""


class OrderPendingUpdate(OrderEvent, frozen=True, gc=False):
    """An amend was requested and is on its way to the venue."""


class OrderModifyRejected(OrderEvent, frozen=True, gc=False):
    """An amend was refused; the order works on unchanged.

    ``from_venue`` is true when the venue answered a pending amend (the order leaves
    PENDING_UPDATE), false when the execution or risk engine refused a new request
    before it reached the venue (the order's status does not change).
    """

    reason: str
    from_venue: bool = True


class OrderCancelRejected(OrderEvent, frozen=True, gc=False):
    """A cancel was refused (the order had already filled or ended, say).

    ``from_venue`` as for ``OrderModifyRejected``.
    """

    reason: str
    from_venue: bool = True


class OrderCanceled(OrderEvent, frozen=True, gc=False):
    """The order stopped working before filling completely."""

    reason: str = ""


class OrderExpired(OrderEvent, frozen=True, gc=False):
    """The order's time in force ran out."""


class OrderFilled(OrderEvent, frozen=True, gc=False):
    """Part or all of the order traded."""

    trade_id: str
    side: OrderSide
    last_qty: float
    last_px: float
    commission: float
    liquidity_side: LiquiditySide
    currency: str = "USD"


class PositionChanged(msgspec.Struct, frozen=True, gc=False):
    """A fill changed a position. ``quantity`` is signed: positive long, negative short."""

    instrument_id: str
    quantity: float
    avg_px_open: float
    realized_pnl: float
    ts_event: int
