"""``StrategyHost`` sends no order on before its record is in the store."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import pytest

from quantgrid.adapters.storage import InMemoryStore, OrderRecord
from quantgrid.model import Bar, OrderSide, OrderStatus
from quantgrid.paper import ReplayFeed, StrategyHost
from quantgrid.strategy import SmaCross, Strategy
from quantgrid.venues import VenueConfig
from tests.unit.paper.support import START_NS, make_node, random_walk

pytestmark = pytest.mark.anyio


class SlowStore(InMemoryStore):
    """A store whose order writes take a while, as on a slow disk."""

    def save_order(self, order: OrderRecord) -> bool:
        time.sleep(0.005)
        return super().save_order(order)


class Churn(Strategy):
    """Every bar: a market order, a bracket, a modify and a cancel of the last order."""

    name: ClassVar[str] = "churn"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, OrderStatus, bool]] = []

    def on_bar(self, bar: Bar) -> None:
        for order in self.open_orders():
            if order.order_type.name == "LIMIT" and order.tag == "bid":
                self.modify(order, price=bar.close * 0.98)
                self.cancel(order)
        sent = self.buy(1, bar.instrument_id, price=bar.close * 0.99, tag="bid")
        self.bracket(
            OrderSide.BUY,
            2,
            bar.instrument_id,
            stop_loss=bar.close * 0.9,
            take_profit=bar.close * 1.1,
        )
        # What the strategy sees of an order it has just sent, inside the hook.
        self.seen.append((sent.client_order_id, sent.status, sent in self.open_orders()))


async def test_no_order_reaches_the_venue_before_its_record_is_stored() -> None:
    store = SlowStore()
    node = make_node(["AAA"], store=store)
    host = StrategyHost(node, VenueConfig())
    strategy = Churn()
    host.add_strategy(strategy)
    venue = host.venue
    assert venue is not None
    reached: list[str] = []
    missing: list[str] = []

    def at_the_venue(command: Any) -> None:
        one = getattr(command, "order", None)
        orders = [one] if one is not None else list(getattr(command, "orders", ()))
        for order in orders:
            reached.append(order.client_order_id)
            if store.get_order(order.client_order_id) is None:
                missing.append(order.client_order_id)
        venue.execute(command)

    node.bus.deregister(venue.endpoint)
    node.bus.register(venue.endpoint, at_the_venue)
    await node.start()
    await host.start()
    assert await ReplayFeed(random_walk("AAA", 5, n=12)).play(host) == 12
    await host.stop()
    await node.stop()

    # Each bar a limit and a market entry; the engine releases an entry's two exits
    # when it fills, at the next bar's open: the last bar's entry never does.
    assert len(reached) == 12 * 2 + 11 * 2
    assert len(set(reached)) == len(reached)  # each once
    assert missing == []
    assert any(o.status is OrderStatus.CANCELED for o in host.orders)
    assert any(o.status is OrderStatus.FILLED for o in host.orders)
    # Inside the hook an order just sent is open, as in a backtest, but not yet sent.
    assert strategy.seen[0] == ("churn-1", OrderStatus.INITIALIZED, True)
    assert all(status is OrderStatus.INITIALIZED and open_ for _, status, open_ in strategy.seen)


async def test_commands_wait_for_flush_and_new_bars_wait_for_them() -> None:
    host = StrategyHost(make_node(["AAA"]), VenueConfig())
    host.add_strategy(SmaCross({"fast": 2, "slow": 3, "size": 1}))
    await host.node.start()
    await host.start()
    feed = ReplayFeed(random_walk("AAA", 2, n=40))
    moments = feed.moments()
    while not host.held:
        host.on_bars(next(moments))
        if not host.held:
            await host.flush()
    (order,) = (o for s in host.strategies for o in s.open_orders())
    assert host.node.store.get_order(order.client_order_id) is None
    assert host.orders == ()
    with pytest.raises(RuntimeError, match=r"not sent yet: await StrategyHost\.flush"):
        host.on_bars(next(moments))
    await host.flush()
    assert host.held == 0
    assert host.orders == (order,) and order.status is OrderStatus.ACCEPTED
    assert host.node.store.get_order(order.client_order_id) is not None
    await host.node.stop()


async def test_orders_sent_in_on_start_and_on_stop_are_stored_then_sent() -> None:
    class Bookends(Strategy):
        name: ClassVar[str] = "bookends"

        def on_start(self) -> None:
            self.buy(1, "AAA", price=90.0)

        def on_stop(self) -> None:
            self.cancel_all()
            self.sell(1, "AAA", price=110.0)

    host = StrategyHost(make_node(["AAA"], start_ns=START_NS), VenueConfig())
    host.add_strategy(Bookends())
    await host.node.start()
    await host.start()
    assert [o.status for o in host.orders] == [OrderStatus.ACCEPTED]
    await host.stop()
    assert [o.status for o in host.orders] == [OrderStatus.CANCELED, OrderStatus.ACCEPTED]
    for order in host.orders:
        stored = host.node.store.get_order(order.client_order_id)
        assert stored is not None and stored.status is order.status
    await host.node.stop()
