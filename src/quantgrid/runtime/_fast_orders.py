"""``FastOrderEntry``: the execution service's ``POST /orders``, without FastAPI's stack.

This is the one-process platform's hot path, and the only reason it is written by
hand: through FastAPI's routing, dependency solving and the service's four middleware
layers an order cost the event loop more than twice what the trading node spends on
it (py-spy, ``benchmarks/order_load.py``).

It does not re-implement the route; it runs the route's own parts in a straight line:

- the body is validated by the route's own body field, as FastAPI's
  ``request_body_to_args`` does for one JSON body, and the headers by FastAPI's
  ``request_params_to_args`` on the route's header fields (skipped when none of the
  names those fields are read under is sent: each then takes its default, ``None``);
- the route's dependencies (the backend, the metrics, the caller with the trader role:
  credentials, role, rate limit) are its own functions, awaited in FastAPI's order,
  each once;
- the endpoint is the route's function; its answer is validated and encoded by the
  route's response field, with the status and headers (``Idempotent-Replayed``) the
  endpoint set, as FastAPI does;
- errors are answered by the app's own exception handlers (problem+json);
- what the service's middleware does is done here: the correlation id (taken, kept in
  the scope, sent back), the service's request metrics and access line, and the 500
  problem of an unexpected error. Their parameters are read from the app's middleware.

Anything it is not sure to answer exactly as the route would goes to the app itself,
with the body it read handed on: another path or method, a query string, a content
type other than ``application/json``, no ``Content-Length`` or one over the size
limit, a body that is empty, not JSON or invalid in any field, an invalid
``Idempotency-Key``, dependency overrides. Validation has no side effect, so it runs
before the credentials here and after them in the route without a caller seeing the
difference: a request the fast path passes on reaches the route untouched, and the
caller's rate limit is spent once. If the app's route or middleware are not the shape
this knows, ``FastOrderEntry.of`` returns ``None`` and nothing is taken over.

``tests/unit/runtime/test_fast_orders.py`` holds it to the route: a corpus and a
Hypothesis strategy of requests sent to two platforms, one with the fast path and one
without, comparing status, body, headers, metrics, access lines and stored orders.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final

import fastapi.dependencies.utils as fastapi_deps
from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import ResponseValidationError
from fastapi.params import Form
from fastapi.routing import RouteContext, iter_route_contexts
from fastapi.utils import is_body_allowed_for_status_code
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from quantgrid.services import (
    CORRELATION_ID_HEADER,
    CORRELATION_SCOPE_KEY,
    ServiceMetrics,
    correlation_context,
    observe_request,
    problem_response,
)

_log = logging.getLogger("quantgrid.services")

#: The route taken over, under the app's root path.
ORDERS_PATH: Final = "/orders"
_JSON: Final = "application/json"
# What ``create_service_app`` installs, outermost first; the fast path does their work.
_SERVICE_MIDDLEWARE: Final = (
    "RequestContextMiddleware",
    "ObservabilityMiddleware",
    "UnhandledErrorMiddleware",
    "RequestSizeLimitMiddleware",
)
_MIDDLEWARE_PARAMETERS: Final = frozenset({"service", "metrics", "quiet_paths", "max_bytes"})
# ``UnhandledErrorMiddleware``'s answer to an unexpected error.
_UNEXPECTED: Final = "The service failed unexpectedly; quote the correlation id when reporting it."
_REQUEST: Final = -1  # a dependency's argument that is the request itself

ExceptionHandler = Callable[[Request, Exception], Any]
# A dependency call and its arguments: (name, index of an earlier step or _REQUEST).
Step = tuple[Callable[..., Any], tuple[tuple[str, int], ...]]


class FastOrderEntry:
    """Serve ``POST /orders`` of an execution app in a straight line; pass the rest on.

    Make it with ``FastOrderEntry.of(app)``, which returns ``None`` for an app whose
    route or middleware it does not know.

    Attributes
    ----------
    app
        The execution app, which answers everything the fast path passes on.
    served, passed_on
        Requests to ``POST /orders`` answered here, and handed to the app.

    Notes
    -----
    An ASGI app in front of the execution app, called with the scope the app itself
    would get (``MountedServices`` sets its ``root_path``). What it does not answer,
    the app answers, so that the two are one app to a caller.
    """

    def __init__(self, app: FastAPI, route: RouteContext, middleware: dict[str, Any]) -> None:
        self.app = app
        self._route = route.original_route
        dependant: Dependant = route.dependant
        assert dependant.call is not None
        self._endpoint: Callable[..., Any] = dependant.call
        self._response_param = dependant.response_param_name
        self._request_param = dependant.request_param_name
        self._header_params = dependant.header_params
        self._header_names = _header_names(dependant.header_params)
        self._body_field = dependant.body_params[0]
        self._steps, self._values = _plan(dependant.dependencies)
        self._response_field = route.response_field
        self._status_code: int | None = route.status_code
        self._serialize = {
            "include": route.response_model_include,
            "exclude": route.response_model_exclude,
            "by_alias": route.response_model_by_alias,
            "exclude_unset": route.response_model_exclude_unset,
            "exclude_defaults": route.response_model_exclude_defaults,
            "exclude_none": route.response_model_exclude_none,
        }
        self._service: str = middleware["service"]
        self._metrics: ServiceMetrics = middleware["metrics"]
        self._quiet_paths: frozenset[str] = middleware["quiet_paths"]
        self._max_bytes: int = middleware["max_bytes"]
        self.served = 0
        self.passed_on = 0

    @classmethod
    def of(cls, app: FastAPI) -> FastOrderEntry | None:
        """Return the fast path of ``app``'s ``POST /orders``, or ``None`` if it cannot be exact.

        ``None`` (logged, with why) when the app has no such route; when the route, its
        dependencies or the app's middleware are not the shape the fast path runs; or
        when tracing is on (FastAPI's spans would be missing).
        """
        found = _servable(app)
        if isinstance(found, str):
            _log.warning("POST %s is served by its route alone: %s", ORDERS_PATH, found)
            return None
        route, middleware = found
        return cls(app, route, middleware)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer ``POST /orders`` if it can do so exactly as the app would; else pass on."""
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != scope.get("root_path", "") + ORDERS_PATH
        ):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        # What this reads of the body is given again to the app, if it passes on.
        messages: deque[Message] = deque()
        request = Request(scope, _replay(messages, receive))
        headers = request.headers
        declared = headers.get("content-length")
        if (
            scope.get("query_string")
            or self.app.dependency_overrides
            or headers.get("content-type") != _JSON
            or declared is None
            or not (declared.isascii() and declared.isdigit())
            or int(declared) > self._max_bytes
        ):
            await self._pass_on(scope, receive, send)
            return
        body = await self._read_body(receive, messages)
        values = None if body is None else await self._validated(headers, body)
        if values is None:
            await self._pass_on(scope, request.receive, send)
            return
        self.served += 1
        await self._serve(request, values, start, send)

    async def _pass_on(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.passed_on += 1
        await self.app(scope, receive, send)

    async def _read_body(self, receive: Receive, messages: deque[Message]) -> bytes | None:
        """Read the body, keeping each message; ``None`` if the route must see it.

        ``None`` for a disconnect, or a body longer than the limit.
        """
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _validated(self, headers: Headers, body: bytes) -> dict[str, Any] | None:
        """Return the route's header and body values, or ``None`` if any is invalid."""
        if not body:
            return None
        try:
            payload = json.loads(body)  # as ``Request.json()``, which the route awaits
            if self._header_names is None or any(
                name in self._header_names for name, _ in headers.raw
            ):
                values, errors = request_params_to_args(self._header_params, headers)
                if errors:
                    return None
            else:  # none sent: each takes its default (``_header_names`` checked it is None)
                values = {field.name: None for field in self._header_params}
            # As ``request_body_to_args`` validates one JSON body that is not embedded.
            value, errors = self._body_field.validate(payload, {}, loc=("body",))
        except Exception:  # not JSON, say: the route checks credentials, then answers
            return None
        if errors:
            return None
        values[self._body_field.name] = value
        return values

    async def _serve(
        self, request: Request, values: dict[str, Any], start: float, send: Send
    ) -> None:
        # As Starlette's app and router leave it for the handlers and the access line.
        scope = request.scope
        scope["app"] = self.app
        scope["route"] = self._route
        status = 500  # if no response starts, the server answers 500
        given = scope.get(CORRELATION_SCOPE_KEY) or request.headers.get(CORRELATION_ID_HEADER)
        with correlation_context(given, service=self._service) as cid:
            scope[CORRELATION_SCOPE_KEY] = cid
            try:
                try:
                    response = await self._answer(request, values)
                except Exception:
                    response = _unexpected(scope)
                MutableHeaders(raw=response.raw_headers)[CORRELATION_ID_HEADER] = cid
                status = response.status_code
                # A failure while sending is the server's, as behind the middleware.
                await response(scope, request.receive, send)
            finally:
                seconds = time.perf_counter() - start
                observe_request(self._metrics, scope, status, seconds, self._quiet_paths)

    async def _answer(self, request: Request, values: dict[str, Any]) -> Response:
        """Run the route's dependencies and endpoint; answer its errors as the app does."""
        try:
            return await self._run(request, values)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            answered = handler(request, exc)
            response = await answered if inspect.isawaitable(answered) else answered
            if not isinstance(response, Response):
                msg = f"the handler of {type(exc).__name__} answered no response"
                raise TypeError(msg) from exc
            return response

    async def _run(self, request: Request, values: dict[str, Any]) -> Response:
        # The dependencies, each once, in the order FastAPI solves them.
        solved: list[Any] = []
        for call, arguments in self._steps:
            kwargs = {name: request if i == _REQUEST else solved[i] for name, i in arguments}
            solved.append(await call(**kwargs))
        for name, i in self._values:
            values[name] = solved[i]
        # The response the endpoint may set a status and headers on, as FastAPI makes it.
        sub = Response()
        del sub.headers["content-length"]
        sub.status_code = None  # type: ignore[assignment]
        if self._response_param:
            values[self._response_param] = sub
        if self._request_param:
            values[self._request_param] = request
        raw = await self._endpoint(**values)
        if isinstance(raw, Response):
            return raw
        field = self._response_field
        value, errors = field.validate(raw, {}, loc=("response",))
        if errors:
            raise ResponseValidationError(errors=errors, body=raw)
        content = field.serialize_json(value, **self._serialize)
        # The endpoint's status, else the route's, else the response's own (200).
        response = Response(
            content, status_code=sub.status_code or self._status_code or 200, media_type=_JSON
        )
        if not is_body_allowed_for_status_code(response.status_code):
            response.body = b""
        response.raw_headers.extend(sub.raw_headers)
        return response

    def _handler(self, exc: Exception) -> ExceptionHandler | None:
        """Return the app's handler of ``exc``, as Starlette's ``ExceptionMiddleware`` finds it."""
        handlers = self.app.exception_handlers
        if isinstance(exc, HTTPException) and exc.status_code in handlers:
            return handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        return None


def _unexpected(scope: Scope) -> Response:
    """Log an unexpected error and answer it, as ``UnhandledErrorMiddleware`` does."""
    _log.exception(
        "unhandled error answering %s %s",
        scope["method"],
        scope["path"],
        extra={"route": ORDERS_PATH},
    )
    return problem_response(500, _UNEXPECTED, instance=scope["path"])


def _replay(messages: deque[Message], receive: Receive) -> Receive:
    """Return a ``receive`` that gives ``messages`` (once each), then what ``receive`` gives."""

    async def replay() -> Message:
        if messages:
            return messages.popleft()
        return await receive()

    return replay


# -- what the fast path runs, read from the app once ---------------------------------------
def _plan(dependencies: Sequence[Dependant]) -> tuple[list[Step], list[tuple[str, int]]]:
    """Return the dependencies as steps, subs first, each call once; and the route's values.

    FastAPI solves a dependency's own dependencies before it, and calls a dependency
    used twice once per request (``use_cache``, checked by ``_plain_dependency``).
    """
    steps: list[Step] = []
    index: dict[Callable[..., Any], int] = {}

    def add(dependant: Dependant) -> int:
        arguments = [(sub.name, add(sub)) for sub in dependant.dependencies]
        own = (dependant.request_param_name, dependant.http_connection_param_name)
        arguments += [(name, _REQUEST) for name in own if name]
        call = dependant.call
        assert call is not None
        if call not in index:
            index[call] = len(steps)
            steps.append((call, tuple((n, i) for n, i in arguments if n is not None)))
        return index[call]

    values = []
    for dependency in dependencies:
        assert dependency.name is not None
        values.append((dependency.name, add(dependency)))
    return steps, values


def _header_names(fields: Sequence[Any]) -> frozenset[bytes] | None:
    """Return every header name the route's header fields are read under, lower case.

    ``None`` (so the fast path always asks FastAPI) unless FastAPI's own alias rule can
    be read, no field is a model, and each field, sent no header, takes ``None``.
    """
    aliases = getattr(fastapi_deps, "_get_param_aliases", None)
    param_model = getattr(fastapi_deps, "_get_param_model", None)
    if aliases is None or param_model is None:
        return None
    names: set[bytes] = set()
    for field in fields:
        if param_model(field) is not None:
            return None
        names.update(name.lower().encode("latin-1") for _, name in aliases(field))
    values, errors = request_params_to_args(list(fields), Headers(raw=[]))
    if errors or values != {field.name: None for field in fields}:
        return None
    if any(copy.deepcopy(field.default) is not None for field in fields):
        return None
    return frozenset(names)


def _servable(app: FastAPI) -> str | tuple[RouteContext, dict[str, Any]]:
    """Return the route and the middleware parameters the fast path runs, or why not."""
    settings = getattr(app.state, "settings", None)
    if settings is None or getattr(settings, "otel", True):
        return "tracing is on, or the app has no service settings"
    if getattr(app, "max_body_size", None) is not None:
        return "the app has a body size limit of FastAPI's own"
    if 500 in app.exception_handlers or Exception in app.exception_handlers:
        return "the app answers unexpected errors itself"
    names = tuple(getattr(m.cls, "__name__", "") for m in app.user_middleware)
    if names != _SERVICE_MIDDLEWARE:
        return f"the app's middleware is {names}, not {_SERVICE_MIDDLEWARE}"
    middleware: dict[str, Any] = {}
    for m in app.user_middleware:
        if m.args:
            return "the app's middleware takes positional arguments"
        middleware.update(m.kwargs)
    if set(middleware) != _MIDDLEWARE_PARAMETERS:
        return f"the app's middleware takes {sorted(middleware)}"
    route = _route(app)
    if route is None:
        return f"no route answers POST {ORDERS_PATH} first"
    problem = _unservable_route(route)
    if problem is not None:
        return problem
    return route, middleware


def _route(app: FastAPI) -> RouteContext | None:
    """Return the route Starlette picks for ``POST /orders``, if it is a FastAPI one.

    Routes are tried in order; one that matches the path but not the method is passed
    over, as Starlette does (it answers 405 only if no route matches both).
    """
    for context in iter_route_contexts(app.routes):
        regex = getattr(context, "path_regex", None)
        if regex is None:
            return None  # a route of a kind not known here: it might match
        if not regex.match(ORDERS_PATH):
            continue
        methods = context.methods
        if methods is not None and "POST" not in methods:
            continue
        dependant = getattr(context, "dependant", None)
        return context if context.path == ORDERS_PATH and dependant is not None else None
    return None


def _unservable_route(route: RouteContext) -> str | None:
    dependant: Dependant = route.dependant
    plain = (
        not dependant.path_params
        and not dependant.query_params
        and not dependant.cookie_params
        and len(dependant.body_params) == 1
        and not isinstance(dependant.body_params[0].field_info, Form)
        and getattr(route, "_embed_body_fields", True) is False
        and dependant.websocket_param_name is None
        and dependant.http_connection_param_name is None
        and dependant.background_tasks_param_name is None
        and dependant.security_scopes_param_name is None
        and inspect.iscoroutinefunction(dependant.call)
    )
    if not plain:
        return "the route takes more than headers, one JSON body and dependencies"
    if (
        not isinstance(route.response_class, DefaultPlaceholder)
        or route.response_field is None
        or route.is_sse_stream
        or route.is_json_stream
        or route.max_body_size is not None
    ):
        return "the route answers otherwise than with its response model as JSON"
    if not all(_plain_dependency(d) for d in dependant.dependencies):
        return "a dependency takes more than the request and other dependencies"
    return None


def _plain_dependency(dependant: Dependant) -> bool:
    """Tell whether a dependency is a coroutine of the request and dependencies only."""
    call = dependant.call
    is_coroutine = inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 - a security scheme is an object
    )
    return (
        is_coroutine
        and dependant.name is not None
        and dependant.use_cache
        and dependant.concurrency is None
        and not dependant.own_oauth_scopes
        and not any(
            (
                dependant.path_params,
                dependant.query_params,
                dependant.header_params,
                dependant.cookie_params,
                dependant.body_params,
                dependant.websocket_param_name,
                dependant.response_param_name,
                dependant.background_tasks_param_name,
                dependant.security_scopes_param_name,
            )
        )
        and all(_plain_dependency(d) for d in dependant.dependencies)
    )
