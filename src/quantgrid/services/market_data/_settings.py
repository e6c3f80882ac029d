"""Settings of the market-data service, and of any service calling a market-data upstream."""

from __future__ import annotations

from pydantic import Field

from quantgrid.services import ServiceSettings


class UpstreamSettings(ServiceSettings):
    """How a service calls its market-data upstream: rate, timeout, circuit breaker.

    Each field ``name`` comes from ``QUANTGRID_<NAME>`` (``QUANTGRID_UPSTREAM_RATE_PER_S``).

    Attributes
    ----------
    upstream_rate_per_s, upstream_burst
        The token bucket: calls a second on average, and the most at once. Unset, the
        source's own `request_rate` (a vendor's gives a safe share of its published
        limit; local files and the synthetic market need none, and get no bucket).
    upstream_max_wait_s
        The longest a call waits for a token before it is refused (503 with
        ``Retry-After``).
    upstream_timeout_s
        The longest one upstream call may take.
    upstream_failure_threshold, upstream_reset_timeout_s
        The circuit breaker: failures in a row that suspend calls, and for how long.
    """

    upstream_rate_per_s: float | None = Field(default=None, gt=0, le=100_000)
    upstream_burst: int | None = Field(default=None, ge=1, le=100_000)
    upstream_max_wait_s: float = Field(default=1.0, ge=0, le=60)
    upstream_timeout_s: float = Field(default=5.0, gt=0, le=120)
    upstream_failure_threshold: int = Field(default=5, ge=1, le=1_000)
    upstream_reset_timeout_s: float = Field(default=30.0, gt=0, le=3_600)


class MarketDataSettings(UpstreamSettings):
    """The market-data service's settings: the upstream's, and how long answers are cached.

    Attributes
    ----------
    price_ttl_s, ticker_ttl_s, ohlcv_ttl_s, symbols_ttl_s
        Seconds each kind of answer is served from the cache
        (``QUANTGRID_PRICE_TTL_S``...).
    """

    price_ttl_s: float = Field(default=2.0, gt=0, le=86_400)
    ticker_ttl_s: float = Field(default=5.0, gt=0, le=86_400)
    ohlcv_ttl_s: float = Field(default=60.0, gt=0, le=86_400)
    symbols_ttl_s: float = Field(default=300.0, gt=0, le=86_400)
