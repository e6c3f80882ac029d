"""Linked orders: building brackets and OCO groups, and checking a list's links."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from quantgrid.model import (
    ContingencyType,
    InvalidOrderError,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
)

_GROUPS = (ContingencyType.OCO, ContingencyType.OUO)


def link_bracket(
    list_id: str, entry: Order, stop_loss: Order | None, take_profit: Order | None
) -> tuple[Order, ...]:
    """Return ``entry`` and its exits linked as a bracket, ready for ``SubmitOrderList``.

    The entry becomes OTO: its exits wait until it fills and then work for the
    quantity filled. The exits (at least one) become an OUO group: when one fills
    completely the other is cancelled, and a partial fill of one shrinks the other.

    Raises
    ------
    InvalidOrderError
        If no exit is given, an exit is not on the opposite side of the entry, or the
        stop-loss and take-profit prices are on the wrong side of each other or of the
        entry's price.
    """
    exits = [o for o in (stop_loss, take_profit) if o is not None]
    if not exits:
        msg = f"bracket {list_id}: give a stop_loss, a take_profit or both"
        raise InvalidOrderError(msg)
    for order in exits:
        if order.side is entry.side or order.instrument_id != entry.instrument_id:
            msg = (
                f"bracket {list_id}: exit {order.client_order_id} must trade "
                f"{entry.instrument_id} on the side opposite the entry ({entry.side.value})"
            )
            raise InvalidOrderError(msg)
    _check_bracket_prices(list_id, entry, stop_loss, take_profit)
    exit_ids = tuple(o.client_order_id for o in exits)
    linked_entry = replace(
        entry,
        contingency=ContingencyType.OTO,
        linked_order_ids=exit_ids,
        order_list_id=list_id,
    )
    linked_exits = [
        replace(
            order,
            contingency=ContingencyType.OUO if len(exits) > 1 else ContingencyType.NONE,
            parent_order_id=entry.client_order_id,
            linked_order_ids=tuple(i for i in exit_ids if i != order.client_order_id),
            order_list_id=list_id,
        )
        for order in exits
    ]
    return (linked_entry, *linked_exits)


def link_group(
    list_id: str, orders: Sequence[Order], contingency: ContingencyType = ContingencyType.OCO
) -> tuple[Order, ...]:
    """Return ``orders`` linked as one OCO (or OUO) group.

    Raises
    ------
    InvalidOrderError
        With fewer than two orders, or a contingency other than OCO or OUO.
    """
    if contingency not in _GROUPS:
        msg = f"order list {list_id}: a group is OCO or OUO, not {contingency.value}"
        raise InvalidOrderError(msg)
    if len(orders) < 2:
        msg = f"order list {list_id}: an {contingency.value} group needs at least two orders"
        raise InvalidOrderError(msg)
    ids = [o.client_order_id for o in orders]
    return tuple(
        replace(
            order,
            contingency=contingency,
            linked_order_ids=tuple(i for i in ids if i != order.client_order_id),
            order_list_id=list_id,
        )
        for order in orders
    )


def check_order_list(list_id: str, orders: Sequence[Order], known: Mapping[str, Order]) -> None:
    """Refuse a list whose links cannot be honoured; the message names order and rule.

    Raises
    ------
    InvalidOrderError
        If the list is empty, repeats or reuses a client order id, mixes strategies,
        holds an order that is not new, or links to an order outside the list; if a
        child's parent is not an OTO order of the list, or a group's links are not
        symmetric.
    """
    if not orders:
        msg = f"order list {list_id}: no orders"
        raise InvalidOrderError(msg)
    by_id: dict[str, Order] = {}
    for order in orders:
        oid = order.client_order_id
        if oid in by_id or oid in known:
            msg = f"order list {list_id}: client order id {oid} is used twice"
            raise InvalidOrderError(msg)
        if order.status is not OrderStatus.INITIALIZED:
            msg = f"order list {list_id}: order {oid} is {order.status.value}, not new"
            raise InvalidOrderError(msg)
        by_id[oid] = order
    strategies = {o.strategy_id for o in orders}
    if len(strategies) > 1:
        msg = f"order list {list_id}: orders of several strategies {sorted(strategies)}"
        raise InvalidOrderError(msg)
    for order in orders:
        oid = order.client_order_id
        if order.parent_order_id:
            parent = by_id.get(order.parent_order_id)
            if parent is None or parent.contingency is not ContingencyType.OTO:
                msg = (
                    f"order list {list_id}: parent {order.parent_order_id} of order {oid} "
                    "is not an OTO order of the list"
                )
                raise InvalidOrderError(msg)
            if parent.parent_order_id:
                msg = f"order list {list_id}: order {oid} is a child of a child"
                raise InvalidOrderError(msg)
        for linked in order.linked_order_ids:
            other = by_id.get(linked)
            if other is None:
                msg = f"order list {list_id}: order {oid} links to {linked}, not in the list"
                raise InvalidOrderError(msg)
            if order.contingency in _GROUPS and oid not in other.linked_order_ids:
                msg = f"order list {list_id}: {oid} links to {linked} but not the other way"
                raise InvalidOrderError(msg)
        if order.contingency in _GROUPS and not order.linked_order_ids:
            msg = f"order list {list_id}: {order.contingency.value} order {oid} has no links"
            raise InvalidOrderError(msg)
        if order.contingency is ContingencyType.OUO and any(
            by_id[i].instrument_id != order.instrument_id for i in order.linked_order_ids
        ):
            msg = f"order list {list_id}: OUO order {oid} links orders of other instruments"
            raise InvalidOrderError(msg)


def _check_bracket_prices(
    list_id: str, entry: Order, stop_loss: Order | None, take_profit: Order | None
) -> None:
    sl = None if stop_loss is None else _exit_price(stop_loss)
    tp = None if take_profit is None else _exit_price(take_profit)
    ref = entry.price if entry.price is not None else entry.trigger_price
    buy = entry.side is OrderSide.BUY
    checks: list[tuple[float | None, float | None, str]] = [
        (sl, tp, "stop-loss below take-profit" if buy else "stop-loss above take-profit"),
        (sl, ref, "stop-loss below the entry" if buy else "stop-loss above the entry"),
        (ref, tp, "take-profit above the entry" if buy else "take-profit below the entry"),
    ]
    for low, high, rule in checks:
        if low is None or high is None:
            continue
        if (buy and not low < high) or (not buy and not low > high):
            msg = f"bracket {list_id}: needs {rule} (got {low:g} and {high:g})"
            raise InvalidOrderError(msg)


def _exit_price(order: Order) -> float | None:
    if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        return order.trigger_price
    return order.price
