"""The gateway app: log in, and reach every service under ``/api/<service>/``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI, Request, Response

from quantgrid.console import console_router
from quantgrid.gateway._auth import Authenticator
from quantgrid.gateway._auth_first import install_auth_before_parsing
from quantgrid.gateway._deps import install_auth
from quantgrid.gateway._openapi import ServiceApps, install_gateway_openapi
from quantgrid.gateway._proxy import ServiceProxy
from quantgrid.gateway._ratelimit import RateLimiter
from quantgrid.gateway._router import auth_router
from quantgrid.services import (
    GATEWAY,
    HealthCheck,
    ServiceClient,
    ServiceSettings,
    create_service_app,
)

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_gateway_app(
    settings: ServiceSettings,
    authenticator: Authenticator,
    *,
    services: Mapping[str, FastAPI] | None = None,
    proxies: Mapping[str, ServiceProxy] | None = None,
    limiter: RateLimiter | None = None,
    described: ServiceApps | None = None,
) -> FastAPI:
    """Return the gateway: ``/auth`` and every service under ``/api/<service>/``.

    Parameters
    ----------
    settings
        The gateway's settings: request size limit, timeouts, log level.
    authenticator
        Who checks logins and credentials (``/auth``).
    services
        One-process mode: service apps by name, mounted at ``/api/<name>``. Their
        lifespans do not run when mounted: whoever built them starts and stops them.
    proxies
        Distributed mode: a ``ServiceProxy`` by service name, forwarding
        ``/api/<name>/<path>`` to that service's ``/<path>``. Closed with the app.
    limiter
        The callers' request budgets (share one with mounted apps).
    described
        Distributed mode: returns the proxied services' apps, built but never run, for
        the OpenAPI description. Mounted apps are described without it.

    Returns
    -------
    FastAPI
        ``/health/dependencies`` checks each service's ``/health``; ``/openapi.json``
        describes every service's operations under ``/api/<name>`` too, with the
        role each needs (``install_gateway_openapi``); ``/console/`` serves the web
        console (``quantgrid.console``).

    Notes
    -----
    Every request gets a correlation id (``X-Correlation-ID``), which reaches the
    service (in its scope when mounted, as a header when proxied) and its log lines.
    Bodies over the size limit are refused with 413 before they reach a service.
    """
    services = dict(services or {})
    proxies = dict(proxies or {})
    if clash := sorted(services.keys() & proxies.keys()):
        msg = f"a service is either mounted or proxied, not both: {', '.join(clash)}"
        raise ValueError(msg)
    # Mounted apps are checked in process, through their own /health.
    local = {
        name: ServiceClient(f"http://{name}", name=name, transport=httpx.ASGITransport(app=app))
        for name, app in services.items()
    }
    checks: dict[str, HealthCheck] = {name: c.check_health for name, c in local.items()}
    checks |= {name: p.check_health for name, p in proxies.items()}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for client in local.values():
                await client.aclose()
            for proxy in proxies.values():
                await proxy.aclose()

    routers = [auth_router, console_router()]
    routers += [_proxy_router(name, p) for name, p in sorted(proxies.items())]
    app = create_service_app(
        GATEWAY.name,
        settings=settings,
        routers=routers,
        dependencies=checks,
        description="Log in, and reach every service under /api/<service>/.",
        lifespan=lifespan,
    )
    install_auth(app, authenticator, limiter=limiter)
    install_auth_before_parsing(app)
    for name, service_app in sorted(services.items()):
        app.mount(f"/api/{name}", service_app, name=name)
    install_gateway_openapi(app, lambda: {**(described() if described else {}), **services})
    app.state.proxies = proxies
    return app


def _proxy_router(name: str, proxy: ServiceProxy) -> APIRouter:
    router = APIRouter(prefix=f"/api/{name}", tags=["proxy"])

    async def forward(request: Request, path: str) -> Response:
        return await proxy.forward(request, path)

    router.add_api_route(
        "/{path:path}",
        forward,
        methods=_METHODS,
        operation_id=f"proxy_{name.replace('-', '_')}",
        include_in_schema=False,
    )
    return router
