"""RFC 9457 problem documents, and the exception handlers that answer with them."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from quantgrid.services._http.correlation import current_correlation_id
from quantgrid.services._http.errors import (
    ABOUT_BLANK,
    PROBLEM_JSON,
    ServiceError,
    problem_type,
    status_phrase,
)

_log = logging.getLogger("quantgrid.services")

#: Validation errors listed in a problem's ``errors``; the rest are counted.
MAX_LISTED_ERRORS = 50
# Validation errors named in the one-line ``detail``.
_ERRORS_IN_DETAIL = 3

VALIDATION_ERROR = problem_type("validation-error")
MALFORMED_JSON = problem_type("malformed-json")


class ProblemResponse(JSONResponse):
    """A JSON response sent as ``application/problem+json``."""

    media_type = PROBLEM_JSON


class FieldError(BaseModel):
    """One rule a request broke."""

    field: str = Field(description="Where, dotted: `body.quantity`, `query.limit`.")
    rule: str = Field(description="The rule, as pydantic names it: `greater_than`.")
    message: str = Field(description="What the rule wants: `Input should be greater than 0`.")


class Problem(BaseModel):
    """An RFC 9457 problem document: what every QuantGrid error response carries."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default=ABOUT_BLANK, description="URI naming the kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status.")
    detail: str = Field(description="What went wrong this time.")
    instance: str | None = Field(default=None, description="The request path.")
    correlation_id: str | None = Field(default=None, description="Quote this when reporting.")


class ValidationProblem(Problem):
    """A problem listing the rules the request broke."""

    errors: list[FieldError] = Field(default_factory=list)


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_uri: str = ABOUT_BLANK,
    instance: str | None = None,
    extensions: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    """Return a problem+json response carrying the current correlation id.

    Parameters
    ----------
    status
        The HTTP status, repeated in the body.
    detail
        What went wrong this time.
    title
        The kind of problem; defaults to the status's reason phrase, as RFC 9457 asks
        of ``about:blank`` problems.
    type_uri, instance, extensions, headers
        The problem's ``type`` and ``instance``, extra members, response headers.
    """
    body: dict[str, Any] = {
        "type": type_uri,
        "title": title if title is not None else status_phrase(status),
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    cid = current_correlation_id()
    if cid is not None:
        body["correlation_id"] = cid
    for key, value in (extensions or {}).items():
        body.setdefault(key, jsonable_encoder(value))
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) if loc else "request"


def _field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    # The rejected input is left out: it may be huge, or a password.
    return [
        {
            "field": _field(error.get("loc", ())),
            "rule": str(error.get("type", "invalid")),
            "message": str(error.get("msg", "invalid")),
        }
        for error in errors
    ]


def _summary(errors: list[dict[str, str]]) -> str:
    named = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:_ERRORS_IN_DETAIL])
    more = len(errors) - _ERRORS_IN_DETAIL
    return f"{named}; and {more} more" if more > 0 else named


async def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    malformed = [e for e in raw if e.get("type") == "json_invalid"]
    if malformed:
        error = malformed[0]
        loc = error.get("loc", ())
        position = f" at character {loc[1]}" if len(loc) > 1 else ""
        reason = (error.get("ctx") or {}).get("error", "invalid JSON")
        return problem_response(
            400,
            f"body: not valid JSON{position}: {reason}",
            title="Malformed JSON",
            type_uri=MALFORMED_JSON,
            instance=request.url.path,
        )
    errors = _field_errors(raw)
    extensions: dict[str, Any] = {"errors": errors[:MAX_LISTED_ERRORS]}
    if len(errors) > MAX_LISTED_ERRORS:
        extensions["errors_not_listed"] = len(errors) - MAX_LISTED_ERRORS
    return problem_response(
        422,
        _summary(errors) or "the request is invalid",
        title="Request validation failed",
        type_uri=VALIDATION_ERROR,
        instance=request.url.path,
        extensions=extensions,
    )


async def _http_exception(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    extensions: dict[str, Any] = {}
    status = exc.status_code if 400 <= exc.status_code <= 599 else 500
    if not isinstance(exc.detail, str):
        detail = status_phrase(status)
        extensions["data"] = exc.detail
    elif status == 404 and request.scope.get("route") is None:
        detail = f"No route matches {request.url.path}."
    elif exc.detail == status_phrase(status) and status == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        detail = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}."
    else:
        detail = exc.detail
    return problem_response(
        status,
        detail,
        instance=request.url.path,
        extensions=extensions,
        headers=exc.headers,
    )


async def _service_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, ServiceError)
    if exc.status >= 500:
        _log.warning("%s: %s", exc.title, exc.detail, extra={"status": exc.status})
    return problem_response(
        exc.status,
        exc.detail,
        title=exc.title,
        type_uri=exc.type_uri,
        instance=request.url.path,
        extensions=exc.extensions,
        headers=exc.headers,
    )


def internal_error_response(path: str) -> ProblemResponse:
    """Return the 500 problem for an unexpected exception: no internals, just the id."""
    return problem_response(
        500,
        "The service failed unexpectedly; quote the correlation id when reporting it.",
        instance=path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answer validation errors, HTTP exceptions and ``ServiceError`` with problems.

    Unexpected exceptions are answered by the unhandled-error middleware instead: a
    handler for ``Exception`` would run in Starlette's outermost middleware, which
    re-raises into the server (and into an in-process caller).
    """
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(ServiceError, _service_error)
