"""The ASGI middleware every service runs, outermost first.

1. ``RequestContextMiddleware``: the correlation id and service name of the request.
2. ``ObservabilityMiddleware``: request metrics and an access log line.
3. ``UnhandledErrorMiddleware``: a 500 problem for an unexpected exception.
4. ``RequestSizeLimitMiddleware``: 413 for a body over the limit.

Pure ASGI rather than ``BaseHTTPMiddleware``: no extra task per request, so context
variables set here are the ones the route sees, and streamed bodies stay streamed.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quantgrid.services._http.correlation import (
    CORRELATION_ID_HEADER,
    accept_correlation_id,
    correlation_context,
)
from quantgrid.services._http.metrics import ServiceMetrics
from quantgrid.services._http.problems import internal_error_response, problem_response

_log = logging.getLogger("quantgrid.services")
_access_log = logging.getLogger("quantgrid.services.access")

_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
#: Where a request's correlation id is kept in its ASGI scope (found by mounted apps).
CORRELATION_SCOPE_KEY = "quantgrid.correlation_id"
#: The ``route`` label of requests no route matched.
UNMATCHED_ROUTE = "unmatched"


#: The probes a scraper and an orchestrator call every few seconds: logged at DEBUG.
PROBE_PATHS = frozenset({"/health", "/health/dependencies", "/metrics"})


def route_template(scope: Scope) -> str:
    """Return the template of the route that handled ``scope`` (after the call)."""
    route = scope.get("route")
    path = getattr(route, "path", None) if route is not None else None
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


class RequestContextMiddleware:
    """Give each request a correlation id and return it on the response.

    The id comes from the ``X-Correlation-ID`` header if well formed, else is new.
    It is kept in a context variable for log lines, problems and service calls, and
    in the scope, where a service app mounted inside another finds and keeps it.
    """

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        cid = scope.get(CORRELATION_SCOPE_KEY) or accept_correlation_id(
            Headers(scope=scope).get(CORRELATION_ID_HEADER)
        )
        scope[CORRELATION_SCOPE_KEY] = cid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[CORRELATION_ID_HEADER] = cid
            await send(message)

        with correlation_context(cid, service=self.service):
            await self.app(scope, receive, send_with_id)


class ObservabilityMiddleware:
    """Count and time each request by method, route template and status; log it.

    The access line is INFO, or DEBUG for the probes (``quiet_paths``) that a
    scraper and an orchestrator call every few seconds.
    """

    def __init__(
        self, app: ASGIApp, *, metrics: ServiceMetrics, quiet_paths: frozenset[str]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # if no response starts, the server answers 500
        start = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            seconds = time.perf_counter() - start
            observe_request(self.metrics, scope, status, seconds, self.quiet_paths)


def observe_request(
    metrics: ServiceMetrics,
    scope: Scope,
    status: int,
    seconds: float,
    quiet_paths: frozenset[str] = PROBE_PATHS,
) -> None:
    """Count and time a request answered, and write its access line.

    ``ObservabilityMiddleware`` calls it for each request of an app; the one-process
    front (``quantgrid.runtime``) for the gateway's share of a request it hands to a
    mounted service directly.
    """
    method = scope["method"] if scope["method"] in _METHODS else "OTHER"
    route = route_template(scope)
    metrics.observe_request(method, route, status, seconds)
    level = logging.DEBUG if route in quiet_paths else logging.INFO
    if not _access_log.isEnabledFor(level):
        return
    _access_log.log(
        level,
        "%s %s %d %.1f ms",
        method,
        route,
        status,
        seconds * 1000.0,
        extra={
            "method": method,
            "route": route,
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000.0, 3),
        },
    )


class UnhandledErrorMiddleware:
    """Answer an unexpected exception with a 500 problem; log it with its traceback.

    The answer names nothing but the correlation id. The exception is not re-raised:
    it is logged here, and an in-process caller (``httpx.ASGITransport``) gets the
    500 as a server would send it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            _log.exception(
                "unhandled error answering %s %s",
                scope["method"],
                scope["path"],
                extra={"route": route_template(scope)},
            )
            if started:  # too late for a problem: let the server drop the connection
                raise
            await internal_error_response(scope["path"])(scope, receive, send)


class _BodyTooLargeError(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the limit of {limit} bytes.")


class RequestSizeLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with a 413 problem.

    A body declared larger in ``Content-Length`` is refused before any route runs.
    A streamed body (chunked, or shorter than declared so far) is counted as it is
    read: the read that passes the limit raises, and the route answers 413.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            response = problem_response(
                413,
                f"The request body is {int(declared)} bytes; the limit is {self.max_bytes}.",
                instance=scope["path"],
            )
            await response(scope, receive, send)
            return
        received = 0

        async def receive_counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLargeError(self.max_bytes)
            return message

        await self.app(scope, receive_counted, send)
