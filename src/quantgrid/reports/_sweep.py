"""Write a parameter sweep's results: ranked JSON and a heatmap report."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

if TYPE_CHECKING:
    from quantgrid.backtest import SweepResult


def write_sweep(result: SweepResult, directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``sweep.json`` (every row, best first) and ``report.html`` into ``directory``.

    The report shows the objective as a heatmap when the grid has two parameters, and
    the top rows as a table in every case; it embeds plotly.js and opens offline.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    data = result.to_dict()
    stats_path = out / "sweep.json"
    stats_path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    report_path = out / "report.html"
    report_path.write_text(_html(result, data["rows"]))
    return {"sweep": stats_path, "report": report_path}


def _html(result: SweepResult, rows: list[dict[str, Any]]) -> str:
    metrics = {"equity_final", "return_pct", "max_drawdown_pct", "n_trades", "sharpe"}
    params = [k for k in (rows[0] if rows else {}) if k not in metrics]
    figures = []
    if len(params) == 2 and rows:
        x_name, y_name = params
        xs = sorted({r[x_name] for r in rows})
        ys = sorted({r[y_name] for r in rows})
        grid = [[math.nan] * len(xs) for _ in ys]
        for r in rows:
            value = r[result.objective]
            grid[ys.index(r[y_name])][xs.index(r[x_name])] = math.nan if value is None else value
        heat = go.Figure(
            go.Heatmap(
                z=grid, x=xs, y=ys, colorscale="RdYlGn", colorbar={"title": result.objective}
            )
        )
        heat.update_layout(
            title=f"{result.objective} by {x_name} and {y_name}",
            xaxis_title=x_name,
            yaxis_title=y_name,
            height=560,
        )
        figures.append(heat.to_html(full_html=False, include_plotlyjs=True))
    top = rows[:25]
    keys = list(top[0]) if top else []
    table = go.Figure(
        go.Table(
            header={"values": keys},
            cells={"values": [[_fmt(r[k]) for r in top] for k in keys]},
        )
    )
    table.update_layout(title=f"Top {len(top)} of {len(rows)} by {result.objective}", height=760)
    figures.append(table.to_html(full_html=False, include_plotlyjs=not figures))
    title = f"{result.strategy} sweep: {len(rows):,} combinations over {result.bars:,} bars"
    body = "\n".join(figures)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body style='font-family:sans-serif'><h2>{title}</h2>"
        f"<p>{len(result.skipped)} combinations refused by the strategy; "
        f"{result.seconds:.2f} s.</p>{body}</body></html>"
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.3f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
