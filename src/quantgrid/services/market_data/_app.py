"""``create_app``: the market-data service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from quantgrid.adapters.cache import Cache
from quantgrid.adapters.market_data import MarketDataSource
from quantgrid.gateway import Authenticator, RateLimiter, install_auth
from quantgrid.services import ServiceMetrics, create_service_app
from quantgrid.services.market_data._cache import CachedAnswers
from quantgrid.services.market_data._problems import install_market_data_problems
from quantgrid.services.market_data._queries import MarketDataQueries
from quantgrid.services.market_data._routes import market_data_router
from quantgrid.services.market_data._settings import MarketDataSettings
from quantgrid.services.market_data._upstream import GuardedSource

SERVICE = "market-data"


def guard(
    source: MarketDataSource, settings: MarketDataSettings | None, metrics: ServiceMetrics
) -> GuardedSource:
    """Return ``source`` behind its rate limit, timeout and breaker; a guarded one as is."""
    if isinstance(source, GuardedSource):
        return source
    return GuardedSource.from_settings(source, settings or MarketDataSettings(), metrics=metrics)


def create_app(
    source: MarketDataSource,
    cache: Cache,
    settings: MarketDataSettings,
    *,
    authenticator: Authenticator,
    limiter: RateLimiter | None = None,
    metrics: ServiceMetrics | None = None,
    close_on_shutdown: bool = False,
) -> FastAPI:
    """Return the market-data service: prices, OHLCV history, tickers, through a TTL cache.

    Parameters
    ----------
    source
        The upstream (`SyntheticSource` by default in ``quantgrid up``). It is wrapped
        in a `GuardedSource` made from ``settings`` (rate limit, timeout, circuit
        breaker) unless it is one already.
    cache
        Where answers are cached (`InMemoryCache`, or `RedisCache` shared by instances).
    settings
        Limits, TTLs and the upstream's protections (`MarketDataSettings.from_env()`).
    authenticator
        Who checks callers: every route needs the viewer role.
    limiter
        The callers' request budgets; one in this process's memory if None (pass one
        limiter to every app of a process so that budgets are shared).
    metrics
        The service's metrics, if made already; else new ones.
    close_on_shutdown
        Close the source and the cache when the app shuts down (when it owns them).

    Returns
    -------
    FastAPI
        Routes under ``/market-data``; ``app.state.upstream`` is the guarded source and
        ``app.state.answers`` the cache with its counts.

    Notes
    -----
    Upstream errors become problems naming the upstream: 503 while its circuit is open
    or its rate limit is reached (with ``Retry-After``), 503 when it cannot be reached
    in time, 502 when it answers nonsense; an unknown symbol is 404.
    """
    metrics = metrics or ServiceMetrics(SERVICE)
    upstream = guard(source, settings, metrics)
    answers = CachedAnswers(cache, metrics, "md")
    queries = MarketDataQueries(upstream, answers, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_on_shutdown:
                try:
                    await upstream.close()
                finally:
                    await cache.close()

    app = create_service_app(
        SERVICE,
        settings=settings,
        routers=[market_data_router(queries)],
        dependencies={"upstream": upstream.check_health},
        metrics=metrics,
        description="Prices, OHLCV history and tickers from one upstream, through a TTL cache.",
        lifespan=lifespan,
    )
    install_auth(app, authenticator, limiter=limiter)
    install_market_data_problems(app)
    app.state.upstream = upstream
    app.state.answers = answers
    return app
