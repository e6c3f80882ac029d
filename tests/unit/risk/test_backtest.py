"""The risk engine wired into a backtest by ``BacktestConfig.risk``."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from quantgrid.backtest import BacktestConfig, run_backtest
from quantgrid.model import Bar, OrderDenied, OrderStatus
from quantgrid.risk import RiskConfig, TradingState
from quantgrid.strategy import Strategy
from tests.conftest import make_bars


class KeepBuying(Strategy):
    """Goes 90 % long on the first bar, then tries to add one unit on every bar."""

    name: ClassVar[str] = "keep_buying"

    def on_bar(self, bar: Bar) -> None:
        if self.position() == 0:
            self.buy(cash_fraction=0.9)
        else:
            self.buy(1)


def _falling() -> np.ndarray:
    return np.round(np.linspace(100.0, 70.0, 61), 2)


def test_the_drawdown_breaker_halts_a_backtest_and_the_result_shows_it() -> None:
    risk = RiskConfig(reduce_at_drawdown=0.05, halt_at_drawdown=0.10)
    result = run_backtest(KeepBuying(), make_bars(_falling()), config=BacktestConfig(risk=risk))

    states = [(s.previous, s.state) for s in result.trading_states]
    assert states == [
        (TradingState.ACTIVE, TradingState.REDUCING),
        (TradingState.REDUCING, TradingState.HALTED),
    ]
    assert result.trading_states[-1].reason.startswith("drawdown 10.")
    denied = [o for o in result.orders if o.status is OrderStatus.DENIED]
    reasons = [e.reason for o in denied for e in o.events if isinstance(e, OrderDenied)]
    assert reasons
    assert {r.split(":")[0] for r in reasons} == {"reducing", "halted"}
    assert any("drawdown" in r for r in reasons if r.startswith("halted"))
    assert len(result.risk_rejections) == len(denied)
    # After the halt no order reached the venue, except the engine's own close at the end.
    halted_at = result.trading_states[-1].ts_event
    later = [o for o in result.orders if o.ts_init > halted_at and o.strategy_id == "keep_buying"]
    assert later
    assert all(o.status is OrderStatus.DENIED for o in later)


def test_without_risk_the_same_backtest_never_denies() -> None:
    result = run_backtest(KeepBuying(), make_bars(_falling()), config=BacktestConfig())

    assert not any(o.status is OrderStatus.DENIED for o in result.orders)
    assert result.trading_states == ()
    assert result.risk_rejections == ()


def test_backtest_config_refuses_a_risk_that_is_not_a_risk_config() -> None:
    with pytest.raises(ValueError, match=r"BacktestConfig\.risk must be a RiskConfig or None"):
        BacktestConfig(risk={"max_position": 1})  # type: ignore[arg-type]
