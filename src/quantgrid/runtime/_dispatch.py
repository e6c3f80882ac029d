"""``PathDispatcher``: several service apps behind one ASGI app, chosen by path prefix."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class PathDispatcher:
    """Send each request to the app whose path prefix it starts with, else to ``default``.

    ``quantgrid serve execution`` serves the risk and portfolio apps beside its own
    (they share its trading node): ``/risk...`` goes to the risk app, ``/portfolio...``
    to the portfolio app, everything else (``/health``, ``/metrics``, ``/orders``,
    ``/fills``) to the execution app. Paths are passed on unchanged, since each app's
    routes already start with its prefix. A prefix matches whole path segments
    (``/risk`` and ``/risk/state``, not ``/risky``).

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch an HTTP or WebSocket request by path; anything else to ``default``."""
        if scope["type"] in ("http", "websocket"):
            await self.app_for(scope["path"])(scope, receive, send)
        else:
            await self.default(scope, receive, send)
