"""Market-data errors as RFC 9457 problems, and query rules pydantic cannot state."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request

from quantgrid.adapters.market_data import (
    CircuitOpenError,
    MalformedPayloadError,
    MarketDataError,
    RateLimitedError,
    UnknownSymbolError,
    UnsupportedTimeframeError,
    UpstreamError,
    UpstreamUnavailableError,
)
from quantgrid.services import (
    DependencyUnavailableError,
    ServiceError,
    problem_response,
    problem_responses,
    problem_type,
)

_log = logging.getLogger("quantgrid.services.market_data")

UNKNOWN_SYMBOL = problem_type("unknown-symbol")
UPSTREAM_RATE_LIMITED = problem_type("upstream-rate-limited")
UPSTREAM_BAD_PAYLOAD = problem_type("upstream-bad-payload")
UPSTREAM_ERROR = problem_type("upstream-error")
VALIDATION_ERROR = problem_type("validation-error")

#: The OpenAPI responses of what every route over the upstream may answer besides its
#: own (``as_service_error``): pass as ``APIRouter(responses=UPSTREAM_PROBLEMS)``.
UPSTREAM_PROBLEMS = problem_responses(
    {
        502: "The upstream answered an error or nonsense (`upstream` names it).",
        503: "The upstream cannot be reached in time, is rate limited, or its circuit is open.",
    }
)
#: The OpenAPI response of a route that takes a symbol in its path.
UNKNOWN_SYMBOL_PROBLEM = problem_responses({404: "No symbol of this name is served."})


class SymbolNotFoundError(ServiceError):
    """404: no such symbol."""

    status = 404
    title = "Unknown symbol"
    type_uri = UNKNOWN_SYMBOL

    def __init__(self, symbol: str, detail: str | None = None) -> None:
        text = detail or f"no symbol {symbol!r}; GET /market-data/symbols lists them"
        super().__init__(text, extensions={"symbol": symbol})


class InvalidQueryError(ServiceError):
    """422 for a rule across fields (``start`` before ``end``), shaped like pydantic's.

    Parameters
    ----------
    field
        Where, dotted as in validation problems: ``query.start``.
    rule
        A stable id of the rule: ``before_end``.
    message
        What the rule wants, without the rejected value.
    """

    status = 422
    title = "Request validation failed"
    type_uri = VALIDATION_ERROR

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(
            f"{field}: {message}",
            extensions={"errors": [{"field": field, "rule": rule, "message": message}]},
        )


def as_service_error(error: MarketDataError) -> ServiceError:
    """Return the problem ``error`` is answered with.

    ======================================  ======  ==========================================
    error                                   status  ``type``
    ======================================  ======  ==========================================
    `UnknownSymbolError`                    404     ``urn:quantgrid:problem:unknown-symbol``
    `UnsupportedTimeframeError`             422     ``...:validation-error``, ``query.timeframe``
    `RateLimitedError`                      503     ``...:upstream-rate-limited``, Retry-After
    `CircuitOpenError`, unreachable, 5xx,   503     ``...:dependency-unavailable``
    timeout
    `MalformedPayloadError`                 502     ``...:upstream-bad-payload``
    other `UpstreamError`                   502     ``...:upstream-error``
    ======================================  ======  ==========================================

    Every upstream problem names the upstream in ``upstream`` (and, when unavailable,
    in ``dependency`` too, as every service's dependency problems do).
    """
    if isinstance(error, UnknownSymbolError):
        return SymbolNotFoundError(error.symbol)
    if isinstance(error, UnsupportedTimeframeError):
        return InvalidQueryError("query.timeframe", "supported_timeframe", error.detail)
    if isinstance(error, RateLimitedError):
        return ServiceError(
            f"{error}",
            status=503,
            title="Upstream rate limited",
            type_uri=UPSTREAM_RATE_LIMITED,
            extensions={"upstream": error.upstream},
            headers={"Retry-After": _whole_seconds(error.retry_after_s)},
        )
    if isinstance(error, UpstreamUnavailableError):
        retry = error.retry_after_s if isinstance(error, CircuitOpenError) else None
        unavailable = DependencyUnavailableError(error.upstream, error.detail, retry_after_s=retry)
        unavailable.extensions["upstream"] = error.upstream
        return unavailable
    if isinstance(error, MalformedPayloadError):
        return ServiceError(
            f"{error}",
            status=502,
            title="Upstream answered nonsense",
            type_uri=UPSTREAM_BAD_PAYLOAD,
            extensions={"upstream": error.upstream, "field": error.field, "rule": error.rule},
        )
    if isinstance(error, UpstreamError):
        return ServiceError(
            f"{error}",
            status=502,
            title="Upstream error",
            type_uri=UPSTREAM_ERROR,
            extensions={"upstream": error.upstream},
        )
    return ServiceError(f"{error}", status=502, title="Upstream error", type_uri=UPSTREAM_ERROR)


def _whole_seconds(seconds: float) -> str:
    return str(max(1, int(-(-seconds // 1))))


async def _market_data_error(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, MarketDataError)
    problem = as_service_error(exc)
    if problem.status >= 500:
        _log.warning("%s: %s", problem.title, problem.detail, extra={"status": problem.status})
    return problem_response(
        problem.status,
        problem.detail,
        title=problem.title,
        type_uri=problem.type_uri,
        instance=request.url.path,
        extensions=problem.extensions,
        headers=problem.headers,
    )


def install_market_data_problems(app: FastAPI) -> None:
    """Answer every `MarketDataError` a route raises with its problem (`as_service_error`)."""
    app.add_exception_handler(MarketDataError, _market_data_error)
