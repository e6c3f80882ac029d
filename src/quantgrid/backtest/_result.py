"""What a backtest returns: the equity curve, the ledgers and the statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quantgrid.analytics import Statistics
from quantgrid.model import BarSeries, ClosedTrade, FloatArray, IntArray, Order, OrderFilled
from quantgrid.risk import RiskRejection, TradingStateChanged


@dataclass(frozen=True, slots=True, eq=False)
class BacktestResult:
    """The outcome of one backtest run.

    Attributes
    ----------
    ts, equity, cash, gross_exposure
        One row per distinct bar timestamp: equity marked at the bars' closes, cash,
        and the gross value of open positions (sum of ``|qty * price * multiplier|``).
    trades
        The closed-trade ledger, in closing order.
    fills
        Every fill, in order; ``fills[i].ts_event`` is the fill time.
    orders
        Every order the strategies created, in creation order, in its final state.
    bars
        The input bars by instrument, for reports.
    trading_states, risk_rejections
        With ``BacktestConfig.risk``: every trading-state change and every order the
        risk checks denied, in order (empty without it).
    """

    strategy: str
    params: dict[str, Any]
    instruments: tuple[str, ...]
    ts: IntArray
    equity: FloatArray
    cash: FloatArray
    gross_exposure: FloatArray
    trades: tuple[ClosedTrade, ...]
    fills: tuple[OrderFilled, ...]
    orders: tuple[Order, ...]
    stats: Statistics
    bars: dict[str, BarSeries] = field(repr=False)
    initial_cash: float = 0.0
    engine_seconds: float = 0.0
    trading_states: tuple[TradingStateChanged, ...] = ()
    risk_rejections: tuple[RiskRejection, ...] = ()
