"""The regime_switch built-in: loads by name, validates, stays flat in CHOPPY and CRISIS."""

from __future__ import annotations

import numpy as np
import pytest

from quantgrid.backtest import run_backtest
from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.model import Bar, Regime
from quantgrid.regime import RegimeDetector, RegimeSwitch, RegimeSwitchParams
from quantgrid.strategy import StrategyParameterError, load_strategy

FLAT = (int(Regime.CHOPPY), int(Regime.CRISIS), -1)


class Recording(RegimeSwitch):
    """Notes the position each instrument holds as each bar arrives (after its fills)."""

    def on_start(self) -> None:
        super().on_start()
        self.held: dict[str, list[float]] = {iid: [] for iid in self.instruments}

    def on_bar(self, bar: Bar) -> None:
        self.held[bar.instrument_id].append(self.position(bar.instrument_id))
        super().on_bar(bar)


def test_loads_by_name() -> None:
    assert load_strategy("regime_switch") is RegimeSwitch


def test_params_are_validated() -> None:
    with pytest.raises(StrategyParameterError, match="fast"):
        RegimeSwitch({"fast": 30, "slow": 10})
    with pytest.raises(StrategyParameterError, match="lower < exit < upper"):
        RegimeSwitch({"lower": 60, "exit": 50})
    with pytest.raises(StrategyParameterError, match="min_confidence"):
        RegimeSwitch({"min_confidence": 1.5})
    assert isinstance(RegimeSwitch().params, RegimeSwitchParams)


def test_flat_in_choppy_and_crisis_and_runs_through_run_backtest() -> None:
    market = generate_market(SyntheticConfig(bars=4_000), 2_024)
    strategy = Recording({"min_confidence": 0.0})
    result = run_backtest(strategy, list(market.bars.values()))
    assert result is not None
    frames = RegimeDetector().detect(market.bars)
    traded = 0
    for iid, frame in frames.items():
        held = np.array(strategy.held[iid])
        assert held.shape == (4_000,)
        # A bar's position comes from the orders sent at the previous timestamp.
        said_flat = np.isin(frame.regime[:-1], FLAT)
        assert np.all(held[1:][said_flat] == 0.0), iid
        traded += int(np.count_nonzero(held))
        # Against the truth: flat on CHOPPY and CRISIS bars, bar a short detection lag.
        truth = market.regimes[iid][1:]
        bad = np.isin(truth, FLAT[:2])
        assert np.mean(held[1:][bad] == 0.0) > 0.85, iid
    assert traded > 1_000  # it does trade in TRENDING and RANGING
