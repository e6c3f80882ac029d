"""The algorithm engine: refusals, child orders, cancellation, events, the replay path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import Field

from quantgrid.analytics import execution_report
from quantgrid.backtest import ReplayConfig, ReplayEngine
from quantgrid.execution import EXECUTE_ENDPOINT
from quantgrid.execution.algorithms import (
    ALGO_ENDPOINT,
    BUILTIN_ALGORITHMS,
    AlgorithmParams,
    CancelParentOrder,
    ExecAlgorithm,
    ExecAlgorithmEngine,
    ExecuteParentOrder,
    ParentOrder,
    ParentOrderCanceled,
    ParentOrderCompleted,
    ParentOrderRejected,
    ParentOrderStarted,
    Urgency,
    algo_event_topic,
    parent_execution,
)
from quantgrid.model import (
    Instrument,
    OrderBookDepth,
    OrderDenied,
    OrderFilled,
    OrderSide,
    QuoteTick,
    SubmitOrder,
    TradeTick,
)
from quantgrid.risk import RiskConfig
from quantgrid.strategy import Strategy
from quantgrid.venues import BookVenueConfig

NodeFactory = Callable[..., Any]
BUY, SELL = OrderSide.BUY, OrderSide.SELL
SEC = 1_000_000_000
MS = 1_000_000


def test_engine_registers_its_endpoint_and_knows_the_builtins(make_node: NodeFactory) -> None:
    node = make_node()

    assert ALGO_ENDPOINT == "ExecAlgo.execute"
    assert ALGO_ENDPOINT in node.bus.endpoints
    assert node.algos.algorithms == ("iceberg", "market", "post_only", "twap", "vwap")
    assert set(BUILTIN_ALGORITHMS) == set(node.algos.algorithms)


def test_refuses_a_parent_before_any_quote_with_an_event_and_sends_nothing(
    make_node: NodeFactory,
) -> None:
    node = make_node()

    node.execute(node.parent(algorithm="market"))

    rejected = node.rejected()
    assert rejected.reason == (
        "no two-sided quote of X seen yet: the arrival price is unknown, so nothing was sent"
    )
    assert node.algos.result("P1") == rejected
    assert node.execution.orders == ()
    node.quote(1, 100.00, 100.01)
    node.execute(node.parent("P2", algorithm="market"))  # a new id works once quoted
    assert isinstance(node.ended("P2"), ParentOrderCompleted)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"quantity": 10.5}, "quantity 10.5 is not a whole number of lots of X (lot size 1)"),
        ({"algorithm": "pov"}, "unknown algorithm 'pov' (known: iceberg, market, post_only"),
    ],
)
def test_refusals_name_the_rule(
    make_node: NodeFactory, fields: dict[str, Any], reason: str
) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)

    node.execute(node.parent(**fields))

    assert node.rejected().reason.startswith(reason)
    assert node.execution.orders == ()
    assert not any(isinstance(e, ParentOrderStarted) for e in node.algo_events)


def test_refuses_an_unknown_instrument(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)

    node.execute(ParentOrder("P1", "S", "NOPE", BUY, 1.0))

    assert node.rejected().reason == "unknown instrument 'NOPE'"


class _Sliced(ExecAlgorithm):
    """A custom algorithm: sends ``pieces`` market children at once."""

    class Params(AlgorithmParams):
        pieces: int = Field(2, ge=1)

    name: ClassVar[str] = "sliced"

    def on_start(self) -> None:
        assert isinstance(self.params, _Sliced.Params)
        for _ in range(self.params.pieces + 1):  # one too many: must be refused
            self.submit_marketable(self.parent.quantity / self.params.pieces)
        self.when_idle(lambda: self.complete("done"))


def test_custom_algorithms_are_validated_and_capped(make_node: NodeFactory) -> None:
    node = make_node()
    engine = node.algos
    node.bus.deregister(ALGO_ENDPOINT)
    custom = ExecAlgorithmEngine(
        node.bus, node.clock, node.replay.instruments, algorithms={"sliced": _Sliced}
    )
    node.quote(0, 100.00, 100.01)

    node.execute(node.parent("bad", algorithm="sliced", params={"pieces": 0}))
    node.execute(node.parent("good", algorithm="sliced", params={"pieces": 4}))

    assert custom.result("bad") == node.rejected("bad")
    assert node.rejected("bad").reason.startswith(
        "sliced: invalid parameters: parameter 'pieces': Input should be greater than or "
        "equal to 1 (got 0)"
    )
    assert [o.quantity for o in node.children("good")] == [25.0] * 4  # the fifth refused
    assert node.filled("good") == 100.0
    assert engine.running == ()
    with pytest.raises(TypeError, match="must be an ExecAlgorithm subclass"):
        ExecAlgorithmEngine(node.bus, node.clock, {}, algorithms={"x": object})  # type: ignore[dict-item]


def test_duplicate_parent_ids_and_unknown_cancels_are_counted(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)
    parent = node.parent(algorithm="post_only")

    node.execute(parent)
    node.execute(parent)
    node.cancel("nope")

    assert node.algos.duplicate_submissions == 1
    assert node.algos.unknown_requests == 1
    assert len(node.children()) == 1
    with pytest.raises(TypeError, match="cannot handle SubmitOrder"):
        node.bus.send(ALGO_ENDPOINT, SubmitOrder(node.children()[0], 0))


def test_started_event_carries_the_choice_and_the_arrival(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.02)
    node.advance(2)

    node.execute(node.parent(algorithm="twap", horizon_ns=60 * SEC, params={"slices": 3}))

    started = node.started()
    assert (started.algorithm, started.params["slices"], started.horizon_ns) == (
        "twap",
        3,
        60 * SEC,
    )
    assert (started.arrival_price, started.arrival_bid, started.arrival_ask) == (
        100.01,
        100.00,
        100.02,
    )
    assert started.ts_arrival == started.ts_event == node.at(2)
    assert started.urgency is Urgency.NORMAL
    assert algo_event_topic(started) == "events.algo.started"


def test_events_are_published_on_their_topics(make_node: NodeFactory) -> None:
    node = make_node()
    seen: list[tuple[str, str]] = []
    for kind in ("started", "completed", "canceled", "rejected"):
        node.bus.subscribe(f"events.algo.{kind}", lambda e, k=kind: seen.append((k, e.parent_id)))
    node.execute(node.parent("R"))
    node.quote(0, 100.00, 100.01)
    node.execute(node.parent("M", algorithm="market"))
    node.execute(node.parent("C", algorithm="post_only"))
    node.cancel("C")

    assert seen == [
        ("rejected", "R"),
        ("started", "M"),
        ("completed", "M"),
        ("started", "C"),
        ("canceled", "C"),
    ]


def test_cancel_mid_way_cancels_working_children_and_sends_nothing_more(
    make_node: NodeFactory,
) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)
    node.execute(
        node.parent(quantity=100, algorithm="twap", horizon_ns=40 * SEC, params={"slices": 4})
    )
    node.advance(10)  # slice 1 crossed (25), slice 2 resting
    node.trade(12, 100.00, 510.0, SELL)  # 10 of slice 2 filled passively

    node.cancel()

    ended = node.ended()
    assert isinstance(ended, ParentOrderCanceled)
    assert (ended.filled_quantity, ended.reason) == (35.0, "canceled on request")
    assert node.working() == []
    sent = len(node.children())
    node.quote(20, 100.01, 100.02)
    node.advance(100)  # the later slice timers fire into a stopped parent
    assert len(node.children()) == sent
    assert node.algos.running == ()
    assert node.algos.result("P1") == ended
    node.cancel()
    assert node.algos.unknown_requests == 1


def test_cancel_racing_a_fill_waits_for_the_venue_and_reports_the_fill(
    make_node: NodeFactory,
) -> None:
    node = make_node(latency_ns=10 * MS)
    node.quote(0, 100.00, 100.01)
    node.execute(node.parent(quantity=100, algorithm="post_only", horizon_ns=60 * SEC))
    node.advance(1)

    node.cancel()
    assert node.ended() is None  # the cancel is on its way
    node.trade(1.005, 100.00, 530.0, SELL)  # 30 fill before the cancel arrives
    node.advance(1.02)

    ended = node.ended()
    assert isinstance(ended, ParentOrderCanceled)
    assert ended.filled_quantity == 30.0
    assert ended.ts_event == node.at(1.01)
    assert [f.last_qty for f in ended.fills] == [30.0]


def test_a_cancel_that_loses_the_race_to_the_last_fill_reports_completed(
    make_node: NodeFactory,
) -> None:
    node = make_node(latency_ns=10 * MS)
    node.quote(0, 100.00, 100.01)
    node.execute(node.parent(quantity=100, algorithm="post_only", horizon_ns=60 * SEC))
    node.advance(1)

    node.cancel()
    node.trade(1.005, 100.00, 700.0, SELL)  # fills everything before the cancel arrives
    node.advance(1.02)

    ended = node.ended()
    assert isinstance(ended, ParentOrderCompleted)
    assert (ended.filled_quantity, ended.reason) == (100.0, "filled")


def test_child_orders_go_to_the_order_endpoint_as_the_parents_strategy(
    make_node: NodeFactory,
) -> None:
    node = make_node()
    node.bus.deregister(ALGO_ENDPOINT)
    received: list[object] = []
    node.bus.register("Custom.execute", received.append)
    ExecAlgorithmEngine(
        node.bus, node.clock, node.replay.instruments, order_endpoint="Custom.execute"
    )
    node.quote(0, 100.00, 100.01)

    node.execute(node.parent(algorithm="post_only", horizon_ns=SEC))
    node.advance(1)

    [submit, cancel] = received
    assert isinstance(submit, SubmitOrder)
    assert (submit.order.client_order_id, submit.order.strategy_id, submit.order.tag) == (
        "P1-1",
        "S",
        "P1",
    )
    assert type(cancel).__name__ == "CancelOrder"


def test_children_through_a_risk_engine_denial_cancels_a_market_parent(
    make_node: NodeFactory,
) -> None:
    node = make_node(risk=RiskConfig(max_order_quantity=50))
    assert node.replay.order_endpoint != EXECUTE_ENDPOINT
    node.quote(0, 100.00, 100.01)

    node.execute(node.parent(quantity=100, algorithm="market"))

    ended = node.ended()
    assert isinstance(ended, ParentOrderCanceled)
    assert ended.reason.startswith("market order refused: max_order_quantity")
    assert any(isinstance(e, OrderDenied) for e in node.order_events)


def test_repeated_denials_stop_a_passive_parent(make_node: NodeFactory) -> None:
    node = make_node(risk=RiskConfig(max_order_quantity=50))
    node.quote(0, 100.00, 100.01)
    node.execute(
        node.parent(quantity=100, algorithm="post_only", horizon_ns=60 * SEC,
                    params={"max_rejections": 3})
    )  # fmt: skip
    for k in range(1, 5):
        node.quote(k, 100.00, 100.01)

    ended = node.ended()
    assert isinstance(ended, ParentOrderCanceled)
    assert "3 child orders in a row were refused" in ended.reason
    assert len(node.children()) == 3


def test_book_snapshots_give_the_touch(make_node: NodeFactory) -> None:
    node = make_node()
    depth = OrderBookDepth("X", node.at(0), ((100.0, 300.0), (99.99, 200.0)), ((100.02, 100.0),))
    node.venue.on_depth(depth)
    node.bus.publish("data.book.X", depth)

    node.execute(node.parent(algorithm="post_only"))

    assert node.algos.last_quote("X") == QuoteTick("X", node.at(0), 100.0, 100.02, 300.0, 100.0)
    assert node.children()[0].price == 100.0
    assert node.started().arrival_price == 100.01


def test_parents_of_one_instrument_work_independently(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.02)
    node.execute(node.parent("B", BUY, algorithm="post_only"))
    node.execute(node.parent("S", SELL, algorithm="post_only"))

    node.quote(1, 100.01, 100.02)

    assert [o.price for o in node.children("B")] == [100.01]
    assert [o.price for o in node.children("S")] == [100.02]
    assert node.algos.running == ("B", "S")


def test_parent_execution_feeds_execution_analytics(make_node: NodeFactory) -> None:
    node = make_node(taker_rate=0.0005, multiplier=2.0)
    node.quote(0, 100.00, 100.02)

    node.execute(node.parent(quantity=10, algorithm="market"))
    node.quote(5, 100.04, 100.06)

    ended = node.ended()
    assert isinstance(ended, ParentOrderCompleted)
    execution = parent_execution(ended, multiplier=2.0)
    report = execution_report(
        execution, (np.array([node.at(0)]), np.array([100.02]), np.array([10.0]))
    )
    assert (execution.arrival_price, execution.ts_arrival) == (100.01, node.at(0))
    assert execution.end_price == 100.01  # the mid when it ended, at once
    assert report.slippage_bps == pytest.approx(0.01 / 100.01 * 1e4)
    assert report.fees == pytest.approx(10 * 100.02 * 2.0 * 0.0005)
    assert report.maker_quantity_ratio == 0.0
    assert report.fill_rate == 1.0


class _Trader(Strategy):
    """Sends one parent on its first quote; counts the fills of its children."""

    name = "trader"

    def on_start(self) -> None:
        self.fills: list[OrderFilled] = []
        self.sent = False

    def on_quote(self, quote: QuoteTick) -> None:
        if not self.sent:
            self.sent = True
            parent = ParentOrder("T1", self.id, "X", BUY, 50.0, algorithm="post_only",
                                 horizon_ns=10 * SEC)  # fmt: skip
            assert self._bus is not None
            self._bus.send(ALGO_ENDPOINT, ExecuteParentOrder(parent, self.now_ns()))

    def on_fill(self, fill: OrderFilled) -> None:
        self.fills.append(fill)


def test_replay_a_strategy_sends_a_parent_and_sees_its_childrens_fills() -> None:
    instrument = Instrument("X")
    replay = ReplayEngine(
        ReplayConfig([instrument], venue=BookVenueConfig(latency_ns=MS)), start_ns=0
    )
    algos = ExecAlgorithmEngine(replay.bus, replay.clock, replay.instruments)
    trader = _Trader()
    replay.add_strategy(trader)
    data = [
        QuoteTick("X", 0, 100.00, 100.01, 100.0, 100.0),
        TradeTick("X", 1 * SEC, 100.00, 120.0, SELL),  # 100 ahead, 20 ours
        QuoteTick("X", 2 * SEC, 100.01, 100.02, 80.0, 100.0),  # follow the bid up
        TradeTick("X", 3 * SEC, 100.01, 200.0, SELL),
        QuoteTick("X", 4 * SEC, 100.01, 100.02, 80.0, 100.0),
    ]

    result = replay.run(data)

    ended = algos.result("T1")
    assert isinstance(ended, ParentOrderCompleted)
    assert ended.filled_quantity == 50.0
    assert [f.last_qty for f in trader.fills] == [20.0, 30.0]
    assert [(f.last_qty, f.last_px) for f in result.fills] == [(20.0, 100.00), (30.0, 100.01)]
    assert result.positions == {"X": 50.0}


def test_cancel_command_round_trip(make_node: NodeFactory) -> None:
    node = make_node()
    node.quote(0, 100.00, 100.01)
    node.execute(node.parent(algorithm="post_only"))

    node.bus.send(ALGO_ENDPOINT, CancelParentOrder("P1", node.clock.timestamp_ns()))

    assert isinstance(node.ended(), ParentOrderCanceled)
    assert not isinstance(node.ended(), ParentOrderRejected)
