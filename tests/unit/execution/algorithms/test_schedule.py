"""twap and vwap: slice sizes and times, passive work per slice, slice ends, the horizon."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantgrid.execution.algorithms import (
    ParentOrderCompleted,
    Urgency,
    cumulative_lots,
    u_shaped_profile,
)
from quantgrid.model import LiquiditySide, OrderSide, OrderType

NodeFactory = Callable[..., Any]
BUY, SELL = OrderSide.BUY, OrderSide.SELL
SEC = 1_000_000_000
MS = 1_000_000


def _schedule(
    node: Any,
    algorithm: str = "twap",
    quantity: float = 103.0,
    horizon_s: float = 40,
    side: OrderSide = BUY,
    urgency: Urgency = Urgency.NORMAL,
    **params: Any,
) -> Any:
    return node.execute(
        node.parent(
            side=side,
            quantity=quantity,
            algorithm=algorithm,
            horizon_ns=round(horizon_s * SEC),
            urgency=urgency,
            params=params,
        )
    )


def _summary(node: Any) -> list[tuple[float, str, float, float | None]]:
    """Return each child as (sent at, in seconds; type; quantity; price)."""
    return [
        (
            round((o.ts_init - node.at(0)) / SEC, 3),
            o.order_type.value,
            o.quantity,
            o.price,
        )
        for o in node.children()
    ]


def test_twap_slices_are_equal_whole_lots_at_equal_times_and_behind_is_crossed(
    make_node: NodeFactory,
) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)
    _schedule(node, slices=4)  # 103 lots: cumulative 26, 52, 77, 103

    algo = node.algos.algorithm("P1")
    assert algo.slice_targets == (0.0, 26.0, 52.0, 77.0, 103.0)
    assert algo.slice_bounds == tuple(node.at(s) for s in (0, 10, 20, 30, 40))
    node.advance(39.9)
    assert node.ended() is None
    node.advance(40)

    # Nothing traded at the bid: each slice end crosses the slice that just ended,
    # the next slice rests its own quantity at the touch.
    assert _summary(node) == [
        (0.0, "LIMIT", 26.0, 100.00),
        (10.0, "MARKET", 26.0, None),
        (10.0, "LIMIT", 26.0, 100.00),
        (20.0, "MARKET", 26.0, None),
        (20.0, "LIMIT", 25.0, 100.00),
        (30.0, "MARKET", 25.0, None),
        (30.0, "LIMIT", 26.0, 100.00),
        (40.0, "MARKET", 26.0, None),
    ]
    assert all(o.post_only for o in node.children() if o.order_type is OrderType.LIMIT)
    ended = node.ended()
    assert isinstance(ended, ParentOrderCompleted)
    assert (ended.filled_quantity, ended.reason) == (103.0, "filled")
    assert ended.ts_event == node.at(40)  # the last slice completes at the horizon


def test_twap_slice_filled_passively_is_not_crossed(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01, bid_size=10)
    _schedule(node, quantity=40, slices=2, horizon_s=20)
    node.trade(5, 100.00, 30.0, SELL)  # 10 ahead of us, 20 to our slice

    node.advance(10)

    assert _summary(node) == [(0.0, "LIMIT", 20.0, 100.00), (10.0, "LIMIT", 20.0, 100.00)]
    node.trade(15, 100.00, 25.0, SELL)  # the queue at 100.00: 0 ahead after the first print
    ended = node.ended()
    assert ended is not None and ended.filled_quantity == 40.0
    assert {f.liquidity_side for f in ended.fills} == {LiquiditySide.MAKER}
    assert ended.ts_event == node.at(15)  # done early: nothing waits for the horizon


def test_twap_carry_adds_the_unfilled_rest_to_the_next_slice(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)
    _schedule(node, slices=4, on_slice_end="carry")

    node.advance(40)

    assert _summary(node) == [
        (0.0, "LIMIT", 26.0, 100.00),
        (10.0, "LIMIT", 52.0, 100.00),
        (20.0, "LIMIT", 77.0, 100.00),
        (30.0, "LIMIT", 103.0, 100.00),
        (40.0, "MARKET", 103.0, None),  # NORMAL urgency: the rest is crossed at the horizon
    ]


def test_twap_low_urgency_carries_and_leaves_the_rest_at_the_horizon(
    make_node: NodeFactory,
) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)
    _schedule(node, slices=2, quantity=10, horizon_s=20, urgency=Urgency.LOW)

    node.advance(20)

    assert [o.order_type for o in node.children()] == [OrderType.LIMIT, OrderType.LIMIT]
    ended = node.ended()
    assert isinstance(ended, ParentOrderCompleted)
    assert (ended.filled_quantity, ended.reason) == (0.0, "deadline: rest not worked")


def test_twap_with_more_slices_than_lots_skips_empty_slices(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)
    _schedule(node, quantity=3, slices=5, horizon_s=50)  # cumulative 1, 1, 2, 2, 3

    node.advance(50)

    assert _summary(node) == [
        (0.0, "LIMIT", 1.0, 100.00),
        (10.0, "MARKET", 1.0, None),
        (20.0, "LIMIT", 1.0, 100.00),
        (30.0, "MARKET", 1.0, None),
        (40.0, "LIMIT", 1.0, 100.00),
        (50.0, "MARKET", 1.0, None),
    ]


def test_twap_slice_end_waits_for_the_cancel_before_crossing(make_node: NodeFactory) -> None:
    node = make_node(latency_ns=50 * MS)
    node.quote(0, 100.00, 100.01)
    _schedule(node, quantity=20, slices=2, horizon_s=20)
    node.advance(1)

    node.advance(10)
    assert len(node.children()) == 1  # cancel sent, not confirmed yet
    node.trade(10.02, 100.00, 504.0, SELL)  # the cancel races a fill: 500 ahead, 4 to us
    node.advance(10.2)

    first, cross, second = node.children()
    assert (first.status.value, first.filled_qty) == ("CANCELED", 4.0)
    # Crossed once the cancel was confirmed (it reached the venue at 10.05), for what
    # the slice was behind after the racing fill.
    assert (cross.order_type, cross.quantity, cross.ts_init) == (
        OrderType.MARKET,
        6.0,
        node.at(10.05),
    )
    assert (second.quantity, second.ts_init) == (10.0, node.at(10.05))
    assert node.filled() == 10.0


def test_twap_slice_end_with_the_whole_slice_filled_by_a_racing_fill(
    make_node: NodeFactory,
) -> None:
    node = make_node(latency_ns=50 * MS)
    node.quote(0, 100.00, 100.01)
    _schedule(node, quantity=20, slices=2, horizon_s=20)
    node.advance(10)
    node.trade(10.02, 100.00, 520.0, SELL)
    node.advance(10.2)

    first, second = node.children()
    assert (first.status.value, first.filled_qty) == ("FILLED", 10.0)
    assert (second.order_type, second.quantity) == (OrderType.LIMIT, 10.0)  # no cross


def test_twap_follows_the_touch_within_a_slice(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.02)
    _schedule(node, quantity=20, slices=2, horizon_s=20)

    node.quote(3, 100.01, 100.02)

    assert [o.price for o in node.children()] == [100.01]


def test_vwap_slices_follow_the_profile(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)
    _schedule(node, "vwap", quantity=100, horizon_s=30, profile=(1.0, 2.0, 1.0))

    node.advance(30)

    assert _summary(node) == [
        (0.0, "LIMIT", 25.0, 100.00),
        (10.0, "MARKET", 25.0, None),
        (10.0, "LIMIT", 50.0, 100.00),
        (20.0, "MARKET", 50.0, None),
        (20.0, "LIMIT", 25.0, 100.00),
        (30.0, "MARKET", 25.0, None),
    ]


def test_vwap_default_profile_is_u_shaped_over_ten_slices(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)
    _schedule(node, "vwap", quantity=1_000, horizon_s=100)

    algo = node.algos.algorithm("P1")
    targets = algo.slice_targets
    sizes = [b - a for a, b in itertools.pairwise(targets)]
    assert len(sizes) == 10 and sum(sizes) == 1_000
    assert sizes == sizes[::-1]  # symmetric
    assert sizes[0] > 2.5 * sizes[4]  # the open and the close trade about 3x the middle
    assert algo.slice_bounds[1] - algo.slice_bounds[0] == 10 * SEC


def test_u_shaped_profile() -> None:
    profile = u_shaped_profile(10)
    assert sum(profile) == pytest.approx(1.0)
    assert profile[0] == pytest.approx(profile[-1]) == max(profile)
    assert min(profile) == profile[4] == profile[5]
    assert u_shaped_profile(1) == (1.0,)
    with pytest.raises(ValueError, match="slices must be a whole number >= 1, got 0"):
        u_shaped_profile(0)


@given(
    st.integers(0, 100_000),
    st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=50).filter(
        lambda w: sum(w) > 0
    ),
)
def test_cumulative_lots_are_monotone_exact_and_within_a_lot_of_the_share(
    total: int, weights: list[float]
) -> None:
    targets = cumulative_lots(total, weights)

    assert len(targets) == len(weights) + 1
    assert targets[0] == 0 and targets[-1] == total
    assert all(a <= b for a, b in itertools.pairwise(targets))
    running = 0.0
    for k, weight in enumerate(weights[:-1], start=1):
        running += weight
        assert abs(targets[k] - total * running / sum(weights)) <= 0.5 + 1e-6 * total


def test_cumulative_lots_of_equal_weights_differ_by_at_most_one_lot() -> None:
    targets = cumulative_lots(103, [1.0] * 10)
    sizes = [b - a for a, b in itertools.pairwise(targets)]
    assert sum(sizes) == 103 and max(sizes) - min(sizes) == 1
