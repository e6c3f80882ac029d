"""``PathDispatcher``: several service apps behind one ASGI app, chosen by path prefix."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

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
