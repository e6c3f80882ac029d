"""Result files, the offline HTML report and the console table."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from quantgrid.analytics import STAT_KEYS, Statistics, compute_statistics
from quantgrid.backtest import BacktestResult
from quantgrid.core import NANOS_PER_DAY, ns_to_iso
from quantgrid.model import BarSeries, ClosedTrade
from quantgrid.reports import stats_table, write_results
from quantgrid.reports._downsample import minmax_indices
from quantgrid.reports._format import STAT_GROUPS

START = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000_000_000


def _bars(instrument_id: str, ts: np.ndarray, seed: int) -> BarSeries:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.cumprod(1.0 + rng.normal(0.0, 0.01, len(ts)))
    return BarSeries.from_arrays(
        instrument_id, ts, close, close * 1.005, close * 0.995, close, np.full(len(ts), 1e3)
    )


def _result(
    n: int = 30, step: int = NANOS_PER_DAY, trades_per_instrument: int = 2
) -> BacktestResult:
    ts = START + np.arange(n, dtype=np.int64) * step
    bars = {"AAA": _bars("AAA", ts, 1), "BBB": _bars("BBB", ts, 2)}
    rng = np.random.default_rng(3)
    equity = 10_000.0 * np.cumprod(np.concatenate(([1.0], 1.0 + rng.normal(0, 0.01, n - 1))))
    exposure = np.where(np.arange(n) % 3 == 0, 0.0, 5_000.0)
    trades = []
    for instrument_id, series in bars.items():
        for k in range(trades_per_instrument):
            i, j = (2 * k) % (n - 1), (2 * k) % (n - 1) + 1
            size = 10.0 if k % 2 == 0 else -10.0
            pnl = size * (series.close[j] - series.close[i]) - 1.0
            trades.append(
                ClosedTrade(
                    instrument_id=instrument_id,
                    size=size,
                    entry_ts=int(ts[i]),
                    entry_price=float(series.close[i]),
                    exit_ts=int(ts[j]),
                    exit_price=float(series.close[j]),
                    pnl=float(pnl),
                    return_pct=float(pnl / (abs(size) * series.close[i])),
                    commission=1.0,
                )
            )
    stats = compute_statistics(
        ts,
        equity,
        exposure,
        trades,
        closes={k: v.close for k, v in bars.items()},
        commissions=2.0 * len(trades),
        engine_seconds=0.25,
    )
    return BacktestResult(
        strategy="sma_cross",
        params={"fast": 10, "slow": np.int64(30), "band": math.nan, "levels": (1, 2)},
        instruments=("AAA", "BBB"),
        ts=ts,
        equity=equity,
        cash=equity.copy(),
        gross_exposure=exposure,
        trades=tuple(trades),
        fills=(),
        orders=(),
        stats=stats,
        bars=bars,
        initial_cash=10_000.0,
        engine_seconds=0.25,
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[BacktestResult, dict[str, Path]]:
    result = _result()
    return result, write_results(result, tmp_path_factory.mktemp("run") / "nested" / "out")


def test_every_statistic_has_a_label() -> None:
    assert sorted(row.key for group in STAT_GROUPS for row in group) == sorted(STAT_KEYS)


def test_write_results_creates_the_directory_and_returns_paths(
    written: tuple[BacktestResult, dict[str, Path]],
) -> None:
    _, paths = written
    assert {k: p.name for k, p in paths.items()} == {
        "stats": "stats.json",
        "equity": "equity.csv",
        "trades": "trades.csv",
        "risk": "risk.json",
        "report": "report.html",
    }
    assert all(p.is_file() for p in paths.values())


def test_stats_json_holds_the_run_and_the_statistics(
    written: tuple[BacktestResult, dict[str, Path]],
) -> None:
    result, paths = written
    document = json.loads(paths["stats"].read_text(encoding="utf-8"))
    assert list(document) == ["strategy", "params", "instruments", *STAT_KEYS]
    assert document["strategy"] == "sma_cross"
    assert document["params"] == {"fast": 10, "slow": 30, "band": None, "levels": [1, 2]}
    assert document["instruments"] == ["AAA", "BBB"]
    assert document["start"] == "2024-01-01T00:00:00Z"
    assert document["end"] == ns_to_iso(int(result.ts[-1]))
    assert document["bars"] == 30
    assert document["n_trades"] == 4
    assert document["sharpe"] == pytest.approx(result.stats.sharpe)
    assert document["equity_final"] == result.equity[-1]


def test_equity_csv_round_trips(written: tuple[BacktestResult, dict[str, Path]]) -> None:
    result, paths = written
    with paths["equity"].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["timestamp", "equity", "drawdown"]
    body = rows[1:]
    assert len(body) == len(result.equity)
    assert [r[0] for r in body] == [ns_to_iso(int(t)) for t in result.ts]
    np.testing.assert_array_equal([float(r[1]) for r in body], result.equity)
    dd = np.array([float(r[2]) for r in body])
    assert dd[0] == 0.0
    assert (dd <= 0).all()
    peak = np.maximum.accumulate(result.equity)
    np.testing.assert_allclose(dd, result.equity / peak - 1.0, rtol=0, atol=1e-15)
    assert dd.min() * 100 == pytest.approx(result.stats.max_drawdown_pct)


def test_trades_csv_lists_every_trade(written: tuple[BacktestResult, dict[str, Path]]) -> None:
    result, paths = written
    with paths["trades"].open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == [
            "instrument",
            "size",
            "entry_time",
            "entry_price",
            "exit_time",
            "exit_price",
            "pnl",
            "return_pct",
            "commission",
        ]
        rows = list(reader)
    assert len(rows) == len(result.trades)
    for row, trade in zip(rows, result.trades, strict=True):
        assert row["instrument"] == trade.instrument_id
        assert float(row["size"]) == trade.size
        assert row["entry_time"] == ns_to_iso(trade.entry_ts)
        assert row["exit_time"] == ns_to_iso(trade.exit_ts)
        assert float(row["entry_price"]) == trade.entry_price
        assert float(row["exit_price"]) == trade.exit_price
        assert float(row["pnl"]) == trade.pnl
        assert float(row["return_pct"]) == trade.return_pct
        assert float(row["commission"]) == trade.commission


def test_report_is_offline_and_has_the_charts_and_table(
    written: tuple[BacktestResult, dict[str, Path]],
) -> None:
    _, paths = written
    page = paths["report"].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, flags=re.IGNORECASE)
    assert len(page) > 3_000_000  # plotly.js itself is embedded
    assert 'id="qg-charts"' in page
    assert 'id="qg-stats"' in page
    assert "Plotly.newPlot" in page
    assert "Return [%]" in page
    assert "Max. Drawdown [%]" in page
    assert '"type":"candlestick"' in page
    for title in ("Equity", "Drawdown [%]", "AAA price", "BBB price"):
        assert title in page
    assert "AAA long entries" in page
    assert "BBB short entries" in page
    assert "exits" in page
    # Without risk events nothing about risk shows.
    assert 'id="qg-risk"' not in page
    assert "qg-alert" not in page
    assert "<b>HALTED</b>" not in page  # the label of a shaded period


def test_risk_json_is_empty_without_risk_events(
    written: tuple[BacktestResult, dict[str, Path]],
) -> None:
    _, paths = written
    assert json.loads(paths["risk"].read_text(encoding="utf-8")) == {
        "final_state": "ACTIVE",
        "trading_states": [],
        "rejections_by_check": {},
        "rejections": [],
    }


def test_long_runs_are_downsampled_in_the_report(tmp_path: Path) -> None:
    result = _result(n=40_000, step=MINUTE, trades_per_instrument=6_000)
    paths = write_results(result, tmp_path)
    page = paths["report"].read_text(encoding="utf-8")
    assert '"type":"candlestick"' not in page
    assert "AAA close" in page
    assert "(5,000 of 6,000)" in page
    # plotly.js is ~4.7 MB; the data of 40k bars must add well under that.
    assert len(page) < 7_000_000
    assert paths["equity"].read_text(encoding="utf-8").count("\n") == 40_001


def test_minmax_downsampling_keeps_extremes_and_ends() -> None:
    rng = np.random.default_rng(0)
    values = np.cumsum(rng.normal(size=100_003))
    keep = minmax_indices(values, 1_000)
    assert len(keep) <= 1_000
    assert (np.diff(keep) > 0).all()
    assert keep[0] == 0
    assert keep[-1] == len(values) - 1
    assert np.argmin(values) in keep
    assert np.argmax(values) in keep
    np.testing.assert_array_equal(minmax_indices(values[:50], 1_000), np.arange(50))


def _render(stats: Statistics) -> str:
    console = Console(file=io.StringIO(), record=True, width=100, color_system=None)
    console.print(stats_table(stats, title="Run 1"))
    return console.export_text()


def test_stats_table_renders_labels_units_and_formats() -> None:
    text = _render(_result().stats)
    assert "Run 1" in text
    for label in (
        "Return [%]",
        "Equity Final [$]",
        "Max. Drawdown Duration [days]",
        "Engine Time [s]",
        "Sharpe Ratio",
        "# Trades",
    ):
        assert label in text
    assert "2024-01-01T00:00:00Z" in text
    assert re.search(r"Equity Final \[\$\]\s*│\s*\d{1,3}(,\d{3})+\.\d\d", text)
    assert re.search(r"Return \[%\]\s*│\s*[+-]\d", text)


def test_stats_table_shows_undefined_values_as_a_dash() -> None:
    ts = START + np.arange(3, dtype=np.int64) * NANOS_PER_DAY
    stats = compute_statistics(
        ts,
        np.array([1_000_000.0, 1_000_000.0, 1_234_567.0]),
        np.zeros(3),
        [],
        closes={},
        commissions=0.0,
        engine_seconds=0.0,
    )
    text = _render(stats)
    assert re.search(r"Win Rate \[%\]\s*│\s*—", text)
    assert re.search(r"Buy & Hold Return \[%\]\s*│\s*—", text)
    assert "1,234,567.00" in text
    assert "+23.46" in text  # return, signed
    assert "nan" not in text.lower()
