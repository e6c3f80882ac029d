"""The command line, run in-process with real files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from quantgrid.backtest import BacktestConfig, run_backtest
from quantgrid.cli import app
from quantgrid.core import NANOS_PER_DAY
from quantgrid.data import load_bars, write_bars
from quantgrid.strategy import SmaCross
from tests.conftest import make_bars

runner = CliRunner()

REQUIRED_KEYS = (  # what the issue asks --json to print, at least
    "start",
    "end",
    "bars",
    "exposure_pct",
    "equity_final",
    "equity_peak",
    "return_pct",
    "buy_hold_return_pct",
    "return_ann_pct",
    "volatility_ann_pct",
    "cagr_pct",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown_pct",
    "avg_drawdown_pct",
    "max_drawdown_duration_days",
    "n_trades",
    "win_rate_pct",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_trade_pct",
    "profit_factor",
    "expectancy_pct",
    "sqn",
    "kelly",
    "commissions",
    "engine_seconds",
)


def test_backtest_json_has_every_statistic_and_matches_the_api(goog_csv: Path) -> None:
    args = ["backtest", "sma_cross", "--data", str(goog_csv), "--param", "fast=10"]
    args += ["--param", "slow=20", "--cash", "10000", "--commission", "0.002", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert [k for k in REQUIRED_KEYS if k not in stats] == []
    api = run_backtest(
        SmaCross,
        load_bars(goog_csv),
        {"fast": 10, "slow": 20},
        BacktestConfig(initial_cash=10_000, commission=0.002),
    )
    assert stats["n_trades"] == api.stats.n_trades
    assert stats["equity_final"] == pytest.approx(api.stats.equity_final)
    assert stats["max_drawdown_pct"] < 0
    assert stats["start"] == "2004-08-19T00:00:00Z"
    assert stats["params"] == {"fast": 10, "slow": 20, "size": None}


def test_backtest_output_writes_the_five_files(goog_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["backtest", "ema_cross", "--data", f"GOOG={goog_csv}", "--param", "size=10"]
    result = runner.invoke(app, [*args, "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "equity.csv",
        "report.html",
        "risk.json",
        "stats.json",
        "trades.csv",
    ]
    assert "Sharpe Ratio" in result.stdout
    assert json.loads((out / "stats.json").read_text())["instruments"] == ["GOOG"]
    lines = (out / "trades.csv").read_text().splitlines()
    assert lines[0].startswith("instrument,size,entry_time,entry_price,exit_time")
    assert lines[1].startswith("GOOG,")


def test_strategy_from_a_file(tmp_path: Path, goog_csv: Path) -> None:
    source = tmp_path / "mine.py"
    source.write_text(
        "from quantgrid.strategy import Strategy\n"
        "class Hold(Strategy):\n"
        "    name = 'hold'\n"
        "    def on_bar(self, bar):\n"
        "        if self.position() == 0:\n"
        "            self.buy(1)\n"
    )
    result = runner.invoke(app, ["backtest", f"{source}:Hold", "--data", str(goog_csv), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_trades"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sma_cross", "--param", "fast=30", "--param", "slow=20"], "fast (30) must be smaller"),
        (["sma_cross", "--param", "fast=0"], "parameter 'fast'"),
        (["sma_cross", "--param", "speed=3"], "parameter 'speed': Extra inputs"),
        (["sma_cross", "--param", "fast"], "expected NAME=VALUE"),
        (["no_such_strategy"], "unknown strategy 'no_such_strategy'"),
        (["missing.py:Thing"], "strategy file 'missing.py' does not exist"),
        (["sma_cross", "--commission", "2"], "commission must be a fraction"),
        (["sma_cross", "--halt-at-drawdown", "1.5"], "--halt-at-drawdown must be a fraction"),
        (
            ["sma_cross", "--reduce-at-drawdown", "0.2", "--halt-at-drawdown", "0.1"],
            "--reduce-at-drawdown (0.2) must be below --halt-at-drawdown (0.1)",
        ),
        (["sma_cross", "--reduce-at-drawdown", "nan"], "--reduce-at-drawdown must be positive"),
        (["sma_cross", "--max-position", "-1"], "--max-position must be positive and finite"),
        (["sma_cross", "--max-order-notional", "0"], "--max-order-notional must be positive"),
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(
    goog_csv: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["backtest", args[0], "--data", str(goog_csv), *args[1:]])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_bad_data_names_the_file_the_row_and_the_rule(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02,10,11,9,10.5,100\n"
        "2024-01-03,10,9,11,10.5,100\n"
    )
    result = runner.invoke(app, ["backtest", "sma_cross", "--data", str(bad)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "bad.csv: row 2: high_below_low" in text
    missing = runner.invoke(app, ["backtest", "sma_cross", "--data", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    assert "does not exist" in missing.output


def test_synth_writes_bars_and_regimes(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["synth", "--output", str(tmp_path), "--bars", "500", "--instruments", "A,B"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A.csv", "B.csv", "regimes.csv"]
    assert len(load_bars(tmp_path / "A.csv")) == 500


def test_demo_runs_and_says_where_results_went(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--output", str(tmp_path), "--bars", "2000"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").exists()
    assert str(tmp_path / "stats.json") in " ".join(result.stdout.split())


def test_strategies_lists_builtins_and_parameters() -> None:
    result = runner.invoke(app, ["strategies"])
    assert result.exit_code == 0
    for name in ("sma_cross", "ema_cross", "rsi_mean_reversion", "fast", "slow", "size"):
        assert name in result.stdout


def test_output_that_cannot_be_written_is_one_line(goog_csv: Path, tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("x")
    result = runner.invoke(
        app, ["backtest", "sma_cross", "--data", str(goog_csv), "--output", str(taken)]
    )
    assert result.exit_code == 2
    assert "a-file" in result.output
    assert "Traceback" not in result.output


def test_orders_the_venue_refused_are_reported(goog_csv: Path) -> None:
    args = ["backtest", "sma_cross", "--data", str(goog_csv), "--param", "size=1000"]
    result = runner.invoke(app, [*args, "--cash", "10000", "--json"])
    assert result.exit_code == 0
    assert "orders were rejected or cancelled by the venue" in result.stderr
    assert "insufficient buying power" in result.stderr


ALL_IN = """
from quantgrid.strategy import Strategy

class AllIn(Strategy):
    name = "all_in"

    def on_bar(self, bar):
        if self.open_orders():
            return
        if self.position() == 0:
            self.buy(cash_fraction=0.9)
        else:
            self.buy(1)
"""


@pytest.fixture
def falling(tmp_path: Path) -> tuple[Path, Path]:
    """Return a strategy file that buys all in and keeps adding, and bars that fall 30 %."""
    closes = np.round(np.linspace(100.0, 70.0, 61), 2)
    bars = tmp_path / "FALL.csv"
    write_bars(make_bars(closes, "FALL", step_ns=NANOS_PER_DAY), bars)
    source = tmp_path / "all_in.py"
    source.write_text(ALL_IN)
    return source, bars


def test_risk_options_halt_the_run_and_say_when_and_why(
    falling: tuple[Path, Path], tmp_path: Path
) -> None:
    source, bars = falling
    out = tmp_path / "run"
    args = ["backtest", f"{source}:AllIn", "--data", str(bars), "--output", str(out)]
    args += ["--reduce-at-drawdown", "0.05", "--halt-at-drawdown", "0.1", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    warning = " ".join(result.stderr.split())
    risk = json.loads((out / "risk.json").read_text())
    assert risk["final_state"] == "HALTED"
    halt = risk["trading_states"][-1]
    assert (
        f"warning: trading HALTED from {halt['time']} to the end (no order passed): "
        f"{halt['reason']};"
    ) in warning
    by_check = risk["rejections_by_check"]
    assert f"orders denied by the risk checks (halted {by_check['halted']:,}, reducing" in warning
    # Risk denials are not the venue's doing.
    assert "by the venue" not in warning
    assert json.loads(result.stdout)["strategy"] == "all_in"


def test_a_run_that_ends_reducing_says_so(falling: tuple[Path, Path]) -> None:
    source, bars = falling
    args = ["backtest", f"{source}:AllIn", "--data", str(bars), "--reduce-at-drawdown", "0.05"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    warning = " ".join(result.stderr.split())
    assert "warning: trading REDUCING from 2024-" in warning
    assert "to the end (only orders that shrink a position passed): drawdown 5." in warning
    assert "orders denied by the risk checks (reducing " in warning


def test_risk_limits_without_a_breach_say_what_was_denied(falling: tuple[Path, Path]) -> None:
    source, bars = falling
    args = ["backtest", f"{source}:AllIn", "--data", str(bars), "--max-position", "10"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    warning = " ".join(result.stderr.split())
    # The all-in order (about 900 units) breaks the limit on every bar.
    assert "warning: 61 orders denied by the risk checks (max_position 61)" in warning
    assert "to the end" not in warning
    unlimited = runner.invoke(app, ["backtest", f"{source}:AllIn", "--data", str(bars), "--json"])
    assert unlimited.exit_code == 0, unlimited.output
    assert "risk checks" not in unlimited.stderr


PEEKER = """
import numpy as np
from quantgrid.strategy import Strategy

class Peeker(Strategy):
    name = "peeker"

    def on_data(self, bars):
        close = next(iter(bars.values())).close
        self.up_next = np.append(close[1:] > close[:-1], False)

    def on_start(self):
        self.i = -1

    def on_bar(self, bar):
        self.i += 1
        wanted = 1 if self.up_next[self.i] else -1
        if np.sign(self.position()) != wanted:
            self.close()
            (self.buy if wanted > 0 else self.sell)(1)
"""


def test_check_lookahead_flags_a_peeking_strategy(goog_csv: Path, tmp_path: Path) -> None:
    source = tmp_path / "peek.py"
    source.write_text(PEEKER)
    result = runner.invoke(app, ["check-lookahead", f"{source}:Peeker", "--data", str(goog_csv)])
    assert result.exit_code == 1
    assert "lookahead found" in result.stdout
    assert "decided at" in result.stdout
    honest = runner.invoke(app, ["check-lookahead", "sma_cross", "--data", str(goog_csv)])
    assert honest.exit_code == 0, honest.output
    assert "no lookahead" in honest.stdout


def test_regime_labels_every_bar_of_every_instrument(tmp_path: Path) -> None:
    runner.invoke(
        app, ["synth", "--output", str(tmp_path), "--bars", "600", "--instruments", "A,B"]
    )
    out = tmp_path / "labels" / "regimes.csv"
    args = ["regime", "--data", str(tmp_path / "A.csv"), "--data", str(tmp_path / "B.csv")]
    result = runner.invoke(app, [*args, "--output", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0].startswith("timestamp,instrument,regime,confidence,natr,adx,choppiness")
    assert len(lines) == 1 + 2 * 600
    assert {line.split(",")[2] for line in lines[1:]} <= {
        "TRENDING", "RANGING", "CHOPPY", "CRISIS", "UNKNOWN"
    }  # fmt: skip
    assert "1,200 bars labelled" in " ".join(result.stdout.split())


def test_strategies_lists_regime_switch() -> None:
    assert "regime_switch" in runner.invoke(app, ["strategies"]).stdout
