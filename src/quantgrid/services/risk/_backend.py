"""What the risk service needs of a trading node (in process, or a client of one)."""

from __future__ import annotations

from typing import Protocol

from quantgrid.model import FloatArray
from quantgrid.node import OrderRequest, RiskDecision, RiskStatus
from quantgrid.risk import RiskConfig


class RiskBackend(Protocol):
    """Pre-trade checks, limits and trading states: ``TradingNode`` has these methods."""

    async def approve(self, request: OrderRequest) -> RiskDecision:
        """Run the pre-trade checks without sending or recording anything."""
        ...

    async def risk_limits(self) -> RiskConfig:
        """Return the limits in force."""
        ...

    async def set_risk_limits(self, config: RiskConfig) -> RiskConfig:
        """Apply new limits from the next order on."""
        ...

    async def risk_status(self) -> RiskStatus:
        """Return the trading state and the drawdown."""
        ...

    async def halt(self, reason: str) -> RiskStatus:
        """Deny every new order from now on."""
        ...

    async def resume(self, reason: str = "resumed by hand") -> RiskStatus:
        """Trade again."""
        ...

    async def kill(self, reason: str) -> list[str]:
        """Halt and cancel every working order; return the orders cancelled."""
        ...

    async def equity_returns(self) -> FloatArray:
        """Return the returns between the node's equity samples."""
        ...

    async def equity(self) -> float:
        """Return the account's equity."""
        ...

    async def last_price(self, instrument_id: str) -> float | None:
        """Return an instrument's last price, if seen."""
        ...

    async def check_ready(self) -> str:
        """Pass if the node runs and its store answers; raise otherwise."""
        ...
