"""Portfolio accounting across instruments: cash, positions, P&L, equity curve, trades."""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from quantgrid.core import MessageBus, PriceCache
from quantgrid.model import (
    Account,
    BarSeries,
    ClosedTrade,
    FloatArray,
    Instrument,
    IntArray,
    OrderFilled,
    Position,
    PositionChanged,
)

POSITION_TOPIC = "events.position.changed"


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """A read-only copy of a position at one moment."""

    instrument_id: str
    quantity: float
    avg_px_open: float
    realized_pnl: float
    unrealized_pnl: float
    market_value: float


class Portfolio:
    """Keeps cash, netting positions and the equity curve, from fills and bars.

    Notes
    -----
    Invariant: ``equity == cash + sum(quantity * last_price * multiplier)`` over open
    positions, at every bar. Marks come from the shared ``PriceCache``, so the portfolio
    does no work per bar; equity is computed when asked, over the open positions only.
    """

    def __init__(
        self,
        bus: MessageBus,
        prices: PriceCache,
        instruments: dict[str, Instrument],
        initial_cash: float,
        leverage: float = 1.0,
    ) -> None:
        if not leverage > 0:
            msg = f"leverage must be positive, got {leverage}"
            raise ValueError(msg)
        self.account = Account(initial_cash, next(iter(instruments.values())).currency)
        self.leverage = leverage
        self._instruments = instruments
        self._positions: dict[str, Position] = {
            iid: Position(iid, inst.multiplier) for iid, inst in instruments.items()
        }
        # Signed units times multiplier of each open position.
        self._open: dict[str, float] = {}
        self._marks = prices.last
        # The equity curve is rebuilt after a run from these fill records (see
        # ``equity_curve``), so the bar path does no bookkeeping beyond marking.
        self._index = {iid: k for k, iid in enumerate(instruments)}
        self._fill_ts = array("q")
        self._fill_cash = array("d")
        self._fill_instrument = array("q")
        self._fill_position = array("d")
        self.closed_trades: list[ClosedTrade] = []
        self.fills: list[OrderFilled] = []
        self._bus = bus
        bus.subscribe("events.order.filled", self.on_fill, priority=100)

    # -- event handlers ----------------------------------------------------------------
    def on_fill(self, fill: OrderFilled) -> None:
        """Apply a fill to cash and the position, and record any closed trade."""
        iid = fill.instrument_id
        instrument = self._instruments[iid]
        sign = fill.side.sign
        self.account.apply_fill(
            sign, fill.last_qty, fill.last_px, instrument.multiplier, fill.commission
        )
        position = self._positions[iid]
        closed = position.apply_fill(
            sign, fill.last_qty, fill.last_px, fill.commission, fill.ts_event
        )
        self.closed_trades.extend(closed)
        self.fills.append(fill)
        if position.quantity:
            self._open[iid] = position.quantity * instrument.multiplier
        else:
            self._open.pop(iid, None)
        self._fill_ts.append(fill.ts_event)
        self._fill_cash.append(self.account.cash)
        self._fill_instrument.append(self._index[iid])
        self._fill_position.append(position.quantity)
        self._bus.publish(
            POSITION_TOPIC,
            PositionChanged(
                iid, position.quantity, position.avg_px_open, position.realized_pnl, fill.ts_event
            ),
        )

    def _mark(self, instrument_id: str, units: float) -> float:
        price = self._marks.get(instrument_id)
        if price is None:
            # No bar yet for this instrument: mark at the position's entry price.
            price = self._positions[instrument_id].avg_px_open
        return units * price

    # -- queries -----------------------------------------------------------------------
    @property
    def cash(self) -> float:
        """Return the account's cash."""
        return self.account.cash

    def equity(self) -> float:
        """Return cash plus open positions marked at their last prices."""
        mark = self._mark
        return self.account.cash + sum(mark(iid, u) for iid, u in self._open.items())

    def gross_exposure(self) -> float:
        """Return the sum of the absolute marked values of open positions."""
        mark = self._mark
        return sum(abs(mark(iid, u)) for iid, u in self._open.items())

    def buying_power(self) -> float:
        """Return equity times leverage minus gross exposure (never negative)."""
        equity = self.account.cash
        gross = 0.0
        for iid, units in self._open.items():  # one pass: this runs on every fill
            value = self._mark(iid, units)
            equity += value
            gross += abs(value)
        return max(0.0, equity * self.leverage - gross)

    def position_quantity(self, instrument_id: str) -> float:
        """Return the signed net position in ``instrument_id`` (0 if none)."""
        position = self._positions.get(instrument_id)
        return position.quantity if position is not None else 0.0

    def position(self, instrument_id: str) -> PositionSnapshot:
        """Return a snapshot of the position in ``instrument_id``."""
        position = self._positions.get(instrument_id)
        if position is None:
            msg = f"unknown instrument {instrument_id!r}"
            raise KeyError(msg)
        mark = self._marks.get(instrument_id, position.avg_px_open)
        return PositionSnapshot(
            instrument_id,
            position.quantity,
            position.avg_px_open,
            position.realized_pnl,
            position.unrealized_pnl(mark),
            position.quantity * mark * position.multiplier,
        )

    def open_positions(self) -> dict[str, float]:
        """Return the signed quantities of the open positions."""
        return {iid: p.quantity for iid, p in self._positions.items() if p.quantity}

    def last_price(self, instrument_id: str) -> float | None:
        """Return the last known price of ``instrument_id``."""
        return self._marks.get(instrument_id)

    def equity_curve(
        self, bars: Mapping[str, BarSeries]
    ) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
        """Return timestamps, equity, cash and gross exposure, one row per bar timestamp.

        Notes
        -----
        Rebuilt with numpy from the fills and the bars: cash and each position are step
        functions that change at fills (a fill at a bar's open is in that bar's row), and
        equity is cash plus each position marked at its instrument's latest close. This
        equals what ``equity()`` answers at each bar; a test holds the two together.
        """
        return equity_from_fills(
            bars,
            self.account.initial_cash,
            np.frombuffer(self._fill_ts, dtype=np.int64),
            np.frombuffer(self._fill_cash, dtype=np.float64),
            np.frombuffer(self._fill_instrument, dtype=np.int64),
            np.frombuffer(self._fill_position, dtype=np.float64),
            [self._instruments[iid].multiplier for iid in self._index],
            self._index,
        )


def _timeline(bars: Mapping[str, BarSeries]) -> IntArray:
    """Return the sorted distinct timestamps of all the bars."""
    series = list(bars.values())
    if len(series) == 1:
        return np.asarray(series[0].ts, dtype=np.int64)
    merged = np.sort(np.concatenate([s.ts for s in series]))
    keep = np.empty(len(merged), dtype=bool)
    keep[0] = True
    np.not_equal(merged[1:], merged[:-1], out=keep[1:])
    return merged[keep]


def equity_from_fills(
    bars: Mapping[str, BarSeries],
    initial_cash: float,
    fill_ts: IntArray,
    fill_cash: FloatArray,
    fill_instrument: IntArray,
    fill_position: FloatArray,
    multipliers: list[float],
    index: Mapping[str, int],
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """Rebuild the equity curve from the fills and the bars.

    Parameters
    ----------
    fill_ts, fill_cash, fill_instrument, fill_position
        One row per fill, in order: its time, the cash after it, the index (in
        ``index``) of its instrument and that instrument's position after it.

    Returns
    -------
    ts, equity, cash, gross_exposure
        One row per distinct bar timestamp. A fill at a bar's open is in that bar's row.
    """
    timeline = _timeline(bars)
    last_fill = np.searchsorted(fill_ts, timeline, side="right") - 1
    if len(fill_ts):
        cash = np.where(last_fill >= 0, fill_cash[np.maximum(last_fill, 0)], initial_cash)
    else:
        cash = np.full(len(timeline), initial_cash)
    market_value = np.zeros(len(timeline))
    gross = np.zeros(len(timeline))
    for iid, series in bars.items():
        mine = fill_instrument == index[iid]
        if not mine.any():
            continue
        k = np.searchsorted(fill_ts[mine], timeline, side="right") - 1
        quantity = np.where(k >= 0, fill_position[mine][np.maximum(k, 0)], 0.0)
        j = np.searchsorted(series.ts, timeline, side="right") - 1
        close = np.where(j >= 0, series.close[np.maximum(j, 0)], 0.0)
        value = quantity * close * multipliers[index[iid]]
        market_value += value
        gross += np.abs(value)
    return timeline, cash + market_value, cash, gross


class PortfolioView:
    """What a strategy may see of the portfolio: queries only, no way to change it."""

    __slots__ = ("_portfolio",)

    def __init__(self, portfolio: Portfolio) -> None:
        self._portfolio = portfolio

    @property
    def cash(self) -> float:
        """Return the account's cash."""
        return self._portfolio.cash

    def equity(self) -> float:
        """Return cash plus marked positions."""
        return self._portfolio.equity()

    def buying_power(self) -> float:
        """Return what new exposure the account can still take."""
        return self._portfolio.buying_power()

    def gross_exposure(self) -> float:
        """Return the gross marked value of open positions."""
        return self._portfolio.gross_exposure()

    def position_quantity(self, instrument_id: str) -> float:
        """Return the signed net position in ``instrument_id``."""
        return self._portfolio.position_quantity(instrument_id)

    def position(self, instrument_id: str) -> PositionSnapshot:
        """Return a snapshot of the position in ``instrument_id``."""
        return self._portfolio.position(instrument_id)

    def open_positions(self) -> dict[str, float]:
        """Return the signed quantities of the open positions."""
        return self._portfolio.open_positions()

    def last_price(self, instrument_id: str) -> float | None:
        """Return the last known price of ``instrument_id``."""
        return self._portfolio.last_price(instrument_id)

    @property
    def closed_trade_count(self) -> int:
        """Return how many trades have closed so far."""
        return len(self._portfolio.closed_trades)
