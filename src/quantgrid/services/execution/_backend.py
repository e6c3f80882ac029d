"""What the execution service needs of a trading node (in process, or a client of one)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from quantgrid.adapters.storage import FillRecord, Page
from quantgrid.model import OrderStatus
from quantgrid.node import OrderDetail, OrderRequest, OrderView, SubmitResult


class ExecutionBackend(Protocol):
    """Orders and fills: ``TradingNode`` has these methods.

    Notes
    -----
    Each raises the ``quantgrid.node`` errors (``OrderNotFoundError``,
    ``InvalidOrderRequestError``, ...), which the service answers as problems.
    """

    async def submit(self, request: OrderRequest) -> SubmitResult:
        """Check, store, then work a new order (idempotent by client order id)."""
        ...

    async def amend(
        self,
        client_order_id: str,
        *,
        quantity: float | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
    ) -> OrderView:
        """Change a working order's quantity or prices."""
        ...

    async def cancel(self, client_order_id: str) -> OrderView:
        """Cancel a working order."""
        ...

    async def cancel_all(
        self, strategy_id: str | None = None, instrument_id: str | None = None
    ) -> list[str]:
        """Cancel every working order (of a strategy, of an instrument)."""
        ...

    async def get_order(self, client_order_id: str) -> OrderDetail:
        """Return an order with its history and fills."""
        ...

    async def list_orders(
        self,
        *,
        strategy_id: str | None = None,
        status: Collection[OrderStatus] | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> Page[OrderView]:
        """Return stored orders, a page at a time."""
        ...

    async def list_fills(
        self,
        *,
        client_order_id: str | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> Page[FillRecord]:
        """Return stored fills, a page at a time."""
        ...

    async def check_ready(self) -> str:
        """Pass if the node runs and its store answers; raise otherwise."""
        ...
