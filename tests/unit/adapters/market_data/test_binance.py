"""BinanceRestSource against recorded payloads served on loopback (never the exchange).

The payloads are hand-written in the documented shape of the Binance spot REST API v3
(``tests/fixtures/market_data/binance/``) and served in process by ``FixtureServer``
through ``httpx.ASGITransport``; ``test_binance_socket.py`` serves them on a real
127.0.0.1 socket.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from quantgrid.adapters.market_data import (
    BinanceRestSource,
    MalformedPayloadError,
    RateLimitedError,
    Timeframe,
    UnknownSymbolError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from tests.unit.adapters.market_data.conftest import NOW_NS
from tests.unit.adapters.market_data.fixture_server import FixtureServer, Override

pytestmark = pytest.mark.anyio

MS = 1_000_000
MINUTE = 60_000 * MS
START = 1_704_067_200_000 * MS  # 2024-01-01T00:00:00Z, the first recorded kline's open


async def test_symbols_are_the_trading_ones_from_exchange_info(
    binance: BinanceRestSource,
) -> None:
    assert await binance.symbols() == ["BTCUSDT", "ETHUSDT"]  # OLDUSDT is on a BREAK


async def test_configured_symbols_need_no_exchange_info(server: FixtureServer) -> None:
    source = BinanceRestSource(
        "http://binance.test", symbols=["BTCUSDT"], transport=server.transport()
    )
    try:
        assert await source.symbols() == ["BTCUSDT"]
        with pytest.raises(UnknownSymbolError):
            await source.latest_price("ETHUSDT")  # not configured: no call
    finally:
        await source.close()
    assert server.calls == {}


async def test_latest_price_is_decoded_and_stamped_on_arrival(
    binance: BinanceRestSource, server: FixtureServer
) -> None:
    price = await binance.latest_price("BTCUSDT")

    assert (price.symbol, price.price, price.ts_event) == ("BTCUSDT", 42345.67, NOW_NS)
    assert server.queries[-1] == {"symbol": "BTCUSDT"}


async def test_ticker_has_quotes_volume_and_change(binance: BinanceRestSource) -> None:
    ticker = await binance.ticker("BTCUSDT")

    assert ticker.bid == 42345.66
    assert ticker.ask == 42345.67
    assert ticker.last == 42345.67
    assert ticker.volume_24h == 21587.41296
    assert ticker.change_24h == -412.33
    assert ticker.change_24h_pct == -0.964
    assert ticker.ts_event == 1_704_153_600_000 * MS  # closeTime + 1 ms


async def test_klines_are_bars_stamped_at_their_close(
    binance: BinanceRestSource, server: FixtureServer
) -> None:
    bars = await binance.ohlcv("BTCUSDT", START, START + 6 * MINUTE, Timeframe.M1)

    assert len(bars) == 6
    assert bars.ts[0] == START + MINUTE
    assert np.all(np.diff(bars.ts) == MINUTE)
    assert (bars.open[0], bars.high[0], bars.low[0], bars.close[0]) == (
        42283.58,
        42298.62,
        42261.02,
        42298.61,
    )
    assert bars.volume[0] == 35.92724
    query = server.queries[-1]
    assert query["interval"] == "1m"
    assert int(query["startTime"]) == START // MS
    assert int(query["endTime"]) == (START + 5 * MINUTE) // MS  # the last open closing by end


async def test_klines_window_and_limit(binance: BinanceRestSource) -> None:
    bars = await binance.ohlcv(
        "BTCUSDT", START + MINUTE, START + 4 * MINUTE + 30 * 1000 * MS, Timeframe.M1, limit=2
    )

    assert bars.ts.tolist() == [START + 2 * MINUTE, START + 3 * MINUTE]


async def test_klines_page_through_the_window(server: FixtureServer) -> None:
    source = BinanceRestSource(
        "http://binance.test", page_size=2, max_pages=10, transport=server.transport()
    )
    bars = await source.ohlcv("BTCUSDT", START, START + 6 * MINUTE, Timeframe.M1)
    await source.close()

    assert len(bars) == 6
    assert server.calls["/api/v3/klines"] == 3
    assert [int(q["startTime"]) for q in server.queries] == [
        START // MS,
        (START + 2 * MINUTE) // MS,
        (START + 4 * MINUTE) // MS,
    ]


async def test_max_pages_bounds_the_requests(server: FixtureServer) -> None:
    source = BinanceRestSource(
        "http://binance.test", page_size=2, max_pages=2, transport=server.transport()
    )
    bars = await source.ohlcv("BTCUSDT", START, START + 6 * MINUTE, Timeframe.M1)
    await source.close()

    assert len(bars) == 4
    assert server.calls["/api/v3/klines"] == 2


async def test_hourly_klines_and_an_empty_window(binance: BinanceRestSource) -> None:
    hour = 60 * MINUTE
    bars = await binance.ohlcv("BTCUSDT", START, START + 3 * hour, Timeframe.H1)
    empty = await binance.ohlcv("BTCUSDT", START, START + 30 * MINUTE, Timeframe.H1)

    assert bars.ts.tolist() == [START + hour, START + 2 * hour, START + 3 * hour]
    assert len(empty) == 0


async def test_an_unknown_symbol_is_binance_error_1121(binance: BinanceRestSource) -> None:
    with pytest.raises(UnknownSymbolError, match="NOPEUSDT"):
        await binance.latest_price("NOPEUSDT")
    with pytest.raises(UnknownSymbolError):
        await binance.ohlcv("NOPEUSDT", START, START + MINUTE, Timeframe.M1)


async def test_429_is_rate_limited_with_the_servers_retry_after(
    binance: BinanceRestSource, server: FixtureServer
) -> None:
    server.overrides["/api/v3/ticker/price"] = Override(
        "error_too_many_requests.json", status=429, headers={"Retry-After": "17"}
    )

    with pytest.raises(RateLimitedError) as caught:
        await binance.latest_price("BTCUSDT")

    assert caught.value.retry_after_s == 17.0
    assert caught.value.upstream == "binance"


async def test_a_5xx_or_html_error_page_is_unavailable(
    binance: BinanceRestSource, server: FixtureServer
) -> None:
    server.overrides["/api/v3/ticker/24hr"] = Override(
        "malformed/bad_gateway.html", status=502, media_type="text/html"
    )

    with pytest.raises(UpstreamUnavailableError, match="answered 502"):
        await binance.ticker("BTCUSDT")


async def test_another_4xx_is_an_upstream_error_quoting_binance(
    binance: BinanceRestSource, server: FixtureServer
) -> None:
    server.overrides["/api/v3/ticker/price"] = Override("error_too_many_requests.json", status=403)

    with pytest.raises(UpstreamError, match="answered 403: Too many requests"):
        await binance.latest_price("BTCUSDT")


PRICE, DAY, KLINES, INFO = (
    "/api/v3/ticker/price",
    "/api/v3/ticker/24hr",
    "/api/v3/klines",
    "/api/v3/exchangeInfo",
)


@pytest.mark.parametrize(
    ("path", "file", "field", "rule"),
    [
        (PRICE, "malformed/ticker_price_null_price.json", "price", "decimal_string"),
        (PRICE, "malformed/ticker_price_other_symbol.json", "symbol", "same_symbol"),
        (PRICE, "malformed/bad_gateway.html", "body", "json"),
        (PRICE, "klines_BTCUSDT_1m.json", "body", "object"),
        (DAY, "malformed/ticker_24hr_missing_last_price.json", "lastPrice", "required"),
        (KLINES, "malformed/klines_short_row.json", "[1]", "length"),
        (KLINES, "malformed/klines_high_below_low.json", "[0]", "ohlc"),
        (KLINES, "malformed/klines_price_as_number.json", "[0][1] (open)", "decimal_string"),
        (KLINES, "ticker_price_BTCUSDT.json", "body", "list"),
        (INFO, "malformed/exchange_info_no_symbols.json", "symbols", "required"),
    ],
)
async def test_a_malformed_payload_names_the_endpoint_field_and_rule(
    binance: BinanceRestSource, server: FixtureServer, path: str, file: str, field: str, rule: str
) -> None:
    server.overrides[path] = Override(file)
    calls = {
        "/api/v3/ticker/price": lambda: binance.latest_price("BTCUSDT"),
        "/api/v3/ticker/24hr": lambda: binance.ticker("BTCUSDT"),
        "/api/v3/klines": lambda: binance.ohlcv("BTCUSDT", START, START + MINUTE, Timeframe.M1),
        "/api/v3/exchangeInfo": binance.symbols,
    }

    with pytest.raises(MalformedPayloadError) as caught:
        await calls[path]()

    error = caught.value
    assert (error.endpoint, error.field, error.rule) == (f"GET {path}", field, rule)
    assert str(error).startswith(f"binance: GET {path}: {field}: ")


async def test_a_timeout_and_a_refused_connection_are_unavailable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    for handler, error in ((slow, UpstreamTimeoutError), (refused, UpstreamUnavailableError)):
        source = BinanceRestSource("http://binance.test", transport=httpx.MockTransport(handler))
        with pytest.raises(error):
            await source.latest_price("BTCUSDT")
        await source.close()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="not symbols"):
        BinanceRestSource(symbols=["BTC/USDT"])
    with pytest.raises(ValueError, match="page_size"):
        BinanceRestSource(page_size=1001)
    with pytest.raises(ValueError, match="max_pages"):
        BinanceRestSource(max_pages=0)
