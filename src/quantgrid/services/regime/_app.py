"""``create_app``: the regime service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from quantgrid.adapters.cache import Cache
from quantgrid.adapters.market_data import MarketDataSource
from quantgrid.gateway import Authenticator, RateLimiter, install_auth
from quantgrid.regime import RegimeDetector
from quantgrid.services import ServiceMetrics, create_service_app
from quantgrid.services.market_data import (
    CachedAnswers,
    GuardedSource,
    install_market_data_problems,
)
from quantgrid.services.regime._regimes import MarketRegimes
from quantgrid.services.regime._routes import regime_router
from quantgrid.services.regime._settings import RegimeSettings

SERVICE = "regime"


def create_app(
    source: MarketDataSource,
    detector: RegimeDetector | None,
    cache: Cache,
    settings: RegimeSettings,
    *,
    authenticator: Authenticator,
    limiter: RateLimiter | None = None,
    metrics: ServiceMetrics | None = None,
    close_on_shutdown: bool = False,
) -> FastAPI:
    """Return the regime service: current, historical and batch regimes, market overview.

    Parameters
    ----------
    source
        Where bars come from, wrapped in a `GuardedSource` from ``settings`` (rate
        limit, timeout, circuit breaker) unless it is one already.
    detector
        The regime detector; the shipped model's (`RegimeDetector()`) if None.
    cache
        Where bars, current regimes and histories are cached.
    settings
        Timeframe, covered symbols, TTLs, bounds, and the upstream's protections
        (`RegimeSettings.from_env()`).
    authenticator
        Who checks callers: every route needs the viewer role.
    limiter
        The callers' request budgets; one in this process's memory if None (pass one
        limiter to every app of a process so that budgets are shared).
    metrics
        The service's metrics, if made already; else new ones.
    close_on_shutdown
        Close the source and the cache when the app shuts down (when it owns them).

    Raises
    ------
    ValueError
        If ``settings.regime_lookback_bars`` does not exceed the detector's warm-up.
    """
    metrics = metrics or ServiceMetrics(SERVICE)
    detector = detector if detector is not None else RegimeDetector()
    upstream = (
        source
        if isinstance(source, GuardedSource)
        else GuardedSource.from_settings(source, settings, metrics=metrics)
    )
    answers = CachedAnswers(cache, metrics, "regime")
    regimes = MarketRegimes(upstream, detector, answers, settings)

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
        routers=[regime_router(regimes)],
        dependencies={"upstream": upstream.check_health},
        metrics=metrics,
        description="Current and historical market regimes of the covered symbols.",
        lifespan=lifespan,
    )
    install_auth(app, authenticator, limiter=limiter)
    install_market_data_problems(app)
    app.state.upstream = upstream
    app.state.answers = answers
    app.state.regimes = regimes
    return app
