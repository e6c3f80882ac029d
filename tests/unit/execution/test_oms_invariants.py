"""Hypothesis: random submits, amends, cancels and brackets against random bars.

Whatever a strategy asks for and whatever the market does: no order fills after it was
cancelled or ended, no order fills more than its quantity, a bracket's exits never
close more than its entry opened, and the position is the sum of the fills.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from quantgrid.model import (
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
    TimeInForce,
)
from quantgrid.venues import VenueConfig
from tests.unit.venues.test_simulated import Node

_ENDINGS = (OrderCanceled, OrderExpired, OrderRejected)

action = st.one_of(
    st.tuples(
        st.just("order"),
        st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
        st.integers(1, 20),
        st.sampled_from(["market", "limit", "stop"]),
        st.integers(-5, 5),  # price offset from the close
        st.sampled_from([TimeInForce.GTC, TimeInForce.IOC, TimeInForce.DAY]),
    ),
    st.tuples(
        st.just("bracket"),
        st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
        st.integers(1, 20),  # quantity
        st.integers(1, 5),  # stop-loss distance
        st.integers(1, 5),  # take-profit distance
    ),
    st.tuples(st.just("modify"), st.integers(0, 50), st.integers(1, 30), st.integers(-5, 5)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("cancel_all")),
)
bar = st.tuples(
    st.integers(-4, 4),  # open move
    st.integers(0, 4),  # high above max(open, close)
    st.integers(0, 4),  # low below min(open, close)
    st.integers(-4, 4),  # close move from the open
    st.sampled_from([200.0, 1_000.0, 1_000_000.0]),  # volume (200 caps fills at 4)
)


def _act(node: Node, step: tuple[object, ...], close: float) -> None:
    s = node.strategy
    kind = step[0]
    working = [o for o in node.engine.orders if o.is_open]
    if kind == "order":
        _, side, qty, otype, offset, tif = step
        assert isinstance(side, OrderSide) and isinstance(qty, int) and isinstance(offset, int)
        assert isinstance(tif, TimeInForce)
        px = close + offset
        if otype == "limit":
            (s.buy if side is OrderSide.BUY else s.sell)(qty, price=px, time_in_force=tif)
        elif otype == "stop" and tif is not TimeInForce.IOC:
            (s.buy if side is OrderSide.BUY else s.sell)(qty, stop=px, time_in_force=tif)
        else:
            (s.buy if side is OrderSide.BUY else s.sell)(qty)
    elif kind == "bracket":
        _, side, qty, sl_off, tp_off = step
        assert isinstance(side, OrderSide) and isinstance(qty, int)
        assert isinstance(sl_off, int) and isinstance(tp_off, int)
        sign = side.sign
        s.bracket(side, qty, stop_loss=close - sign * sl_off, take_profit=close + sign * tp_off)
    elif kind == "modify" and working:
        _, pick, qty, offset = step
        assert isinstance(pick, int) and isinstance(qty, int) and isinstance(offset, int)
        order = working[pick % len(working)]
        price = close + offset if order.price is not None else None
        s.modify(order, quantity=float(qty), price=price)
    elif kind == "cancel" and working:
        _, pick = step
        assert isinstance(pick, int)
        s.cancel(working[pick % len(working)])
    elif kind == "cancel_all":
        s.cancel_all()


@settings(deadline=None)
@given(
    steps=st.lists(st.tuples(st.lists(action, max_size=3), bar), min_size=1, max_size=25),
)
def test_random_order_flow_keeps_the_oms_invariants(
    steps: list[tuple[list[tuple[object, ...]], tuple[int, int, int, int, float]]],
) -> None:
    node = Node(VenueConfig(max_volume_fraction=0.02), cash=10_000_000.0, leverage=4.0)
    close = 100.0
    node.flat(close)
    for actions, (o_move, hi, lo, c_move, volume) in steps:
        for step in actions:
            _act(node, step, close)
        open_ = max(close + o_move, 10.0)
        new_close = max(open_ + c_move, 10.0)
        node.bar(open_, max(open_, new_close) + hi, min(open_, new_close) - lo, new_close, volume)
        close = new_close

    position = 0.0
    for order in node.engine.orders:
        fills = [e for e in order.events if isinstance(e, OrderFilled)]
        filled = sum(f.last_qty for f in fills)
        assert filled == order.filled_qty
        assert order.quantity is None or filled <= order.quantity + 1e-9
        ended = [i for i, e in enumerate(order.events) if isinstance(e, _ENDINGS)]
        if ended:
            # Nothing fills once the order was cancelled, expired or rejected.
            assert all(not isinstance(e, OrderFilled) for e in order.events[ended[0] :])
            assert len(ended) == 1
        position += order.side.sign * filled
        if order.parent_order_id:
            parent = node.engine.order(order.parent_order_id)
            assert parent is not None
            siblings = [node.engine.order(i) for i in order.linked_order_ids]
            closed = order.filled_qty + sum(o.filled_qty for o in siblings if o is not None)
            assert closed <= parent.filled_qty + 1e-9
    assert abs(node.portfolio.position_quantity("X") - position) < 1e-9
