"""Orders and their lifecycle state machine."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from quantgrid.model._enums import (
    ContingencyType,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from quantgrid.model._events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)


class InvalidOrderError(ValueError):
    """An order's fields break a rule; the message names the field and the rule."""


class InvalidStateTransitionError(RuntimeError):
    """An event arrived that the order's current status does not allow."""


S = OrderStatus
_WORKING = (
    S.ACCEPTED,
    S.TRIGGERED,
    S.PARTIALLY_FILLED,
    S.PENDING_CANCEL,
    S.PENDING_UPDATE,
)
_PENDING = (S.PENDING_CANCEL, S.PENDING_UPDATE)

# (status, event type) -> status after the event. OrderFilled is resolved to FILLED or
# PARTIALLY_FILLED from the quantities, so it maps to a placeholder here; ``None``
# means "back to the working status the order had before its request went pending"
# (ACCEPTED, TRIGGERED or PARTIALLY_FILLED, which the order's fields tell apart).
_FILL = S.PARTIALLY_FILLED
_TRANSITIONS: dict[tuple[OrderStatus, type[OrderEvent]], OrderStatus | None] = {
    (S.INITIALIZED, OrderDenied): S.DENIED,
    (S.INITIALIZED, OrderSubmitted): S.SUBMITTED,
    # A contingent order that was never released (its parent ended unfilled).
    (S.INITIALIZED, OrderCanceled): S.CANCELED,
    # Quantity of a contingent order set before it is released.
    (S.INITIALIZED, OrderUpdated): S.INITIALIZED,
    (S.SUBMITTED, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTED, OrderRejected): S.REJECTED,
    (S.SUBMITTED, OrderCanceled): S.CANCELED,
    (S.SUBMITTED, OrderUpdated): S.SUBMITTED,
    (S.SUBMITTED, OrderFilled): _FILL,
    (S.ACCEPTED, OrderRejected): S.REJECTED,
    (S.ACCEPTED, OrderUpdated): S.ACCEPTED,
    (S.ACCEPTED, OrderTriggered): S.TRIGGERED,
    (S.ACCEPTED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.ACCEPTED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.ACCEPTED, OrderCanceled): S.CANCELED,
    (S.ACCEPTED, OrderExpired): S.EXPIRED,
    (S.ACCEPTED, OrderFilled): _FILL,
    (S.TRIGGERED, OrderUpdated): S.TRIGGERED,
    (S.TRIGGERED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.TRIGGERED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.TRIGGERED, OrderCanceled): S.CANCELED,
    (S.TRIGGERED, OrderExpired): S.EXPIRED,
    (S.TRIGGERED, OrderFilled): _FILL,
    (S.PENDING_CANCEL, OrderCanceled): S.CANCELED,
    (S.PENDING_CANCEL, OrderExpired): S.EXPIRED,
    (S.PENDING_CANCEL, OrderFilled): _FILL,
    (S.PENDING_CANCEL, OrderTriggered): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, OrderUpdated): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, OrderCancelRejected): None,
    (S.PENDING_CANCEL, OrderModifyRejected): S.PENDING_CANCEL,
    (S.PENDING_UPDATE, OrderUpdated): None,
    (S.PENDING_UPDATE, OrderModifyRejected): None,
    (S.PENDING_UPDATE, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PENDING_UPDATE, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.PENDING_UPDATE, OrderTriggered): S.PENDING_UPDATE,
    (S.PENDING_UPDATE, OrderCanceled): S.CANCELED,
    (S.PENDING_UPDATE, OrderExpired): S.EXPIRED,
    (S.PENDING_UPDATE, OrderFilled): _FILL,
    (S.PARTIALLY_FILLED, OrderUpdated): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderFilled): _FILL,
}
# A refused cancel or amend changes nothing outside the pending states: it only records
# that the request failed (a cancel racing a fill is refused once the order is FILLED).
for _status in S:
    for _refusal in (OrderCancelRejected, OrderModifyRejected):
        _TRANSITIONS.setdefault((_status, _refusal), _status)


@dataclass(slots=True, eq=False)
class Order:
    """An order and its state, changed only by applying events.

    Parameters
    ----------
    quantity
        Units to trade, a positive whole number of lots. ``None`` together with
        ``cash_fraction`` asks the venue to size the order at fill time from the
        account's buying power (whole lots, commission included).

    Notes
    -----
    Invariants: ``0 <= filled_qty <= quantity``; the status changes only through the
    transition table, and an illegal transition raises ``InvalidStateTransitionError``
    without changing the order.
    """

    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: OrderSide
    order_type: OrderType
    quantity: float | None
    price: float | None = None
    trigger_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    cash_fraction: float | None = None
    tag: str = ""
    ts_init: int = 0
    contingency: ContingencyType = ContingencyType.NONE
    parent_order_id: str = ""
    linked_order_ids: tuple[str, ...] = ()
    order_list_id: str = ""
    status: OrderStatus = OrderStatus.INITIALIZED
    filled_qty: float = 0.0
    avg_px: float = 0.0
    venue_order_id: str = ""
    triggered: bool = False
    ts_last: int = 0
    events: list[OrderEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._check_fields()

    def _check_fields(self) -> None:
        oid = self.client_order_id
        if self.quantity is None:
            frac = self.cash_fraction
            if frac is None or not (0.0 < frac <= 1.0):
                msg = (
                    f"order {oid}: cash_fraction must be in (0, 1] when quantity is not "
                    f"given, got {frac}"
                )
                raise InvalidOrderError(msg)
            if self.order_type is not OrderType.MARKET:
                msg = f"order {oid}: only market orders can be sized from cash"
                raise InvalidOrderError(msg)
        elif not (math.isfinite(self.quantity) and self.quantity > 0):
            msg = f"order {oid}: quantity must be a positive finite number, got {self.quantity}"
            raise InvalidOrderError(msg)
        needs_price = self.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_trigger = self.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        _check_price(oid, "price", self.price, needs_price, self.order_type)
        _check_price(oid, "trigger_price", self.trigger_price, needs_trigger, self.order_type)
        if self.post_only and self.order_type is not OrderType.LIMIT:
            msg = (
                f"order {oid}: post_only applies only to LIMIT orders, not {self.order_type.value}"
            )
            raise InvalidOrderError(msg)

    # -- state ---------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        """Tell whether the order can still fill."""
        return self.status in _WORKING or self.status is OrderStatus.SUBMITTED

    @property
    def is_closed(self) -> bool:
        """Tell whether the order reached a final status."""
        return self.status.is_closed

    @property
    def leaves_qty(self) -> float:
        """Return the quantity still to fill (0 while a cash-sized order is unsized)."""
        if self.quantity is None:
            return 0.0
        return max(0.0, self.quantity - self.filled_qty)

    @property
    def signed_quantity(self) -> float:
        """Return the quantity with the side's sign (0 while unsized)."""
        return self.side.sign * (self.quantity or 0.0)

    def apply(self, event: OrderEvent) -> None:
        """Apply ``event``, moving the order through its lifecycle.

        Raises
        ------
        InvalidStateTransitionError
            If the event is not allowed in the current status, or a fill would take the
            filled quantity past the ordered quantity.
        """
        if event.client_order_id != self.client_order_id:
            msg = f"event for order {event.client_order_id} applied to order {self.client_order_id}"
            raise InvalidStateTransitionError(msg)
        kind = type(event)
        try:
            new_status = _TRANSITIONS[self.status, kind]
        except KeyError:
            msg = (
                f"order {self.client_order_id}: {type(event).__name__} is not allowed "
                f"when the order is {self.status.value}"
            )
            raise InvalidStateTransitionError(msg) from None
        if kind is OrderFilled:
            assert isinstance(event, OrderFilled)
            new_status = self._apply_fill(event)
            if new_status is S.PARTIALLY_FILLED and self.status in _PENDING:
                new_status = self.status  # the request is still on its way
        elif kind is OrderUpdated:
            assert isinstance(event, OrderUpdated)
            self._apply_update(event)
        elif kind is OrderAccepted:
            assert isinstance(event, OrderAccepted)
            self.venue_order_id = event.venue_order_id
        elif kind is OrderTriggered:
            # Kept apart from the status: a triggered order that then partly fills is
            # PARTIALLY_FILLED, and must still work as a limit order.
            self.triggered = True
        if new_status is None:
            assert isinstance(event, OrderCancelRejected | OrderModifyRejected | OrderUpdated)
            if isinstance(event, OrderUpdated) or event.from_venue:
                new_status = self._working_status()
            else:
                new_status = self.status  # a new request refused: the pending one stands
        self.status = new_status
        self.ts_last = event.ts_event
        self.events.append(event)

    def _working_status(self) -> OrderStatus:
        if self.filled_qty > 0:
            return S.PARTIALLY_FILLED
        return S.TRIGGERED if self.triggered else S.ACCEPTED

    def _apply_fill(self, event: OrderFilled) -> OrderStatus:
        if event.side is not self.side:
            msg = f"order {self.client_order_id}: fill side {event.side.value} != order side"
            raise InvalidStateTransitionError(msg)
        if self.quantity is None:
            msg = f"order {self.client_order_id}: fill before the order was sized"
            raise InvalidStateTransitionError(msg)
        if not event.last_qty > 0:
            msg = f"order {self.client_order_id}: fill quantity must be positive"
            raise InvalidStateTransitionError(msg)
        filled = self.filled_qty + event.last_qty
        if filled > self.quantity * (1 + 1e-12):
            msg = (
                f"order {self.client_order_id}: fill of {event.last_qty} would make filled "
                f"{filled} exceed the order quantity {self.quantity}"
            )
            raise InvalidStateTransitionError(msg)
        self.avg_px = (self.avg_px * self.filled_qty + event.last_px * event.last_qty) / filled
        self.filled_qty = filled
        if filled >= self.quantity * (1 - 1e-12):
            return OrderStatus.FILLED
        return OrderStatus.PARTIALLY_FILLED

    def _apply_update(self, event: OrderUpdated) -> None:
        if not (math.isfinite(event.quantity) and event.quantity > 0):
            msg = f"order {self.client_order_id}: updated quantity must be positive"
            raise InvalidStateTransitionError(msg)
        if event.quantity < self.filled_qty:
            msg = (
                f"order {self.client_order_id}: updated quantity {event.quantity} is below "
                f"the filled quantity {self.filled_qty}"
            )
            raise InvalidStateTransitionError(msg)
        self.quantity = event.quantity
        if event.price is not None:
            self.price = event.price
        if event.trigger_price is not None:
            self.trigger_price = event.trigger_price


def _check_price(
    oid: str, name: str, value: float | None, required: bool, order_type: OrderType
) -> None:
    if required and value is None:
        msg = f"order {oid}: {order_type.value} orders need a {name}"
        raise InvalidOrderError(msg)
    if not required and value is not None:
        msg = f"order {oid}: {order_type.value} orders take no {name}"
        raise InvalidOrderError(msg)
    if value is not None and not (math.isfinite(value) and value > 0):
        msg = f"order {oid}: {name} must be a positive finite number, got {value}"
        raise InvalidOrderError(msg)
