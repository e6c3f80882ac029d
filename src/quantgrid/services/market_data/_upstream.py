"""The upstream behind a rate limit, a timeout and a circuit breaker."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from prometheus_client import Counter

from quantgrid.adapters.market_data import (
    CircuitOpenError,
    MalformedPayloadError,
    MarketDataSource,
    Price,
    RateLimitedError,
    RequestRate,
    Ticker,
    Timeframe,
    TokenBucket,
    UnknownSymbolError,
    UnsupportedTimeframeError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from quantgrid.model import BarSeries
from quantgrid.services import CircuitBreaker, CircuitState, ServiceMetrics
from quantgrid.services.market_data._settings import UpstreamSettings

T = TypeVar("T")

#: The ``reason`` label values of ``quantgrid_upstream_errors_total``.
ERROR_REASONS: Final = (
    "circuit_open",
    "rate_limited",
    "timeout",
    "unavailable",
    "bad_payload",
    "error",
)


def upstream_errors(metrics: ServiceMetrics) -> Counter:
    """Return ``quantgrid_upstream_errors_total{upstream, reason}`` of ``metrics``."""
    return metrics.counter(
        "upstream_errors", "Market-data upstream calls that failed.", ("upstream", "reason")
    )


def upstream_calls(metrics: ServiceMetrics) -> Counter:
    """Return ``quantgrid_upstream_calls_total{upstream, operation}`` of ``metrics``."""
    return metrics.counter(
        "upstream_calls", "Market-data upstream calls made.", ("upstream", "operation")
    )


def _reason(error: Exception) -> str:
    if isinstance(error, CircuitOpenError):
        return "circuit_open"
    if isinstance(error, RateLimitedError):
        return "rate_limited"
    if isinstance(error, UpstreamTimeoutError):
        return "timeout"
    if isinstance(error, UpstreamUnavailableError):
        return "unavailable"
    if isinstance(error, MalformedPayloadError):
        return "bad_payload"
    return "error"


class GuardedSource:
    """A `MarketDataSource` called within a rate limit, a timeout and a circuit breaker.

    Parameters
    ----------
    source
        The upstream.
    bucket
        Its rate limit; no limit if None.
    breaker
        Suspends calls after repeated failures.
    timeout_s
        The longest one call may take.
    metrics
        Where calls and errors are counted (``quantgrid_upstream_calls_total``,
        ``quantgrid_upstream_errors_total``); not counted if None.

    Notes
    -----
    A call first asks the breaker: while it is open the call fails at once with
    `CircuitOpenError`, without touching the upstream. Then it takes a token (waiting
    at most the bucket's ``max_wait_s``, else `RateLimitedError`), then runs under the
    timeout (`UpstreamTimeoutError`). Timeouts, unreachable or failing upstreams and
    malformed answers count as failures; an unknown symbol or timeframe is a proper
    answer and counts as a success. An upstream asking to slow down pauses the bucket
    for its ``Retry-After`` (or, without a bucket, counts as a failure), so nothing is
    sent before then.
    """

    def __init__(
        self,
        source: MarketDataSource,
        *,
        bucket: TokenBucket | None,
        breaker: CircuitBreaker,
        timeout_s: float,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        if not timeout_s > 0:
            msg = f"timeout_s is positive, not {timeout_s}"
            raise ValueError(msg)
        self.source = source
        self.bucket = bucket
        self.breaker = breaker
        self.timeout_s = timeout_s
        self._errors = None if metrics is None else upstream_errors(metrics)
        self._calls = None if metrics is None else upstream_calls(metrics)

    @classmethod
    def from_settings(
        cls,
        source: MarketDataSource,
        settings: UpstreamSettings,
        *,
        metrics: ServiceMetrics | None = None,
    ) -> GuardedSource:
        """Return ``source`` guarded as ``settings`` say.

        The token bucket runs at ``settings.upstream_rate_per_s`` and
        ``upstream_burst`` where set, else at the source's own `request_rate`; there is
        none when neither gives a rate.
        """
        rate = settings.upstream_rate_per_s
        burst = settings.upstream_burst
        own = source.request_rate
        if rate is None and own is not None:
            rate = own.per_second
        if burst is None:
            burst = own.burst if own is not None else max(1, math.ceil(rate or 1.0))
        bucket = None
        if rate is not None:
            bucket = TokenBucket(
                rate, burst, max_wait_s=settings.upstream_max_wait_s, name=source.name
            )
        breaker = CircuitBreaker(
            failure_threshold=settings.upstream_failure_threshold,
            reset_timeout_s=settings.upstream_reset_timeout_s,
        )
        return cls(
            source,
            bucket=bucket,
            breaker=breaker,
            timeout_s=settings.upstream_timeout_s,
            metrics=metrics,
        )

    @property
    def name(self) -> str:
        """Return the upstream's name."""
        return self.source.name

    @property
    def request_rate(self) -> RequestRate | None:
        """Return the upstream's own rate."""
        return self.source.request_rate

    def _count_error(self, error: Exception) -> None:
        if self._errors is not None:
            self._errors.labels(self.name, _reason(error)).inc()

    async def _call(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        breaker = self.breaker
        if not breaker.allow():
            refused = CircuitOpenError(
                self.name, breaker.retry_after_s(), breaker.consecutive_failures
            )
            self._count_error(refused)
            raise refused
        try:
            if self.bucket is not None:
                await self.bucket.acquire()
        except BaseException as exc:
            breaker.release()
            if isinstance(exc, RateLimitedError):
                self._count_error(exc)
            raise
        if self._calls is not None:
            self._calls.labels(self.name, operation).inc()
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await call()
        except (UnknownSymbolError, UnsupportedTimeframeError):
            breaker.record_success()  # a proper answer from a working upstream
            raise
        except RateLimitedError as exc:
            self._count_error(exc)
            if self.bucket is not None:
                self.bucket.pause(exc.retry_after_s)
                breaker.release()
            else:
                breaker.record_failure()
            raise
        except TimeoutError:
            breaker.record_failure()
            error = UpstreamTimeoutError(self.name, self.timeout_s)
            self._count_error(error)
            raise error from None
        except UpstreamError as exc:
            breaker.record_failure()
            self._count_error(exc)
            raise
        except BaseException:
            breaker.release()  # cancelled, or a bug: no verdict on the upstream
            raise
        breaker.record_success()
        return result

    async def check_health(self) -> str:
        """Pass unless the circuit is open: a `HealthCheck` for ``/health/dependencies``.

        It asks nothing of the upstream, so probes cost none of its rate limit.
        """
        state = self.breaker.state
        if state is CircuitState.OPEN:
            msg = f"{self.name}: circuit open, next attempt in {self.breaker.retry_after_s():.0f} s"
            raise RuntimeError(msg)
        return f"{self.name}: circuit {state.value}"

    # -- the port ------------------------------------------------------------------------
    async def symbols(self) -> list[str]:
        """Return the upstream's symbols."""
        return await self._call("symbols", self.source.symbols)

    async def latest_price(self, symbol: str) -> Price:
        """Return the latest price of ``symbol``."""
        return await self._call("latest_price", lambda: self.source.latest_price(symbol))

    async def ohlcv(
        self,
        symbol: str,
        start: int,
        end: int,
        timeframe: Timeframe,
        *,
        limit: int | None = None,
    ) -> BarSeries:
        """Return the bars of ``symbol`` within ``[start, end]``."""
        return await self._call(
            "ohlcv", lambda: self.source.ohlcv(symbol, start, end, timeframe, limit=limit)
        )

    async def ticker(self, symbol: str) -> Ticker:
        """Return the ticker of ``symbol``."""
        return await self._call("ticker", lambda: self.source.ticker(symbol))

    async def close(self) -> None:
        """Close the upstream."""
        await self.source.close()
