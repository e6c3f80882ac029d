"""``PathDispatcher``: several service apps behind one ASGI app, chosen by path prefix."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quantgrid.runtime._fast_orders import FastOrderEntry
from quantgrid.services import (
    CORRELATION_SCOPE_KEY,
    GATEWAY,
    ServiceMetrics,
    correlation_context,
    observe_request,
)

#: Set to ``0`` (or ``false``, ``no``, ``off``) to send every order through the
#: execution service's FastAPI route in one process (``MountedServices``).
FAST_ORDERS_ENV = "QUANTGRID_FAST_ORDERS"
_OFF = frozenset({"0", "false", "no", "off"})
_ON = frozenset({"", "1", "true", "yes", "on"})

#: The paths every service app answers at its root, which a hosted app is asked for
#: under its prefix (``/risk/metrics`` → the risk app's ``/metrics``).
_APP_ROOT_PATHS = ("/health", "/metrics")


class PathDispatcher:
    """Send each request to the app whose path prefix it starts with, else to ``default``.

    ``quantgrid serve execution`` serves the risk and portfolio apps beside its own
    (they share its trading node): ``/risk...`` goes to the risk app, ``/portfolio...``
    to the portfolio app, everything else (``/health``, ``/metrics``, ``/orders``,
    ``/fills``) to the execution app. Paths are passed on unchanged, since each app's
    routes already start with its prefix, but for a hosted app's own ``/health`` and
    ``/metrics``, which are at its root: ``/risk/metrics`` reaches the risk app as
    ``/metrics`` (``path`` and ``raw_path`` rewritten, the rest of the scope as it
    was), so Prometheus scrapes each app's registry at its prefix. A prefix matches
    whole path segments (``/risk`` and ``/risk/state``, not ``/risky``).

    The lifespan goes to ``default`` alone: the runtime runs every app's startup and
    shutdown from there (``Runtime.asgi``).
    """

    def __init__(self, default: FastAPI, prefixes: Mapping[str, ASGIApp]) -> None:
        for prefix in prefixes:
            if not prefix.startswith("/") or prefix.endswith("/"):
                msg = f"a prefix starts with '/' and does not end with one: {prefix!r}"
                raise ValueError(msg)
        self.default = default
        self.prefixes = dict(prefixes)

    def app_for(self, path: str) -> ASGIApp:
        """Return the app that answers ``path``."""
        for prefix, app in self.prefixes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return app
        return self.default

    def app_path(self, path: str) -> str:
        """Return the path the app that answers ``path`` is asked for.

        ``path`` itself but for a hosted app's ``/health`` and ``/metrics`` under its
        prefix, which are asked for at the app's root; only those exact paths.
        """
        for prefix in self.prefixes:
            if path.startswith(prefix) and path[len(prefix) :] in _APP_ROOT_PATHS:
                return path[len(prefix) :]
        return path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch an HTTP or WebSocket request by path; anything else to ``default``."""
        if scope["type"] in ("http", "websocket"):
            path = scope["path"]
            app = self.app_for(path)
            app_path = self.app_path(path)
            if app_path != path:
                scope = {**scope, "path": app_path, "raw_path": app_path.encode("ascii")}
            await app(scope, receive, send)
        else:
            await self.default(scope, receive, send)


class MountedServices:
    """The one-process gateway, handing ``/api/<name>/...`` to that service's app itself.

    ``quantgrid up`` mounts each service app on the gateway at ``/api/<name>``. Through
    the mount a request runs two middleware stacks, the gateway's and the service's,
    which cost about as much CPU as the order it carries. The service's own stack does
    all the gateway's would for it (correlation id, size limit, credentials before the
    body, problems, its metrics and access line), so this front calls the service app
    directly, with the scope Starlette's ``Mount`` would give it (``root_path``), and
    adds the gateway's share: its request count and latency, and its access line.
    Measured: 1,370 → 1,680 orders/s through ``benchmarks/order_load.py``; with
    ``FastOrderEntry`` answering the orders, 1,850-1,900 → 2,600-2,800 (with the store
    writer's catch-up, ``docs/node.md``). Anything else (``/auth``, ``/health``,
    ``/metrics``, ``/openapi.json``, unknown services, the lifespan) goes to the
    gateway app.

    Parameters
    ----------
    gateway
        The gateway app, with each service app mounted.
    services
        The mounted apps by service name.
    metrics
        The gateway's metrics.
    fast_orders
        Put ``FastOrderEntry`` in front of the execution app: its ``POST /orders`` is
        then answered without FastAPI's stack (the order entry's hot path), everything
        else by the app. ``None`` reads ``QUANTGRID_FAST_ORDERS`` (on unless ``0``).

    Raises
    ------
    ValueError
        If ``QUANTGRID_FAST_ORDERS`` is neither on (``1``, ``true``, ``yes``, ``on``)
        nor off (``0``, ``false``, ``no``, ``off``).
    """

    def __init__(
        self,
        gateway: FastAPI,
        services: Mapping[str, ASGIApp],
        metrics: ServiceMetrics,
        *,
        fast_orders: bool | None = None,
    ) -> None:
        self.default = gateway
        self._services = dict(services)
        self._metrics = metrics
        self.fast_orders: FastOrderEntry | None = None
        """The fast path of ``POST /api/execution/orders``, if on and possible."""
        execution = self._services.get("execution")
        if _fast_orders_on(fast_orders) and isinstance(execution, FastAPI):
            self.fast_orders = FastOrderEntry.of(execution)
            if self.fast_orders is not None:
                self._services["execution"] = self.fast_orders

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a mounted service's request directly; anything else by the gateway."""
        if scope["type"] == "http":
            path: str = scope["path"]
            end = path.find("/", 5) if path.startswith("/api/") else -1
            app = self._services.get(path[5:end]) if end > 0 else None
            if app is not None:
                await self._direct(app, path[:end], scope, receive, send)
                return
        await self.default(scope, receive, send)

    async def _direct(
        self, app: ASGIApp, prefix: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        # As ``Mount.matches`` makes it: the mount's path joins the root path.
        root_path = scope.get("root_path", "")
        scope["app_root_path"] = scope.get("app_root_path", root_path)
        scope["root_path"] = root_path + prefix
        scope["path_params"] = {"path": scope["path"][len(prefix) + 1 :]}
        status = 500  # if no response starts, the server answers 500
        start = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, send_with_status)
        finally:
            seconds = time.perf_counter() - start
            with correlation_context(scope.get(CORRELATION_SCOPE_KEY), service=GATEWAY.name):
                observe_request(self._metrics, scope, status, seconds)


def _fast_orders_on(given: bool | None) -> bool:
    if given is not None:
        return given
    value = os.environ.get(FAST_ORDERS_ENV, "").strip().lower()
    if value in _OFF:
        return False
    if value in _ON:
        return True
    msg = f"{FAST_ORDERS_ENV}: 1, true, yes, on (the default) or 0, false, no, off, not {value!r}"
    raise ValueError(msg)
