"""The order book venue against its reference: the same orders and data, the same events.

``OrderBookVenue`` visits only the resting orders and stops that market data can reach
(``quantgrid.venues._resting``); ``ReferenceBookVenue`` is a frozen copy of the venue
from before, which walks every live order on every quote, snapshot and print. Random
sequences of quotes, snapshots, prints, submissions (market, limit, stop, stop-limit;
GTC, DAY, IOC, FOK; post-only, reduce-only), amendments, cancels and waits drive
both, each in its own hand-built node, and every order event, queue position and book
must come out the same, to the bit (compared by ``repr``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st

from quantgrid.core import NANOS_PER_DAY, MessageBus, PriceCache, TestClock
from quantgrid.execution import ExecutionEngine
from quantgrid.model import (
    Instrument,
    Order,
    OrderBookDepth,
    OrderEvent,
    OrderFilled,
    OrderSide,
    QuoteTick,
    TimeInForce,
    TradeTick,
)
from quantgrid.portfolio import Portfolio, PortfolioView
from quantgrid.strategy import Strategy
from quantgrid.venues import BookVenueConfig, OrderBookVenue
from tests.unit.venues.reference_book import ReferenceBookVenue

DAY0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
MS = 1_000_000
TICK = 0.01
BASE = 100.0
# Prices are ticks off the node's mark (the last quote's or snapshot's best bid), which
# moves a few ticks at a time: orders, levels and prints share prices often.
TICKS = st.integers(-3, 4)
MOVES = st.sampled_from([-2, -1, 0, 0, 0, 0, 0, 1, 2])
SIZES = st.sampled_from([0.5, 1.0, 2.0, 2.5, 3.0, 5.0, 8.0, 20.0])  # some below a lot
SIDES = st.sampled_from([OrderSide.BUY, OrderSide.SELL])


def px(tick: int) -> float:
    return round(BASE + tick * TICK, 2)


class Trader(Strategy):
    """A strategy the test drives by hand."""

    name: ClassVar[str] = "trader"


class Twin:
    """One hand-built node around a venue: the real one or the reference."""

    def __init__(self, venue_type: type, config: BookVenueConfig, cash: float) -> None:
        self.clock = TestClock(DAY0)
        self.bus = MessageBus()
        self.prices = PriceCache()
        self.instruments = {"X": Instrument("X")}
        self.portfolio = Portfolio(self.bus, self.prices, self.instruments, cash, 1.0)
        self.venue = venue_type(
            "BOOK", self.bus, self.clock, self.prices, self.instruments, self.portfolio, config
        )
        self.engine = ExecutionEngine(self.bus, self.clock, self.venue.endpoint, self.instruments)
        self.trader = Trader()
        self.trader.attach(self.clock, self.bus, PortfolioView(self.portfolio), self.instruments)
        self.events: list[OrderEvent] = []
        self.bus.subscribe("events.order.>", self.events.append)
        self.orders: list[Order] = []
        self.ts = DAY0
        self.mark = 0  # ticks off BASE
        self.spread = 1  # ticks from the mark to the last quote's or snapshot's best ask

    def px(self, ticks: object) -> float:
        """Return the price ``ticks`` off the mark."""
        assert isinstance(ticks, int)
        return px(self.mark + ticks)

    def advance(self, dt: int) -> int:
        self.ts += dt
        self.clock.advance_to(self.ts)
        return self.ts

    def state(self) -> list[str]:
        """Return what the venue shows, every float by ``repr``: compared to the bit."""
        venue = self.venue
        depth = venue.depth("X")
        return [
            repr(self.events),
            repr([venue.queue_ahead(o.client_order_id) for o in self.orders]),
            repr((depth.bids, depth.asks)),
            repr([o.client_order_id for o in venue.working_orders("X")]),
            repr((self.portfolio.cash, self.prices.last.get("X"))),
        ]


@dataclass(frozen=True)
class Step:
    """One thing that happens to both nodes."""

    kind: str
    args: tuple[Any, ...]


def _quote() -> st.SearchStrategy[Step]:
    return st.builds(
        lambda move, spread, bs, asz, dt: Step("quote", (move, spread, bs, asz, dt)),
        MOVES,
        st.integers(1, 3),
        SIZES,
        SIZES,
        st.integers(0, 3),
    )


def _depth() -> st.SearchStrategy[Step]:
    gaps = st.lists(st.integers(1, 2), max_size=4)
    return st.builds(
        lambda move, spread, bgaps, agaps, sizes: Step(
            "depth", (move, spread, bgaps, agaps, sizes)
        ),
        MOVES,
        st.integers(1, 3),
        gaps,
        gaps,
        st.lists(SIZES, min_size=10, max_size=10),
    )


def _trade() -> st.SearchStrategy[Step]:
    return st.builds(
        lambda at, size, aggressor: Step("trade", (at, size, aggressor)),
        # Mostly at the touch: 0 is the bid, 1 the ask; -1 below the bid, 2 above the ask.
        st.sampled_from([-1, 0, 0, 0, 1, 1, 1, 2]),
        SIZES,
        st.sampled_from([OrderSide.BUY, OrderSide.SELL, None]),
    )


def _submit() -> st.SearchStrategy[Step]:
    return st.builds(
        lambda side, kind, tick, offset, qty, tif, post, reduce: Step(
            "submit", (side, kind, tick, offset, qty, tif, post, reduce)
        ),
        SIDES,
        st.sampled_from(["limit", "limit", "limit", "market", "stop", "stop_limit"]),
        TICKS,
        st.integers(-3, 3),
        st.sampled_from([1.0, 2.0, 3.0, 5.0, 10.0]),
        st.sampled_from(
            [
                TimeInForce.GTC,
                TimeInForce.GTC,
                TimeInForce.GTC,
                TimeInForce.DAY,
                TimeInForce.IOC,
                TimeInForce.FOK,
            ]
        ),
        st.booleans(),
        st.sampled_from([False, False, False, True]),
    )


def _amend() -> st.SearchStrategy[Step]:
    return st.builds(
        lambda index, qty, tick, stop: Step("amend", (index, qty, tick, stop)),
        st.integers(0, 40),
        st.one_of(st.none(), st.sampled_from([1.0, 2.0, 4.0, 8.0])),
        st.one_of(st.none(), TICKS),
        st.one_of(st.none(), TICKS),
    )


# Weighted by repetition (distinct instances: one_of merges equal ones): the book and
# orders mostly, the resets (cancel all, a day passing) rarely, so that queues build up.
STEPS = st.one_of(
    *[_quote() for _ in range(4)],
    _depth(),
    *[_trade() for _ in range(2)],
    *[_submit() for _ in range(4)],
    _amend(),
    st.builds(lambda index: Step("cancel", (index,)), st.integers(0, 40)),
    st.builds(
        lambda dt: Step("wait", (dt,)),
        st.sampled_from([MS, MS, 5 * MS, 5 * MS, 5 * MS, NANOS_PER_DAY]),
    ),
    st.builds(
        lambda reset: Step("cancel_all", ()) if reset else Step("wait", (MS,)),
        st.sampled_from([False, False, False, True]),
    ),
)


def apply(twin: Twin, step: Step) -> None:
    """Do ``step`` to one node."""
    venue, trader, a = twin.venue, twin.trader, step.args
    if step.kind == "quote":
        move, spread, bid_size, ask_size, dt = a
        assert isinstance(move, int) and isinstance(spread, int) and isinstance(dt, int)
        twin.mark += move
        twin.spread = spread
        ts = twin.advance(dt * MS)
        venue.on_quote(QuoteTick("X", ts, twin.px(0), twin.px(spread), bid_size, ask_size))
    elif step.kind == "depth":
        move, spread, bid_gaps, ask_gaps, sizes = a
        assert isinstance(move, int) and isinstance(spread, int)
        twin.mark += move
        twin.spread = spread
        assert isinstance(bid_gaps, list) and isinstance(ask_gaps, list)
        assert isinstance(sizes, list)
        bids, asks, tick = [], [], 0
        for k, gap in enumerate([0, *bid_gaps]):
            tick -= gap
            bids.append((twin.px(tick), sizes[k]))
        tick = spread
        for k, gap in enumerate([0, *ask_gaps]):
            tick += gap
            asks.append((twin.px(tick), sizes[5 + k]))
        venue.on_depth(OrderBookDepth("X", twin.advance(MS), tuple(bids), tuple(asks)))
    elif step.kind == "trade":
        at, size, aggressor = a
        assert isinstance(at, int)
        tick = at if at <= 0 else at - 1 + twin.spread
        venue.on_trade(TradeTick("X", twin.advance(MS), twin.px(tick), size, aggressor))
    elif step.kind == "submit":
        side, kind, tick, offset, qty, tif, post, reduce = a
        assert isinstance(tick, int) and isinstance(offset, int)
        price = twin.px(tick) if kind in ("limit", "stop_limit") else None
        stop = twin.px(tick + offset) if kind in ("stop", "stop_limit") else None
        if kind != "limit":
            post = False
        if kind == "market" and tif is TimeInForce.DAY:
            tif = TimeInForce.GTC
        place = trader.buy if side is OrderSide.BUY else trader.sell
        order = place(
            qty,
            price=price,
            stop=stop,
            time_in_force=tif,
            post_only=post,
            reduce_only=reduce,
        )
        twin.orders.append(order)
    elif step.kind == "amend":
        index, qty, tick, stop = a
        working = [o for o in twin.orders if not o.is_closed]
        if not working:
            return
        order = working[int(index) % len(working)]
        trader.modify(
            order,
            quantity=qty,
            price=None if tick is None or order.price is None else twin.px(tick),
            stop=None if stop is None or order.trigger_price is None else twin.px(stop),
        )
    elif step.kind == "cancel":
        if twin.orders:
            trader.cancel(twin.orders[int(a[0]) % len(twin.orders)])
    elif step.kind == "cancel_all":
        trader.cancel_all("X")
    else:
        twin.advance(int(a[0]))


def run_both(config: BookVenueConfig, cash: float, steps: list[Step]) -> tuple[Twin, Twin]:
    """Drive the venue and the reference with ``steps``; return both once they agree."""
    fast = Twin(OrderBookVenue, config, cash)
    slow = Twin(ReferenceBookVenue, config, cash)
    for k, step in enumerate(steps):
        outcomes = []
        for twin in (fast, slow):
            try:
                apply(twin, step)
                outcomes.append("ok")
            except Exception as error:  # both must refuse alike
                outcomes.append(f"{type(error).__name__}: {error}")
        assert outcomes[0] == outcomes[1], f"step {k} {step}: {outcomes}"
        assert fast.state() == slow.state(), f"diverged at step {k}: {step}"
    return fast, slow


CONFIGS = st.builds(
    lambda queue, latency, jitter: BookVenueConfig(
        queue_position=queue, latency_ns=latency, latency_jitter_ns=jitter, seed=7
    ),
    st.sampled_from(["conservative", "proportional"]),
    st.sampled_from([0, 0, 2 * MS]),
    st.sampled_from([0, MS]),
)


@settings(max_examples=300, deadline=None)
@given(
    config=CONFIGS,
    cash=st.sampled_from([1_000_000.0, 1_000_000.0, 1_000_000.0, 2_000.0]),
    steps=st.lists(STEPS, min_size=20, max_size=120),
)
def test_venue_matches_the_reference_event_for_event(
    config: BookVenueConfig, cash: float, steps: list[Step]
) -> None:
    run_both(config, cash, steps)


def test_the_comparison_sees_fills_queues_and_stops() -> None:
    # The harness must compare something real: a sequence with a queue, a partial fill
    # at the queue, a fill through, and a stop that triggers gives events in both.
    steps = [
        Step("quote", (0, 2, 5.0, 5.0, 1)),
        Step("submit", (OrderSide.BUY, "limit", 0, 0, 5.0, TimeInForce.GTC, False, False)),
        Step("submit", (OrderSide.BUY, "stop", 0, 4, 2.0, TimeInForce.GTC, False, False)),
        Step("trade", (0, 8.0, OrderSide.SELL)),
        Step("quote", (3, 1, 5.0, 5.0, 1)),
        Step("trade", (1, 1.0, OrderSide.BUY)),
        Step("quote", (-5, 1, 5.0, 5.0, 1)),
    ]
    fast, slow = run_both(BookVenueConfig(), 1_000_000.0, steps)
    fills = [e for e in fast.events if isinstance(e, OrderFilled)]
    assert [(f.last_px, f.last_qty) for f in fills] == [(100.0, 3.0), (100.04, 2.0), (100.0, 2.0)]
    assert fast.state() == slow.state()


def test_a_stop_reached_by_a_later_stops_taking_waits_for_the_next_data() -> None:
    # A walk in arrival order passes the first stop before the second one's taking
    # moves the mid onto it: it triggers only at the next market data.
    twins = (
        Twin(OrderBookVenue, BookVenueConfig(), 1_000_000.0),
        Twin(ReferenceBookVenue, BookVenueConfig(), 1_000_000.0),
    )
    for twin in twins:
        twin.venue.on_depth(
            OrderBookDepth("X", twin.advance(MS), ((99.90, 5.0),), ((99.91, 1.0), (99.95, 9.0)))
        )
        first = twin.trader.buy(1.0, stop=100.02)
        second = twin.trader.buy(1.0, stop=100.00)
        twin.venue.on_depth(
            OrderBookDepth("X", twin.advance(MS), ((100.0, 5.0),), ((100.01, 1.0), (100.05, 9.0)))
        )
        assert not first.triggered  # the mid is 100.025 now, but it came too late
        assert [(f.last_px, f.last_qty) for f in twin.events if isinstance(f, OrderFilled)] == [
            (100.01, 1.0)
        ]
        assert second.is_closed
        twin.venue.on_quote(QuoteTick("X", twin.advance(MS), 100.0, 100.05, 5.0, 9.0))
        assert first.triggered
    assert twins[0].state() == twins[1].state()
