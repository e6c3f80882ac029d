"""Answers through the cache: hit rate reported, TTLs on a test clock, metrics, one load."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from quantgrid.core import NANOS_PER_SECOND, TestClock
from quantgrid.gateway import Authenticator
from quantgrid.services.market_data import MarketDataSettings, create_app
from tests.unit.services.market_data.support import FaultySource, bearer, client

pytestmark = pytest.mark.anyio


async def cache_report(http: httpx.AsyncClient) -> dict[str, object]:
    response = await http.get("/market-data/cache")
    assert response.status_code == 200
    report: dict[str, object] = response.json()
    return report


async def test_the_hit_rate_rises_as_answers_repeat(
    viewer: httpx.AsyncClient, source: FaultySource
) -> None:
    rates = []
    for _ in range(5):
        assert (await viewer.get("/market-data/price/SYN0")).status_code == 200
        report = await cache_report(viewer)
        rates.append(report["endpoints"]["price"]["hit_rate"])  # type: ignore[index]

    assert rates == [0.0, 0.5, pytest.approx(2 / 3), 0.75, 0.8]
    assert source.calls == 1
    report = await cache_report(viewer)
    assert report["backend"] == "InMemoryCache"
    assert report["endpoints"]["price"] == {"hits": 4, "misses": 1, "hit_rate": 0.8}  # type: ignore[index]
    # The cache's own count has the price lookups and the symbol checks before them.
    assert (report["hits"], report["misses"], report["loads"]) == (8, 2, 2)
    assert report["hit_rate"] == 0.8


async def test_each_answer_expires_after_its_ttl(
    auth: Authenticator, source: FaultySource, clock: TestClock
) -> None:
    from quantgrid.adapters.cache import InMemoryCache

    settings = MarketDataSettings(price_ttl_s=2.0, ticker_ttl_s=10.0)
    app = create_app(source, InMemoryCache(now_ns=clock.timestamp_ns), settings, authenticator=auth)
    async with client(app, bearer(auth)) as http:
        await http.get("/market-data/price/SYN0")
        await http.get("/market-data/ticker/SYN0")
        assert source.calls == 2

        clock.set_time(clock.timestamp_ns() + int(1.9 * NANOS_PER_SECOND))
        await http.get("/market-data/price/SYN0")
        assert source.calls == 2  # both still fresh

        clock.set_time(clock.timestamp_ns() + int(0.1 * NANOS_PER_SECOND))
        await http.get("/market-data/price/SYN0")
        await http.get("/market-data/ticker/SYN0")
        assert source.calls == 3  # the price expired at 2 s, the ticker has 10

        clock.set_time(clock.timestamp_ns() + 8 * NANOS_PER_SECOND)
        await http.get("/market-data/ticker/SYN0")
        assert source.calls == 4
        report = await cache_report(http)

    assert report["endpoints"]["price"] == {"hits": 1, "misses": 2, "hit_rate": 1 / 3}  # type: ignore[index]
    assert report["endpoints"]["ticker"] == {"hits": 1, "misses": 2, "hit_rate": 1 / 3}  # type: ignore[index]


async def test_ohlcv_answers_are_cached_by_their_whole_query(
    viewer: httpx.AsyncClient, source: FaultySource
) -> None:
    a = {"end": "2024-01-01T02:00:00Z", "limit": 5}
    b = {"end": "2024-01-01T02:00:00Z", "limit": 6}

    for params in (a, a, b, a, b):
        assert (await viewer.get("/market-data/ohlcv/SYN0", params=params)).status_code == 200

    assert source.calls == 2


async def test_concurrent_misses_make_one_upstream_call(
    viewer: httpx.AsyncClient, source: FaultySource
) -> None:
    await viewer.get("/market-data/symbols")  # cached first, so only the price races

    responses = await asyncio.gather(*(viewer.get("/market-data/ticker/SYN1") for _ in range(8)))

    assert {r.status_code for r in responses} == {200}
    assert len({r.text for r in responses}) == 1
    assert source.calls == 1


async def test_hits_and_misses_are_prometheus_counters(
    app: FastAPI, viewer: httpx.AsyncClient
) -> None:
    for _ in range(3):
        await viewer.get("/market-data/ticker/SYN2")

    text = (await viewer.get("/metrics")).text

    assert 'quantgrid_cache_hits_total{cache="ticker"} 2.0' in text
    assert 'quantgrid_cache_misses_total{cache="ticker"} 1.0' in text
    assert 'quantgrid_cache_misses_total{cache="symbols"} 1.0' in text
    assert 'quantgrid_upstream_calls_total{operation="ticker",upstream="synthetic"} 1.0' in text
