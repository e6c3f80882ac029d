"""BinanceRestSource over a real socket: the recorded payloads served by uvicorn on 127.0.0.1.

The one test here that opens a socket; the others call the fixture app in process. The
payloads are hand-written in the Binance spot REST shape; the exchange is never called.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from quantgrid.adapters.market_data import BinanceRestSource, Timeframe
from tests.unit.adapters.market_data.fixture_server import FixtureServer

pytestmark = pytest.mark.anyio

START_NS = 1_704_067_200_000_000_000
STARTUP_TIMEOUT_S = 10.0


@pytest.fixture
def base_url(server: FixtureServer) -> Iterator[str]:
    """Serve the fixture app on an ephemeral loopback port; yield its URL."""
    config = uvicorn.Config(
        server.app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        lifespan="off",
        ws="none",
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="fixture-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            uv.should_exit = True
            pytest.fail("the fixture server did not start on 127.0.0.1")
        time.sleep(0.01)
    port = uv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)


async def test_the_source_decodes_answers_from_a_loopback_socket(
    base_url: str, server: FixtureServer
) -> None:
    source = BinanceRestSource(base_url, timeout_s=5.0)
    try:
        symbols = await source.symbols()
        price = await source.latest_price("BTCUSDT")
        bars = await source.ohlcv("BTCUSDT", START_NS, START_NS + 360 * 10**9, Timeframe.M1)
    finally:
        await source.close()

    assert symbols == ["BTCUSDT", "ETHUSDT"]
    assert price.price == 42345.67
    assert len(bars) == 6
    assert server.calls["/api/v3/klines"] == 1
