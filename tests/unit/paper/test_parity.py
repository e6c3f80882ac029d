"""Backtest/paper parity: the same strategy on the same bars trades the same way.

``run_backtest`` and a ``ReplayFeed`` into a ``StrategyHost`` on a ``TradingNode``
with the same bar-venue configuration must give the same orders (every field the
strategy or the venue sets, every event with its time) and the same fills (price,
quantity, time, commission, liquidity side). Only the venue's names differ: the
backtest's venue is ``SIM``, the node's ``PAPER-<session>``, which shows in venue
order ids and trade ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from quantgrid.adapters.storage import to_decimal
from quantgrid.backtest import BacktestConfig, BacktestEngine, run_backtest
from quantgrid.model import (
    Bar,
    LiquiditySide,
    Order,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OrderType,
)
from quantgrid.strategy import RsiMeanReversion, SmaCross, Strategy, StrategyParams
from quantgrid.venues import BpsSlippage, BpsSpread, PercentCommission, VenueConfig
from tests.unit.paper.support import fill_key, order_key, random_walk, run_paper

pytestmark = pytest.mark.anyio


class BracketParams(StrategyParams):
    """Parameters of the bracket test strategy."""

    size: float = 10.0
    entry_offset: float = 0.003
    stop_offset: float = 0.012
    target_offset: float = 0.01
    patience: int = 5


class DipBracket(Strategy):
    """When flat, bid a little under the close with a stop-loss and a take-profit.

    An entry that has not filled after ``patience`` bars is cancelled (with its exits).
    """

    name: ClassVar[str] = "dip_bracket"
    Params: ClassVar[type[StrategyParams]] = BracketParams

    def on_start(self) -> None:
        """Start with no entry working."""
        self._waiting = 0

    def save_state(self) -> dict[str, int]:
        """Keep the bars the entry has waited: neither an indicator nor an order."""
        return {"waiting": self._waiting}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Take the count back after a restart."""
        self._waiting = int(state["waiting"])

    def on_bar(self, bar: Bar) -> None:
        """Place a bracket when flat, or give up on a stale entry."""
        p = self.params
        assert isinstance(p, BracketParams)
        working = self.open_orders(bar.instrument_id)
        if self.position(bar.instrument_id) == 0 and working:
            self._waiting += 1
            if self._waiting > p.patience:
                self.cancel_all(bar.instrument_id)
            return
        if working:
            return
        self._waiting = 0
        self.bracket(
            OrderSide.BUY,
            p.size,
            bar.instrument_id,
            entry_price=bar.close * (1 - p.entry_offset),
            stop_loss=bar.close * (1 - p.stop_offset),
            take_profit=bar.close * (1 + p.target_offset),
        )


def _venue(
    commission: float, spread_bps: float, slippage_bps: float, cap: float | None
) -> tuple[VenueConfig, BacktestConfig]:
    """Return one fill model as the node's venue config and as a backtest config."""
    spread = BpsSpread(spread_bps) if spread_bps else None
    slippage = BpsSlippage(slippage_bps) if slippage_bps else None
    venue = VenueConfig(
        commission=PercentCommission(commission),
        spread=spread,
        slippage=slippage,
        max_volume_fraction=cap,
    )
    backtest = BacktestConfig(
        commission=commission,
        spread=spread,
        slippage=slippage,
        max_volume_fraction=cap,
        close_at_end=False,  # the paper run does not flatten after the last bar
    )
    return venue, backtest


def _assert_same(
    backtest_orders: Sequence[Order],
    backtest_fills: Sequence[OrderFilled],
    paper_orders: Sequence[Order],
    paper_fills: Sequence[OrderFilled],
) -> None:
    assert [order_key(o) for o in paper_orders] == [order_key(o) for o in backtest_orders]
    assert [fill_key(f) for f in paper_fills] == [fill_key(f) for f in backtest_fills]


@pytest.mark.parametrize("seed", [1, 7, 42])
@pytest.mark.parametrize(
    ("commission", "spread_bps", "slippage_bps"), [(0.0, 0.0, 0.0), (0.001, 4.0, 2.0)]
)
async def test_sma_cross_sized_from_cash_trades_the_same(
    seed: int, commission: float, spread_bps: float, slippage_bps: float
) -> None:
    series = random_walk("AAA", seed)
    venue, config = _venue(commission, spread_bps, slippage_bps, None)
    params = {"fast": 5, "slow": 20}  # no size: each entry is sized from cash at its fill

    result = run_backtest(SmaCross(params), series, config=config)
    orders, fills, _ = await run_paper(SmaCross(params), series, venue)

    assert len(result.fills) >= 10  # the comparison is not vacuous
    _assert_same(result.orders, result.fills, orders, fills)


async def test_two_instruments_with_a_volume_cap_trade_the_same() -> None:
    # Same timestamps on both: every moment holds two bars; the cap splits fills.
    data = [random_walk("AAA", 3), random_walk("BBB", 4)]
    venue, config = _venue(0.0005, 2.0, 0.0, 0.05)
    params = {"fast": 4, "slow": 12, "size": 20}

    result = run_backtest(SmaCross(params), data, config=config)
    orders, fills, _ = await run_paper(SmaCross(params), data, venue)

    assert {f.instrument_id for f in result.fills} == {"AAA", "BBB"}
    assert any(o.filled_qty < (o.quantity or 0) for o in result.orders)  # partial fills
    _assert_same(result.orders, result.fills, orders, fills)


@pytest.mark.parametrize("seed", [5, 11])
async def test_brackets_of_limit_and_stop_orders_trade_the_same(seed: int) -> None:
    series = random_walk("AAA", seed)
    venue, config = _venue(0.001, 3.0, 1.0, None)

    result = run_backtest(DipBracket(), series, config=config)
    orders, fills, _ = await run_paper(DipBracket(), series, venue)

    kinds = {(f.liquidity_side, o.order_type) for o in result.orders for f in result.fills
             if f.client_order_id == o.client_order_id}  # fmt: skip
    assert (LiquiditySide.MAKER, OrderType.LIMIT) in kinds  # entries and take-profits
    assert (LiquiditySide.TAKER, OrderType.STOP) in kinds  # stop-losses
    assert any(o.status is OrderStatus.CANCELED for o in result.orders)
    _assert_same(result.orders, result.fills, orders, fills)


async def test_rsi_mean_reversion_and_a_cross_side_by_side_trade_the_same() -> None:
    series = random_walk("AAA", 9, n=400)
    venue, config = _venue(0.0, 0.0, 0.0, None)
    # Two strategies share one account: each one's orders depend on the other's fills.
    strategies = [
        RsiMeanReversion({"period": 6, "size": 5}),
        SmaCross({"fast": 3, "slow": 9, "size": 5}, strategy_id="cross"),
    ]
    engine = BacktestEngine(config)
    engine.add_data(series)
    for strategy in strategies:
        engine.add_strategy(strategy)
    result = engine.run()
    twins = [
        RsiMeanReversion({"period": 6, "size": 5}),
        SmaCross({"fast": 3, "slow": 9, "size": 5}, strategy_id="cross"),
    ]
    orders, fills, _ = await run_paper(twins, series, venue)

    assert {f.strategy_id for f in result.fills} == {"rsi_mean_reversion", "cross"}
    _assert_same(result.orders, result.fills, orders, fills)


async def test_the_store_holds_the_backtests_fills_and_cash() -> None:
    series = random_walk("AAA", 21)
    venue, config = _venue(0.001, 2.0, 0.0, None)
    params = {"fast": 5, "slow": 15, "size": 30}

    result = run_backtest(SmaCross(params), series, config=config)
    _, _, node = await run_paper(SmaCross(params), series, venue)

    stored = node.store.list_fills(limit=1000).items
    # The store lists fills by time then trade id; compare them in one order.
    assert sorted((f.ts_event, f.client_order_id, f.quantity, f.price) for f in stored) == sorted(
        (f.ts_event, f.client_order_id, to_decimal(f.last_qty), to_decimal(f.last_px))
        for f in result.fills
    )
    for order in result.orders:
        saved = node.store.get_order(order.client_order_id)
        assert saved is not None
        assert saved.status is order.status
    # Cash reconciles: the capital plus every fill's value and commission, exactly.
    expected = Decimal("100000")
    for fill in result.fills:
        value = to_decimal(fill.last_qty) * to_decimal(fill.last_px)
        expected += value if fill.side is OrderSide.SELL else -value
        expected -= to_decimal(fill.commission)
    balance = node.store.cash_balances(node.config.account_id)["USD"]
    assert balance == expected
    assert float(balance) == pytest.approx(result.cash[-1], abs=1e-6)
