"""``StrategyHost`` runs strategies on the trading node and refuses what it cannot run."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from quantgrid.adapters.storage import InMemoryStore, InvalidRecordError, OrderRecord, StoreError
from quantgrid.model import (
    Bar,
    InvalidMarketDataError,
    Order,
    OrderDenied,
    OrderStatus,
    QuoteTick,
)
from quantgrid.node import NodeNotRunningError
from quantgrid.paper import (
    HOST_ENDPOINT,
    NOT_STORED,
    ReplayFeed,
    StrategyHost,
    latest_stored_moment,
)
from quantgrid.risk import TradingState
from quantgrid.strategy import SmaCross, Strategy, StrategyError
from quantgrid.venues import VenueConfig
from tests.unit.paper.support import MINUTE_NS, START_NS, make_node, random_walk

pytestmark = pytest.mark.anyio


class BuyOnce(Strategy):
    """Buy 10 AAA at market on a bar when flat with nothing working; count the hooks."""

    name: ClassVar[str] = "buy_once"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []

    def on_data(self, bars: Any) -> None:
        self.calls.append("on_data")

    def on_start(self) -> None:
        self.calls.append("on_start")

    def on_bar(self, bar: Bar) -> None:
        self.calls.append("on_bar")
        iid = bar.instrument_id
        if iid == "AAA" and not self.open_orders(iid) and self.position(iid) == 0:
            self.buy(10, iid)

    def on_stop(self) -> None:
        self.calls.append("on_stop")


class Explodes(Strategy):
    """Raise on every bar."""

    name: ClassVar[str] = "explodes"

    def on_bar(self, bar: Bar) -> None:
        raise ZeroDivisionError("bad arithmetic")


def bar(minute: int, iid: str = "AAA", open_: float = 100.0, close: float = 100.5) -> Bar:
    """Return a bar ``minute`` minutes after the start."""
    return Bar(iid, START_NS + minute * MINUTE_NS, open_, 101.0, 99.0, close, 1_000.0)


async def started(strategy: Strategy, venue: VenueConfig | None = None, **node: Any) -> Any:
    """Return a started host of ``strategy`` on a started node."""
    host = StrategyHost(make_node(["AAA", "BBB"], **node), venue)
    host.add_strategy(strategy)
    await host.node.start()
    await host.start()
    return host


async def test_a_market_order_fills_at_the_next_bars_open_and_is_stored() -> None:
    strategy = BuyOnce()
    host = await started(strategy, VenueConfig())
    host.on_bars((bar(0, close=100.5),))
    await host.flush()
    (order,) = host.orders
    assert order.status is OrderStatus.ACCEPTED  # nothing fills at the bar it was decided on
    stored = host.node.store.get_order(order.client_order_id)
    assert stored is not None and stored.status is OrderStatus.ACCEPTED

    host.on_bars((bar(1, open_=100.25),))
    await host.flush()
    (fill,) = host.fills
    assert (fill.last_px, fill.last_qty, fill.ts_event) == (100.25, 10.0, START_NS + MINUTE_NS)
    assert fill.trade_id.startswith("PAPER-p1-")  # the node's venue name, session included
    assert [f.price for f in host.node.store.list_fills().items] == [100.25]
    assert strategy.position("AAA") == 10.0
    await host.stop()
    await host.node.stop()
    assert strategy.calls == ["on_start", "on_bar", "on_bar", "on_stop"]  # never on_data


async def test_without_a_bar_venue_orders_match_the_quotes_fed_to_the_node() -> None:
    # The node's order-book venue fills a market order at once against the displayed
    # ask: at the time of the bar it was decided on, not at the next bar's open.
    host = await started(BuyOnce())
    assert host.venue is None
    host.node.on_quote(QuoteTick("AAA", START_NS, 100.4, 100.6, 500.0, 500.0))
    host.on_bars((bar(0),))
    assert host.fills == ()  # held until its record is stored
    await host.flush()
    (fill,) = host.fills
    assert (fill.last_px, fill.ts_event) == (100.6, START_NS)
    await host.stop()
    await host.node.stop()


async def test_bars_of_several_instruments_are_one_moment() -> None:
    seen: list[str] = []

    class Watch(Strategy):
        name: ClassVar[str] = "watch"

        def on_bar(self, bar: Bar) -> None:
            seen.append(bar.instrument_id)

    host = await started(Watch(), VenueConfig())
    host.on_bars((bar(0, "BBB"), bar(0, "AAA")))
    assert seen == ["BBB", "AAA"]
    assert host.node.prices.price("AAA") == 100.5  # closes marked
    await host.node.stop()


@pytest.mark.parametrize(
    ("bars", "message"),
    [
        ((), "at least one"),
        ((bar(1, "ZZZ"),), "does not trade"),
        ((bar(1), bar(2, "BBB")), "share one timestamp"),
        ((bar(1), bar(1)), "'AAA' twice"),
        (("AAA",), "must be Bar records"),
    ],
)
async def test_bad_bars_are_refused(bars: tuple[Any, ...], message: str) -> None:
    host = await started(BuyOnce(), VenueConfig())
    with pytest.raises(InvalidMarketDataError, match=message):
        host.on_bars(bars)
    await host.node.stop()


async def test_bars_that_go_back_in_time_are_refused() -> None:
    host = await started(BuyOnce(), VenueConfig())
    host.on_bars((bar(5),))
    with pytest.raises(InvalidMarketDataError, match="go back in time"):
        host.on_bars((bar(4),))
    await host.node.stop()


async def test_a_strategy_error_names_the_bar() -> None:
    host = await started(Explodes(), VenueConfig())
    with pytest.raises(StrategyError, match=r"AAA bar at 2024-01-01.*ZeroDivisionError"):
        host.on_bars((bar(0),))
    await host.node.stop()


async def test_the_host_is_built_before_the_node_starts() -> None:
    node = make_node(["AAA"])
    await node.start()
    with pytest.raises(ValueError, match=r"before node\.start"):
        StrategyHost(node)
    await node.stop()


async def test_the_host_runs_only_on_a_running_node() -> None:
    host = StrategyHost(make_node(["AAA"]), VenueConfig())
    host.add_strategy(BuyOnce())
    with pytest.raises(NodeNotRunningError, match="start the trading node"):
        await host.start()
    with pytest.raises(NodeNotRunningError, match="before feeding bars"):
        host.on_bars((bar(0),))


async def test_strategies_are_checked_when_added() -> None:
    host = StrategyHost(make_node(["AAA"]), VenueConfig())
    with pytest.raises(TypeError, match="needs a Strategy"):
        host.add_strategy("sma")  # type: ignore[arg-type]
    host.add_strategy(SmaCross())
    with pytest.raises(ValueError, match="share the id 'sma_cross'"):
        host.add_strategy(SmaCross())
    await host.node.start()
    await host.start()
    with pytest.raises(ValueError, match=r"before StrategyHost\.start"):
        host.add_strategy(BuyOnce())
    with pytest.raises(ValueError, match="starts once"):
        await host.start()
    await host.node.stop()


async def test_a_host_needs_a_strategy_a_node_and_a_venue_config() -> None:
    with pytest.raises(TypeError, match="needs a TradingNode"):
        StrategyHost("node")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="VenueConfig or None"):
        StrategyHost(make_node(["AAA"]), venue="bars")  # type: ignore[arg-type]
    host = StrategyHost(make_node(["AAA"]))
    await host.node.start()
    with pytest.raises(ValueError, match="no strategy"):
        await host.start()
    await host.node.stop()


class RefusingStore(InMemoryStore):
    """A store that cannot keep new orders."""

    def save_order(self, order: OrderRecord) -> bool:
        raise StoreError("disk full")


async def test_an_order_the_store_cannot_keep_is_never_sent_and_halts_trading() -> None:
    denials: list[OrderDenied] = []

    class BuyEveryBar(Strategy):
        name: ClassVar[str] = "buy_every_bar"

        def on_bar(self, bar: Bar) -> None:
            if bar.instrument_id == "AAA":
                self.buy(1, "AAA")

        def on_order_event(self, event: Any) -> None:
            if isinstance(event, OrderDenied):
                denials.append(event)

    strategy = BuyEveryBar()
    host = await started(strategy, VenueConfig(), store=RefusingStore())
    host.on_bars((bar(0),))
    (order,) = strategy.open_orders("AAA")
    await host.flush()
    assert host.orders == ()  # the node's engine never saw it
    assert order.status is OrderStatus.DENIED
    assert [d.client_order_id for d in denials] == ["buy_every_bar-1"]
    assert denials[0].reason.startswith(f"{NOT_STORED}: the store failed: StoreError: disk full")
    assert host.storage_failures == host.refused_orders == 1
    assert host.node.risk.state is TradingState.HALTED
    host.on_bars((bar(1),))
    await host.flush()
    assert host.fills == ()
    assert strategy.open_orders() == []
    assert host.refused_orders == 2
    await host.node.stop()


class InvalidRecordStore(InMemoryStore):
    """A store that finds each new order's record invalid (as for a price too precise)."""

    def save_order(self, order: OrderRecord) -> bool:
        raise InvalidRecordError(f"order {order.client_order_id}: price has too many digits")


async def test_an_order_whose_record_is_invalid_is_refused_without_halting() -> None:
    """Review: one bad order halted every strategy, being taken for a store failure."""

    class BuyOnce(Strategy):
        name: ClassVar[str] = "buy_once"

        def on_bar(self, bar: Bar) -> None:
            if bar.instrument_id == "AAA" and not self.open_orders("AAA"):
                self.buy(1, "AAA")

    strategy = BuyOnce()
    host = await started(strategy, VenueConfig(), store=InvalidRecordStore())
    host.on_bars((bar(0),))
    (order,) = strategy.open_orders("AAA")
    await host.flush()
    assert order.status is OrderStatus.DENIED
    assert host.refused_orders == 1
    assert host.storage_failures == 0
    assert host.node.risk.state is not TradingState.HALTED
    await host.node.stop()


class Resubmits(Strategy):
    """Buy on its first two bars, restarting its order ids at the second (a clash)."""

    name: ClassVar[str] = "resubmits"

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Order] = []

    def on_bar(self, bar: Bar) -> None:
        if bar.instrument_id != "AAA" or len(self.sent) == 2:
            return
        if self.sent:
            self._order_count = 0  # as a fresh instance of a restarted strategy would
        self.sent.append(self.buy(10, "AAA"))


async def test_an_order_id_that_is_stored_already_is_never_sent_again() -> None:
    strategy = Resubmits()
    host = await started(strategy, VenueConfig())
    host.on_bars((bar(0),))
    await host.flush()
    host.on_bars((bar(1, open_=100.25),))
    (first, again) = strategy.sent
    assert again.status is OrderStatus.INITIALIZED  # held: not checked, not sent yet
    await host.flush()
    assert first.client_order_id == again.client_order_id == "resubmits-1"
    assert again.status is OrderStatus.DENIED and first.status is OrderStatus.FILLED
    assert "stored already" in again.events[-1].reason  # type: ignore[attr-defined]
    (kept,) = host.orders
    assert kept is first and [f.last_px for f in host.fills] == [100.25]
    stored = host.node.store.get_order("resubmits-1")
    assert stored is not None and stored.order.ts_init == START_NS  # the first, untouched
    assert host.storage_failures == 0 and host.node.risk.state is TradingState.ACTIVE
    await host.node.stop()


async def test_commands_reach_the_node_through_the_host_endpoint() -> None:
    host = await started(SmaCross({"fast": 3, "slow": 8, "size": 5}), VenueConfig())
    assert HOST_ENDPOINT in host.node.bus.endpoints
    series = random_walk("AAA", 3, n=60)
    assert await ReplayFeed(series).play(host) == 60
    assert host.orders
    for order in host.orders:
        assert host.node.store.get_order(order.client_order_id) is not None
    await host.node.stop()


async def test_a_strategy_added_to_an_open_host_warms_up_then_trades() -> None:
    host = StrategyHost(make_node(["AAA", "BBB"]), VenueConfig())
    await host.node.start()
    host.open()
    host.on_bars((bar(0),))  # an open host plays bars with no strategy
    await host.flush()
    strategy = BuyOnce()
    await host.add(strategy, instruments=["AAA"], warm_up=[(bar(-2),), (bar(-1),)])
    # The warm-up reached on_bar, and what it decided there was dropped, not sent.
    assert strategy.calls == ["on_start", "on_bar", "on_bar"]
    assert host.orders == () and host.dropped_commands == 1  # its own order held it back
    host.on_bars((bar(1), bar(1, "BBB")))
    await host.flush()
    (order,) = host.orders
    assert order.client_order_id == f"{strategy.id}-1"  # no id spent in the warm-up
    assert strategy.calls[-1] == "on_bar"  # BBB's bar does not reach a strategy of AAA
    assert strategy.calls.count("on_bar") == 3


async def test_a_removed_strategy_cancels_its_orders_and_hears_nothing_more() -> None:
    host = StrategyHost(make_node(["AAA"]), VenueConfig())
    await host.node.start()
    host.open()
    strategy = BuyOnce()
    await host.add(strategy)
    host.on_bars((bar(0),))
    await host.flush()
    (order,) = host.orders
    assert order.is_open
    assert await host.remove(strategy.id)
    assert order.status is OrderStatus.CANCELED
    assert strategy.calls[-1] == "on_stop"
    assert not await host.remove(strategy.id)  # gone already
    host.on_bars((bar(1),))
    await host.flush()
    assert strategy.calls[-1] == "on_stop" and host.strategies == []
    assert host.fills == ()  # the cancelled order did not fill at the next open


async def test_adding_and_opening_are_checked() -> None:
    host = StrategyHost(make_node(["AAA"]), VenueConfig())
    with pytest.raises(ValueError, match="started host"):
        await host.add(BuyOnce())
    with pytest.raises(NodeNotRunningError, match="open"):
        host.open()
    await host.node.start()
    host.open()
    with pytest.raises(ValueError, match="starts once"):
        host.open()
    await host.add(BuyOnce())
    with pytest.raises(ValueError, match="share the id"):
        await host.add(BuyOnce())
    with pytest.raises(ValueError, match="instruments \\['ZZZ'\\]"):
        await host.add(BuyOnce(strategy_id="other"), instruments=["ZZZ"])
    assert [s.id for s in host.strategies] == ["buy_once"]  # the refused one left no trace
    with pytest.raises(TypeError, match="needs a Strategy"):
        await host.add(object())  # type: ignore[arg-type]
    other = StrategyHost(make_node(["AAA"]), VenueConfig())
    other.add_strategy(BuyOnce())
    await other.node.start()
    with pytest.raises(ValueError, match="start\\(\\) or resume\\(\\)"):
        other.open()


async def test_a_strategy_failing_to_warm_up_is_not_added() -> None:
    host = StrategyHost(make_node(["AAA"]), VenueConfig())
    await host.node.start()
    host.open()
    with pytest.raises(StrategyError, match="warm-up"):
        await host.add(Explodes(), warm_up=[(bar(-1),)])
    assert host.strategies == []
    host.on_bars((bar(0),))  # its subscriptions are gone: the bar reaches nobody
    await host.flush()


class Counts(BuyOnce):
    """BuyOnce that keeps how many bars it saw as its state."""

    name: ClassVar[str] = "counts"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: Any = 0

    def on_bar(self, bar: Bar) -> None:
        super().on_bar(bar)
        self.seen += 1

    def save_state(self) -> dict[str, Any]:
        return {"seen": self.seen}

    def load_state(self, state: Any) -> None:
        self.seen = state["seen"]


async def test_a_strategys_state_is_stored_when_it_changes_and_comes_back() -> None:
    host = StrategyHost(make_node(["AAA"]), VenueConfig())
    await host.node.start()
    host.open()
    await host.add(Counts())
    store = host.node.store
    for minute in range(3):
        host.on_bars((bar(minute),))
        await host.flush()
    stored = store.get_checkpoint("strategy-state.counts")
    assert stored is not None and stored.value == {"seen": 3}
    assert stored.ts_ns == START_NS + 2 * MINUTE_NS
    await host.flush()  # unchanged: not written again
    assert store.get_checkpoint("strategy-state.counts") == stored

    # A new host on the same store (a restart): the warm-up's count is replaced by the
    # stored one; a strategy started afresh keeps what its warm-up built.
    other = StrategyHost(make_node(["AAA"], store=store, session_id="p2"), VenueConfig())
    await other.node.start()
    other.open()
    again = Counts()
    await other.add(again, warm_up=[(bar(2),)], restore_state=True)
    assert again.seen == 3
    assert await other.remove(again.id)
    fresh = Counts()
    await other.add(fresh, warm_up=[(bar(2),)])
    assert fresh.seen == 1
    stored = store.get_checkpoint("strategy-state.counts")
    assert stored is not None and stored.value == {"seen": 1}  # stored afresh at once


async def test_a_state_the_store_refuses_stops_trading_naming_the_strategy() -> None:
    host = StrategyHost(make_node(["AAA"]), VenueConfig())
    await host.node.start()
    host.open()
    strategy = Counts()
    await host.add(strategy)
    strategy.seen = {1, 2}  # not JSON
    with pytest.raises(StrategyError, match="strategy counts: its state could not be stored"):
        await host.flush()


async def test_a_strategy_that_saves_state_must_load_it() -> None:
    class SavesOnly(BuyOnce):
        name: ClassVar[str] = "saves_only"

        def save_state(self) -> dict[str, Any]:
            return {"x": 1}

    host = StrategyHost(make_node(["AAA"]), VenueConfig())
    await host.node.start()
    host.open()
    await host.add(SavesOnly())
    await host.flush()
    other = StrategyHost(make_node(["AAA"], store=host.node.store, session_id="p2"), VenueConfig())
    await other.node.start()
    other.open()
    with pytest.raises(StrategyError, match=r"saves state .* but does not load it"):
        await other.add(SavesOnly(), restore_state=True)
    assert other.strategies == []


async def test_a_strategy_whose_first_flush_fails_is_not_left_trading() -> None:
    host = StrategyHost(make_node(["AAA"]), VenueConfig())
    await host.node.start()
    host.open()
    strategy = Counts()
    strategy.seen = {1}  # its state cannot be stored
    with pytest.raises(StrategyError, match="its state could not be stored"):
        await host.add(strategy)
    assert host.strategies == []
    host.on_bars((bar(0),))  # it hears nothing more
    await host.flush()
    assert strategy.seen == {1}


async def test_the_latest_stored_moment_counts_orders_and_states() -> None:
    host = StrategyHost(make_node(["AAA"]), VenueConfig())
    await host.node.start()
    host.open()
    store = host.node.store
    assert latest_stored_moment(store, ["counts"]) is None
    await host.add(Counts())
    host.on_bars((bar(0),))  # an order at minute 0, its state too
    await host.flush()
    assert latest_stored_moment(store, ["counts"]) == START_NS
    host.on_bars((bar(1),))  # no order (one works), a new state: a later moment
    await host.flush()
    assert latest_stored_moment(store, ["counts"]) == START_NS + MINUTE_NS
    assert latest_stored_moment(store, ["other"]) is None
