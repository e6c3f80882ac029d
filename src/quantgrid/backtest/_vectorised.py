"""Vectorised backtests of target-signal strategies, equal to the event-driven engine.

A target signal says, at each bar's close, which side to hold from the next open: ``+1``
long, ``-1`` short, ``0`` flat, ``NaN`` keep what is held. The kernel below repeats the
simulated venue's arithmetic operation for operation (tick rounding, commission, buying
power, sizing from cash), and its fills are then replayed through the same ``Account``
and ``Position`` code as the event-driven engine, so trades, equity and statistics come
out equal, not just close. Hand-written in numba on purpose: this loop is what makes
parameter sweeps fast.

Supported: one instrument, market entries and exits at the next open, percentage
commission (with a minimum), fixed size or all buying power, leverage, the buying-power
check, closing at the end. Spread, slippage and volume caps need the event-driven engine.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from numba import njit

from quantgrid.analytics import compute_statistics
from quantgrid.backtest._engine import BacktestConfig, _instruments_for, check_ticks
from quantgrid.backtest._result import BacktestResult
from quantgrid.model import (
    Account,
    BarSeries,
    FloatArray,
    Instrument,
    LiquiditySide,
    OrderFilled,
    OrderSide,
    Position,
)
from quantgrid.portfolio import equity_from_fills
from quantgrid.venues import NoCommission, PercentCommission


def cross_signals(fast: FloatArray, slow: FloatArray) -> FloatArray:
    """Return the target signal of a moving-average cross.

    ``+1`` where ``fast`` crosses above ``slow`` (``fast <= slow`` on the previous bar,
    ``fast > slow`` now), ``-1`` where it crosses below, ``NaN`` elsewhere: the rule of
    the built-in ``sma_cross`` and ``ema_cross``.
    """
    fast = np.asarray(fast, dtype=np.float64)
    slow = np.asarray(slow, dtype=np.float64)
    prev_fast = np.concatenate([[np.nan], fast[:-1]])
    prev_slow = np.concatenate([[np.nan], slow[:-1]])
    signal = np.full(len(fast), np.nan)
    with np.errstate(invalid="ignore"):
        signal[(fast > slow) & (prev_fast <= prev_slow)] = 1.0
        signal[(fast < slow) & (prev_fast >= prev_slow)] = -1.0
    return signal


@njit(cache=True)
def _commission(rate: float, minimum: float, qty: float, price: float, mult: float) -> float:
    return max(minimum, rate * qty * price * mult)


@njit(cache=True)
def _buying_power(cash: float, units: float, mark: float, leverage: float) -> float:
    # Portfolio.buying_power: equity and gross in one pass over the open position.
    equity = cash
    gross = 0.0
    if units != 0.0:
        value = units * mark
        equity += value
        gross += abs(value)
    return max(0.0, equity * leverage - gross)


@njit(cache=True)
def _record(
    fills: FloatArray, k: int, t: int, side: int, qty: float, price: float, com: float
) -> int:  # pragma: no cover - numba
    fills[k, 0] = t
    fills[k, 1] = side
    fills[k, 2] = qty
    fills[k, 3] = price
    fills[k, 4] = com
    return k + 1


@njit(cache=True)
def _execute(
    t: int,
    desired: float,
    mark: float,
    buy: float,
    sell: float,
    cash: float,
    pos: float,
    fixed_size: float,
    rate: float,
    minimum: float,
    mult: float,
    size_scale: float,
    leverage: float,
    check_bp: bool,
    fills: FloatArray,
    k: int,
) -> tuple[float, float, int, int]:  # pragma: no cover - numba
    """Move to the ``desired`` side at this bar's open, as the venue would fill it.

    Returns cash, position, the next free row of ``fills`` and how many trades closed.
    """
    closed = 0
    if fixed_size > 0.0:
        delta = desired * fixed_size - pos
        if delta != 0.0:
            side = 1 if delta > 0.0 else -1
            qty = abs(delta)
            price = buy if side > 0 else sell
            com = _commission(rate, minimum, qty, price, mult)
            closable = abs(pos) if pos * side < 0 else 0.0
            ok = True
            if check_bp:
                opening = max(0.0, qty - closable)
                needed = opening * price * mult + com * opening / qty
                available = _buying_power(cash, pos * mult, mark, leverage) + (
                    min(qty, closable) * price * mult
                )
                ok = not (opening > 0 and needed > available * (1 + 1e-12))
            if ok:
                cash -= side * qty * price * mult + com
                pos = round(pos + side * qty, 9)
                k = _record(fills, k, t, side, qty, price, com)
                closed += 1 if closable > 0 else 0
        return cash, pos, k, closed
    if pos != 0.0 and (desired == 0.0 or (pos > 0) != (desired > 0)):
        side = -1 if pos > 0 else 1  # the reduce-only close of the whole position
        qty = abs(pos)
        price = buy if side > 0 else sell
        com = _commission(rate, minimum, qty, price, mult)
        cash -= side * qty * price * mult + com
        pos = 0.0
        k = _record(fills, k, t, side, qty, price, com)
        closed += 1
    if desired != 0.0 and pos == 0.0:
        side = 1 if desired > 0 else -1
        price = buy if side > 0 else sell
        # Sized from cash at the fill: the most whole lots the buying power pays for.
        budget = min(_buying_power(cash, 0.0, mark, leverage), cash * leverage * 1.0)
        lots = 0
        if budget > 0:
            low = 0
            high = int(budget / (mark * mult * (1.0 / size_scale))) + 1
            while low < high:
                mid = (low + high + 1) // 2
                q = mid / size_scale
                if q * price * mult + _commission(rate, minimum, q, price, mult) <= budget:
                    low = mid
                else:
                    high = mid - 1
            lots = low
        if lots > 0:
            qty = lots / size_scale
            com = _commission(rate, minimum, qty, price, mult)
            ok = True
            if check_bp:
                needed = qty * price * mult + com * qty / qty
                ok = not (needed > _buying_power(cash, 0.0, mark, leverage) * (1 + 1e-12))
            if ok:
                cash -= side * qty * price * mult + com
                pos = round(pos + side * qty, 9)
                k = _record(fills, k, t, side, qty, price, com)
    return cash, pos, k, closed


@njit(cache=True)
def _settle(
    t: int,
    pos: float,
    cash: float,
    buy: float,
    sell: float,
    rate: float,
    minimum: float,
    mult: float,
    fills: FloatArray,
    k: int,
) -> tuple[float, int]:  # pragma: no cover - numba
    """Close the position at the last close, as the end-of-data settlement does."""
    side = -1 if pos > 0 else 1
    qty = abs(pos)
    price = buy if side > 0 else sell
    com = _commission(rate, minimum, qty, price, mult)
    cash -= side * qty * price * mult + com
    return cash, _record(fills, k, t, side, qty, price, com)  # fmt: skip


@njit(cache=True)
def _simulate(
    open_: FloatArray,
    buy_px: FloatArray,
    sell_px: FloatArray,
    signal: FloatArray,
    fixed_size: float,
    rate: float,
    minimum: float,
    cash0: float,
    mult: float,
    size_scale: float,
    leverage: float,
    check_bp: bool,
    end_buy_px: float,
    end_sell_px: float,
    close_at_end: bool,
) -> FloatArray:  # pragma: no cover - numba
    n = open_.shape[0]
    fills = np.empty((2 * n + 2, 5))
    k = 0
    cash = cash0
    pos = 0.0
    pending = np.nan
    for t in range(n):
        if not np.isnan(pending):
            cash, pos, k, _ = _execute(
                t, pending, open_[t], buy_px[t], sell_px[t], cash, pos, fixed_size, rate,
                minimum, mult, size_scale, leverage, check_bp, fills, k,
            )  # fmt: skip
            pending = np.nan
        if not np.isnan(signal[t]):
            pending = signal[t]
    if close_at_end and pos != 0.0:
        cash, k = _settle(n - 1, pos, cash, end_buy_px, end_sell_px, rate, minimum, mult, fills, k)
    return fills[:k]


def _commission_terms(config: BacktestConfig) -> tuple[float, float]:
    model = config.commission_model()
    if isinstance(model, NoCommission):
        return 0.0, 0.0
    if isinstance(model, PercentCommission):
        return model.rate, model.minimum
    msg = (
        f"the vectorised engine supports percentage commissions only, not "
        f"{type(model).__name__}: use the event-driven engine"
    )
    raise ValueError(msg)


def check_vectorisable(config: BacktestConfig, instrument: Instrument) -> tuple[float, float]:
    """Raise if ``config`` needs the event-driven engine; return the commission terms."""
    unsupported = [
        name
        for name, value in (
            ("spread", config.spread),
            ("slippage", config.slippage),
            ("max_volume_fraction", config.max_volume_fraction),
        )
        if value is not None
    ]
    if unsupported:
        msg = (
            f"the vectorised engine does not model {', '.join(unsupported)}: "
            "use the event-driven engine"
        )
        raise ValueError(msg)
    if not instrument.has_decimal_ticks:
        msg = (
            f"instrument {instrument.id}: the vectorised engine needs tick and lot sizes of "
            "the form 1/n (0.01, 0.25, 1); use the event-driven engine"
        )
        raise ValueError(msg)
    return _commission_terms(config)


def run_vectorised(
    bars: BarSeries,
    signal: FloatArray,
    size: float | None = None,
    config: BacktestConfig | None = None,
    strategy: str = "signal",
    params: dict[str, Any] | None = None,
) -> BacktestResult:
    """Backtest a target signal on one instrument; equal to the event-driven engine.

    Parameters
    ----------
    signal
        One value per bar, decided at its close: ``+1`` long, ``-1`` short, ``0`` flat,
        ``NaN`` keep the current side. Acted on at the next bar's open.
    size
        Units held when long or short; ``None`` for all buying power, sized at the fill
        in whole lots, commission included.
    """
    started = time.perf_counter()
    config = config or BacktestConfig()
    signal = np.ascontiguousarray(signal, dtype=np.float64)
    if signal.shape != bars.close.shape:
        msg = f"signal has {signal.shape[0]} values for {len(bars)} bars"
        raise ValueError(msg)
    valid = np.isnan(signal) | np.isin(signal, (-1.0, 0.0, 1.0))
    if not valid.all():
        bad = int(np.flatnonzero(~valid)[0])
        msg = f"signal[{bad}] is {signal[bad]}: values must be +1, -1, 0 or NaN"
        raise ValueError(msg)
    if size is not None and not (math.isfinite(size) and size > 0):
        msg = f"size must be a positive number or None, got {size}"
        raise ValueError(msg)
    iid = bars.instrument_id
    instrument = _instruments_for({iid: bars}, config.instruments)[iid]
    check_ticks({iid: bars}, {iid: instrument})
    rate, minimum = check_vectorisable(config, instrument)
    if size is not None and not instrument.is_valid_size(size):
        msg = f"size {size} is not a whole number of lots ({instrument.size_increment})"
        raise ValueError(msg)
    fills = _simulate(
        bars.open,
        instrument.round_prices_adverse(bars.open, 1),
        instrument.round_prices_adverse(bars.open, -1),
        signal,
        0.0 if size is None else float(size),
        rate,
        minimum,
        float(config.initial_cash),
        instrument.multiplier,
        instrument.size_scale,
        config.leverage,
        config.check_buying_power,
        instrument.round_price_adverse(float(bars.close[-1]), 1),
        instrument.round_price_adverse(float(bars.close[-1]), -1),
        config.close_at_end,
    )
    return _result(bars, instrument, config, fills, strategy, params or {}, started)


def _result(
    bars: BarSeries,
    instrument: Instrument,
    config: BacktestConfig,
    fills: FloatArray,
    strategy: str,
    params: dict[str, Any],
    started: float,
) -> BacktestResult:
    """Replay the kernel's fills through the event-driven engine's accounting."""
    f_bar = fills[:, 0].astype(np.int64)
    f_side, f_qty, f_px, f_com = fills[:, 1], fills[:, 2], fills[:, 3], fills[:, 4]
    iid = bars.instrument_id
    account = Account(config.initial_cash, instrument.currency)
    position = Position(iid, instrument.multiplier)
    trades = []
    events = []
    n = len(f_bar)
    cash_after = np.empty(n)
    pos_after = np.empty(n)
    fill_ts = bars.ts[f_bar]
    for k in range(n):
        sign, qty, px, com = int(f_side[k]), float(f_qty[k]), float(f_px[k]), float(f_com[k])
        when = int(fill_ts[k])
        account.apply_fill(sign, qty, px, instrument.multiplier, com)
        trades.extend(position.apply_fill(sign, qty, px, com, when))
        cash_after[k] = account.cash
        pos_after[k] = position.quantity
        side = OrderSide.BUY if sign > 0 else OrderSide.SELL
        events.append(
            OrderFilled(
                f"vec-{k + 1}", strategy, iid, when, f"vec-T{k + 1}", side, qty, px, com,
                LiquiditySide.TAKER, instrument.currency,
            )
        )  # fmt: skip
    data = {iid: bars}
    ts, equity, cash, gross = equity_from_fills(
        data,
        config.initial_cash,
        fill_ts,
        cash_after,
        np.zeros(n, dtype=np.int64),
        pos_after,
        [instrument.multiplier],
        {iid: 0},
    )
    engine_seconds = time.perf_counter() - started
    stats = compute_statistics(
        ts,
        equity,
        gross,
        trades,
        closes={iid: bars.close},
        commissions=account.commissions,
        engine_seconds=engine_seconds,
        periods_per_year=config.periods_per_year,
        risk_free_rate=config.risk_free_rate,
    )
    return BacktestResult(
        strategy=strategy,
        params=params,
        instruments=(iid,),
        ts=ts,
        equity=equity,
        cash=cash,
        gross_exposure=gross,
        trades=tuple(trades),
        fills=tuple(events),
        orders=(),
        stats=stats,
        bars=data,
        initial_cash=config.initial_cash,
        engine_seconds=engine_seconds,
    )
