"""The market-data service over the vendor adapter, on recorded payloads (never the vendor).

``BinanceRestSource`` calls ``FixtureServer``, which serves the hand-written
Binance-shaped payloads of ``tests/fixtures/market_data/binance/`` in process; a
malformed or refused answer must reach the caller as a clear problem, never a 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from quantgrid.adapters.cache import InMemoryCache
from quantgrid.adapters.market_data import BinanceRestSource
from quantgrid.gateway import Authenticator
from quantgrid.services import PROBLEM_JSON
from quantgrid.services.market_data import MarketDataSettings, create_app
from tests.unit.adapters.market_data.fixture_server import FixtureServer, Override
from tests.unit.services.market_data.support import bearer, client

pytestmark = pytest.mark.anyio

NOW_NS = 1_704_067_560_000_000_000  # 2024-01-01T00:06:00Z, just after the recorded klines


@pytest.fixture
def server() -> FixtureServer:
    return FixtureServer()


@pytest.fixture
async def http(server: FixtureServer, auth: Authenticator) -> AsyncIterator[httpx.AsyncClient]:
    source = BinanceRestSource(
        "http://binance.test", transport=server.transport(), now_ns=lambda: NOW_NS
    )
    app = create_app(source, InMemoryCache(), MarketDataSettings(), authenticator=auth)
    async with client(app, bearer(auth)) as http:
        yield http
    await source.close()


async def test_every_endpoint_answers_from_the_recorded_payloads(
    http: httpx.AsyncClient,
) -> None:
    symbols = (await http.get("/market-data/symbols")).json()
    price = (await http.get("/market-data/price/BTCUSDT")).json()
    ticker = (await http.get("/market-data/ticker/BTCUSDT")).json()
    bars = (await http.get("/market-data/ohlcv/BTCUSDT", params={"limit": 4})).json()

    assert symbols == {"source": "binance", "symbols": ["BTCUSDT", "ETHUSDT"]}
    assert (price["price"], price["as_of"]) == (42345.67, "2024-01-01T00:06:00Z")
    assert (ticker["bid"], ticker["ask"], ticker["change_24h_pct"]) == (
        42345.66,
        42345.67,
        -0.964,
    )
    # The four bars before the price's minute, closing 00:03 to 00:06.
    assert [b["close"] for b in bars["bars"]] == [42306.71, 42330.40, 42324.03, 42319.99]
    assert bars["start"] == "2024-01-01T00:02:00Z"


async def test_a_malformed_payload_is_a_502_naming_field_and_rule(
    http: httpx.AsyncClient, server: FixtureServer
) -> None:
    server.overrides["/api/v3/klines"] = Override("malformed/klines_short_row.json")

    response = await http.get("/market-data/ohlcv/BTCUSDT", params={"limit": 2})

    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"] == "urn:quantgrid:problem:upstream-bad-payload"
    assert (body["upstream"], body["field"], body["rule"]) == ("binance", "[1]", "length")
    assert body["detail"].startswith("binance: GET /api/v3/klines: [1]: ")


async def test_an_error_page_is_a_503_naming_the_upstream(
    http: httpx.AsyncClient, server: FixtureServer
) -> None:
    server.overrides["/api/v3/ticker/24hr"] = Override(
        "malformed/bad_gateway.html", status=502, media_type="text/html"
    )

    response = await http.get("/market-data/ticker/BTCUSDT")

    assert response.status_code == 503
    assert response.json()["dependency"] == "binance"
    assert "answered 502" in response.json()["detail"]


async def test_the_vendors_429_is_passed_on_as_503_with_its_retry_after(
    http: httpx.AsyncClient, server: FixtureServer
) -> None:
    server.overrides["/api/v3/ticker/price"] = Override(
        "error_too_many_requests.json", status=429, headers={"Retry-After": "42"}
    )

    response = await http.get("/market-data/price/BTCUSDT")
    again = await http.get("/market-data/ticker/BTCUSDT")

    assert response.status_code == again.status_code == 503
    assert response.headers["Retry-After"] == "42"
    assert response.json()["type"] == "urn:quantgrid:problem:upstream-rate-limited"
    assert server.calls["/api/v3/ticker/24hr"] == 0  # paused, as the vendor asked


async def test_a_symbol_the_vendor_does_not_list_is_404_without_a_call(
    http: httpx.AsyncClient, server: FixtureServer
) -> None:
    response = await http.get("/market-data/price/OLDUSDT")

    assert response.status_code == 404
    assert server.calls["/api/v3/ticker/price"] == 0
