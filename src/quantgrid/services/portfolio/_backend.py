"""What the portfolio service needs of a trading node (in process, or a client of one)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from quantgrid.adapters.storage import FillRecord, Page
from quantgrid.model import OrderStatus
from quantgrid.node import CashView, EquityPoint, OrderView, PnlView, PositionView, RiskStatus


class PortfolioBackend(Protocol):
    """Positions, cash, P&L and equity: ``TradingNode`` has these methods.

    The stream of snapshots (``/portfolio/stream``) also reads the trading state, with
    the node's clock, and counts the working orders and the fills.
    """

    async def positions(self, *, include_flat: bool = False) -> list[PositionView]:
        """Return the positions, marked at the last prices."""
        ...

    async def cash(self) -> CashView:
        """Return the cash: the running figure and the store's exact balance."""
        ...

    async def pnl(self) -> PnlView:
        """Return the profit and loss since the capital was deposited."""
        ...

    async def equity_history(
        self, *, since_ns: int | None = None, limit: int | None = None
    ) -> list[EquityPoint]:
        """Return equity samples, oldest first."""
        ...

    async def risk_status(self) -> RiskStatus:
        """Return the trading state and why, stamped with the node's clock."""
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
        """Return stored fills by ``ts_event`` then trade id, a page at a time."""
        ...

    async def check_ready(self) -> str:
        """Pass if the node runs and its store answers; raise otherwise."""
        ...
