"""How a result's risk events read: the trading-state periods, the rejections, risk.json.

Shared by the HTML report (the Risk section and the shaded chart periods) and the file
writers (``risk.json``).
"""

from __future__ import annotations

import html
import math
from collections import Counter
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from quantgrid.reports._format import MISSING, iso_times, jsonable
from quantgrid.risk import RiskRejection, TradingState, TradingStateChanged

if TYPE_CHECKING:
    from quantgrid.backtest import BacktestResult

RISK_SECTION_ID = "qg-risk"
REJECTIONS_LISTED = 20
"""Rejections the report lists one by one; all of them are counted by check."""

# Fill colours of the shaded periods and of their labels: amber and red.
STATE_COLORS = {TradingState.REDUCING: "#ffa000", TradingState.HALTED: "#d32f2f"}
_SHADE_OPACITY = 0.16


class StatePeriod(NamedTuple):
    """A stretch of the run spent in one trading state other than ACTIVE."""

    state: TradingState
    start_ns: int
    end_ns: int
    reason: str


def has_risk_events(result: BacktestResult) -> bool:
    """Return whether the run changed trading state or had orders denied by the checks."""
    return bool(result.trading_states or result.risk_rejections)


def final_state(result: BacktestResult) -> TradingState:
    """Return the trading state at the end of the run (ACTIVE if it never changed)."""
    states = result.trading_states
    return states[-1].state if states else TradingState.ACTIVE


def state_periods(result: BacktestResult) -> list[StatePeriod]:
    """Return the periods spent REDUCING or HALTED, in time order.

    Each period runs from its state change to the next change, or to the last equity
    row for the state the run ended in.
    """
    changes = result.trading_states
    if not changes:
        return []
    end_of_run = int(result.ts[-1]) if len(result.ts) else changes[-1].ts_event
    periods = []
    for change, following in zip(changes, [*changes[1:], None], strict=True):
        if change.state is TradingState.ACTIVE:
            continue
        end = following.ts_event if following is not None else max(end_of_run, change.ts_event)
        periods.append(StatePeriod(change.state, change.ts_event, end, change.reason))
    return periods


def rejection_counts(rejections: tuple[RiskRejection, ...]) -> list[tuple[str, int]]:
    """Return ``(check, count)`` pairs, the most frequent check first (ties by name)."""
    counts = Counter(r.check for r in rejections)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def risk_document(result: BacktestResult) -> dict[str, Any]:
    """Return the run's risk events as strict-JSON data (the content of ``risk.json``)."""
    changes = result.trading_states
    rejections = result.risk_rejections
    change_times = _iso([c.ts_event for c in changes])
    rejection_times = _iso([r.ts_event for r in rejections])
    return {
        "final_state": final_state(result).value,
        "trading_states": [
            _state_record(change, time) for change, time in zip(changes, change_times, strict=True)
        ],
        "rejections_by_check": dict(rejection_counts(rejections)),
        "rejections": [
            _rejection_record(rejection, time)
            for rejection, time in zip(rejections, rejection_times, strict=True)
        ],
    }


def _state_record(change: TradingStateChanged, time: str) -> dict[str, Any]:
    return {
        "time": time,
        "ts_event": change.ts_event,
        "previous": change.previous.value,
        "state": change.state.value,
        "reason": change.reason,
    }


def _rejection_record(rejection: RiskRejection, time: str) -> dict[str, Any]:
    return {
        "time": time,
        "ts_event": rejection.ts_event,
        "client_order_id": rejection.client_order_id,
        "strategy_id": rejection.strategy_id,
        "instrument_id": rejection.instrument_id,
        "check": rejection.check,
        "value": jsonable(float(rejection.value)),
        "limit": jsonable(float(rejection.limit)),
        "message": rejection.message,
    }


def _iso(ts: list[int]) -> list[str]:
    return iso_times(np.array(ts, dtype=np.int64)) if ts else []


# -- the HTML report -----------------------------------------------------------------------
RISK_CSS = """
.qg-alert { margin: 0 0 1rem; padding: .5rem .8rem; border-left: 4px solid; font-size: .9rem;
            background: #fff8f0; }
.qg-alert a { color: inherit; }
section.qg-risk { margin-top: 1.5rem; font-size: .85rem; }
section.qg-risk h2 { font-size: 1.15rem; margin: 0 0 .5rem; }
section.qg-risk h3 { font-size: .95rem; margin: 1rem 0 .4rem; }
table.qg-risk-table { border-collapse: collapse; }
table.qg-risk-table th { text-align: left; padding: .25rem .6rem; border-bottom: 2px solid #c9ced6;
                         white-space: nowrap; }
table.qg-risk-table td { padding: .2rem .6rem; border-bottom: 1px solid #eceff3;
                         vertical-align: top; }
table.qg-risk-table td.qg-value { text-align: right; font-variant-numeric: tabular-nums; }
table.qg-risk-table td.qg-time { white-space: nowrap; font-variant-numeric: tabular-nums; }
.qg-state { font-weight: 600; }
"""


def risk_banner_html(result: BacktestResult) -> str:
    """Return a one-line alert when the run ended REDUCING or HALTED, else ``""``."""
    state = final_state(result)
    if state is TradingState.ACTIVE:
        return ""
    last = result.trading_states[-1]
    color = STATE_COLORS.get(state, "#5a6270")
    when = _iso([last.ts_event])[0]
    return (
        f'<p class="qg-alert" style="border-color: {color}">'
        f'<strong style="color: {color}">Trading {state.value}</strong> from {when}: '
        f'{html.escape(last.reason)} &middot; <a href="#{RISK_SECTION_ID}">Risk details</a></p>'
    )


def risk_section_html(result: BacktestResult) -> str:
    """Return the Risk section: state changes, rejections by check, the first rejections.

    Empty when the run had no risk events.
    """
    if not has_risk_events(result):
        return ""
    parts = [f'<section class="qg-risk" id="{RISK_SECTION_ID}">', "<h2>Risk</h2>"]
    parts.append(_changes_html(result.trading_states))
    parts.append(_rejections_html(result.risk_rejections))
    parts.append("</section>")
    return "\n".join(parts)


def _table(header: tuple[str, ...], rows: list[str], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    return (
        f'<table class="qg-risk-table" id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _state_cell(state: TradingState) -> str:
    color = STATE_COLORS.get(state)
    style = f' style="color: {color}"' if color else ""
    return f'<td class="qg-state"{style}>{state.value}</td>'


def _changes_html(changes: tuple[TradingStateChanged, ...]) -> str:
    if not changes:
        return "<h3>Trading state</h3><p>Trading stayed ACTIVE throughout.</p>"
    times = _iso([c.ts_event for c in changes])
    rows = [
        f'<tr><td class="qg-time">{time}</td>{_state_cell(c.previous)}{_state_cell(c.state)}'
        f"<td>{html.escape(c.reason)}</td></tr>"
        for c, time in zip(changes, times, strict=True)
    ]
    return "<h3>Trading state changes</h3>" + _table(
        ("Time (UTC)", "From", "To", "Reason"), rows, f"{RISK_SECTION_ID}-states"
    )


def _rejections_html(rejections: tuple[RiskRejection, ...]) -> str:
    if not rejections:
        return "<h3>Orders denied by the risk checks</h3><p>None.</p>"
    total = len(rejections)
    counts = rejection_counts(rejections)
    count_rows = [
        f'<tr><td>{html.escape(check)}</td><td class="qg-value">{n:,}</td></tr>'
        for check, n in counts
    ]
    count_rows.append(
        f'<tr><td><strong>total</strong></td><td class="qg-value">{total:,}</td></tr>'
    )
    shown = rejections[:REJECTIONS_LISTED]
    times = _iso([r.ts_event for r in shown])
    rows = []
    for r, time in zip(shown, times, strict=True):
        value, limit = _measure(r)
        rows.append(
            f'<tr><td class="qg-time">{time}</td><td>{html.escape(r.client_order_id)}</td>'
            f"<td>{html.escape(r.instrument_id)}</td><td>{html.escape(r.check)}</td>"
            f'<td class="qg-value">{value}</td><td class="qg-value">{limit}</td>'
            f"<td>{html.escape(r.message)}</td></tr>"
        )
    listed = f"all {total:,}" if len(shown) == total else f"the first {len(shown):,} of {total:,}"
    return (
        f"<h3>Orders denied by the risk checks: {total:,}</h3>"
        + _table(("Check", "Orders"), count_rows, f"{RISK_SECTION_ID}-checks")
        + f"<h3>Denied orders ({listed})</h3>"
        + _table(
            ("Time (UTC)", "Order", "Instrument", "Check", "Value", "Limit", "Message"),
            rows,
            f"{RISK_SECTION_ID}-rejections",
        )
    )


def _measure(rejection: RiskRejection) -> tuple[str, str]:
    """Format a rejection's value and limit; checks without a number show a dash."""
    if rejection.value == 0.0 and rejection.limit == 0.0:
        return MISSING, MISSING
    return _number(rejection.value), _number(rejection.limit)


def _number(value: float) -> str:
    if not math.isfinite(value):
        return MISSING
    if value == round(value) and abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"


# -- the charts ----------------------------------------------------------------------------
def shade_state_periods(figure: Any, result: BacktestResult, rows: tuple[int, ...]) -> None:
    """Shade the REDUCING (amber) and HALTED (red) periods on the given subplot rows.

    The label goes on the first row only, so the shading of the others stays quiet;
    labels of neighbouring periods alternate between two lines, so a short REDUCING
    period just before a halt keeps a readable label.
    """
    for n, period in enumerate(state_periods(result)):
        color = STATE_COLORS.get(period.state)
        if color is None:
            continue
        x0, x1 = _iso([period.start_ns, period.end_ns])
        for k, row in enumerate(rows):
            label: dict[str, Any] = {}
            if k == 0:
                label = {
                    "annotation_text": f"<b>{period.state.value}</b>",
                    "annotation_position": "top left",
                    "annotation_font": {"color": color, "size": 11},
                    "annotation_yshift": -14 * (n % 2),
                }
            figure.add_vrect(
                x0=x0,
                x1=x1,
                fillcolor=color,
                opacity=_SHADE_OPACITY,
                layer="below",
                line_width=0,
                name=f"{period.state.value}: {period.reason}",
                row=row,
                col=1,
                **label,
            )
