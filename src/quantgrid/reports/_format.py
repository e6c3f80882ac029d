"""How results read: statistic labels and number formats, ISO times, strict JSON.

Shared by the console table, the HTML report and the file writers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from quantgrid.analytics import Statistics
from quantgrid.core import NANOS_PER_SECOND
from quantgrid.model import IntArray

MISSING = "—"


def _fixed(digits: int, *, signed: bool = False, scale: float = 1.0) -> Callable[[Any], str]:
    sign = "+" if signed else ""

    def fmt(value: Any) -> str:
        # Adding 0.0 after rounding turns -0.0 into 0.0, so no "-0.00" appears.
        number = round(float(value) * scale, digits) + 0.0
        return f"{number:{sign},.{digits}f}"

    return fmt


def _integer(value: Any) -> str:
    return f"{int(value):,}"


def _text(value: Any) -> str:
    return str(value)


_MONEY = _fixed(2)
_PCT = _fixed(2, signed=True)  # returns and drawdowns: the sign carries meaning
_SHARE = _fixed(2)  # shares of time or trades, never negative
_RATIO = _fixed(3, signed=True)


class StatRow(NamedTuple):
    """How one statistic is shown: its ``to_dict`` key, its label, its formatter."""

    key: str
    label: str
    format: Callable[[Any], str]


# Groups in display order; each group is a section of the tables.
STAT_GROUPS: tuple[tuple[StatRow, ...], ...] = (
    (
        StatRow("start", "Start", _text),
        StatRow("end", "End", _text),
        StatRow("bars", "Bars", _integer),
        StatRow("exposure_pct", "Exposure Time [%]", _SHARE),
    ),
    (
        StatRow("equity_final", "Equity Final [$]", _MONEY),
        StatRow("equity_peak", "Equity Peak [$]", _MONEY),
        StatRow("return_pct", "Return [%]", _PCT),
        StatRow("buy_hold_return_pct", "Buy & Hold Return [%]", _PCT),
        StatRow("return_ann_pct", "Return (Ann.) [%]", _PCT),
        StatRow("cagr_pct", "CAGR [%]", _PCT),
        StatRow("volatility_ann_pct", "Volatility (Ann.) [%]", _SHARE),
    ),
    (
        StatRow("sharpe", "Sharpe Ratio", _RATIO),
        StatRow("sortino", "Sortino Ratio", _RATIO),
        StatRow("calmar", "Calmar Ratio", _RATIO),
        StatRow("max_drawdown_pct", "Max. Drawdown [%]", _PCT),
        StatRow("avg_drawdown_pct", "Avg. Drawdown [%]", _PCT),
        StatRow("max_drawdown_duration_days", "Max. Drawdown Duration [days]", _fixed(1)),
    ),
    (
        StatRow("n_trades", "# Trades", _integer),
        StatRow("win_rate_pct", "Win Rate [%]", _SHARE),
        StatRow("best_trade_pct", "Best Trade [%]", _PCT),
        StatRow("worst_trade_pct", "Worst Trade [%]", _PCT),
        StatRow("avg_trade_pct", "Avg. Trade [%]", _PCT),
        StatRow("expectancy_pct", "Expectancy [%]", _PCT),
        StatRow("profit_factor", "Profit Factor", _fixed(3)),
        StatRow("sqn", "SQN", _RATIO),
        StatRow("kelly", "Kelly Criterion", _RATIO),
    ),
    (
        StatRow("commissions", "Commissions [$]", _MONEY),
        StatRow("engine_seconds", "Engine Time [s]", _fixed(3)),
        StatRow("periods_per_year", "Periods per Year", _integer),
        StatRow("risk_free_rate", "Risk-Free Rate [%]", _fixed(2, scale=100.0)),
    ),
)


def formatted_groups(stats: Statistics) -> Iterator[list[tuple[str, str]]]:
    """Yield each group of statistics as ``(label, formatted value)`` pairs.

    Undefined values (NaN, infinities: ``None`` in ``to_dict``) show as an em dash.
    """
    values = stats.to_dict()
    for group in STAT_GROUPS:
        yield [
            (row.label, MISSING if values[row.key] is None else row.format(values[row.key]))
            for row in group
        ]


def iso_times(ts: IntArray) -> list[str]:
    """Format nanosecond timestamps as ISO-8601 UTC strings, vectorised.

    Whole-second series print as ``2024-01-02T09:30:00Z`` (as ``ns_to_iso`` does);
    others carry microseconds on every row, so a column has one width.
    """
    stamps = np.asarray(ts, dtype=np.int64)
    # Floor division rounds toward the past, as ns_to_iso does.
    moments: npt.NDArray[np.datetime64]
    if not bool(np.any(stamps % NANOS_PER_SECOND)):
        moments = (stamps // NANOS_PER_SECOND).astype("datetime64[s]")
        text = np.datetime_as_string(moments, unit="s", timezone="UTC")
    else:
        moments = (stamps // 1_000).astype("datetime64[us]")
        text = np.datetime_as_string(moments, unit="us", timezone="UTC")
    return [str(t) for t in text.tolist()]


def jsonable(value: Any) -> Any:
    """Convert free-form data, such as strategy parameters, to strict JSON values.

    NaN and infinities become ``None``, numpy values Python ones, tuples and sets
    lists, and anything else its ``str``.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)
