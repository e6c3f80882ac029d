"""Parameter sweeps of the moving-average crosses, compiled and run in parallel.

Each (fast, slow) pair is simulated by the vectorised engine's own order execution
(``_execute``), with its averages computed in-stream by the same arithmetic as the
indicators, so a sweep's row equals a full backtest of that pair (a test holds them
together). Nothing per bar is stored per pair: memory is the price arrays plus one row
of figures per pair, whatever the history's length.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from numba import njit, prange

from quantgrid.analytics import overfitting_diagnostics
from quantgrid.analytics._returns import infer_periods_per_year
from quantgrid.backtest._engine import BacktestConfig, _instruments_for, check_ticks
from quantgrid.backtest._vectorised import _execute, _settle, check_vectorisable
from quantgrid.core import NANOS_PER_DAY
from quantgrid.model import BarSeries, FloatArray

BoolArray = npt.NDArray[np.bool_]

METRICS = ("equity_final", "return_pct", "max_drawdown_pct", "n_trades", "sharpe")
OBJECTIVES = ("sharpe", "return_pct", "equity_final", "max_drawdown_pct")


@njit(cache=True)
def _average(
    use_ema: bool, period: int, i: int, x: FloatArray, prev: float, total: float
) -> tuple[float, float]:  # pragma: no cover - numba
    """One step of the SMA or EMA kernel of ``quantgrid.indicators``: same operations."""
    value = np.nan
    if use_ema:
        if i < period:
            total = total + x[i]
            if i == period - 1:
                value = total / period
        else:
            value = ((x[i] - prev) * (2.0 / (period + 1))) + prev
        return value, total
    total = total + x[i]
    if i >= period - 1:
        value = total / period
        total = total - x[i - period + 1]
    return value, total


@njit(parallel=True, cache=True)
def _sweep(
    open_: FloatArray,
    close: FloatArray,
    buy_px: FloatArray,
    sell_px: FloatArray,
    day_end: BoolArray,
    fasts: FloatArray,
    slows: FloatArray,
    use_ema: bool,
    fixed_size: float,
    rate: float,
    minimum: float,
    cash0: float,
    mult: float,
    size_scale: float,
    leverage: float,
    check_bp: bool,
    end_buy: float,
    end_sell: float,
    close_at_end: bool,
    periods_per_year: float,
    rf_per_period: float,
    daily: FloatArray,
) -> FloatArray:  # pragma: no cover - numba
    n = close.shape[0]
    out = np.empty((fasts.shape[0], 5))
    for c in prange(fasts.shape[0]):
        fast_p = int(fasts[c])
        slow_p = int(slows[c])
        fills = np.empty((3, 5))  # scratch: a sweep keeps figures, not fills
        cash = cash0
        pos = 0.0
        pending = np.nan
        f_val = np.nan
        s_val = np.nan
        f_tot = 0.0
        s_tot = 0.0
        trades = 0
        peak = cash0
        worst = 0.0
        day_equity = np.nan
        count = 0
        mean = 0.0
        m2 = 0.0
        equity = cash0
        for t in range(n):
            if not np.isnan(pending):
                cash, pos, _, closed = _execute(
                    t, pending, open_[t], buy_px[t], sell_px[t], cash, pos, fixed_size, rate,
                    minimum, mult, size_scale, leverage, check_bp, fills, 0,
                )  # fmt: skip
                trades += closed
                pending = np.nan
            prev_f = f_val
            prev_s = s_val
            f_val, f_tot = _average(use_ema, fast_p, t, close, f_val, f_tot)
            s_val, s_tot = _average(use_ema, slow_p, t, close, s_val, s_tot)
            if f_val > s_val and prev_f <= prev_s:
                if not pos > 0:
                    pending = 1.0
            elif f_val < s_val and prev_f >= prev_s and not pos < 0:
                pending = -1.0
            if t == n - 1 and close_at_end and pos != 0.0:
                cash, _ = _settle(t, pos, cash, end_buy, end_sell, rate, minimum, mult, fills, 0)
                pos = 0.0
                trades += 1
            equity = cash + pos * close[t] * mult
            peak = max(peak, equity)
            drawdown = equity / peak - 1.0
            worst = min(worst, drawdown)
            if day_end[t]:
                if not np.isnan(day_equity):
                    daily[count, c] = equity / day_equity - 1.0
                    r = equity / day_equity - 1.0 - rf_per_period
                    count += 1
                    delta = r - mean
                    mean += delta / count
                    m2 += delta * (r - mean)
                day_equity = equity
        out[c, 0] = equity
        out[c, 1] = 100.0 * (equity / cash0 - 1.0)
        out[c, 2] = 100.0 * worst
        out[c, 3] = trades
        std = math.sqrt(m2 / (count - 1)) if count > 1 else np.nan
        out[c, 4] = mean / std * math.sqrt(periods_per_year) if std > 0 else np.nan
    return out


@dataclass(frozen=True, slots=True)
class SweepResult:
    """The figures of every parameter pair, best first by ``objective``.

    ``rows`` are dicts with the parameters and ``METRICS``; ``skipped`` lists the pairs
    the strategy refuses (fast >= slow). ``daily_returns`` holds each row's daily
    returns (days x rows, columns in row order), from which ``deflated_sharpe`` (of the
    best row, against all rows tried) and ``pbo`` (probability of backtest overfitting)
    are computed; both are NaN where they cannot be (one row, too few days).
    """

    strategy: str
    objective: str
    rows: tuple[dict[str, Any], ...]
    skipped: tuple[dict[str, Any], ...]
    bars: int
    seconds: float
    daily_returns: FloatArray = field(default_factory=lambda: np.empty((0, 0)), repr=False)
    deflated_sharpe: float = math.nan
    pbo: float = math.nan

    @property
    def best(self) -> dict[str, Any]:
        """Return the best row."""
        return self.rows[0]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (NaN as None)."""

        def clean(row: dict[str, Any]) -> dict[str, Any]:
            return {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in row.items()
            }

        return {
            "strategy": self.strategy,
            "objective": self.objective,
            "bars": self.bars,
            "combinations": len(self.rows),
            "skipped": len(self.skipped),
            "seconds": self.seconds,
            "deflated_sharpe": None if math.isnan(self.deflated_sharpe) else self.deflated_sharpe,
            "pbo": None if math.isnan(self.pbo) else self.pbo,
            "rows": [clean(r) for r in self.rows],
        }


def check_sweep_arguments(
    fast: Sequence[int], slow: Sequence[int], average: str, objective: str, size: float | None
) -> None:
    """Raise ``ValueError`` naming the argument and rule if a cross sweep's grid is bad."""
    if average not in ("ema", "sma"):
        msg = f"average must be 'ema' or 'sma', got {average!r}"
        raise ValueError(msg)
    if objective not in OBJECTIVES:
        msg = f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}"
        raise ValueError(msg)
    for name, values in (("fast", fast), ("slow", slow)):
        bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or v < 1]
        if bad or not values:
            msg = f"{name} values must be whole numbers >= 1, got {list(values)!r}"
            raise ValueError(msg)
    if size is not None and not (math.isfinite(size) and size > 0):
        msg = f"size must be a positive number or None, got {size}"
        raise ValueError(msg)


def sweep_crosses(
    bars: BarSeries,
    fast: Sequence[int],
    slow: Sequence[int],
    *,
    average: str = "ema",
    size: float | None = None,
    config: BacktestConfig | None = None,
    objective: str = "sharpe",
    jobs: int | None = None,
) -> SweepResult:
    """Backtest every (fast, slow) pair of ``sma_cross`` or ``ema_cross`` on one instrument.

    Parameters
    ----------
    fast, slow
        The values to combine; pairs with ``fast >= slow`` are skipped, as the strategy
        refuses them.
    average
        ``"ema"`` or ``"sma"``.
    objective
        The figure rows are ranked by: one of ``OBJECTIVES`` (drawdown ranks least
        negative first).
    jobs
        Threads to run pairs on (numba threads); default all cores.
    """
    started = time.perf_counter()
    check_sweep_arguments(fast, slow, average, objective, size)
    config = config or BacktestConfig()
    iid = bars.instrument_id
    instrument = _instruments_for({iid: bars}, config.instruments)[iid]
    check_ticks({iid: bars}, {iid: instrument})
    rate, minimum = check_vectorisable(config, instrument)
    pairs = [(f, s) for f in fast for s in slow if f < s]
    skipped = tuple({"fast": f, "slow": s} for f in fast for s in slow if f >= s)
    if not pairs:
        msg = "no (fast, slow) pair with fast < slow in the grid"
        raise ValueError(msg)
    days = bars.ts // NANOS_PER_DAY
    day_end = np.empty(len(days), dtype=np.bool_)
    day_end[:-1] = days[1:] != days[:-1]
    day_end[-1] = True
    periods = config.periods_per_year or infer_periods_per_year(bars.ts)
    last_close = float(bars.close[-1])
    threads = numba.get_num_threads()
    if jobs is not None:
        if jobs < 1:
            msg = f"jobs must be >= 1, got {jobs}"
            raise ValueError(msg)
        numba.set_num_threads(min(jobs, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    daily = np.full((max(int(day_end.sum()) - 1, 0), len(pairs)), np.nan)
    try:
        table = _sweep(
            bars.open,
            bars.close,
            instrument.round_prices_adverse(bars.open, 1),
            instrument.round_prices_adverse(bars.open, -1),
            day_end,
            np.array([p[0] for p in pairs], dtype=np.float64),
            np.array([p[1] for p in pairs], dtype=np.float64),
            average == "ema",
            0.0 if size is None else float(size),
            rate,
            minimum,
            float(config.initial_cash),
            instrument.multiplier,
            instrument.size_scale,
            config.leverage,
            config.check_buying_power,
            instrument.round_price_adverse(last_close, 1),
            instrument.round_price_adverse(last_close, -1),
            config.close_at_end,
            float(periods),
            config.risk_free_rate / periods,
            daily,
        )
    finally:
        numba.set_num_threads(threads)
    rows = [
        {"fast": f, "slow": s, **dict(zip(METRICS, map(float, row), strict=True))}
        for (f, s), row in zip(pairs, table, strict=True)
    ]
    for row in rows:
        row["n_trades"] = int(row["n_trades"])
    return finish_sweep(f"{average}_cross", objective, rows, daily, skipped, len(bars), started)


def finish_sweep(
    strategy: str,
    objective: str,
    rows: list[dict[str, Any]],
    daily_returns: FloatArray,
    skipped: tuple[dict[str, Any], ...],
    bars: int,
    started: float,
) -> SweepResult:
    """Rank ``rows`` (and their daily-return columns) and add the overfitting figures.

    ``rows`` and the columns of ``daily_returns`` are in the same (grid) order; the sort
    is stable, so equal figures keep the grid's order wherever the sweep ran.
    """
    order = sorted(range(len(rows)), key=lambda k: _rank(rows[k][objective]))
    ranked = [rows[k] for k in order]
    matrix = daily_returns[:, order] if daily_returns.size else daily_returns
    best = 0 if ranked and math.isfinite(ranked[0][objective]) else None
    dsr, pbo = overfitting_diagnostics(matrix, best) if matrix.size else (math.nan, math.nan)
    return SweepResult(
        strategy=strategy,
        objective=objective,
        rows=tuple(ranked),
        skipped=skipped,
        bars=bars,
        seconds=time.perf_counter() - started,
        daily_returns=matrix,
        deflated_sharpe=dsr,
        pbo=pbo,
    )


def _rank(value: float) -> float:
    # Best first; NaN (no returns to rank) last.
    return -value if math.isfinite(value) else math.inf
