"""The self-contained HTML report: Plotly charts and the statistics table, offline."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from quantgrid.analytics import drawdown
from quantgrid.model import BarSeries, ClosedTrade
from quantgrid.reports._downsample import MAX_POINTS, even_indices, minmax_indices
from quantgrid.reports._format import formatted_groups, iso_times, jsonable
from quantgrid.reports._risk import (
    RISK_CSS,
    has_risk_events,
    risk_banner_html,
    risk_section_html,
    shade_state_periods,
)

if TYPE_CHECKING:
    from quantgrid.backtest import BacktestResult

CHART_DIV_ID = "qg-charts"
STATS_TABLE_ID = "qg-stats"

_UP, _DOWN, _LINE = "#26a69a", "#ef5350", "#1f77b4"
_TRADE_HOVER = (
    "%{x}<br>price %{y:,.6~f}<br>size %{customdata[0]:,.6~f}<br>"
    "P&L %{customdata[1]:+,.2f} (%{customdata[2]:+.2f}%)<extra>%{fullData.name}</extra>"
)
# Panel heights in pixels: equity, drawdown, then one per instrument.
_EQUITY_PX, _DRAWDOWN_PX, _PRICE_PX, _GAP_PX = 320, 170, 340, 48

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem;
       color: #1d2330; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
.qg-meta { color: #5a6270; margin: 0 0 1rem; font-size: .9rem; }
.qg-layout { display: flex; gap: 1.5rem; align-items: flex-start; }
.qg-layout > table { flex: 0 0 auto; }
.qg-layout > div { flex: 1 1 auto; min-width: 0; }
table.qg-stats { border-collapse: collapse; font-size: .85rem; }
table.qg-stats td { padding: .2rem .6rem; border-bottom: 1px solid #eceff3; }
table.qg-stats td.qg-value { text-align: right; font-variant-numeric: tabular-nums; }
table.qg-stats tbody + tbody tr:first-child td { border-top: 2px solid #c9ced6; }
@media (max-width: 1100px) { .qg-layout { flex-direction: column; } }
"""


def render_report(result: BacktestResult) -> str:
    """Return the report as one HTML document that embeds plotly.js (no network).

    Notes
    -----
    A run with trading-state changes or risk rejections also gets a Risk section
    (``id="qg-risk"``), an alert under the title when it ended REDUCING or HALTED, and
    those periods shaded on the equity and drawdown charts (amber and red).
    """
    figure = _figure(result)
    charts = figure.to_html(
        full_html=False,
        include_plotlyjs=True,
        div_id=CHART_DIV_ID,
        config={"displaylogo": False, "responsive": True},
    )
    title = html.escape(result.strategy)
    params = html.escape(json.dumps(jsonable(result.params), sort_keys=True))
    instruments = html.escape(", ".join(result.instruments))
    css, banner, risk = _CSS, "", ""
    if has_risk_events(result):
        css += RISK_CSS
        banner = risk_banner_html(result)  # empty unless the run ended REDUCING or HALTED
        banner += "\n" if banner else ""
        risk = risk_section_html(result) + "\n"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>QuantGrid report: {title}</title>\n<style>{css}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n"
        f'<p class="qg-meta">Instruments: {instruments} &middot; Parameters: {params}'
        " &middot; Times in UTC</p>\n"
        f"{banner}"
        f'<div class="qg-layout">\n{_stats_html(result)}\n{charts}\n</div>\n'
        f"{risk}"
        "</body>\n</html>\n"
    )


def _stats_html(result: BacktestResult) -> str:
    bodies = []
    for group in formatted_groups(result.stats):
        rows = "".join(
            f'<tr><td>{html.escape(label)}</td><td class="qg-value">{html.escape(value)}</td></tr>'
            for label, value in group
        )
        bodies.append(f"<tbody>{rows}</tbody>")
    return f'<table class="qg-stats" id="{STATS_TABLE_ID}">{"".join(bodies)}</table>'


def _figure(result: BacktestResult) -> Any:
    priced = [i for i in result.instruments if i in result.bars]
    heights = [_EQUITY_PX, _DRAWDOWN_PX] + [_PRICE_PX] * len(priced)
    rows = len(heights)
    total = sum(heights) + _GAP_PX * (rows - 1)
    figure = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=_GAP_PX / total,
        row_heights=heights,
        subplot_titles=["Equity", "Drawdown [%]", *(f"{i} price" for i in priced)],
    )
    _add_equity(figure, result)
    shade_state_periods(figure, result, rows=(1, 2))
    for row, instrument_id in enumerate(priced, start=3):
        trades = [t for t in result.trades if t.instrument_id == instrument_id]
        _add_price(figure, row, result.bars[instrument_id], trades)
    figure.update_xaxes(rangeslider_visible=False, type="date")
    figure.update_layout(
        height=total + 80,  # the margins below; spacing is a fraction of the rest
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
        hovermode="x",
        template="plotly_white",
    )
    return figure


def _add_equity(figure: Any, result: BacktestResult) -> None:
    equity = np.asarray(result.equity, dtype=np.float64)
    keep = minmax_indices(equity)
    figure.add_trace(
        go.Scatter(
            x=iso_times(result.ts[keep]),
            y=equity[keep],
            mode="lines",
            name="Equity",
            line={"color": _LINE, "width": 1.5},
        ),
        row=1,
        col=1,
    )
    dd = drawdown(equity) * 100.0
    keep = minmax_indices(dd)
    figure.add_trace(
        go.Scatter(
            x=iso_times(result.ts[keep]),
            y=dd[keep],
            mode="lines",
            name="Drawdown",
            fill="tozeroy",
            line={"color": _DOWN, "width": 1},
        ),
        row=2,
        col=1,
    )


def _add_price(figure: Any, row: int, bars: BarSeries, trades: list[ClosedTrade]) -> None:
    name = bars.instrument_id
    if len(bars) <= MAX_POINTS:
        price: Any = go.Candlestick(
            x=iso_times(bars.ts),
            open=bars.open,
            high=bars.high,
            low=bars.low,
            close=bars.close,
            name=name,
            legendgroup=name,
            increasing_line_color=_UP,
            decreasing_line_color=_DOWN,
        )
    else:
        # Candles stop being readable (and the file balloons) past a few thousand bars.
        keep = minmax_indices(bars.close)
        price = go.Scatter(
            x=iso_times(bars.ts[keep]),
            y=bars.close[keep],
            mode="lines",
            name=f"{name} close",
            legendgroup=name,
            line={"color": "#444", "width": 1},
        )
    figure.add_trace(price, row=row, col=1)
    if not trades:
        return
    sample = [trades[i] for i in even_indices(len(trades))]
    suffix = "" if len(sample) == len(trades) else f" ({len(sample):,} of {len(trades):,})"
    size = np.array([t.size for t in sample])
    pnl = np.array([t.pnl for t in sample])
    # Numbers in customdata (sent as packed binary) and a hover template keep the file
    # far smaller than one hover string per marker.
    custom = np.column_stack([np.abs(size), pnl, [t.return_pct * 100.0 for t in sample]])
    entry_ts = np.array([t.entry_ts for t in sample], dtype=np.int64)
    entry_px = np.array([t.entry_price for t in sample])
    exit_ts = np.array([t.exit_ts for t in sample], dtype=np.int64)
    exit_px = np.array([t.exit_price for t in sample])
    long, win = size > 0, pnl > 0
    for label, ts, px, mask, symbol, color in (
        ("long entries", entry_ts, entry_px, long, "triangle-up", _UP),
        ("short entries", entry_ts, entry_px, ~long, "triangle-down", _DOWN),
        ("winning exits", exit_ts, exit_px, win, "x", _UP),
        ("losing exits", exit_ts, exit_px, ~win, "x", _DOWN),
    ):
        if not mask.any():
            continue
        figure.add_trace(
            go.Scatter(
                x=iso_times(ts[mask]),
                y=px[mask],
                customdata=custom[mask],
                mode="markers",
                name=f"{name} {label}{suffix}",
                legendgroup=name,
                marker={"symbol": symbol, "color": color, "size": 8, "line": {"width": 0.5}},
                hovertemplate=_TRADE_HOVER,
            ),
            row=row,
            col=1,
        )
