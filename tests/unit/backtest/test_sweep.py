"""Parameter sweeps: each row equals a full backtest of its pair."""

from __future__ import annotations

import numpy as np
import pytest

from quantgrid.backtest import BacktestConfig, run_backtest, sweep_crosses
from quantgrid.strategy import EmaCross, SmaCross
from quantgrid.venues import PercentCommission
from tests.conftest import make_bars, random_walk

BARS = make_bars(random_walk(4_000, 21, vol=0.003), step_ns=3_600_000_000_000)


@pytest.mark.parametrize("size", [None, 25.0])
@pytest.mark.parametrize(
    ("average", "strategy"), [("ema", EmaCross), ("sma", SmaCross)], ids=["ema", "sma"]
)
@pytest.mark.parametrize("commission", [0.0, PercentCommission(0.0005, minimum=1.0)])
def test_every_row_equals_the_event_driven_backtest(
    average: str, strategy: type, size: float | None, commission: object
) -> None:
    config = BacktestConfig(initial_cash=20_000.0, commission=commission)  # type: ignore[arg-type]
    result = sweep_crosses(BARS, [3, 5, 8], [5, 13, 21], average=average, size=size, config=config)
    assert len(result.rows) == 7  # 9 pairs less the refused (5, 5) and (8, 5)
    assert result.skipped == ({"fast": 5, "slow": 5}, {"fast": 8, "slow": 5})
    for row in result.rows:
        full = run_backtest(strategy, BARS, {"fast": row["fast"], "slow": row["slow"],
                                             "size": size}, config).stats  # fmt: skip
        assert row["n_trades"] == full.n_trades
        assert row["equity_final"] == full.equity_final
        assert row["return_pct"] == pytest.approx(full.return_pct, rel=1e-12)
        assert row["max_drawdown_pct"] == pytest.approx(full.max_drawdown_pct, rel=1e-12)
        assert row["sharpe"] == pytest.approx(full.sharpe, rel=1e-9)


def test_rows_are_ranked_and_refused_pairs_listed() -> None:
    result = sweep_crosses(BARS, [5, 10, 20], [10, 20], objective="return_pct")
    returns = [r["return_pct"] for r in result.rows]
    assert returns == sorted(returns, reverse=True)
    assert {(s["fast"], s["slow"]) for s in result.skipped} == {(10, 10), (20, 10), (20, 20)}
    assert result.best == result.rows[0]
    data = result.to_dict()
    assert data["combinations"] == 3
    assert data["skipped"] == 3


def test_one_thread_and_two_give_the_same_rows() -> None:
    one = sweep_crosses(BARS, list(range(3, 10)), list(range(10, 20)), jobs=1)
    two = sweep_crosses(BARS, list(range(3, 10)), list(range(10, 20)), jobs=2)
    assert one.rows == two.rows


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"average": "wma"}, "average must be 'ema' or 'sma'"),
        ({"objective": "luck"}, "objective must be one of"),
        ({"fast": [0, 5]}, "fast values must be whole numbers >= 1"),
        ({"fast": [30], "slow": [10]}, "no \\(fast, slow\\) pair"),
        ({"jobs": 0}, "jobs must be >= 1"),
        ({"size": 0.0}, "size must be a positive number"),
    ],
)
def test_bad_grids_are_refused(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"fast": [5], "slow": [10], **kwargs}
    with pytest.raises(ValueError, match=message):
        sweep_crosses(BARS, **args)  # type: ignore[arg-type]


def test_memory_does_not_grow_with_pairs() -> None:
    # 1,225 pairs over 4,000 bars: the result holds rows, not curves.
    result = sweep_crosses(BARS, list(range(2, 51)), list(range(2, 51)))
    assert len(result.rows) == 49 * 48 // 2
    assert np.isfinite([r["equity_final"] for r in result.rows]).all()


def test_overfitting_figures_come_from_every_pairs_daily_returns() -> None:
    from quantgrid.analytics import daily_returns, overfitting_diagnostics

    result = sweep_crosses(BARS, [3, 5, 8], [13, 21, 34], average="sma", size=10.0)
    columns = []
    for row in result.rows:
        full = run_backtest(SmaCross, BARS, {"fast": row["fast"], "slow": row["slow"],
                                             "size": 10.0})  # fmt: skip
        columns.append(daily_returns(full.ts, full.equity)[1])
    expected = np.column_stack(columns)
    np.testing.assert_allclose(result.daily_returns, expected, rtol=1e-12, atol=1e-15)
    dsr, pbo = overfitting_diagnostics(expected, 0)
    assert result.deflated_sharpe == pytest.approx(dsr, rel=1e-9)
    assert result.pbo == pytest.approx(pbo)
    assert 0.0 <= result.pbo <= 1.0
    assert 0.0 <= result.deflated_sharpe <= 1.0
    data = result.to_dict()
    assert data["pbo"] == result.pbo
