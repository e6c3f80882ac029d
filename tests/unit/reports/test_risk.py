"""The reports show risk: a backtest the drawdown breaker halts, in HTML and risk.json."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from quantgrid.backtest import BacktestConfig, BacktestResult, run_backtest
from quantgrid.core import ns_to_iso
from quantgrid.model import Bar, OrderStatus
from quantgrid.reports import write_results
from quantgrid.reports._risk import STATE_COLORS, state_periods
from quantgrid.risk import RiskConfig, TradingState, TradingStateChanged
from quantgrid.strategy import Strategy
from tests.conftest import make_bars, random_walk

HOUR = 3_600_000_000_000


class AllIn(Strategy):
    """Goes 95 % long, then tries to add a unit on every bar."""

    name: ClassVar[str] = "all_in"

    def on_bar(self, bar: Bar) -> None:
        if self.open_orders():
            return
        if self.position() == 0:
            self.buy(cash_fraction=0.95)
        else:
            self.buy(1)


def _closes() -> np.ndarray:
    """Sixty quiet hours, a 30 % fall over sixty more, then a rebound."""
    quiet = random_walk(60, seed=3, vol=0.004)
    fall = np.round(np.linspace(quiet[-1], quiet[-1] * 0.7, 60), 2)
    rebound = np.round(fall[-1] * np.exp(np.cumsum(np.full(60, 0.003))), 2)
    return np.concatenate([quiet, fall[1:], rebound])


@pytest.fixture(scope="module")
def halted(tmp_path_factory: pytest.TempPathFactory) -> tuple[BacktestResult, dict[str, Path]]:
    risk = RiskConfig(reduce_at_drawdown=0.05, halt_at_drawdown=0.10)
    result = run_backtest(
        AllIn(), make_bars(_closes(), "XYZ", step_ns=HOUR), config=BacktestConfig(risk=risk)
    )
    return result, write_results(result, tmp_path_factory.mktemp("halted"))


def _figure_json(page: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return the data and layout the page hands to ``Plotly.newPlot``."""
    call = re.search(r'Plotly\.newPlot\(\s*"qg-charts",\s*', page)
    assert call is not None
    decoder = json.JSONDecoder()
    at = call.end()
    data, end = decoder.raw_decode(page, at)
    layout, _ = decoder.raw_decode(page, page.index("{", end))
    return data, layout


def test_the_drawdown_breaker_halts_and_denies_every_later_order(
    halted: tuple[BacktestResult, dict[str, Path]],
) -> None:
    result, _ = halted
    assert [(s.previous, s.state) for s in result.trading_states] == [
        (TradingState.ACTIVE, TradingState.REDUCING),
        (TradingState.REDUCING, TradingState.HALTED),
    ]
    halt = result.trading_states[-1]
    assert halt.reason.startswith("drawdown 10.")
    later = [o for o in result.orders if o.strategy_id == "all_in" and o.ts_init >= halt.ts_event]
    assert len(later) > 50
    assert all(o.status is OrderStatus.DENIED for o in later)
    halted_checks = [r for r in result.risk_rejections if r.check == "halted"]
    assert len(halted_checks) == len(later)
    assert all(r.ts_event >= halt.ts_event for r in halted_checks)


def test_the_report_has_the_risk_section_with_the_halt(
    halted: tuple[BacktestResult, dict[str, Path]],
) -> None:
    result, paths = halted
    page = paths["report"].read_text(encoding="utf-8")
    halt = result.trading_states[-1]
    assert 'id="qg-risk"' in page
    section = page[page.index('id="qg-risk"') :]
    assert "<h2>Risk</h2>" in section
    row = f'<tr><td class="qg-time">{ns_to_iso(halt.ts_event)}</td>'
    assert row in section
    halted_row = section[section.index(row) : section.index("</tr>", section.index(row))]
    assert ">REDUCING</td>" in halted_row
    assert ">HALTED</td>" in halted_row
    assert html.escape(halt.reason) in halted_row
    # Counted by check, and the first twenty listed.
    counts = {"halted": 0, "reducing": 0}
    for rejection in result.risk_rejections:
        counts[rejection.check] += 1
    assert f"Orders denied by the risk checks: {len(result.risk_rejections):,}" in section
    for check, n in counts.items():
        assert f'<tr><td>{check}</td><td class="qg-value">{n:,}</td></tr>' in section
    listed = section[section.index('id="qg-risk-rejections"') :]
    assert listed.count("<tr><td") == 20
    assert result.risk_rejections[0].client_order_id in listed
    assert result.risk_rejections[20].client_order_id not in listed
    # The alert under the title says trading stopped, and when.
    assert f"Trading HALTED</strong> from {ns_to_iso(halt.ts_event)}" in page


def test_the_charts_shade_the_reducing_and_halted_periods(
    halted: tuple[BacktestResult, dict[str, Path]],
) -> None:
    result, paths = halted
    _, layout = _figure_json(paths["report"].read_text(encoding="utf-8"))
    reducing, halt = result.trading_states
    end = ns_to_iso(int(result.ts[-1]))
    shaded = {
        (s["fillcolor"], s["x0"], s["x1"], s["xref"])
        for s in layout["shapes"]
        if s["type"] == "rect" and s["yref"].endswith("domain")
    }
    expected = set()
    for xref in ("x", "x2"):  # the equity and the drawdown chart
        expected.add(
            (
                STATE_COLORS[TradingState.REDUCING],
                ns_to_iso(reducing.ts_event),
                ns_to_iso(halt.ts_event),
                xref,
            )
        )
        expected.add((STATE_COLORS[TradingState.HALTED], ns_to_iso(halt.ts_event), end, xref))
    assert shaded == expected
    labels = {a["text"]: a for a in layout["annotations"] if "<b>" in a["text"]}
    assert set(labels) == {"<b>REDUCING</b>", "<b>HALTED</b>"}
    assert labels["<b>HALTED</b>"]["font"]["color"] == STATE_COLORS[TradingState.HALTED]


def test_risk_json_holds_the_states_and_rejections(
    halted: tuple[BacktestResult, dict[str, Path]],
) -> None:
    result, paths = halted
    assert paths["risk"].name == "risk.json"
    document = json.loads(paths["risk"].read_text(encoding="utf-8"))
    assert list(document) == ["final_state", "trading_states", "rejections_by_check", "rejections"]
    assert document["final_state"] == "HALTED"
    assert document["trading_states"] == [
        {
            "time": ns_to_iso(s.ts_event),
            "ts_event": s.ts_event,
            "previous": s.previous.value,
            "state": s.state.value,
            "reason": s.reason,
        }
        for s in result.trading_states
    ]
    rejections = document["rejections"]
    assert len(rejections) == len(result.risk_rejections)
    assert sum(document["rejections_by_check"].values()) == len(rejections)
    assert list(document["rejections_by_check"]) == ["halted", "reducing"]  # most first
    for record, rejection in zip(rejections, result.risk_rejections, strict=True):
        assert record == {
            "time": ns_to_iso(rejection.ts_event),
            "ts_event": rejection.ts_event,
            "client_order_id": rejection.client_order_id,
            "strategy_id": "all_in",
            "instrument_id": "XYZ",
            "check": rejection.check,
            "value": rejection.value,
            "limit": rejection.limit,
            "message": rejection.message,
        }


def test_a_resumed_run_shades_only_the_halt_and_shows_no_alert(
    halted: tuple[BacktestResult, dict[str, Path]], tmp_path: Path
) -> None:
    result, _ = halted
    ts = result.ts
    changes = (
        TradingStateChanged(TradingState.ACTIVE, TradingState.HALTED, "kill switch: x", int(ts[5])),
        TradingStateChanged(TradingState.HALTED, TradingState.ACTIVE, "resumed", int(ts[9])),
    )
    resumed = replace(result, trading_states=changes, risk_rejections=())
    periods = state_periods(resumed)
    assert [(p.state, p.start_ns, p.end_ns) for p in periods] == [
        (TradingState.HALTED, int(ts[5]), int(ts[9]))
    ]
    paths = write_results(resumed, tmp_path)
    page = paths["report"].read_text(encoding="utf-8")
    assert 'id="qg-risk"' in page
    assert "qg-alert" not in page.split("<body>")[1]
    assert "<p>None.</p>" in page  # no rejections
    document = json.loads(paths["risk"].read_text(encoding="utf-8"))
    assert document["final_state"] == "ACTIVE"
    assert document["rejections"] == []
    _, layout = _figure_json(page)
    assert len(layout["shapes"]) == 2  # HALTED on the equity and the drawdown chart
