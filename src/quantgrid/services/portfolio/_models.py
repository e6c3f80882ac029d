"""The portfolio service's answers."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from quantgrid.core import ns_to_iso
from quantgrid.node import CashView, EquityPoint, PnlView, PositionView, RiskStatus
from quantgrid.risk import TradingState
from quantgrid.services.execution import FillOut


class PositionOut(BaseModel):
    """One instrument's position; ``quantity`` is signed (negative short)."""

    instrument_id: str
    quantity: float
    avg_px_open: float
    last_price: float | None = Field(description="None until the instrument traded or quoted.")
    market_value: float
    realized_pnl: float
    unrealized_pnl: float

    @classmethod
    def of(cls, view: PositionView) -> PositionOut:
        """Return the answer of a node's position."""
        return cls(
            instrument_id=view.instrument_id,
            quantity=view.quantity,
            avg_px_open=view.avg_px_open,
            last_price=view.last_price,
            market_value=view.market_value,
            realized_pnl=view.realized_pnl,
            unrealized_pnl=view.unrealized_pnl,
        )


class CashOut(BaseModel):
    """The account's cash.

    ``balance`` is the exact sum of the stored cash movements (deposits, trades,
    commissions); ``cash`` the node's running figure, equal to it up to float rounding.
    """

    account_id: str
    currency: str
    cash: float
    balance: Decimal
    buying_power: float

    @classmethod
    def of(cls, view: CashView) -> CashOut:
        """Return the answer of a node's cash."""
        return cls(
            account_id=view.account_id,
            currency=view.currency,
            cash=view.cash,
            balance=view.balance,
            buying_power=view.buying_power,
        )


class PnlOut(BaseModel):
    """Profit and loss since the capital was deposited: ``total = equity - capital``."""

    currency: str
    capital: float
    equity: float
    realized: float
    unrealized: float
    commissions: float
    total: float

    @classmethod
    def of(cls, view: PnlView) -> PnlOut:
        """Return the answer of a node's P&L."""
        return cls(
            currency=view.currency,
            capital=view.capital,
            equity=view.equity,
            realized=view.realized,
            unrealized=view.unrealized,
            commissions=view.commissions,
            total=view.total,
        )


class EquityPointOut(BaseModel):
    """Equity and cash at ``ts`` (nanoseconds since the epoch, UTC)."""

    ts: int
    equity: float
    cash: float

    @classmethod
    def of(cls, point: EquityPoint) -> EquityPointOut:
        """Return the answer of one equity sample."""
        return cls(ts=point.ts, equity=point.equity, cash=point.cash)


class EquityOut(BaseModel):
    """Equity samples, oldest first: at each fill, and on market data at most once an
    interval (``NodeConfig.equity_interval_ns``), since the node started."""

    points: list[EquityPointOut]


class SnapshotOut(BaseModel):
    """The account at one moment of the node's clock, as ``/portfolio/stream`` sends it.

    ``ts`` is the node's clock (nanoseconds since the epoch, UTC; a replay's data time
    when the node runs on one), ``time`` the same in ISO 8601. ``fills`` counts every
    stored fill, ``last_fill`` is the latest (``None`` before the first).
    """

    ts: int
    time: str
    currency: str
    capital: float
    equity: float
    cash: float
    realized: float
    unrealized: float
    total: float
    positions: int
    working_orders: int
    fills: int
    last_fill: FillOut | None
    trading_state: TradingState
    trading_reason: str

    @classmethod
    def of(
        cls,
        status: RiskStatus,
        pnl: PnlView,
        cash: CashView,
        *,
        positions: int,
        working_orders: int,
        fills: int,
        last_fill: FillOut | None,
    ) -> SnapshotOut:
        """Return the snapshot of a node's risk status, P&L, cash and counts."""
        return cls(
            ts=status.ts,
            time=ns_to_iso(status.ts),
            currency=pnl.currency,
            capital=pnl.capital,
            equity=pnl.equity,
            cash=cash.cash,
            realized=pnl.realized,
            unrealized=pnl.unrealized,
            total=pnl.total,
            positions=positions,
            working_orders=working_orders,
            fills=fills,
            last_fill=last_fill,
            trading_state=status.state,
            trading_reason=status.reason,
        )

    def changed_from(self, other: SnapshotOut | None) -> bool:
        """Tell whether the account differs from ``other``, or the clock's second does.

        The clock counts to the second: a node on the wall clock sends one snapshot a
        second at most while nothing else changes, one on a replay's clock one a bar.
        """
        if other is None:
            return True
        if self.ts // _SECOND != other.ts // _SECOND:
            return True
        return self.model_dump(exclude=_CLOCK) != other.model_dump(exclude=_CLOCK)


_CLOCK = {"ts", "time"}
_SECOND = 1_000_000_000
