"""What a node takes and answers: order requests, and read-only views of its state.

Views hold money and quantities as ``Decimal`` (they are an edge of the node, read by
the services and the store); the core keeps floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from quantgrid.adapters.storage import FillRecord, StoredOrder, StoredOrderEvent, to_decimal
from quantgrid.model import (
    Order,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdated,
    TimeInForce,
)
from quantgrid.risk import RiskRejection, TradingState

_REASONED = (OrderDenied, OrderRejected, OrderCanceled, OrderModifyRejected, OrderCancelRejected)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order, as a client asks for it.

    ``client_order_id`` makes the request idempotent: sending it again returns the
    order it made, never a second one.
    """

    client_order_id: str
    instrument_id: str
    side: OrderSide
    order_type: OrderType
    quantity: float
    price: float | None = None
    trigger_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    strategy_id: str = "manual"
    tag: str = ""


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order's request and its state.

    ``quantity``, ``price`` and ``trigger_price`` are the current ones (after amends);
    ``reason`` is the last denial, rejection, cancel or refusal reason, if any.
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
    ts_init: int
    ts_last: int
    reason: str = ""

    def __post_init__(self) -> None:
        # One written form per number, whether the view comes from the live order
        # (floats: 1.0) or the store (1): a repeated request is answered as the first.
        for name in _DECIMALS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, canonical_decimal(value))

    @classmethod
    def from_order(cls, order: Order) -> OrderView:
        """Return the view of a live ``Order`` of the core."""
        return cls(
            client_order_id=order.client_order_id,
            strategy_id=order.strategy_id,
            instrument_id=order.instrument_id,
            side=order.side,
            order_type=order.order_type,
            quantity=_dec(order.quantity),
            price=_dec(order.price),
            trigger_price=_dec(order.trigger_price),
            time_in_force=order.time_in_force,
            post_only=order.post_only,
            reduce_only=order.reduce_only,
            tag=order.tag,
            status=order.status,
            filled_qty=to_decimal(order.filled_qty),
            avg_px=average_price(e for e in order.events if isinstance(e, OrderFilled)),
            venue_order_id=order.venue_order_id,
            ts_init=order.ts_init,
            ts_last=order.ts_last or order.ts_init,
            reason=last_reason(order.events),
        )

    @classmethod
    def from_stored(
        cls, stored: StoredOrder, events: Iterable[OrderEvent] = (), *, live: Order | None = None
    ) -> OrderView:
        """Return the view of a stored order.

        Status, filled quantity and venue order id are the stored (durable) ones. The
        current quantity and prices come from ``live`` (the node's order) when given,
        else from the amends among ``events``.
        """
        record = stored.order
        quantity, price, trigger = record.quantity, record.price, record.trigger_price
        history = list(events)
        if live is not None:
            quantity, price, trigger = (
                _dec(live.quantity),
                _dec(live.price),
                _dec(live.trigger_price),
            )
            history = history or live.events
        else:
            for event in history:
                if isinstance(event, OrderUpdated):
                    quantity = to_decimal(event.quantity)
                    price = price if event.price is None else to_decimal(event.price)
                    if event.trigger_price is not None:
                        trigger = to_decimal(event.trigger_price)
        avg_px = average_price(e for e in history if isinstance(e, OrderFilled))
        return cls(
            client_order_id=record.client_order_id,
            strategy_id=record.strategy_id,
            instrument_id=record.instrument_id,
            side=record.side,
            order_type=record.order_type,
            quantity=quantity,
            price=price,
            trigger_price=trigger,
            time_in_force=record.time_in_force,
            post_only=record.post_only,
            reduce_only=record.reduce_only,
            tag=record.tag,
            status=stored.status,
            filled_qty=stored.filled_qty,
            avg_px=avg_px,
            venue_order_id=stored.venue_order_id,
            ts_init=record.ts_init,
            ts_last=stored.ts_last,
            reason=last_reason(history),
        )


_DECIMALS = ("quantity", "price", "trigger_price", "filled_qty", "avg_px")


def canonical_decimal(value: Decimal) -> Decimal:
    """Return ``value`` in its shortest form: ``1.0`` is ``1``, ``2.50`` is ``2.5``.

    Exact whatever the number of digits (``normalize`` and ``quantize`` would round
    to the context's 28 digits, or fail).
    """
    if not value.is_finite():
        return value
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    kept = list(digits)
    if not any(kept):
        return Decimal(0)
    while exponent < 0 and kept[-1] == 0:
        kept.pop()
        exponent += 1
    if exponent > 0:
        kept.extend([0] * exponent)
        exponent = 0
    return Decimal((sign, tuple(kept), exponent))


@dataclass(frozen=True, slots=True)
class OrderDetail:
    """An order with its history (as stored, in order) and its fills."""

    order: OrderView
    events: tuple[StoredOrderEvent, ...]
    fills: tuple[FillRecord, ...]


@dataclass(frozen=True, slots=True)
class Denial:
    """Why the risk checks refuse an order: the check, its numbers, the message.

    ``check`` is one of ``quantgrid.risk.CHECK_ORDER`` (``"max_position"``);
    ``value`` is the figure that broke the ``limit``. Both are ``None`` when only the
    stored reason is known (a repeated request of a denied order).
    """

    check: str
    message: str
    value: float | None = None
    limit: float | None = None

    @property
    def reason(self) -> str:
        """Return the reason text the ``OrderDenied`` event carries."""
        return f"{self.check}: {self.message}"

    @classmethod
    def of(cls, rejection: RiskRejection | None) -> Denial | None:
        """Return the denial of a risk rejection (``None`` for none)."""
        if rejection is None:
            return None
        return cls(rejection.check, rejection.message, rejection.value, rejection.limit)

    @classmethod
    def from_reason(cls, reason: str) -> Denial:
        """Return the denial an ``OrderDenied`` reason (``"<check>: <message>"``) tells."""
        check, sep, message = reason.partition(": ")
        return cls(check, message) if sep else cls("denied", reason)


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The node's answer to an order request.

    Attributes
    ----------
    order
        The order, durable in the store with every event its submission caused.
    created
        ``False`` when the request repeated one already handled (same client order
        id, same fields): ``order`` is then the order the first request made.
    denial
        Why the risk checks denied the order (its status is then DENIED); ``None``
        otherwise.
    """

    order: OrderView
    created: bool
    denial: Denial | None = None


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The outcome of a dry-run pre-trade check: nothing is sent or recorded."""

    approved: bool
    state: TradingState
    denial: Denial | None = None


@dataclass(frozen=True, slots=True)
class RiskStatus:
    """The trading state and what the risk engine has seen."""

    state: TradingState
    reason: str
    equity: float
    equity_peak: float
    drawdown_pct: float
    denied_orders: int
    ts: int


@dataclass(frozen=True, slots=True)
class PositionView:
    """One instrument's position, marked at its last price (or its entry price)."""

    instrument_id: str
    quantity: float
    avg_px_open: float
    last_price: float | None
    market_value: float
    realized_pnl: float
    unrealized_pnl: float


@dataclass(frozen=True, slots=True)
class CashView:
    """The account's cash: the node's running figure and the store's exact balance."""

    account_id: str
    currency: str
    cash: float
    balance: Decimal
    buying_power: float


@dataclass(frozen=True, slots=True)
class PnlView:
    """Profit and loss since the account's capital was deposited.

    ``total == equity - capital``; ``realized`` is net of the commissions of the
    closed trades, ``commissions`` all commissions paid (negative for net rebates).
    """

    currency: str
    capital: float
    equity: float
    realized: float
    unrealized: float
    commissions: float
    total: float


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """Equity and cash at one moment."""

    ts: int
    equity: float
    cash: float


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What ``TradingNode.start`` found in the store and did with it.

    Attributes
    ----------
    fills
        Stored fills replayed into the portfolio (each trade id once).
    replaced
        Open orders placed again on the new paper venue, once each, and bracket exits
        still waiting for their entry, held again until it fills (never sent alone), or
        released now for what it filled if it had filled before the restart.
        Orders of an order list (bracket, OCO/OUO group) are given back to the
        execution engine together, linked as before the restart.
    resubmitted
        Orders stored but never handed to the engine (the node stopped between the
        two), submitted now through the risk checks (an order list whole).
    canceled, expired, amends_lost
        Orders whose pending cancel was completed, DAY orders of an earlier day that
        expired, and orders whose in-flight amend was lost (the order works on
        unchanged; the amend must be sent again).
    positions_repaired
        Stored position snapshots that lagged the fills and were written again.
    unrecoverable
        Open orders whose stored history could not be replayed; left as stored.
    """

    fills: int = 0
    replaced: tuple[str, ...] = ()
    resubmitted: tuple[str, ...] = ()
    canceled: tuple[str, ...] = ()
    expired: tuple[str, ...] = ()
    amends_lost: tuple[str, ...] = ()
    positions_repaired: tuple[str, ...] = ()
    unrecoverable: tuple[str, ...] = ()


def last_reason(events: Sequence[OrderEvent] | Iterable[OrderEvent]) -> str:
    """Return the reason of the last denial, rejection, cancel or refusal, or ``""``."""
    reason = ""
    for event in events:
        if isinstance(event, _REASONED):
            reason = event.reason
    return reason


def average_price(fills: Iterable[OrderFilled]) -> Decimal | None:
    """Return the quantity-weighted average price of ``fills`` (``None`` if none).

    Exact on the fills' decimal forms (``100.07`` stays ``100.07``), unlike the core's
    running float average.
    """
    quantity = notional = Decimal(0)
    for fill in fills:
        qty = to_decimal(fill.last_qty)
        quantity += qty
        notional += qty * to_decimal(fill.last_px)
    return None if quantity == 0 else notional / quantity


def _dec(value: float | None) -> Decimal | None:
    return None if value is None else to_decimal(value)
