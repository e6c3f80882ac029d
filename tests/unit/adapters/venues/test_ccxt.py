"""``LiveVenue`` over ``CcxtClient`` (Binance spot), against recorded payloads on loopback.

ccxt is an optional dependency (``quantgrid[venues]``, in ``dev``): without it these
tests skip, saying so, except in CI (``CI=true``), where a missing ccxt fails them.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

if importlib.util.find_spec("ccxt") is None:
    if os.environ.get("CI") == "true":
        pytest.fail(
            "ccxt is not installed, and CI must run the ccxt adapter's tests: "
            "install the dev extra (it lists ccxt)",
            pytrace=False,
        )
    pytest.skip(
        "ccxt is not installed: pip install 'quantgrid[venues]' to run the ccxt adapter's tests",
        allow_module_level=True,
    )

from quantgrid.adapters.venues import CcxtClient, LiveVenueConfig
from quantgrid.model import (
    LiquiditySide,
    Order,
    OrderCanceled,
    OrderCancelRejected,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    TimeInForce,
)
from tests.unit.adapters.venues.harness import BTC, START_NS, Harness, limit_buy, make_harness
from tests.unit.adapters.venues.loopback import LoopbackServer, Reply, fixture

pytestmark = pytest.mark.anyio

API_KEY = "binance-test-key"
SECRET = "binance-test-secret-never-logged"
ORDER = "/api/v3/order"
SYMBOLS = LiveVenueConfig(symbols={"BTCUSDT": "BTC/USDT"}, busy_backoff_s=0.0, lookup_grace_s=0.0)


def answer(name: str, status: int = 200, **kw: Any) -> Reply:
    """Return a reply with a Binance fixture's body."""
    return Reply(fixture("ccxt", name), status, **kw)


def btc_buy(oid: str = "c-1", **fields: Any) -> Order:
    """Return a GTC limit buy of 0.01 BTC at 40,000 (as the fixtures have it)."""
    return limit_buy(oid, quantity=0.01, price=40_000.0, instrument_id="BTCUSDT", **fields)


@asynccontextmanager
async def binance(
    server: LoopbackServer, *, timeout_s: float = 2.0, config: LiveVenueConfig = SYMBOLS
) -> AsyncIterator[Harness]:
    """Yield a harness whose venue is Binance spot at the loopback server; close it after."""
    server.on("GET", "/api/v3/exchangeInfo", answer("exchange_info"))
    client = CcxtClient(
        "binance", api_key=API_KEY, secret=SECRET, base_url=server.base_url, timeout_s=timeout_s
    )
    harness = make_harness(client, (BTC,), config)
    try:
        yield harness
    finally:
        await harness.venue.stop()


def posts(server: LoopbackServer) -> list[dict[str, str]]:
    """Return the order placements received, as flat forms."""
    return [r.form() for r in server.to("POST", ORDER)]


async def test_every_api_url_points_at_the_loopback_server(server: LoopbackServer) -> None:
    client = CcxtClient("binance", api_key=API_KEY, secret=SECRET, base_url=server.base_url)
    try:
        urls = client.api_urls
        assert urls, "ccxt lists its API URLs"
        assert all(u.startswith(server.base_url + "/") for u in urls.values())
        assert repr(client) == "CcxtClient('binance', sandbox=True)"
    finally:
        await client.close()


async def test_an_accepted_order_carries_our_client_order_id(server: LoopbackServer) -> None:
    server.on("POST", ORDER, answer("order_new"))
    async with binance(server) as h:
        order = h.submit(btc_buy())
        await h.venue.drain()

    (post,) = server.to("POST", ORDER)
    form = post.form()
    assert {k: form[k] for k in ("symbol", "side", "type", "timeInForce", "quantity", "price")} == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01",
        "price": "40000",
    }
    assert form["newClientOrderId"] == "c-1"
    assert post.headers["x-mbx-apikey"] == API_KEY
    assert form["signature"] and SECRET not in post.body.decode() + str(post.query)
    assert order.status is OrderStatus.ACCEPTED
    assert order.venue_order_id == "4017"


async def test_a_stop_is_sent_as_binances_stop_loss(server: LoopbackServer) -> None:
    server.on("POST", ORDER, answer("order_new"))
    async with binance(server) as h:
        stop = Order(
            "c-1", "s-1", "BTCUSDT", OrderSide.SELL, OrderType.STOP, 0.01, trigger_price=39_000.0
        )
        h.submit(stop)
        await h.venue.drain()

    (form,) = posts(server)
    assert (form["type"], form["side"], form["stopPrice"]) == ("STOP_LOSS", "SELL", "39000")
    assert "timeInForce" not in form and "price" not in form


async def test_insufficient_funds_is_a_rejection_with_binances_message(
    server: LoopbackServer,
) -> None:
    server.on("POST", ORDER, answer("error_insufficient_balance", 400))
    async with binance(server) as h:
        order = h.submit(btc_buy())
        await h.venue.drain()

    assert order.status is OrderStatus.REJECTED
    rejection = h.last("c-1")
    assert isinstance(rejection, OrderRejected)
    assert rejection.reason == "Account has insufficient balance for requested action."
    assert len(server.to("POST", ORDER)) == 1
    assert server.to("GET", ORDER) == []


async def test_partial_then_full_fill_with_commission_in_the_quote_currency(
    server: LoopbackServer,
) -> None:
    server.on("POST", ORDER, answer("order_new"))
    async with binance(server) as h:
        order = h.submit(btc_buy())
        await h.venue.drain()
        server.on("GET", "/api/v3/openOrders", Reply([fixture("ccxt", "order_partially_filled")]))
        server.on("GET", "/api/v3/myTrades", answer("trades_partial"))
        await h.venue.poll_once()
        assert order.status is OrderStatus.PARTIALLY_FILLED

        server.on("GET", "/api/v3/openOrders", Reply([]))
        server.on("GET", ORDER, answer("order_filled"))
        server.on("GET", "/api/v3/myTrades", answer("trades_full"))
        await h.venue.poll_once()

    fills = [e for e in h.events if isinstance(e, OrderFilled)]
    assert [(f.trade_id, f.last_qty, f.last_px, f.liquidity_side) for f in fills] == [
        ("BINANCE-BTC/USDT-90001", 0.004, 40_000.0, LiquiditySide.MAKER),
        ("BINANCE-BTC/USDT-90007", 0.006, 40_000.0, LiquiditySide.MAKER),
    ]
    # 0.16 USDT as charged; 0.000006 BTC valued at the trade's price: 0.24 USDT.
    assert [f.commission for f in fills] == [pytest.approx(0.16), pytest.approx(0.24)]
    assert {f.currency for f in fills} == {"USDT"}
    assert order.status is OrderStatus.FILLED
    trades = server.to("GET", "/api/v3/myTrades")[0].form()
    assert (trades["symbol"], trades["orderId"]) == ("BTCUSDT", "4017")
    assert server.to("GET", "/api/v3/openOrders")[0].form()["symbol"] == "BTCUSDT"


async def test_a_cancel_ends_the_order_as_binances_answer_shows(server: LoopbackServer) -> None:
    server.on("POST", ORDER, answer("order_new"))
    server.on("DELETE", ORDER, answer("order_canceled"))
    async with binance(server) as h:
        order = h.submit(btc_buy())
        h.cancel(order)  # sent before the submit's answer: it waits for it
        await h.venue.drain()

    assert order.status is OrderStatus.CANCELED
    assert isinstance(h.last("c-1"), OrderCanceled)
    (delete,) = server.to("DELETE", ORDER)
    assert (delete.form()["orderId"], delete.form()["symbol"]) == ("4017", "BTCUSDT")
    assert [r.method for r in server.requests if r.path == ORDER] == ["POST", "DELETE"]


async def test_a_timed_out_submit_is_found_by_client_order_id_and_not_sent_again(
    server: LoopbackServer,
) -> None:
    server.on("POST", ORDER, answer("order_new", hold=True))
    async with binance(server, timeout_s=0.3) as h:
        order = h.submit(btc_buy())
        await h.venue.drain()
        assert order.status is OrderStatus.SUBMITTED

        server.on("GET", ORDER, answer("order_partially_filled"))
        server.on("GET", "/api/v3/myTrades", answer("trades_partial"))
        await h.venue.poll_once()

    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert len(server.to("POST", ORDER)) == 1
    look_up = server.to("GET", ORDER)[0].form()
    assert look_up["origClientOrderId"] == "c-1"


async def test_a_submit_that_truly_failed_is_rejected_once_binance_has_no_such_order(
    server: LoopbackServer,
) -> None:
    server.on("POST", ORDER, Reply({"code": -1001, "msg": "Internal error."}, 503))
    server.on("GET", ORDER, answer("error_order_does_not_exist", 400))
    async with binance(server) as h:
        order = h.submit(btc_buy())
        await h.venue.drain()
        assert order.status is OrderStatus.SUBMITTED
        await h.venue.poll_once()

    assert order.status is OrderStatus.REJECTED
    reason = h.last("c-1").reason  # type: ignore[attr-defined]
    assert "BINANCE has no order c-1: it was not placed, and is not sent again" in reason
    assert len(server.to("POST", ORDER)) == 1


async def test_a_duplicate_order_follows_the_order_binance_has(server: LoopbackServer) -> None:
    server.on("POST", ORDER, answer("error_duplicate_order", 400))
    server.on("GET", ORDER, answer("order_new"))
    async with binance(server) as h:
        order = h.submit(btc_buy())
        await h.venue.drain()

    assert order.status is OrderStatus.ACCEPTED
    assert len(server.to("POST", ORDER)) == 1


async def test_day_orders_and_long_client_ids_are_refused_before_any_request(
    server: LoopbackServer,
) -> None:
    async with binance(server) as h:
        day = h.submit(btc_buy("c-day", time_in_force=TimeInForce.DAY))
        long_id = h.submit(btc_buy("c" * 37))
        await h.venue.drain()

    assert day.status is OrderStatus.REJECTED
    assert "BINANCE does not take time in force DAY" in h.last("c-day").reason  # type: ignore[attr-defined]
    assert long_id.status is OrderStatus.REJECTED
    assert [r.path for r in server.requests] == []


async def test_reconcile_compares_open_orders_and_the_base_balance(
    server: LoopbackServer,
) -> None:
    server.on("GET", "/api/v3/openOrders", Reply([fixture("ccxt", "order_partially_filled")]))
    server.on("GET", "/api/v3/account", answer("account"))
    async with binance(server) as h:
        node_order = btc_buy()
        node_order.apply(OrderSubmitted("c-1", "s-1", "BTCUSDT", START_NS))
        report = await h.venue.reconcile([node_order], {"BTCUSDT": 0.0})

    assert report.unknown_orders == () and report.missing_orders == ()
    assert [(d.node_filled, d.venue_filled) for d in report.fill_differences] == [(0.0, 0.004)]
    assert [(d.symbol, d.venue_quantity) for d in report.position_differences] == [
        ("BTC/USDT", 0.005)
    ]


async def test_start_reads_the_balance(server: LoopbackServer) -> None:
    server.on("GET", "/api/v3/account", answer("account"))
    async with binance(server) as h:
        summary = await h.venue.start()

    assert summary == "BINANCE testnet: 2 assets with a balance"


def test_an_unknown_exchange_and_missing_keys_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="ccxt has no exchange 'nowhere'"):
        CcxtClient("nowhere", api_key="k", secret="s")
    monkeypatch.delenv("BINANCE_API_KEY", raising=False)
    monkeypatch.delenv("BINANCE_API_SECRET", raising=False)
    with pytest.raises(ValueError, match="set BINANCE_API_KEY and BINANCE_API_SECRET"):
        CcxtClient("binance")


async def test_a_refused_cancel_is_reported_with_binances_message(server: LoopbackServer) -> None:
    server.on("POST", ORDER, answer("order_new"))
    server.on("DELETE", ORDER, answer("error_unknown_order", 400))
    server.on("GET", ORDER, answer("order_new"))
    async with binance(server) as h:
        order = h.submit(btc_buy())
        await h.venue.drain()
        h.cancel(order)
        await h.venue.drain()

    refusal = h.last("c-1")
    assert isinstance(refusal, OrderCancelRejected)
    assert refusal.reason == "Unknown order sent."
    assert order.status is OrderStatus.ACCEPTED
