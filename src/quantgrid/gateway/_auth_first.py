"""Check credentials before telling a caller that its body is not JSON.

FastAPI decodes a JSON body before it runs a route's dependencies, so a body that is
not JSON is answered 400 before ``authenticated()`` or ``require_role()`` run: a
caller without credentials (or with a role too low) would learn how the route reads
its input before being refused. Every other validation error comes after the
dependencies, so after the credentials are checked.
"""

from __future__ import annotations

import functools
import inspect

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts

from quantgrid.adapters.storage import Role
from quantgrid.gateway._deps import authenticated, problem_response
from quantgrid.gateway._errors import AuthError, PermissionDeniedError
from quantgrid.gateway._openapi import required_role


def _malformed_json(error: RequestValidationError) -> bool:
    return any(e.get("type") == "json_invalid" for e in error.errors())


def install_auth_before_parsing(app: FastAPI) -> None:
    """Refuse a body that is not JSON only after the route's credentials and role pass.

    Parameters
    ----------
    app
        An app with ``install_auth`` installed, and its own answer to validation
        errors (``create_service_app``'s problems), which this keeps for the rest.

    Notes
    -----
    A protected route answers a malformed body 401 without working credentials and 403
    with a role too low, like any other request; only a caller who may call the route
    gets the 400 naming where the JSON breaks. Public routes answer 400 as before.
    """
    # FastAPI's own handler, or the problem one ``create_service_app`` installs.
    answer_invalid = app.exception_handlers[RequestValidationError]

    @functools.cache
    def roles() -> dict[int, Role | None]:  # read at the first answer: all routes are in
        return {
            id(context.original_route): required_role(context.dependant)
            for context in iter_route_contexts(app.routes)
            if isinstance(context.original_route, APIRoute)
        }

    async def answer(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        route = request.scope.get("route")
        role = roles().get(id(route)) if _malformed_json(exc) else None
        if role is not None:
            try:
                caller = await authenticated()(request, None, None)
                if not caller.has_role(role):
                    msg = f"this needs the {role.value} role; the caller has {caller.role.value}"
                    raise PermissionDeniedError(msg)
            except AuthError as error:
                return problem_response(error, request.url.path)
        answered = answer_invalid(request, exc)
        return await answered if inspect.isawaitable(answered) else answered

    app.add_exception_handler(RequestValidationError, answer)
