"""The upstream's protections through the service: circuit breaker, rate limit, timeout."""

from __future__ import annotations

import time

import httpx
import pytest

from quantgrid.adapters.cache import InMemoryCache
from quantgrid.adapters.market_data import RateLimitedError, Timeframe, TokenBucket
from quantgrid.gateway import Authenticator
from quantgrid.model import BarSeries
from quantgrid.services import PROBLEM_JSON, CircuitBreaker, CircuitState, ServiceMetrics
from quantgrid.services.market_data import GuardedSource, MarketDataSettings, create_app
from tests.unit.services.market_data.support import FakeTime, FaultySource, bearer, client

pytestmark = pytest.mark.anyio

TIMEOUT_S = 0.3


def guarded(
    source: FaultySource,
    fake: FakeTime,
    *,
    bucket: TokenBucket | None = None,
    threshold: int = 2,
    metrics: ServiceMetrics | None = None,
) -> GuardedSource:
    breaker = CircuitBreaker(failure_threshold=threshold, reset_timeout_s=30.0, clock=fake)
    return GuardedSource(
        source, bucket=bucket, breaker=breaker, timeout_s=TIMEOUT_S, metrics=metrics
    )


def app_over(
    upstream: GuardedSource, auth: Authenticator, metrics: ServiceMetrics | None = None
) -> httpx.AsyncClient:
    app = create_app(
        upstream, InMemoryCache(), MarketDataSettings(), authenticator=auth, metrics=metrics
    )
    return client(app, bearer(auth))


async def test_the_breaker_opens_after_timeouts_and_then_answers_503_at_once(
    auth: Authenticator, source: FaultySource
) -> None:
    fake = FakeTime()
    metrics = ServiceMetrics("market-data")  # the guard and the app count on the same
    upstream = guarded(source, fake, metrics=metrics)
    async with app_over(upstream, auth, metrics) as http:
        await http.get("/market-data/symbols")
        source.mode = "hang"

        for symbol in ("SYN0", "SYN1"):
            response = await http.get(f"/market-data/price/{symbol}")
            assert response.status_code == 503
            body = response.json()
            assert body["type"] == "urn:quantgrid:problem:dependency-unavailable"
            assert body["dependency"] == "synthetic"
            assert body["detail"] == f"synthetic: no answer within {TIMEOUT_S:g} s"
        assert upstream.breaker.state is CircuitState.OPEN
        calls = source.calls

        began = time.perf_counter()
        response = await http.get("/market-data/price/SYN2")
        elapsed = time.perf_counter() - began

        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.headers["Retry-After"] == "30"
        body = response.json()
        assert body["dependency"] == body["upstream"] == "synthetic"
        assert "calls suspended after 2 failures in a row" in body["detail"]
        assert source.calls == calls  # the upstream was not called
        assert elapsed < TIMEOUT_S  # and nobody waited for it
        health = await http.get("/health/dependencies")
        assert health.status_code == 503
        assert "synthetic: circuit open" in health.json()["dependencies"]["upstream"]["detail"]
        metrics = (await http.get("/metrics")).text

    assert 'quantgrid_upstream_errors_total{reason="timeout",upstream="synthetic"} 2.0' in metrics
    assert 'quantgrid_upstream_errors_total{reason="circuit_open",upstream="synthetic"} 1.0' in (
        metrics
    )


async def test_the_breaker_probes_after_its_timeout_and_closes(
    auth: Authenticator, source: FaultySource
) -> None:
    fake = FakeTime()
    upstream = guarded(source, fake)
    async with app_over(upstream, auth) as http:
        source.mode = "fail"
        for _ in range(2):
            assert (await http.get("/market-data/ticker/SYN0")).status_code == 503
        assert (await http.get("/market-data/ticker/SYN0")).status_code == 503
        assert source.calls == 2

        fake.now += 30.0
        source.mode = "ok"
        response = await http.get("/market-data/ticker/SYN0")

    assert response.status_code == 200
    assert source.calls == 3
    assert upstream.breaker.state is CircuitState.CLOSED


async def test_an_unknown_symbol_upstream_is_no_failure(
    auth: Authenticator, source: FaultySource
) -> None:
    fake = FakeTime()
    upstream = guarded(source, fake, threshold=1)

    for _ in range(3):
        with pytest.raises(Exception, match="no symbol"):
            await upstream.latest_price("GONE")

    assert upstream.breaker.state is CircuitState.CLOSED


async def test_the_rate_limit_refuses_with_503_and_retry_after(
    auth: Authenticator, source: FaultySource
) -> None:
    fake = FakeTime()
    bucket = TokenBucket(1.0, 2, max_wait_s=0.0, name="synthetic", clock=fake, sleep=fake.sleep)
    upstream = guarded(source, fake, bucket=bucket)
    async with app_over(upstream, auth) as http:
        assert (await http.get("/market-data/price/SYN0")).status_code == 200  # symbols + price
        refused = await http.get("/market-data/price/SYN1")
        cached = await http.get("/market-data/price/SYN0")
        fake.now += 1.0
        later = await http.get("/market-data/price/SYN1")

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    body = refused.json()
    assert body["type"] == "urn:quantgrid:problem:upstream-rate-limited"
    assert body["upstream"] == "synthetic"
    assert "over 1 calls a second (bursts of 2)" in body["detail"]
    assert cached.status_code == 200  # a cached answer needs no token
    assert later.status_code == 200
    assert upstream.breaker.state is CircuitState.CLOSED  # being limited is no failure


async def test_a_wait_for_a_token_is_bounded(source: FaultySource) -> None:
    fake = FakeTime()
    bucket = TokenBucket(2.0, 1, max_wait_s=1.0, clock=fake, sleep=fake.sleep)
    upstream = guarded(source, fake, bucket=bucket)

    await upstream.latest_price("SYN0")
    await upstream.latest_price("SYN0")  # waits half a second for its token
    await upstream.latest_price("SYN0")

    assert fake.now == pytest.approx(1_001.0)
    assert source.calls == 3


async def test_an_upstream_asking_to_slow_down_pauses_the_bucket(
    auth: Authenticator, market_bars: dict[str, BarSeries]
) -> None:
    class SlowDown(FaultySource):
        async def ticker(self, symbol: str) -> object:  # type: ignore[override]
            self.calls += 1
            raise RateLimitedError(self.name, 20.0, "answered 429")

    source = SlowDown(market_bars, name="vendor")
    fake = FakeTime()
    bucket = TokenBucket(100.0, 100, max_wait_s=1.0, name="vendor", clock=fake, sleep=fake.sleep)
    upstream = guarded(source, fake, bucket=bucket)
    async with app_over(upstream, auth) as http:
        first = await http.get("/market-data/ticker/SYN0")
        second = await http.get("/market-data/price/SYN0")

    assert first.status_code == second.status_code == 503
    assert first.headers["Retry-After"] == "20"
    assert second.headers["Retry-After"] == "21"  # 20 s, then a token at 100 a second
    assert source.calls == 1  # nothing sent while paused
    assert upstream.breaker.state is CircuitState.CLOSED


async def test_guarded_ohlcv_passes_the_window_through(source: FaultySource) -> None:
    upstream = guarded(source, FakeTime())
    bars = source._bars["SYN0"]

    got = await upstream.ohlcv(
        "SYN0", int(bars.ts[0]), int(bars.ts[0]) + 600 * 10**9, Timeframe.M5, limit=1
    )

    assert len(got) == 1
    assert upstream.name == "synthetic"


def test_a_timeout_must_be_positive(source: FaultySource) -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        GuardedSource(source, bucket=None, breaker=CircuitBreaker(), timeout_s=0.0)


def test_the_bucket_follows_the_settings_else_the_sources_own_rate(
    source: FaultySource,
) -> None:
    from quantgrid.adapters.market_data import BINANCE_REQUEST_RATE, BinanceRestSource

    vendor = BinanceRestSource("http://binance.test")
    local = GuardedSource.from_settings(source, MarketDataSettings())
    remote = GuardedSource.from_settings(vendor, MarketDataSettings())
    chosen = GuardedSource.from_settings(
        source, MarketDataSettings.from_env({"QUANTGRID_UPSTREAM_RATE_PER_S": "4"})
    )
    both = MarketDataSettings(upstream_rate_per_s=3.0, upstream_burst=7, upstream_timeout_s=2)
    overridden = GuardedSource.from_settings(vendor, both)

    assert local.bucket is None  # bars in memory need no limit
    assert remote.bucket is not None
    assert (remote.bucket.rate_per_s, remote.bucket.burst) == (
        BINANCE_REQUEST_RATE.per_second,
        BINANCE_REQUEST_RATE.burst,
    )
    assert chosen.bucket is not None
    assert (chosen.bucket.rate_per_s, chosen.bucket.burst) == (4.0, 4)
    assert overridden.bucket is not None
    assert (overridden.bucket.rate_per_s, overridden.bucket.burst) == (3.0, 7)
    assert overridden.timeout_s == 2.0
    assert overridden.request_rate == BINANCE_REQUEST_RATE
