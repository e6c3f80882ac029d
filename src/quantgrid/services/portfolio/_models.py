"""The portfolio service's answers."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from quantgrid.node import CashView, EquityPoint, PnlView, PositionView


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
