"""``LiveVenue`` over ``AlpacaClient``, against recorded Alpaca payloads on loopback."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from quantgrid.adapters.venues import AlpacaClient, LiveVenueConfig, VenueRejectedError
from quantgrid.model import (
    Instrument,
    LiquiditySide,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    TimeInForce,
)
from tests.unit.adapters.venues.harness import (
    AAPL,
    MSFT,
    QUICK,
    START_NS,
    Harness,
    limit_buy,
    make_harness,
)
from tests.unit.adapters.venues.loopback import LoopbackServer, Reply, fixture

pytestmark = pytest.mark.anyio

KEY_ID = "PKTEST0KEY0ID"
SECRET = "test-secret-never-logged-0123456789"
ORDER_ID = "61e69015-8549-4bfd-b9c3-01e75843f47d"
FILL_1 = "20240102150100000::8efc7b9a-8b2b-4000-9955-d36e7db0df74"
FILL_2 = "20240102150200000::1d2f7c8e-13b3-4e45-8a2c-6f0a6b1c9d11"


def answer(name: str, status: int = 200, **kw: Any) -> Reply:
    """Return a reply with an Alpaca fixture's body."""
    return Reply(fixture("alpaca", name), status, **kw)


@asynccontextmanager
async def alpaca(
    server: LoopbackServer,
    *,
    timeout_s: float = 2.0,
    config: LiveVenueConfig = QUICK,
    instruments: tuple[Instrument, ...] = (AAPL, MSFT),
) -> AsyncIterator[Harness]:
    """Yield a harness whose venue is Alpaca at the loopback server; close it after."""
    client = AlpacaClient(
        base_url=server.base_url, key_id=KEY_ID, secret_key=SECRET, timeout_s=timeout_s
    )
    harness = make_harness(client, instruments, config)
    try:
        yield harness
    finally:
        await harness.venue.stop()


async def accepted(server: LoopbackServer, harness: Harness, order: Order | None = None) -> Order:
    """Submit a limit buy that Alpaca accepts; return it."""
    server.on("POST", "/v2/orders", answer("order_accepted"))
    placed = harness.submit(order or limit_buy())
    await harness.venue.drain()
    assert placed.status is OrderStatus.ACCEPTED
    return placed


async def test_an_accepted_order_carries_our_client_order_id_and_the_keys(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.on("POST", "/v2/orders", answer("order_accepted"))
    async with alpaca(server) as h:
        order = h.submit(limit_buy())
        assert order.status is OrderStatus.SUBMITTED  # the answer comes on the loop
        await h.venue.drain()

    (post,) = server.to("POST", "/v2/orders")
    assert post.json() == {
        "symbol": "AAPL",
        "qty": "10",
        "side": "buy",
        "type": "limit",
        "time_in_force": "gtc",
        "limit_price": "189.50",
        "client_order_id": "o-1",
    }
    assert post.headers["apca-api-key-id"] == KEY_ID
    assert post.headers["apca-api-secret-key"] == SECRET
    assert order.status is OrderStatus.ACCEPTED
    assert order.venue_order_id == ORDER_ID
    assert h.kinds("o-1") == ["OrderSubmitted", "OrderAccepted"]
    assert h.last("o-1").ts_event == START_NS  # the node's clock, not the venue's
    assert caplog.records, "the debug log was captured"
    assert not [r for r in caplog.records if SECRET in r.getMessage()]


async def test_a_rejection_carries_alpacas_reason_verbatim(server: LoopbackServer) -> None:
    server.on("POST", "/v2/orders", answer("error_insufficient_buying_power", 403))
    async with alpaca(server) as h:
        order = h.submit(limit_buy())
        await h.venue.drain()

    assert order.status is OrderStatus.REJECTED
    rejection = h.last("o-1")
    assert isinstance(rejection, OrderRejected)
    assert rejection.reason == "insufficient buying power"
    assert [r.method for r in server.requests] == ["POST"]  # refused: nothing looked up
    assert h.venue.followed == ()


async def test_a_partial_then_full_fill_is_reported_once_per_trade(
    server: LoopbackServer,
) -> None:
    async with alpaca(server) as h:
        order = await accepted(server, h)
        server.on("GET", "/v2/orders", Reply([fixture("alpaca", "order_partially_filled")]))
        server.on("GET", "/v2/account/activities/FILL", answer("activities_fill_partial"))
        await h.venue.poll_once()
        assert order.status is OrderStatus.PARTIALLY_FILLED
        await h.venue.poll_once()  # nothing new: the fill is not reported again
        assert order.filled_qty == 4

        server.on("GET", "/v2/orders", Reply([]))  # no longer open
        server.on("GET", f"/v2/orders/{ORDER_ID}", answer("order_filled"))
        server.on("GET", "/v2/account/activities/FILL", answer("activities_fill_full"))
        await h.venue.poll_once()
        before = len(server.requests)
        await h.venue.poll_once()  # nothing followed any more: no request

    fills = [e for e in h.events if isinstance(e, OrderFilled)]
    assert [(f.trade_id, f.last_qty, f.last_px) for f in fills] == [
        (f"ALPACA-{FILL_1}", 4.0, 189.5),
        (f"ALPACA-{FILL_2}", 6.0, 189.48),
    ]
    assert {(f.commission, f.liquidity_side, f.currency, f.side) for f in fills} == {
        (0.0, LiquiditySide.TAKER, "USD", OrderSide.BUY)
    }
    assert order.status is OrderStatus.FILLED
    assert order.avg_px == pytest.approx(189.488)
    assert len(server.requests) == before
    activities = server.to("GET", "/v2/account/activities/FILL")[0]
    assert activities.query["after"] == ["2024-01-02T14:59:59Z"]  # just before the order
    assert activities.query["direction"] == ["asc"]
    listing = server.to("GET", "/v2/orders")[0]
    assert listing.query["status"] == ["open"]
    assert listing.query["symbols"] == ["AAPL"]


async def test_a_cancel_ends_the_order_when_alpaca_reports_it_canceled(
    server: LoopbackServer,
) -> None:
    async with alpaca(server) as h:
        order = await accepted(server, h)
        server.on("DELETE", f"/v2/orders/{ORDER_ID}", Reply(None, 204))
        server.on("GET", f"/v2/orders/{ORDER_ID}", answer("order_pending_cancel"))
        h.cancel(order)
        await h.venue.drain()
        assert order.status is OrderStatus.PENDING_CANCEL  # Alpaca ends it later

        server.on("GET", "/v2/orders", Reply([]))
        server.on("GET", f"/v2/orders/{ORDER_ID}", answer("order_canceled"))
        await h.venue.poll_once()

    assert order.status is OrderStatus.CANCELED
    canceled = h.last("o-1")
    assert isinstance(canceled, OrderCanceled)
    assert canceled.reason == "canceled on request"
    assert len(server.to("DELETE", f"/v2/orders/{ORDER_ID}")) == 1


async def test_a_refused_cancel_is_reported_with_alpacas_reason(server: LoopbackServer) -> None:
    async with alpaca(server) as h:
        order = await accepted(server, h)
        server.on("DELETE", f"/v2/orders/{ORDER_ID}", answer("error_order_not_cancelable", 422))
        server.on("GET", f"/v2/orders/{ORDER_ID}", answer("order_new"))
        h.cancel(order)
        await h.venue.drain()

    refusal = h.last("o-1")
    assert isinstance(refusal, OrderCancelRejected)
    assert refusal.reason == "order is not cancelable"
    assert order.status is OrderStatus.ACCEPTED  # works on


async def test_a_cancel_that_lost_to_a_fill_reports_the_fill(server: LoopbackServer) -> None:
    async with alpaca(server) as h:
        order = await accepted(server, h)
        server.on("DELETE", f"/v2/orders/{ORDER_ID}", answer("error_order_not_cancelable", 422))
        server.on("GET", f"/v2/orders/{ORDER_ID}", answer("order_filled"))
        server.on("GET", "/v2/account/activities/FILL", answer("activities_fill_full"))
        h.cancel(order)
        await h.venue.drain()

    assert order.status is OrderStatus.FILLED
    assert "OrderCancelRejected" not in h.kinds("o-1")  # the fills answered the cancel


async def test_a_timed_out_submit_is_found_by_client_order_id_and_not_sent_again(
    server: LoopbackServer,
) -> None:
    server.on("POST", "/v2/orders", answer("order_accepted", hold=True))
    async with alpaca(server, timeout_s=0.2) as h:
        order = h.submit(limit_buy())
        await h.venue.drain()
        assert order.status is OrderStatus.SUBMITTED  # neither accepted nor rejected
        assert h.kinds("o-1") == ["OrderSubmitted"]

        server.on("GET", "/v2/orders:by_client_order_id", answer("order_accepted"))
        await h.venue.poll_once()

    assert order.status is OrderStatus.ACCEPTED
    assert order.venue_order_id == ORDER_ID
    assert len(server.to("POST", "/v2/orders")) == 1
    (look_up,) = server.to("GET", "/v2/orders:by_client_order_id")
    assert look_up.query == {"client_order_id": ["o-1"]}


async def test_a_submit_that_truly_failed_is_rejected_once_alpaca_has_no_such_order(
    server: LoopbackServer,
) -> None:
    server.on("POST", "/v2/orders", answer("error_internal", 500))
    server.on("GET", "/v2/orders:by_client_order_id", answer("error_order_not_found", 404))
    async with alpaca(server) as h:
        order = h.submit(limit_buy())
        await h.venue.drain()
        assert order.status is OrderStatus.SUBMITTED
        await h.venue.poll_once()

    assert order.status is OrderStatus.REJECTED
    reason = h.last("o-1").reason  # type: ignore[attr-defined]
    assert "500 internal server error occurred" in reason
    assert "has no order o-1: it was not placed, and is not sent again" in reason
    assert len(server.to("POST", "/v2/orders")) == 1


async def test_no_such_order_right_after_the_failure_is_not_believed_yet(
    server: LoopbackServer,
) -> None:
    server.on("POST", "/v2/orders", answer("error_internal", 500))
    server.on("GET", "/v2/orders:by_client_order_id", answer("error_order_not_found", 404))
    config = LiveVenueConfig(lookup_grace_s=300.0)
    async with alpaca(server, config=config) as h:
        order = h.submit(limit_buy())
        await h.venue.drain()
        await h.venue.poll_once()
        await h.venue.poll_once()

    assert order.status is OrderStatus.SUBMITTED  # a slow venue may still show it
    assert len(server.to("GET", "/v2/orders:by_client_order_id")) == 2
    assert len(server.to("POST", "/v2/orders")) == 1


async def test_an_unreachable_venue_leaves_the_order_submitted(server: LoopbackServer) -> None:
    closed = LoopbackServer()
    closed.start()
    url = closed.base_url
    closed.close()  # nothing listens there now: every connection is refused
    client = AlpacaClient(base_url=url, key_id=KEY_ID, secret_key=SECRET, timeout_s=1.0)
    h = make_harness(client)
    try:
        order = h.submit(limit_buy())
        await h.venue.drain()
        await h.venue.poll_once()
    finally:
        await h.venue.stop()
    assert order.status is OrderStatus.SUBMITTED
    assert h.venue.followed == ("o-1",)


async def test_a_duplicate_client_order_id_follows_the_order_alpaca_has(
    server: LoopbackServer,
) -> None:
    server.on("POST", "/v2/orders", answer("error_client_order_id_not_unique", 422))
    server.on("GET", "/v2/orders:by_client_order_id", answer("order_partially_filled"))
    server.on("GET", "/v2/account/activities/FILL", answer("activities_fill_partial"))
    async with alpaca(server) as h:
        order = h.submit(limit_buy())
        await h.venue.drain()

    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.venue_order_id == ORDER_ID
    assert h.kinds("o-1") == ["OrderSubmitted", "OrderAccepted", "OrderFilled"]
    assert len(server.to("POST", "/v2/orders")) == 1


async def test_a_rate_limited_submit_is_sent_again(server: LoopbackServer) -> None:
    server.on("POST", "/v2/orders", answer("error_rate_limit", 429), answer("order_accepted"))
    async with alpaca(server) as h:
        order = h.submit(limit_buy())
        await h.venue.drain()

    assert order.status is OrderStatus.ACCEPTED
    assert len(server.to("POST", "/v2/orders")) == 2


async def test_a_submit_rate_limited_past_the_retries_is_rejected(server: LoopbackServer) -> None:
    server.on("POST", "/v2/orders", answer("error_rate_limit", 429))
    config = LiveVenueConfig(busy_retries=1, busy_backoff_s=0.0, lookup_grace_s=0.0)
    async with alpaca(server, config=config) as h:
        order = h.submit(limit_buy())
        await h.venue.drain()

    assert order.status is OrderStatus.REJECTED
    assert "too busy to take the order" in h.last("o-1").reason  # type: ignore[attr-defined]
    assert len(server.to("POST", "/v2/orders")) == 2


FRACTIONAL = Instrument("AAPL", size_increment=0.001)


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (limit_buy(post_only=True), "ALPACA does not take post-only orders"),
        (limit_buy(reduce_only=True), "ALPACA does not take reduce-only orders"),
        (
            limit_buy(quantity=1.5),
            "ALPACA takes a fractional quantity (1.500) only with time in force DAY, not GTC",
        ),
        (limit_buy("has space"), "client order id 'has space' is not one ALPACA takes"),
        (
            Order("o-1", "s-1", "AAPL", OrderSide.BUY, OrderType.MARKET, None, cash_fraction=0.5),
            "an order sized from cash (cash_fraction) cannot be sent to a live venue",
        ),
        (limit_buy(price=189.505), "price 189.505 is not a multiple of the tick 0.01"),
    ],
)
async def test_orders_alpaca_cannot_take_are_refused_before_any_request(
    server: LoopbackServer, order: Order, reason: str
) -> None:
    async with alpaca(server, instruments=(FRACTIONAL,)) as h:
        h.submit(order)
        await h.venue.drain()

    assert order.status is OrderStatus.REJECTED
    assert reason in h.last(order.client_order_id).reason  # type: ignore[attr-defined]
    assert server.requests == []


async def test_a_fractional_day_order_is_sent_rounded_to_the_lot(server: LoopbackServer) -> None:
    async with alpaca(server, instruments=(FRACTIONAL,)) as h:
        await accepted(server, h, limit_buy(quantity=1.5, time_in_force=TimeInForce.DAY))

    body = server.to("POST", "/v2/orders")[0].json()
    assert (body["qty"], body["time_in_force"], body["limit_price"]) == ("1.500", "day", "189.50")


async def test_an_amend_is_refused_and_the_order_works_on(server: LoopbackServer) -> None:
    async with alpaca(server) as h:
        order = await accepted(server, h)
        h.amend(order, price=189.0)
        await h.venue.drain()

    refusal = h.last("o-1")
    assert isinstance(refusal, OrderModifyRejected)
    assert "cancel the order and submit a new one" in refusal.reason
    assert order.status is OrderStatus.ACCEPTED
    assert order.price == 189.5
    assert [r.method for r in server.requests] == ["POST"]


async def test_a_recovered_order_is_looked_up_and_never_placed_again(
    server: LoopbackServer,
) -> None:
    server.on("GET", "/v2/orders:by_client_order_id", answer("order_filled"))
    server.on("GET", "/v2/account/activities/FILL", answer("activities_fill_full"))
    async with alpaca(server) as h:
        copy = recovered_copy(filled=4.0)
        h.submit(copy)
        await h.venue.drain()

    assert server.to("POST", "/v2/orders") == []
    fills = [e for e in h.events if isinstance(e, OrderFilled)]
    # The 4 filled before the restart are not reported again: only the 6 after.
    assert [(f.trade_id, f.last_qty) for f in fills] == [(f"ALPACA-{FILL_2}", 6.0)]
    assert copy.status is OrderStatus.FILLED
    assert copy.venue_order_id == ORDER_ID


async def test_a_recovered_order_alpaca_does_not_know_is_rejected_not_placed(
    server: LoopbackServer,
) -> None:
    server.on("GET", "/v2/orders:by_client_order_id", answer("error_order_not_found", 404))
    async with alpaca(server) as h:
        copy = recovered_copy(filled=0.0)
        h.submit(copy)
        await h.venue.drain()

    assert copy.status is OrderStatus.REJECTED
    assert "never places a recovered order again" in h.last("o-1").reason  # type: ignore[attr-defined]
    assert server.to("POST", "/v2/orders") == []


def recovered_copy(filled: float) -> Order:
    """Return what the node's recovery submits again: a copy keeping its history."""
    order = limit_buy()
    order.apply(OrderSubmitted("o-1", "s-1", "AAPL", START_NS - 10))
    order.apply(OrderAccepted("o-1", "s-1", "AAPL", START_NS - 9, ORDER_ID))
    if filled:
        order.apply(
            OrderFilled(
                "o-1",
                "s-1",
                "AAPL",
                START_NS - 8,
                f"ALPACA-{FILL_1}",
                OrderSide.BUY,
                filled,
                189.5,
                0.0,
                LiquiditySide.TAKER,
            )
        )
    return dataclasses.replace(order, status=OrderStatus.INITIALIZED, events=list(order.events))


async def test_reconcile_reports_what_differs_between_the_node_and_alpaca(
    server: LoopbackServer,
) -> None:
    server.on("GET", "/v2/orders", answer("open_orders"))
    server.on("GET", "/v2/positions", answer("positions"))
    async with alpaca(server) as h:
        working = await accepted(server, h)
        gone = limit_buy("o-2")
        gone.apply(OrderSubmitted("o-2", "s-1", "AAPL", START_NS))
        report = await h.venue.reconcile([working, gone], {"AAPL": 0.0, "MSFT": -3.0})

    assert [o.client_order_id for o in report.unknown_orders] == ["by-hand-1"]
    assert report.missing_orders == ("o-2",)
    assert [
        (d.client_order_id, d.node_filled, d.venue_filled) for d in report.fill_differences
    ] == [("o-1", 0.0, 4.0)]
    assert [
        (d.instrument_id, d.node_quantity, d.venue_quantity) for d in report.position_differences
    ] == [("AAPL", 0.0, 10.0)]  # MSFT: short 3 on both sides
    assert not report.clean
    assert "order by-hand-1 (MSFT) works at ALPACA, not at the node" in report.lines()
    listing = server.to("GET", "/v2/orders")[0]
    assert listing.query["symbols"] == ["AAPL,MSFT"]


async def test_start_checks_the_account_and_the_poller_reports_fills(
    server: LoopbackServer,
) -> None:
    import asyncio

    server.on("GET", "/v2/account", answer("account"))
    server.on("GET", "/v2/orders", Reply([]))
    server.on("GET", f"/v2/orders/{ORDER_ID}", answer("order_filled"))
    server.on("GET", "/v2/account/activities/FILL", answer("activities_fill_full"))
    config = LiveVenueConfig(poll_interval_s=0.01, busy_backoff_s=0.0, lookup_grace_s=0.0)
    async with alpaca(server, config=config) as h:
        summary = await h.venue.start()
        order = await accepted(server, h)
        for _ in range(3_000):  # bounded (30 s at most): a hang guard, not a time check
            if order.status is OrderStatus.FILLED:
                break
            await asyncio.sleep(0.01)

    assert summary == "Alpaca account PA1Q2W3E4R5T ACTIVE, buying power 200000 USD"
    assert order.status is OrderStatus.FILLED


async def test_the_client_needs_keys_and_never_shows_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    with pytest.raises(ValueError, match="set APCA_API_KEY_ID and APCA_API_SECRET_KEY"):
        AlpacaClient()
    monkeypatch.setenv("APCA_API_KEY_ID", KEY_ID)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    client = AlpacaClient()
    try:
        assert repr(client) == "AlpacaClient(base_url='https://paper-api.alpaca.markets')"
    finally:
        await client.close()


async def test_get_order_without_alpacas_id_looks_it_up(server: LoopbackServer) -> None:
    from quantgrid.adapters.venues import OrderRef

    server.on("GET", "/v2/orders:by_client_order_id", answer("error_order_not_found", 404))
    client = AlpacaClient(base_url=server.base_url, key_id=KEY_ID, secret_key=SECRET)
    try:
        with pytest.raises(VenueRejectedError, match="order not found: o-9"):
            await client.get_order(OrderRef("o-9", "AAPL"))
    finally:
        await client.close()


async def test_fills_are_read_page_by_page_and_kept_if_of_the_order(
    server: LoopbackServer,
) -> None:
    from quantgrid.adapters.venues import OrderRef

    ours, other = fixture("alpaca", "activities_fill_full")[:2]
    first = [ours] + [{**other, "id": f"other-{i}"} for i in range(99)]
    second = [{**ours, "id": "ours-2", "qty": "6"}]
    server.on("GET", "/v2/account/activities/FILL", Reply(first), Reply(second))
    client = AlpacaClient(base_url=server.base_url, key_id=KEY_ID, secret_key=SECRET)
    try:
        fills = await client.order_fills(OrderRef("o-1", "AAPL", ORDER_ID, START_NS))
    finally:
        await client.close()

    assert [(f.trade_id, str(f.quantity)) for f in fills] == [(FILL_1, "4"), ("ours-2", "6")]
    pages = server.to("GET", "/v2/account/activities/FILL")
    assert [p.query.get("page_token") for p in pages] == [None, ["other-98"]]
    assert pages[0].query["page_size"] == ["100"]
