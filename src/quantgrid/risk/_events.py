"""Risk events and records: trading-state changes and the rejections of the checks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import msgspec

STATE_TOPIC = "events.risk.state"


class TradingState(Enum):
    """What the risk engine lets through."""

    ACTIVE = "ACTIVE"
    """Every order that passes the limits."""
    REDUCING = "REDUCING"
    """Only orders that shrink a position."""
    HALTED = "HALTED"
    """No orders (cancels still pass)."""


class TradingStateChanged(msgspec.Struct, frozen=True, gc=False):
    """The trading state changed, by hand, by the kill switch or by the drawdown breaker."""

    previous: TradingState
    state: TradingState
    reason: str
    ts_event: int


@dataclass(frozen=True, slots=True)
class RiskRejection:
    """Why one order was denied: the check, the number that broke it and the limit.

    ``check`` is machine-readable (``"max_position"``); ``reason`` is what the
    ``OrderDenied`` event carries: ``"<check>: <message>"``.
    """

    client_order_id: str
    strategy_id: str
    instrument_id: str
    check: str
    value: float
    limit: float
    message: str
    ts_event: int

    @property
    def reason(self) -> str:
        """Return the text of the ``OrderDenied`` event."""
        return f"{self.check}: {self.message}"
