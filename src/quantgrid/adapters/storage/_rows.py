"""Records to table rows and back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import RowMapping

from quantgrid.adapters.storage import _validate as v
from quantgrid.adapters.storage._records import (
    AccountEventKind,
    AccountEventRecord,
    ApiKeyRecord,
    BacktestJob,
    FillRecord,
    JobStatus,
    OrderRecord,
    PositionRecord,
    Role,
    StoredOrder,
    StoredOrderEvent,
    UserRecord,
)
from quantgrid.model import (
    ContingencyType,
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)

Row = dict[str, Any]


def order_row(order: OrderRecord) -> Row:
    """Return the row of a newly saved order."""
    return {
        "client_order_id": order.client_order_id,
        "strategy_id": order.strategy_id,
        "instrument_id": order.instrument_id,
        "side": order.side.value,
        "order_type": order.order_type.value,
        "time_in_force": order.time_in_force.value,
        "quantity": order.quantity,
        "price": order.price,
        "trigger_price": order.trigger_price,
        "cash_fraction": order.cash_fraction,
        "post_only": order.post_only,
        "reduce_only": order.reduce_only,
        "tag": order.tag,
        "contingency": order.contingency.value,
        "parent_order_id": order.parent_order_id,
        "linked_order_ids": msgspec.json.encode(list(order.linked_order_ids)).decode(),
        "order_list_id": order.order_list_id,
        "ts_init": order.ts_init,
        "status": OrderStatus.INITIALIZED.value,
        "filled_qty": Decimal(0),
        "venue_order_id": "",
        "ts_last": order.ts_init,
    }


def stored_order(row: RowMapping) -> StoredOrder:
    """Return the stored order of a row."""
    linked: list[str] = msgspec.json.decode(row["linked_order_ids"])
    return StoredOrder(
        order=OrderRecord(
            client_order_id=row["client_order_id"],
            strategy_id=row["strategy_id"],
            instrument_id=row["instrument_id"],
            side=OrderSide(row["side"]),
            order_type=OrderType(row["order_type"]),
            quantity=row["quantity"],
            ts_init=row["ts_init"],
            price=row["price"],
            trigger_price=row["trigger_price"],
            time_in_force=TimeInForce(row["time_in_force"]),
            post_only=bool(row["post_only"]),
            reduce_only=bool(row["reduce_only"]),
            cash_fraction=row["cash_fraction"],
            tag=row["tag"],
            contingency=ContingencyType(row["contingency"]),
            parent_order_id=row["parent_order_id"],
            linked_order_ids=tuple(linked),
            order_list_id=row["order_list_id"],
        ),
        status=OrderStatus(row["status"]),
        filled_qty=row["filled_qty"],
        venue_order_id=row["venue_order_id"],
        ts_last=row["ts_last"],
    )


def stored_event(row: RowMapping) -> StoredOrderEvent:
    """Return the history entry of a row."""
    return StoredOrderEvent(
        seq=row["seq"],
        client_order_id=row["client_order_id"],
        event_type=row["event_type"],
        status=OrderStatus(row["status"]),
        ts_event=row["ts_event"],
        payload=row["payload"].encode(),
    )


def fill_row(fill: FillRecord) -> Row:
    """Return the row of a fill."""
    row = msgspec.structs.asdict(fill)
    row["side"] = fill.side.value
    row["liquidity_side"] = fill.liquidity_side.value
    return row


def fill_record(row: RowMapping) -> FillRecord:
    """Return the fill of a row."""
    return FillRecord(
        trade_id=row["trade_id"],
        client_order_id=row["client_order_id"],
        strategy_id=row["strategy_id"],
        instrument_id=row["instrument_id"],
        side=OrderSide(row["side"]),
        quantity=row["quantity"],
        price=row["price"],
        commission=row["commission"],
        liquidity_side=LiquiditySide(row["liquidity_side"]),
        ts_event=row["ts_event"],
        currency=row["currency"],
    )


def position_row(position: PositionRecord) -> Row:
    """Return the row of a position snapshot."""
    return msgspec.structs.asdict(position)


def position_record(row: RowMapping) -> PositionRecord:
    """Return the position snapshot of a row."""
    return PositionRecord(**dict(row))


def account_event_row(event: AccountEventRecord) -> Row:
    """Return the row of a cash movement."""
    row = msgspec.structs.asdict(event)
    row["kind"] = event.kind.value
    return row


def account_event_record(row: RowMapping) -> AccountEventRecord:
    """Return the cash movement of a row."""
    return AccountEventRecord(
        event_id=row["event_id"],
        account_id=row["account_id"],
        kind=AccountEventKind(row["kind"]),
        amount=row["amount"],
        currency=row["currency"],
        ts_event=row["ts_event"],
        note=row["note"],
    )


def user_row(user: UserRecord) -> Row:
    """Return the row of a user."""
    row = msgspec.structs.asdict(user)
    row["role"] = user.role.value
    return row


def user_record(row: RowMapping) -> UserRecord:
    """Return the user of a row."""
    return UserRecord(
        username=row["username"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        created_ns=row["created_ns"],
        disabled_ns=row["disabled_ns"],
    )


def api_key_row(key: ApiKeyRecord) -> Row:
    """Return the row of an API key."""
    row = msgspec.structs.asdict(key)
    row["role"] = key.role.value
    return row


def api_key_record(row: RowMapping) -> ApiKeyRecord:
    """Return the API key of a row."""
    return ApiKeyRecord(
        key_id=row["key_id"],
        key_hash=row["key_hash"],
        owner=row["owner"],
        role=Role(row["role"]),
        created_ns=row["created_ns"],
        revoked_ns=row["revoked_ns"],
        last_used_ns=row["last_used_ns"],
    )


def job_record(row: RowMapping) -> BacktestJob:
    """Return the backtest job of a row."""
    return BacktestJob(
        job_id=row["job_id"],
        status=JobStatus(row["status"]),
        progress=row["progress"],
        params=v.decode_params(row["params"]),
        created_ns=row["created_ns"],
        started_ns=row["started_ns"],
        finished_ns=row["finished_ns"],
        result_path=row["result_path"],
        error=row["error"],
    )
