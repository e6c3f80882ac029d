"""Built-in strategies on small hand-crafted price series.

The indicator values behind each expected order are worked out in the comments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from quantgrid.model import Instrument, Order, OrderSide, OrderStatus, OrderType
from quantgrid.strategy import EmaCross, RsiMeanReversion, SmaCross, Strategy

NodeFactory = Callable[..., Any]

# Down then up: the fast average crosses above the slow one exactly once.
#   close     10    9    8    7    8     9     10    11
#   SMA(2)    -    9.5  8.5  7.5  7.5   8.5   9.5   10.5
#   SMA(3)    -    -    9.0  8.0  7.67  8.0   9.0   10.0
#   EMA(2)    -    9.5  8.5  7.5  7.83  8.61  9.54  10.51
#   EMA(3)    -    -    9.0  8.0  8.0   8.5   9.25  10.13
# Bar 5 (close 9) is the cross for both: fast above slow, and at or below on bar 4.
# Bars 2-4 have fast below slow, but bar 2 follows a warm-up bar, so no short cross.
V_SHAPE = [10.0, 9.0, 8.0, 7.0, 8.0, 9.0, 10.0, 11.0]
# Then down again: bar 9 (close 9) crosses back under for both.
#   SMA(2) 10.5, 9.5 vs SMA(3) 10.33, 10.0;  EMA(2) 10.17, 9.39 vs EMA(3) 10.06, 9.53
V_THEN_DOWN = [*V_SHAPE, 10.0, 9.0]


def _summary(order: Order) -> tuple[object, ...]:
    return (order.side, order.order_type, order.quantity, order.reduce_only)


def _decided_on(node: Any, order: Order) -> int:
    """Return the index of the bar an order was decided on."""
    return [b.ts_event for b in node.bars].index(order.ts_init)


def _run(make_node: NodeFactory, strategy: Strategy, closes: list[float]) -> Any:
    node = make_node(strategy)
    node.bars = node.run(closes)
    return node


@pytest.mark.parametrize("cls", [SmaCross, EmaCross])
def test_v_shape_makes_exactly_one_cross(make_node: NodeFactory, cls: type[Strategy]) -> None:
    node = _run(make_node, cls({"fast": 2, "slow": 3, "size": 10}), V_SHAPE)

    (order,) = node.orders
    assert _summary(order) == (OrderSide.BUY, OrderType.MARKET, 10.0, False)
    assert _decided_on(node, order) == 5
    assert order.status is OrderStatus.FILLED
    assert order.avg_px == 9.0  # bar 6 opens at bar 5's close
    assert node.portfolio.position_quantity("X") == 10.0


@pytest.mark.parametrize("cls", [SmaCross, EmaCross])
def test_cross_back_reverses_the_position_in_one_order(
    make_node: NodeFactory, cls: type[Strategy]
) -> None:
    node = _run(make_node, cls({"fast": 2, "slow": 3, "size": 10}), [*V_THEN_DOWN, 8.0])

    entry, reverse = node.orders
    assert _decided_on(node, entry) == 5
    assert _summary(reverse) == (OrderSide.SELL, OrderType.MARKET, 20.0, False)
    assert _decided_on(node, reverse) == 9
    assert reverse.avg_px == 9.0
    assert node.portfolio.position_quantity("X") == -10.0


@pytest.mark.parametrize("cls", [SmaCross, EmaCross])
def test_cross_without_size_closes_and_sizes_the_entry_from_cash(
    make_node: NodeFactory, cls: type[Strategy]
) -> None:
    node = _run(make_node, cls({"fast": 2, "slow": 3}), [*V_THEN_DOWN, 8.0])

    entry, close, reverse = node.orders
    assert _summary(entry) == (OrderSide.BUY, OrderType.MARKET, 1_000_000.0 // 9.0, False)
    assert entry.cash_fraction == 1.0
    assert _summary(close) == (OrderSide.SELL, OrderType.MARKET, entry.quantity, True)
    assert close.tag == "close"
    assert (reverse.side, reverse.order_type, reverse.cash_fraction) == (
        OrderSide.SELL,
        OrderType.MARKET,
        1.0,
    )
    assert _decided_on(node, close) == _decided_on(node, reverse) == 9
    # Bought at 9 and closed at 9 (bar 10 opens at bar 9's close): equity is still the
    # initial cash, and the close fills first, so the short gets all of it at 9.
    assert reverse.quantity == 1_000_000.0 // 9.0
    assert node.portfolio.position_quantity("X") == -reverse.quantity


def test_flat_prices_never_cross(make_node: NodeFactory) -> None:
    node = _run(make_node, SmaCross({"fast": 2, "slow": 3, "size": 1}), [5.0] * 10)

    assert node.orders == ()


def test_cross_strategy_splits_cash_between_instruments(make_node: NodeFactory) -> None:
    node = make_node(SmaCross({"fast": 2, "slow": 3}), (Instrument("X"), Instrument("Y")))
    node.bars = [node.bar(c, "X") for c in V_SHAPE]

    (order,) = node.orders
    assert order.instrument_id == "X"
    assert order.cash_fraction == 0.5
    assert order.quantity == 500_000.0 // 9.0


# RSI(2), Wilder: first value on bar 2 from the mean of the first two changes.
#   close   10   9    8    8.5    10     11     12     9
#   RSI     -    -    0    33.3   77.8   88.2   93.9   24.0
# Bar 2: flat, RSI 0 < 30: buy.  Bar 3: long, 33.3 < 50: hold.  Bar 4: long, 77.8 >= 50:
# close.  Bar 5: flat, 88.2 > 70: short.  Bar 6: short, 93.9 > 50: hold.  Bar 7: 24 <= 50:
# close.
RSI_SERIES = [10.0, 9.0, 8.0, 8.5, 10.0, 11.0, 12.0, 9.0]
RSI_PARAMS = {"period": 2, "lower": 30.0, "upper": 70.0, "exit": 50.0, "size": 5}


def test_rsi_mean_reversion_enters_at_extremes_and_exits_at_the_middle(
    make_node: NodeFactory,
) -> None:
    node = _run(make_node, RsiMeanReversion(RSI_PARAMS), RSI_SERIES)

    assert [(_summary(o), _decided_on(node, o)) for o in node.orders] == [
        ((OrderSide.BUY, OrderType.MARKET, 5.0, False), 2),
        ((OrderSide.SELL, OrderType.MARKET, 5.0, True), 4),
        ((OrderSide.SELL, OrderType.MARKET, 5.0, False), 5),
        ((OrderSide.BUY, OrderType.MARKET, 5.0, True), 7),
    ]
    # Filled at the next bar's open, the previous close: bought at 8, sold at 10, shorted
    # at 11 (the cover is decided on the last bar and still working).
    assert [o.avg_px for o in node.orders[:3]] == [8.0, 10.0, 11.0]
    (trade,) = node.portfolio.closed_trades
    assert (trade.size, trade.pnl) == (5.0, 10.0)


def test_rsi_without_shorts_only_buys(make_node: NodeFactory) -> None:
    params = {**RSI_PARAMS, "allow_short": False}
    node = _run(make_node, RsiMeanReversion(params), RSI_SERIES)

    # Bars 5 and 6 are overbought but no short is taken; bar 7 (24 < 30) buys again.
    assert [(o.side, o.reduce_only, _decided_on(node, o)) for o in node.orders] == [
        (OrderSide.BUY, False, 2),
        (OrderSide.SELL, True, 4),
        (OrderSide.BUY, False, 7),
    ]


def test_rsi_waits_for_its_warm_up(make_node: NodeFactory) -> None:
    # RSI(2) has no value on bars 0 and 1, however far the price falls.
    node = _run(make_node, RsiMeanReversion(RSI_PARAMS), [10.0, 5.0])

    assert node.orders == ()


def test_rsi_without_size_sizes_from_cash(make_node: NodeFactory) -> None:
    params = {k: v for k, v in RSI_PARAMS.items() if k != "size"}
    node = _run(make_node, RsiMeanReversion(params), RSI_SERIES[:4])

    (entry,) = node.orders
    assert (entry.side, entry.cash_fraction) == (OrderSide.BUY, 1.0)
    assert entry.quantity == 1_000_000.0 // 8.0  # sized at bar 3's open of 8
