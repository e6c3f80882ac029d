"""A replay node driven by hand: the real bus, clock, execution engine and book venue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from quantgrid.backtest import ReplayConfig, ReplayEngine
from quantgrid.execution.algorithms import (
    ALGO_ENDPOINT,
    CancelParentOrder,
    ExecAlgorithmEngine,
    ExecuteParentOrder,
    ParentOrder,
    ParentOrderEnded,
    ParentOrderEvent,
    ParentOrderRejected,
    ParentOrderStarted,
    Router,
)
from quantgrid.model import (
    Instrument,
    Order,
    OrderEvent,
    OrderFilled,
    OrderSide,
    QuoteTick,
    TradeTick,
)
from quantgrid.risk import RiskConfig
from quantgrid.venues import BookVenueConfig, MakerTakerCommission

T0 = 1_704_205_800_000_000_000  # 2024-01-02 14:30 UTC
SEC = 1_000_000_000
MS = 1_000_000


class Node:
    """A ``ReplayEngine``'s components with an algorithm engine, fed quote by quote.

    ``quote`` and ``trade`` do what the replay does for each data item: advance the
    clock (firing due timers and latency alerts), let the venue match, then publish.
    """

    def __init__(
        self,
        *,
        latency_ns: int = 0,
        jitter_ns: int = 0,
        seed: int = 0,
        taker_rate: float = 0.0,
        maker_rate: float = 0.0,
        tick: float = 0.01,
        lot: float = 1.0,
        multiplier: float = 1.0,
        router: Router | None = None,
        risk: RiskConfig | None = None,
    ) -> None:
        self.instrument = Instrument("X", tick, lot, multiplier)
        venue = BookVenueConfig(
            commission=MakerTakerCommission(maker_rate=maker_rate, taker_rate=taker_rate),
            latency_ns=latency_ns,
            latency_jitter_ns=jitter_ns,
            seed=seed,
            check_buying_power=False,
        )
        config = ReplayConfig([self.instrument], initial_cash=1e9, venue=venue, risk=risk)
        self.replay = ReplayEngine(config, start_ns=T0)
        self.clock = self.replay.clock
        self.bus = self.replay.bus
        self.venue = self.replay.venue
        self.execution = self.replay.execution
        self.algos = ExecAlgorithmEngine(
            self.bus,
            self.clock,
            self.replay.instruments,
            order_endpoint=self.replay.order_endpoint,
            router=router,
        )
        self.algo_events: list[ParentOrderEvent] = []
        self.order_events: list[OrderEvent] = []
        self.bus.subscribe("events.algo.>", self.algo_events.append)
        self.bus.subscribe("events.order.>", self.order_events.append)

    # -- time and data -------------------------------------------------------------
    @staticmethod
    def at(seconds: float) -> int:
        return T0 + round(seconds * SEC)

    def now_s(self) -> float:
        return (self.clock.timestamp_ns() - T0) / SEC

    def advance(self, seconds: float) -> None:
        self.clock.advance_to(self.at(seconds))

    def quote(
        self,
        seconds: float,
        bid: float,
        ask: float,
        bid_size: float = 500.0,
        ask_size: float = 500.0,
    ) -> QuoteTick:
        ts = self.at(seconds)
        self.clock.advance_to(ts)
        quote = QuoteTick("X", ts, bid, ask, bid_size, ask_size)
        self.venue.on_quote(quote)
        self.bus.publish("data.quotes.X", quote)
        return quote

    def trade(
        self, seconds: float, price: float, size: float, aggressor: OrderSide | None
    ) -> TradeTick:
        ts = self.at(seconds)
        self.clock.advance_to(ts)
        trade = TradeTick("X", ts, price, size, aggressor)
        self.venue.on_trade(trade)
        self.bus.publish("data.trades.X", trade)
        return trade

    # -- parents -------------------------------------------------------------------
    @staticmethod
    def parent(
        parent_id: str = "P1",
        side: OrderSide = OrderSide.BUY,
        quantity: float = 100.0,
        **fields: Any,
    ) -> ParentOrder:
        return ParentOrder(parent_id, "S", "X", side, quantity, **fields)

    def execute(self, parent: ParentOrder) -> ParentOrder:
        self.bus.send(ALGO_ENDPOINT, ExecuteParentOrder(parent, self.clock.timestamp_ns()))
        return parent

    def cancel(self, parent_id: str = "P1") -> None:
        self.bus.send(ALGO_ENDPOINT, CancelParentOrder(parent_id, self.clock.timestamp_ns()))

    # -- reading -------------------------------------------------------------------
    def children(self, parent_id: str = "P1") -> list[Order]:
        return [o for o in self.execution.orders if o.tag == parent_id]

    def working(self, parent_id: str = "P1") -> list[Order]:
        return [o for o in self.children(parent_id) if o.is_open]

    def fills(self, parent_id: str = "P1") -> list[OrderFilled]:
        ids = {o.client_order_id for o in self.children(parent_id)}
        return [
            e for e in self.order_events if isinstance(e, OrderFilled) and e.client_order_id in ids
        ]

    def filled(self, parent_id: str = "P1") -> float:
        return sum(f.last_qty for f in self.fills(parent_id))

    def started(self, parent_id: str = "P1") -> ParentOrderStarted:
        found = [
            e
            for e in self.algo_events
            if isinstance(e, ParentOrderStarted) and e.parent_id == parent_id
        ]
        assert len(found) == 1, found
        return found[0]

    def ended(self, parent_id: str = "P1") -> ParentOrderEnded | None:
        found = [
            e
            for e in self.algo_events
            if isinstance(e, ParentOrderEnded) and e.parent_id == parent_id
        ]
        assert len(found) <= 1, found
        return found[0] if found else None

    def rejected(self, parent_id: str = "P1") -> ParentOrderRejected:
        found = [
            e
            for e in self.algo_events
            if isinstance(e, ParentOrderRejected) and e.parent_id == parent_id
        ]
        assert len(found) == 1, self.algo_events
        return found[0]


@pytest.fixture
def make_node() -> Callable[..., Node]:
    """Return the ``Node`` class, to build a node per test."""
    return Node


@pytest.fixture(scope="session")
def make_node_cls() -> Callable[..., Node]:
    """Return the ``Node`` class (session-scoped, for Hypothesis tests)."""
    return Node
