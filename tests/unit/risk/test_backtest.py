"""The risk engine wired into a backtest by ``BacktestConfig.risk``."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from quantgrid.backtest import BacktestConfig, run_backtest
from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.model import Bar, OrderDenied, OrderSide, OrderStatus, Regime
from quantgrid.regime import RegimeDetector
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


class InAndOut(Strategy):
    """Buys one unit of each instrument when flat, sells it on the next bar: an entry,
    then a reduction, over and over."""

    name: ClassVar[str] = "in_and_out"

    def on_bar(self, bar: Bar) -> None:
        iid = bar.instrument_id
        if self.open_orders(iid):
            return
        if self.position(iid) == 0:
            self.buy(1, iid)
        else:
            self.sell(1, iid)


def test_the_detected_regime_blocks_entries_in_choppy_and_crisis() -> None:
    market = generate_market(SyntheticConfig(bars=2_000), 5)
    frames = RegimeDetector().detect(market.bars)
    ids = list(market.bars)
    config = BacktestConfig(risk=RiskConfig(), regime=RegimeDetector())
    result = run_backtest(InAndOut(), list(market.bars.values()), config=config)

    rejections = {r.client_order_id: r for r in result.risk_rejections}
    blocked = {int(Regime.CHOPPY), int(Regime.CRISIS)}
    tally = {"entry denied": 0, "entry passed": 0, "reduction in a blocked regime": 0}
    for order in (o for o in result.orders if o.strategy_id == "in_and_out"):
        iid = order.instrument_id
        k = int(np.searchsorted(frames[iid].ts, order.ts_init))
        # The bars of a timestamp are published in the data's order and the timestamp is
        # classified at its last instrument's bar: the others decide on the previous one.
        row = k if iid == ids[-1] else k - 1
        regime = int(frames[iid].regime[row]) if row >= 0 else -1
        denied = order.status is OrderStatus.DENIED
        if order.side is OrderSide.SELL:
            assert not denied, (order.client_order_id, regime)
            tally["reduction in a blocked regime"] += regime in blocked
        elif regime in blocked:
            assert denied, (order.client_order_id, regime)
            rejection = rejections[order.client_order_id]
            assert rejection.check == "regime_block"
            assert rejection.value == regime
            assert rejection.message == f"regime {Regime(regime).name} of {iid} blocks new entries"
            tally["entry denied"] += 1
        else:
            assert not denied, (order.client_order_id, regime)
            tally["entry passed"] += 1
    assert {r.check for r in result.risk_rejections} == {"regime_block"}
    assert len(result.risk_rejections) == tally["entry denied"]
    assert min(tally.values()) >= 10, tally  # each case happened, and often
    # The config's detector is left as it was: the same config runs again, alike.
    again = run_backtest(InAndOut(), list(market.bars.values()), config=config)
    assert again.risk_rejections == result.risk_rejections


def test_backtest_config_refuses_a_regime_without_risk_or_of_the_wrong_type() -> None:
    with pytest.raises(ValueError, match=r"BacktestConfig\.regime must be a RegimeDetector"):
        BacktestConfig(risk=RiskConfig(), regime="CHOPPY")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"regime feeds the risk engine's regime block"):
        BacktestConfig(regime=RegimeDetector())
