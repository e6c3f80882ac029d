"""A ``TradingNode`` whose venue endpoint a ``LiveVenue`` (Alpaca, on loopback) took over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest

from quantgrid.adapters.bus import InProcessEventBus
from quantgrid.adapters.storage import InMemoryStore, Store
from quantgrid.adapters.venues import AlpacaClient, LiveVenue
from quantgrid.core import TestClock
from quantgrid.model import OrderSide, OrderStatus, OrderType
from quantgrid.node import OrderRequest, TradingNode
from tests.unit.adapters.venues.harness import QUICK, START_NS
from tests.unit.adapters.venues.loopback import LoopbackServer, Reply, fixture
from tests.unit.node.support import make_config

pytestmark = pytest.mark.anyio

ORDER_ID = "61e69015-8549-4bfd-b9c3-01e75843f47d"
REQUEST = OrderRequest("o-1", "AAPL", OrderSide.BUY, OrderType.LIMIT, 10, price=189.5)


def answer(name: str, status: int = 200) -> Reply:
    return Reply(fixture("alpaca", name), status)


@asynccontextmanager
async def live_node(
    server: LoopbackServer, store: Store, session_id: str
) -> AsyncIterator[tuple[TradingNode, LiveVenue]]:
    """Start a node whose paper venue's endpoint a ``LiveVenue`` took over; stop both after."""
    node = TradingNode(
        make_config(),
        store=store,
        bus=InProcessEventBus(),
        clock=TestClock(START_NS),
        session_id=session_id,
    )
    # Before start: recovery sends the recovered orders to the venue endpoint.
    node.bus.deregister(node.venue.endpoint)
    client = AlpacaClient(base_url=server.base_url, key_id="k", secret_key="s", timeout_s=2.0)
    venue = LiveVenue(node.venue.name, node.bus, node.clock, node.instruments, client, QUICK)
    await node.start()
    try:
        yield node, venue
    finally:
        await venue.stop()
        await node.stop()


async def test_an_order_placed_through_the_node_ends_with_its_fills_in_portfolio_and_store(
    server: LoopbackServer,
) -> None:
    store = InMemoryStore()
    server.on("POST", "/v2/orders", answer("order_accepted"))
    server.on("GET", "/v2/orders", Reply([fixture("alpaca", "order_partially_filled")]))
    server.on("GET", "/v2/account/activities/FILL", answer("activities_fill_partial"))
    async with live_node(server, store, "s1") as (node, venue):
        result = await node.submit(REQUEST)
        assert result.created and result.order.status is OrderStatus.SUBMITTED
        await venue.drain()
        await venue.poll_once()
        server.on("GET", "/v2/orders", Reply([]))
        server.on("GET", f"/v2/orders/{ORDER_ID}", answer("order_filled"))
        server.on("GET", "/v2/account/activities/FILL", answer("activities_fill_full"))
        await venue.poll_once()
        await node.writer.barrier()
        position = (await node.positions())[0]
        cash = await node.cash()
        detail = await node.get_order("o-1")

    assert len(server.to("POST", "/v2/orders")) == 1
    assert (position.instrument_id, position.quantity) == ("AAPL", 10.0)
    assert position.avg_px_open == pytest.approx(189.488)
    assert cash.balance == Decimal("100000") - Decimal("1894.88")
    assert detail.order.status is OrderStatus.FILLED
    assert detail.order.venue_order_id == ORDER_ID
    assert [(f.trade_id, f.quantity) for f in detail.fills] == [
        ("ALPACA-20240102150100000::8efc7b9a-8b2b-4000-9955-d36e7db0df74", Decimal(4)),
        ("ALPACA-20240102150200000::1d2f7c8e-13b3-4e45-8a2c-6f0a6b1c9d11", Decimal(6)),
    ]
    stored = store.list_fills(limit=10).items
    assert len(stored) == 2


async def test_a_restart_follows_the_working_order_at_the_venue_instead_of_placing_it_again(
    server: LoopbackServer,
) -> None:
    store = InMemoryStore()
    server.on("POST", "/v2/orders", answer("order_accepted"))
    server.on("GET", "/v2/orders", Reply([fixture("alpaca", "order_partially_filled")]))
    server.on("GET", "/v2/account/activities/FILL", answer("activities_fill_partial"))
    async with live_node(server, store, "s1") as (node, venue):
        await node.submit(REQUEST)
        await venue.drain()
        await venue.poll_once()
        assert node.execution.order("o-1").filled_qty == 4  # type: ignore[union-attr]

    # While the node was down the order filled completely at the venue.
    server.on("GET", "/v2/orders:by_client_order_id", answer("order_filled"))
    server.on("GET", "/v2/account/activities/FILL", answer("activities_fill_full"))
    async with live_node(server, store, "s2") as (node, venue):
        assert node.recovery.replaced == ("o-1",)
        await venue.drain()
        await node.writer.barrier()
        detail = await node.get_order("o-1")
        position = (await node.positions())[0]
        duplicates = node.stats()["duplicate_fills"]

    assert len(server.to("POST", "/v2/orders")) == 1  # only the first run placed it
    assert len(server.to("GET", "/v2/orders:by_client_order_id")) == 1
    assert detail.order.status is OrderStatus.FILLED
    assert [f.quantity for f in detail.fills] == [Decimal(4), Decimal(6)]
    assert position.quantity == 10.0
    assert duplicates == 0  # the fill of before the restart was not even reported again
