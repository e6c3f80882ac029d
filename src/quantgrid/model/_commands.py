"""Commands: frozen, imperative requests sent to one endpoint.

Messages are msgspec Structs: immutable, about twenty times cheaper to build than frozen
dataclasses (the backtest makes several per order), and ready to encode for a network bus.
"""

from __future__ import annotations

import msgspec

from quantgrid.model._orders import Order


class SubmitOrder(msgspec.Struct, frozen=True):
    """Ask the execution engine to send ``order`` to its venue."""

    order: Order
    ts_init: int


class SubmitOrderList(msgspec.Struct, frozen=True):
    """Ask the execution engine to work linked orders (a bracket, an OCO pair).

    The orders carry their links (``parent_order_id``, ``linked_order_ids``,
    ``contingency``); ``bracket`` and ``oco`` in ``quantgrid.execution`` build them.
    """

    order_list_id: str
    orders: tuple[Order, ...]
    ts_init: int


class ModifyOrder(msgspec.Struct, frozen=True):
    """Ask for a working order's quantity, limit price or trigger price to change.

    Fields left ``None`` stay as they are.
    """

    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts_init: int
    quantity: float | None = None
    price: float | None = None
    trigger_price: float | None = None


class CancelOrder(msgspec.Struct, frozen=True):
    """Ask for a working order to be cancelled; ``reason`` ends up on ``OrderCanceled``."""

    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts_init: int
    reason: str = ""


class CancelAllOrders(msgspec.Struct, frozen=True):
    """Ask for every working order of a strategy (optionally one instrument) to be cancelled."""

    strategy_id: str
    instrument_id: str | None
    ts_init: int
