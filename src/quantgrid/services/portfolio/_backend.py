"""What the portfolio service needs of a trading node (in process, or a client of one)."""

from __future__ import annotations

from typing import Protocol

from quantgrid.node import CashView, EquityPoint, PnlView, PositionView


class PortfolioBackend(Protocol):
    """Positions, cash, P&L and equity: ``TradingNode`` has these methods."""

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

    async def check_ready(self) -> str:
        """Pass if the node runs and its store answers; raise otherwise."""
        ...
