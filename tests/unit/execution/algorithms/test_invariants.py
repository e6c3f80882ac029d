"""Invariants over random markets: never overfill, nothing sent after the end, books agree.

Hypothesis draws the parent (quantity, algorithm, slices, display size, urgency), the
venue's latency and jitter, and a market of quotes and prints at, inside and through
the touch, with an optional cancel of the parent somewhere in it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantgrid.analytics import execution_report
from quantgrid.execution.algorithms import ParentOrderEnded, Urgency, parent_execution
from quantgrid.model import OrderFilled, OrderSide

BUY, SELL = OrderSide.BUY, OrderSide.SELL
SEC = 1_000_000_000
MS = 1_000_000
TICK = 0.01

step = st.tuples(
    st.integers(1, 3_000),  # milliseconds since the previous step
    st.sampled_from(("quote", "quote", "trade", "trade", "trade")),
    st.integers(-2, 2),  # quote: move of the bid in ticks; trade: price offset in ticks
    st.integers(1, 3),  # quote: spread in ticks
    st.floats(1, 400),  # quote sizes / trade size
    st.sampled_from((BUY, SELL, None)),  # aggressor
)

parents = st.fixed_dictionaries(
    {
        "side": st.sampled_from((BUY, SELL)),
        "quantity": st.integers(1, 500),
        "algorithm": st.sampled_from(("post_only", "twap", "vwap", "iceberg", "market", None)),
        "slices": st.integers(1, 6),
        "display": st.integers(1, 60),
        "urgency": st.sampled_from(tuple(Urgency)),
        "horizon_s": st.integers(1, 40),
        "carry": st.booleans(),
        "replace": st.booleans(),
    }
)


def _params(draw: dict[str, Any]) -> dict[str, Any]:
    algorithm = draw["algorithm"]
    method = {"reprice_method": "replace" if draw["replace"] else "amend"}
    if algorithm == "twap":
        end = {"on_slice_end": "carry" if draw["carry"] else "cross"}
        return {"slices": draw["slices"], **end, **method}
    if algorithm == "vwap":
        return {"profile": [1.0 + (k % 3) for k in range(draw["slices"])], **method}
    if algorithm == "iceberg":
        return {"display_quantity": float(draw["display"]), "display_jitter": 0.4, "seed": 1}
    if algorithm == "post_only":
        return method
    return {}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parent=parents,
    latency_ms=st.integers(0, 40),
    jitter_ms=st.integers(0, 20),
    steps=st.lists(step, min_size=1, max_size=60),
    cancel_share=st.one_of(st.none(), st.floats(0, 1)),
)
def test_never_overfills_and_sends_nothing_after_the_end(
    make_node_cls: Callable[..., Any],
    parent: dict[str, Any],
    latency_ms: int,
    jitter_ms: int,
    steps: list[tuple[int, str, int, int, float, OrderSide | None]],
    cancel_share: float | None,
) -> None:
    node = make_node_cls(latency_ns=latency_ms * MS, jitter_ns=jitter_ms * MS, seed=3)
    bid = 10_000  # in ticks
    spread = 1
    node.quote(0, bid * TICK, (bid + spread) * TICK)
    algorithm = parent["algorithm"]
    horizon = parent["horizon_s"] * SEC
    quantity = float(parent["quantity"])
    node.execute(
        node.parent(
            side=parent["side"],
            quantity=quantity,
            urgency=parent["urgency"],
            algorithm=algorithm,
            horizon_ns=horizon if algorithm != "market" else None,
            params=_params(parent) if algorithm else {},
        )
    )

    def check_books() -> None:
        children = node.children()
        filled = sum(o.filled_qty for o in children)
        open_qty = sum(o.leaves_qty for o in children if o.is_open)
        assert filled <= quantity + 1e-9
        assert filled + open_qty <= quantity + 1e-9, (filled, open_qty)
        algo = node.algos.algorithm("P1")
        if algo is not None:
            assert algo.filled_qty == filled
            assert algo.filled_qty + algo.open_qty <= quantity + 1e-9

    cancel_at = None if cancel_share is None else int(cancel_share * (len(steps) - 1))
    now_ms = 0
    for i, (dt, kind, move, width, size, aggressor) in enumerate(steps):
        now_ms += dt
        seconds = now_ms / 1_000
        if kind == "quote":
            bid += move
            spread = width
            node.quote(seconds, bid * TICK, (bid + spread) * TICK, size, 400 - size + 1)
        else:
            base = bid if aggressor is not BUY else bid + spread
            node.trade(seconds, (base + move) * TICK, size, aggressor)
        if cancel_at == i:
            node.cancel()
        check_books()

    # Let every timer, deadline and latency play out on a quiet market.
    node.quote(now_ms / 1_000 + 50, bid * TICK, (bid + spread) * TICK)
    node.quote(now_ms / 1_000 + 51, bid * TICK, (bid + spread) * TICK)
    check_books()

    ended = node.ended()
    finishes = algorithm != "iceberg" or cancel_at is not None
    if finishes:
        assert ended is not None, node.algo_events
    if ended is None:
        return
    assert isinstance(ended, ParentOrderEnded)
    children = node.children()
    assert all(not o.is_open for o in children)
    assert all(o.ts_init <= ended.ts_event for o in children)  # nothing sent after the end
    assert ended.child_order_ids == tuple(o.client_order_id for o in children)
    fills = [
        e
        for e in node.order_events
        if isinstance(e, OrderFilled) and e.client_order_id in ended.child_order_ids
    ]
    assert list(ended.fills) == fills
    assert ended.filled_quantity == sum(f.last_qty for f in fills) <= quantity
    if ended.reason == "filled":
        assert ended.filled_quantity == quantity
    report = execution_report(parent_execution(ended))  # validates fills and times
    assert report.filled_quantity == ended.filled_quantity
    if ended.filled_quantity:
        assert ended.avg_px == sum(f.last_qty * f.last_px for f in fills) / ended.filled_quantity
    if parent["side"] is BUY and ended.fills:
        assert all(f.side is BUY for f in ended.fills)
