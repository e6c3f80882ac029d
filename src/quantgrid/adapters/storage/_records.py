"""The records a store keeps: frozen, with money and quantities as ``Decimal``.

The domain works in floats (the backtest hot path); storage is an edge, so a float enters
a record through its shortest decimal form (``0.1`` becomes ``Decimal("0.1")``, not
``0.1000000000000000055511151231257827``), and sums of records are then exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeVar

import msgspec

from quantgrid.adapters.storage._errors import InvalidRecordError
from quantgrid.ml._predictions import Prediction, PredictionOutcome
from quantgrid.model import (
    ContingencyType,
    LiquiditySide,
    Order,
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
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderTriggered,
    OrderType,
    OrderUpdated,
    TimeInForce,
)

T = TypeVar("T")

#: Order events a store can keep and decode, by type name (the name is what is stored).
ORDER_EVENT_TYPES: dict[str, type[OrderEvent]] = {
    cls.__name__: cls
    for cls in (
        OrderAccepted,
        OrderCancelRejected,
        OrderCanceled,
        OrderDenied,
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
}


def to_decimal(value: float, name: str = "value") -> Decimal:
    """Return ``value`` as the ``Decimal`` of its shortest round-tripping repr.

    Raises
    ------
    InvalidRecordError
        If ``value`` is NaN or infinite.
    """
    if not math.isfinite(value):
        msg = f"{name} must be a finite number, got {value!r}"
        raise InvalidRecordError(msg)
    return Decimal(repr(float(value)))


def _opt_decimal(value: float | None, name: str) -> Decimal | None:
    return None if value is None else to_decimal(value, name)


class Role(Enum):
    """What a user or an API key may do; each role includes the ones before it."""

    VIEWER = "viewer"
    TRADER = "trader"
    ADMIN = "admin"


class JobStatus(Enum):
    """Where a backtest job is: queued, then running, then done or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class AccountEventKind(Enum):
    """Why cash moved. Deposits are positive amounts, withdrawals negative."""

    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    TRADE = "TRADE"
    COMMISSION = "COMMISSION"
    FEE = "FEE"
    INTEREST = "INTEREST"
    ADJUSTMENT = "ADJUSTMENT"


class OrderRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What was ordered: the fields an order has when it is first saved.

    ``quantity`` is ``None`` for an order sized from ``cash_fraction`` at fill time.
    """

    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal | None
    ts_init: int
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    cash_fraction: Decimal | None = None
    tag: str = ""
    contingency: ContingencyType = ContingencyType.NONE
    parent_order_id: str = ""
    linked_order_ids: tuple[str, ...] = ()
    order_list_id: str = ""

    @classmethod
    def from_order(cls, order: Order) -> OrderRecord:
        """Return the record of ``order``'s request fields (not its state)."""
        oid = order.client_order_id
        return cls(
            client_order_id=oid,
            strategy_id=order.strategy_id,
            instrument_id=order.instrument_id,
            side=order.side,
            order_type=order.order_type,
            quantity=_opt_decimal(order.quantity, f"order {oid}: quantity"),
            ts_init=order.ts_init,
            price=_opt_decimal(order.price, f"order {oid}: price"),
            trigger_price=_opt_decimal(order.trigger_price, f"order {oid}: trigger_price"),
            time_in_force=order.time_in_force,
            post_only=order.post_only,
            reduce_only=order.reduce_only,
            cash_fraction=_opt_decimal(order.cash_fraction, f"order {oid}: cash_fraction"),
            tag=order.tag,
            contingency=order.contingency,
            parent_order_id=order.parent_order_id,
            linked_order_ids=tuple(order.linked_order_ids),
            order_list_id=order.order_list_id,
        )


class StoredOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An order as stored: its request, and the state its events and fills left.

    ``status``, ``venue_order_id`` and ``ts_last`` follow the appended order events;
    ``filled_qty`` is the exact sum of the order's stored fills.
    """

    order: OrderRecord
    status: OrderStatus
    filled_qty: Decimal
    venue_order_id: str
    ts_last: int


class StoredOrderEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of an order's status history, in the order it was appended.

    ``payload`` is the event as msgspec JSON; ``decode()`` rebuilds the event.
    """

    seq: int
    client_order_id: str
    event_type: str
    status: OrderStatus
    ts_event: int
    payload: bytes

    def decode(self) -> OrderEvent:
        """Return the stored event as its ``quantgrid.model`` type."""
        return msgspec.json.decode(self.payload, type=ORDER_EVENT_TYPES[self.event_type])


class FillRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One execution of an order, unique on the venue's ``trade_id``."""

    trade_id: str
    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    commission: Decimal
    liquidity_side: LiquiditySide
    ts_event: int
    currency: str = "USD"

    @classmethod
    def from_event(cls, fill: OrderFilled) -> FillRecord:
        """Return the record of an ``OrderFilled`` event."""
        tid = fill.trade_id
        return cls(
            trade_id=tid,
            client_order_id=fill.client_order_id,
            strategy_id=fill.strategy_id,
            instrument_id=fill.instrument_id,
            side=fill.side,
            quantity=to_decimal(fill.last_qty, f"fill {tid}: quantity"),
            price=to_decimal(fill.last_px, f"fill {tid}: price"),
            commission=to_decimal(fill.commission, f"fill {tid}: commission"),
            liquidity_side=fill.liquidity_side,
            ts_event=fill.ts_event,
            currency=fill.currency,
        )


class PositionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of the net position in one instrument of one account.

    ``quantity`` is signed: positive long, negative short, zero flat.
    """

    account_id: str
    instrument_id: str
    quantity: Decimal
    avg_px_open: Decimal
    realized_pnl: Decimal
    ts_event: int


class AccountEventRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A cash movement of an account, unique on ``event_id``.

    ``amount`` is signed: positive brings cash in, negative takes it out.
    """

    event_id: str
    account_id: str
    kind: AccountEventKind
    amount: Decimal
    currency: str
    ts_event: int
    note: str = ""


class UserRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A console user. ``password_hash`` is a PHC string (``$argon2id$...``), never a password."""

    username: str
    password_hash: str
    role: Role
    created_ns: int
    disabled_ns: int | None = None


class ApiKeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An API key for a bot: only the hash of its secret is stored."""

    key_id: str
    key_hash: str
    owner: str
    role: Role
    created_ns: int
    revoked_ns: int | None = None
    last_used_ns: int | None = None


class BacktestJob(msgspec.Struct, frozen=True, kw_only=True):
    """A backtest run requested through the service, and how far it got.

    ``params`` is what the job was submitted with, as JSON values (a ``Decimal``
    parameter comes back as its string).
    """

    job_id: str
    status: JobStatus
    progress: float
    params: dict[str, Any]
    created_ns: int
    started_ns: int | None = None
    finished_ns: int | None = None
    result_path: str | None = None
    error: str | None = None


class StoredPrediction(msgspec.Struct, frozen=True, kw_only=True):
    """A logged prediction and, once the evaluator has resolved it, its outcome."""

    prediction: Prediction
    outcome: PredictionOutcome | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; pass ``next_cursor`` back as ``after`` for the next one.

    ``next_cursor`` is ``None`` on the last page.
    """

    items: tuple[T, ...]
    next_cursor: str | None
