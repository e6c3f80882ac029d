"""``create_service_app``: a FastAPI app with the platform's conventions installed."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.middleware import Middleware
from starlette.types import Lifespan

import quantgrid
from quantgrid.services._http.health import HealthCheck, health_router
from quantgrid.services._http.logs import configure_logging
from quantgrid.services._http.metrics import ServiceMetrics
from quantgrid.services._http.middleware import (
    PROBE_PATHS,
    ObservabilityMiddleware,
    RequestContextMiddleware,
    RequestSizeLimitMiddleware,
    UnhandledErrorMiddleware,
)
from quantgrid.services._http.openapi import install_problem_openapi, operation_id
from quantgrid.services._http.problems import install_problem_handlers
from quantgrid.services._http.settings import ServiceSettings
from quantgrid.services._http.telemetry import telemetry_config

_SERVICE_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


def create_service_app(
    name: str,
    *,
    settings: ServiceSettings,
    routers: Sequence[APIRouter] = (),
    dependencies: Mapping[str, HealthCheck] | None = None,
    metrics: ServiceMetrics | None = None,
    version: str = quantgrid.__version__,
    description: str = "",
    lifespan: Lifespan[FastAPI] | None = None,
) -> FastAPI:
    """Return a FastAPI app for service ``name`` with the platform's conventions.

    Parameters
    ----------
    name
        Lower-case words joined by ``-`` (``market-data``): in logs, metrics, health.
    settings
        Limits, log level and tracing (``ServiceSettings.from_env()``).
    routers
        The service's routes.
    dependencies
        Named checks run by ``/health/dependencies`` (``{"risk": risk.check_health}``).
    metrics
        The service's metrics, if its code already made them to count domain events;
        else new ones.
    version, description
        For ``/health`` and the OpenAPI description.
    lifespan
        The service's startup and shutdown (opening its store, bus, clients).

    Returns
    -------
    FastAPI
        With ``app.state.service``, ``app.state.settings`` and ``app.state.metrics``.

    Notes
    -----
    Installed:

    - every error as an RFC 9457 problem (``application/problem+json``): validation
      422 naming field and rule, malformed JSON 400, ``HTTPException`` its status,
      ``ServiceError`` its own, anything else 500 with only the correlation id;
    - ``X-Correlation-ID`` on every request and response, and on every log line;
    - bodies over ``settings.max_request_bytes`` refused with 413;
    - ``/health``, ``/health/dependencies`` and ``/metrics``;
    - JSON logging at ``settings.log_level`` (process-wide, idempotent);
    - operation ids from the route functions' names;
    - OpenTelemetry tracing if ``settings.otel`` and the SDK is installed.
    """
    if not _SERVICE_NAME.fullmatch(name):
        msg = f"a service name is lower-case words joined by '-', not {name!r}"
        raise ValueError(msg)
    if metrics is None:
        metrics = ServiceMetrics(name, version)
    elif metrics.service != name:
        msg = f"metrics are for the {metrics.service!r} service, not {name!r}"
        raise ValueError(msg)
    configure_logging(settings.log_level)

    app = FastAPI(
        title=f"QuantGrid {name}",
        version=version,
        description=description,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        telemetry=telemetry_config(name, enabled=settings.otel),
        middleware=[
            Middleware(RequestContextMiddleware, service=name),
            Middleware(ObservabilityMiddleware, metrics=metrics, quiet_paths=PROBE_PATHS),
            Middleware(UnhandledErrorMiddleware),
            Middleware(RequestSizeLimitMiddleware, max_bytes=settings.max_request_bytes),
        ],
    )
    app.state.service = name
    app.state.settings = settings
    app.state.metrics = metrics
    install_problem_handlers(app)
    install_problem_openapi(app)

    app.include_router(
        health_router(name, version, dependencies or {}, timeout_s=settings.health_timeout_s)
    )

    async def prometheus_metrics(request: Request) -> Response:
        body, content_type = metrics.render(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    app.add_api_route("/metrics", prometheus_metrics, methods=["GET"], include_in_schema=False)
    for router in routers:
        app.include_router(router)
    return app
