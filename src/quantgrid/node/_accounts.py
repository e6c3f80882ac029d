"""What a node's account holds: positions, cash, P&L, and its equity over time."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from decimal import Decimal

import numpy as np

from quantgrid.adapters.storage import Store
from quantgrid.core import PriceCache
from quantgrid.model import FloatArray
from quantgrid.node._views import CashView, EquityPoint, PnlView, PositionView
from quantgrid.node._writer import StoreWriter
from quantgrid.portfolio import Portfolio


class Accounts:
    """Read-only views of a node's portfolio, and the equity samples it takes.

    Parameters
    ----------
    portfolio, prices, instrument_ids
        The node's portfolio, the last prices it marks positions at, what it trades.
    account_id, currency
        The account in the store, and its currency.
    store, writer
        Read for the exact cash balance, once the writes queued before are made.
    interval_ns, history
        Least time between two samples taken on market data, and samples kept.

    Notes
    -----
    Equity is sampled at every fill and on market data at most once an interval; the
    samples live in memory, since the node started (the store has no place for them).
    """

    def __init__(
        self,
        *,
        portfolio: Portfolio,
        prices: PriceCache,
        instrument_ids: Iterable[str],
        account_id: str,
        currency: str,
        store: Store,
        writer: StoreWriter,
        interval_ns: int,
        history: int,
    ) -> None:
        self._portfolio = portfolio
        self._prices = prices
        self._ids = sorted(instrument_ids)
        self._account_id = account_id
        self._currency = currency
        self._store = store
        self._writer = writer
        self._interval_ns = interval_ns
        self._equity: deque[EquityPoint] = deque(maxlen=history)
        self._last_sample_ns: int | None = None

    def sample(self, ts: int, *, force: bool = False) -> None:
        """Record the equity at ``ts`` unless a sample is more recent than the interval."""
        last = self._last_sample_ns
        if not force and last is not None and ts - last < self._interval_ns:
            return
        self._last_sample_ns = ts
        portfolio = self._portfolio
        self._equity.append(EquityPoint(ts, portfolio.equity(), portfolio.cash))

    def positions(self, *, include_flat: bool = False) -> list[PositionView]:
        """Return the open positions (and flat ones with realized P&L, if asked)."""
        views = []
        for iid in self._ids:
            snap = self._portfolio.position(iid)
            if not (snap.quantity or (include_flat and snap.realized_pnl)):
                continue
            views.append(
                PositionView(
                    instrument_id=iid,
                    quantity=snap.quantity,
                    avg_px_open=snap.avg_px_open,
                    last_price=self._prices.price(iid),
                    market_value=snap.market_value,
                    realized_pnl=snap.realized_pnl,
                    unrealized_pnl=snap.unrealized_pnl,
                )
            )
        return views

    async def cash(self) -> CashView:
        """Return the running cash and the store's exact balance of the account."""
        await self._writer.barrier()  # the balance includes every fill so far
        balances = await asyncio.to_thread(self._store.cash_balances, self._account_id)
        portfolio = self._portfolio
        return CashView(
            account_id=self._account_id,
            currency=self._currency,
            cash=portfolio.cash,
            balance=balances.get(self._currency, Decimal(0)),
            buying_power=portfolio.buying_power(),
        )

    def pnl(self) -> PnlView:
        """Return the P&L since the capital was deposited (``total = equity - capital``)."""
        portfolio = self._portfolio
        realized = unrealized = 0.0
        for iid in self._ids:
            snap = portfolio.position(iid)
            realized += snap.realized_pnl
            unrealized += snap.unrealized_pnl
        equity = portfolio.equity()
        capital = portfolio.account.initial_cash
        return PnlView(
            currency=self._currency,
            capital=capital,
            equity=equity,
            realized=realized,
            unrealized=unrealized,
            commissions=portfolio.account.commissions,
            total=equity - capital,
        )

    def equity_history(
        self, *, since_ns: int | None = None, limit: int | None = None
    ) -> list[EquityPoint]:
        """Return the samples since ``since_ns`` (the latest ``limit``), oldest first."""
        points = [p for p in self._equity if since_ns is None or p.ts >= since_ns]
        return points if limit is None else points[-limit:]

    def equity_returns(self) -> FloatArray:
        """Return the simple returns between consecutive samples."""
        equity = np.fromiter((p.equity for p in self._equity), dtype=np.float64)
        if len(equity) < 2:
            return np.empty(0, dtype=np.float64)
        return np.asarray(np.diff(equity) / equity[:-1], dtype=np.float64)
