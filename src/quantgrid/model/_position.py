"""Netting positions, the account's cash, and the closed-trade ledger's records."""

from __future__ import annotations

import msgspec


class ClosedTrade(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A round trip, or the part of one that a reducing fill closed.

    ``size`` is signed by the entry direction (positive long). ``pnl`` is net of the
    entry and exit commissions charged on the closed quantity; ``return_pct`` is ``pnl``
    over the entry value (as in backtesting.py, so the two ledgers compare).
    """

    instrument_id: str
    size: float
    entry_ts: int
    entry_price: float
    exit_ts: int
    exit_price: float
    pnl: float
    return_pct: float
    commission: float


class Position:
    """The net position in one instrument (netting: one position per instrument).

    Notes
    -----
    A fill that crosses zero closes the position and opens one the other way at the
    fill price. The entry commission is held against the open quantity and released
    pro rata into each closed trade.
    """

    __slots__ = (
        "_entry_commission",
        "avg_px_open",
        "commissions",
        "instrument_id",
        "multiplier",
        "quantity",
        "realized_pnl",
        "ts_opened",
    )

    def __init__(self, instrument_id: str, multiplier: float = 1.0) -> None:
        self.instrument_id = instrument_id
        self.multiplier = multiplier
        self.quantity = 0.0
        self.avg_px_open = 0.0
        self.realized_pnl = 0.0
        self.commissions = 0.0
        self.ts_opened = 0
        self._entry_commission = 0.0

    @property
    def is_flat(self) -> bool:
        """Tell whether no units are held."""
        return self.quantity == 0.0

    def unrealized_pnl(self, price: float) -> float:
        """Return the P&L of the open quantity marked at ``price`` (before commissions)."""
        return self.quantity * (price - self.avg_px_open) * self.multiplier

    def apply_fill(
        self, side_sign: int, qty: float, price: float, commission: float, ts: int
    ) -> list[ClosedTrade]:
        """Apply a fill and return the trades it closed (none, one, or one on a flip)."""
        closed: list[ClosedTrade] = []
        self.commissions += commission
        signed = side_sign * qty
        pos = self.quantity
        if pos == 0.0 or (pos > 0) == (signed > 0):
            # Opening or adding: weighted average entry price.
            new_qty = pos + signed
            self.avg_px_open = (self.avg_px_open * abs(pos) + price * qty) / abs(new_qty)
            if pos == 0.0:
                self.ts_opened = ts
            self.quantity = _snap(new_qty)
            self._entry_commission += commission
            return closed
        close_qty = min(qty, abs(pos))
        exit_commission = commission * close_qty / qty
        entry_commission = self._entry_commission * close_qty / abs(pos)
        direction = 1.0 if pos > 0 else -1.0
        gross = direction * close_qty * (price - self.avg_px_open) * self.multiplier
        self.realized_pnl += gross - exit_commission - entry_commission
        pnl = gross - exit_commission - entry_commission
        entry_value = close_qty * self.avg_px_open * self.multiplier
        closed.append(
            ClosedTrade(
                instrument_id=self.instrument_id,
                size=direction * close_qty,
                entry_ts=self.ts_opened,
                entry_price=self.avg_px_open,
                exit_ts=ts,
                exit_price=price,
                pnl=pnl,
                return_pct=pnl / entry_value if entry_value else 0.0,
                commission=exit_commission + entry_commission,
            )
        )
        self._entry_commission -= entry_commission
        remaining = _snap(pos + signed)
        if remaining == 0.0:
            self.quantity = 0.0
            self.avg_px_open = 0.0
            self._entry_commission = 0.0
        elif (remaining > 0) == (pos > 0):
            self.quantity = remaining
        else:
            # Flipped through zero: the rest opens a new position at the fill price.
            self.quantity = remaining
            self.avg_px_open = price
            self.ts_opened = ts
            self._entry_commission = commission - exit_commission
        return closed


class Account:
    """Cash in one currency. Buys pay cash out, sells (including short sales) bring it in.

    Notes
    -----
    ``cash == initial_cash - sum(side * qty * price * multiplier) - sum(commission)``
    over all fills; a test reconciles this so float drift cannot hide.
    """

    __slots__ = ("cash", "commissions", "currency", "initial_cash")

    def __init__(self, initial_cash: float, currency: str = "USD") -> None:
        if not initial_cash > 0:
            msg = f"initial cash must be positive, got {initial_cash}"
            raise ValueError(msg)
        self.initial_cash = float(initial_cash)
        self.cash = float(initial_cash)
        self.commissions = 0.0
        self.currency = currency

    def apply_fill(
        self, side_sign: int, qty: float, price: float, multiplier: float, commission: float
    ) -> None:
        """Move cash for a fill and its commission."""
        self.cash -= side_sign * qty * price * multiplier + commission
        self.commissions += commission


def _snap(value: float) -> float:
    # Quantities are whole lots; remove float dust from repeated partial fills.
    rounded = round(value, 9)
    return 0.0 if rounded == 0 else rounded
