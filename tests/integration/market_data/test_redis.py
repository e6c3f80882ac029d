"""The market-data and regime services caching in a real Redis on loopback."""

from __future__ import annotations

import asyncio

import pytest

from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.services.market_data import MarketDataSettings
from quantgrid.services.market_data import create_app as market_data_app
from quantgrid.services.regime import RegimeSettings
from quantgrid.services.regime import create_app as regime_app
from tests.integration.market_data.conftest import CacheFactory
from tests.unit.services.market_data.support import FaultySource, authenticator, bearer, client
from tests.unit.services.regime.conftest import CountingDetector

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

BARS = generate_market(SyntheticConfig(instruments=("SYN0", "SYN1"), bars=1200), seed=3).bars


async def test_instances_share_answers_through_redis(redis_caches: CacheFactory) -> None:
    auth = authenticator()
    sources = [FaultySource(BARS, name="synthetic") for _ in range(2)]
    apps = [
        market_data_app(source, await redis_caches(), MarketDataSettings(), authenticator=auth)
        for source in sources
    ]
    headers = bearer(auth)

    async with client(apps[0], headers) as first, client(apps[1], headers) as second:
        a = await first.get("/market-data/ohlcv/SYN1", params={"limit": 50, "timeframe": "5m"})
        b = await second.get("/market-data/ohlcv/SYN1", params={"limit": 50, "timeframe": "5m"})
        report = (await second.get("/market-data/cache")).json()

    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()
    assert len(a.json()["bars"]) == 50
    assert [s.calls for s in sources] == [2, 0]  # the first loaded price and bars; not the second
    assert report["backend"] == "RedisCache"
    assert report["endpoints"]["ohlcv"] == {"hits": 1, "misses": 0, "hit_rate": 1.0}


async def test_answers_expire_on_the_server(redis_caches: CacheFactory) -> None:
    auth = authenticator()
    source = FaultySource(BARS, name="synthetic")
    settings = MarketDataSettings(price_ttl_s=0.3)
    app = market_data_app(source, await redis_caches(), settings, authenticator=auth)

    async with client(app, bearer(auth)) as http:
        await http.get("/market-data/price/SYN0")
        await http.get("/market-data/price/SYN0")
        assert source.calls == 1
        await asyncio.sleep(0.5)
        await http.get("/market-data/price/SYN0")
        report = (await http.get("/market-data/cache")).json()

    assert source.calls == 2
    assert report["endpoints"]["price"] == {"hits": 1, "misses": 2, "hit_rate": 1 / 3}


async def test_regimes_computed_once_serve_every_instance(redis_caches: CacheFactory) -> None:
    auth = authenticator()
    detectors = [CountingDetector(), CountingDetector()]
    settings = RegimeSettings(regime_lookback_bars=600)
    apps = [
        regime_app(
            FaultySource(BARS, name="synthetic"),
            detector,
            await redis_caches(),
            settings,
            authenticator=auth,
        )
        for detector in detectors
    ]
    headers = bearer(auth)

    async with client(apps[0], headers) as first, client(apps[1], headers) as second:
        a = (await first.get("/regime/SYN0")).json()
        b = (await second.get("/regime/SYN0")).json()
        overview = (await second.get("/regime/overview")).json()

    assert a == b
    assert a["regime"] in {"TRENDING", "RANGING", "CHOPPY", "CRISIS"}
    assert [d.detections for d in detectors] == [1, 0]
    assert overview["symbols"] == 2
