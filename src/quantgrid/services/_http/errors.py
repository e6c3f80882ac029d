"""The errors services raise, each rendered as an RFC 9457 problem."""

from __future__ import annotations

import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

#: Media type of every error response.
PROBLEM_JSON = "application/problem+json"

#: Problem ``type`` URIs name the problem, not a web page: they are never fetched.
PROBLEM_TYPE_PREFIX = "urn:quantgrid:problem:"

#: RFC 9457: a problem with no further semantics than its HTTP status.
ABOUT_BLANK = "about:blank"


def problem_type(slug: str) -> str:
    """Return the ``type`` URI of the QuantGrid problem called ``slug``."""
    return PROBLEM_TYPE_PREFIX + slug


def status_phrase(status: int) -> str:
    """Return the reason phrase of an HTTP status, or ``"Error"`` for an unknown one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ServiceError(Exception):
    """Base of the errors a service raises to answer with a problem.

    Subclasses set ``status``, ``title`` and ``type_uri``; each raise gives the
    ``detail``, a sentence about this occurrence.

    Parameters
    ----------
    detail
        What went wrong this time, for the caller (never internals).
    status, title, type_uri
        Override the class's HTTP status, problem title and problem type.
    extensions
        Extra JSON members of the problem (``{"order_id": "O-1"}``).
    headers
        Extra response headers (``{"Retry-After": "5"}``).

    Notes
    -----
    A problem's ``title`` is the same for every occurrence of its ``type``; the
    ``detail`` changes.
    """

    status: int = 500
    title: str = "Service error"
    type_uri: str = problem_type("service-error")

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        type_uri: str | None = None,
        extensions: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            if not 400 <= status <= 599:
                msg = f"status: a problem's status is 400-599, not {status}"
                raise ValueError(msg)
            self.status = status
        if title is not None:
            self.title = title
        if type_uri is not None:
            self.type_uri = type_uri
        self.extensions: dict[str, Any] = dict(extensions or {})
        self.headers: dict[str, str] = dict(headers or {})


class DependencyUnavailableError(ServiceError):
    """A service this one needs is down, slow or behind an open circuit breaker.

    Rendered as 503 with a ``dependency`` member naming it, and ``Retry-After`` when
    the circuit breaker knows when it will try again.
    """

    status = 503
    title = "Dependency unavailable"
    type_uri = problem_type("dependency-unavailable")

    def __init__(self, dependency: str, detail: str, *, retry_after_s: float | None = None) -> None:
        headers = {}
        if retry_after_s is not None:
            headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
        super().__init__(
            f"{dependency}: {detail}",
            extensions={"dependency": dependency},
            headers=headers,
        )
        self.dependency = dependency
        self.retry_after_s = retry_after_s


class RemoteServiceError(ServiceError):
    """Another service answered a request with an error.

    Keeps the callee's status, title, type and detail, so an unhandled one passes the
    problem on unchanged, with a ``service`` member naming the callee.

    Attributes
    ----------
    service
        The dependency's name.
    problem
        The callee's problem document as received (``{}`` if it sent no JSON object).
    """

    def __init__(
        self,
        service: str,
        *,
        status: int,
        title: str,
        detail: str,
        type_uri: str = ABOUT_BLANK,
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            detail,
            status=status,
            title=title,
            type_uri=type_uri,
            extensions={"service": service},
        )
        self.service = service
        self.problem: dict[str, Any] = dict(problem or {})
