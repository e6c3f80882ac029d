"""FastAPI wiring: who is calling (``authenticated``), may they (``require_role``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from quantgrid.adapters.storage import Role
from quantgrid.gateway._auth import Authenticator
from quantgrid.gateway._errors import (
    AuthenticationError,
    AuthError,
    PermissionDeniedError,
    RateLimitedError,
)
from quantgrid.gateway._principal import Principal
from quantgrid.gateway._ratelimit import InMemoryRateLimiter, RateLimiter

API_KEY_HEADER = "X-API-Key"
PROBLEM_JSON = "application/problem+json"
_STATE = "quantgrid_auth"

# These two only describe the schemes in the OpenAPI document; the headers are read,
# and refused when malformed, by ``_authenticated``.
_bearer_scheme = HTTPBearer(
    auto_error=False, bearerFormat="JWT", description="An access token from /auth/login."
)
_api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="An API key: qgk_<id>_<secret>."
)


@dataclass(frozen=True, slots=True)
class AuthState:
    """What the auth dependencies of an app use: its authenticator and rate limiter."""

    authenticator: Authenticator
    limiter: RateLimiter
    # Credentials being checked right now -> that check, which later requests with the
    # same credentials await instead of starting their own (see ``_verify``).
    checking: dict[tuple[str | None, str | None], asyncio.Future[Principal]] = field(
        default_factory=dict
    )


def install_auth(
    app: FastAPI, authenticator: Authenticator, *, limiter: RateLimiter | None = None
) -> None:
    """Give ``app``'s auth dependencies their authenticator, and answer auth errors.

    Parameters
    ----------
    app
        The app whose routes use ``authenticated()``, ``require_role()`` or
        ``auth_router``.
    authenticator
        Who checks credentials.
    limiter
        The request budgets' buckets; in this process's memory by default.

    Notes
    -----
    An ``AuthError`` raised in a route or a dependency becomes an
    ``application/problem+json`` answer with its status, title and detail, and its
    headers (``WWW-Authenticate`` on a 401, ``Retry-After`` on a 429).
    """
    limiter = limiter or InMemoryRateLimiter(authenticator.clock)
    setattr(app.state, _STATE, AuthState(authenticator, limiter))
    app.add_exception_handler(AuthError, _answer_auth_error)


def auth_state(request: Request) -> AuthState:
    """Return the ``AuthState`` ``install_auth`` gave the request's app."""
    state = getattr(request.app.state, _STATE, None)
    if not isinstance(state, AuthState):
        msg = "the app has no authenticator: call install_auth(app, authenticator) first"
        raise RuntimeError(msg)
    return state


def problem_response(error: AuthError, instance: str | None = None) -> JSONResponse:
    """Return the problem+json answer (RFC 9457) of ``error``."""
    body: dict[str, object] = {
        "type": "about:blank",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    if instance is not None:
        body["instance"] = instance
    return JSONResponse(
        body, status_code=error.status, headers=error.headers, media_type=PROBLEM_JSON
    )


async def _answer_auth_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthError)
    return problem_response(exc, request.url.path)


def _credentials(request: Request) -> tuple[str | None, str | None]:
    authorization = request.headers.get("Authorization")
    bearer = None
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
        bearer = token.strip()
    return bearer, request.headers.get(API_KEY_HEADER)


async def _authenticated(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
    _api_key: Annotated[str | None, Depends(_api_key_scheme)],
) -> Principal:
    state = auth_state(request)
    bearer, api_key = _credentials(request)
    authenticator = state.authenticator
    principal = authenticator.known_caller(bearer, api_key)
    if principal is None:
        principal = await _verify(state, bearer, api_key)
    limit = state.authenticator.settings.rate_limits.for_role(principal.role)
    wait_s = await state.limiter.acquire(principal.bucket, limit)
    if wait_s > 0:
        msg = f"rate limit of {limit.per_second:g} requests a second (bursts of {limit.burst})"
        raise RateLimitedError(f"{msg} used up; retry in {wait_s:.1f} s", retry_after_s=wait_s)
    request.state.principal = principal
    return principal


async def _verify(state: AuthState, bearer: str | None, api_key: str | None) -> Principal:
    """Check credentials once however many requests carrying them arrive meanwhile.

    When a remembered caller expires under load, every in-flight request with that key
    would otherwise run argon2 (tens of ms of CPU each) at the same moment; they share
    one check instead, and its answer or its error.
    """
    credentials = (bearer, api_key)
    pending = state.checking.get(credentials)
    if pending is None:
        # The store is synchronous and argon2 is slow by design: both in a worker thread.
        check = anyio.to_thread.run_sync(state.authenticator.authenticate, bearer, api_key)
        pending = asyncio.ensure_future(check)
        state.checking[credentials] = pending
        pending.add_done_callback(lambda done: _settled(state, credentials, done))
    # Shielded: one waiter's request being cancelled must not cancel the others' check.
    return await asyncio.shield(pending)


def _settled(
    state: AuthState,
    credentials: tuple[str | None, str | None],
    done: asyncio.Future[Principal],
) -> None:
    state.checking.pop(credentials, None)
    if not done.cancelled():
        done.exception()  # retrieved here too, in case every waiter was cancelled


def authenticated() -> Callable[..., Awaitable[Principal]]:
    """Return the dependency that gives a route its caller, a ``Principal``.

    It reads ``Authorization: Bearer <access token>`` or ``X-API-Key: <key>``, and
    spends one request of the caller's budget.

    Raises
    ------
    AuthenticationError
        (401) If no credentials, both kinds, or ones that do not work are sent.
    RateLimitedError
        (429) If the caller's budget is used up.
    """
    # One function for every route: FastAPI then runs it once per request, however
    # many dependencies of the route need the caller.
    return _authenticated


#: The attribute of a ``require_role(role)`` dependency that holds its role.
REQUIRED_ROLE_ATTRIBUTE = "required_role"


def require_role(minimum: Role) -> Callable[..., Awaitable[Principal]]:
    """Return a dependency that gives a route its caller if their role is ``minimum`` or up.

    Raises
    ------
    AuthenticationError
        (401) As ``authenticated()``.
    PermissionDeniedError
        (403) If the caller's role is below ``minimum``.
    """

    async def caller_with_role(
        principal: Annotated[Principal, Depends(_authenticated)],
    ) -> Principal:
        if not principal.has_role(minimum):
            msg = f"this needs the {minimum.value} role; the caller has {principal.role.value}"
            raise PermissionDeniedError(msg)
        return principal

    # Read by the gateway's OpenAPI (``x-required-role``) and the auth matrix.
    setattr(caller_with_role, REQUIRED_ROLE_ATTRIBUTE, minimum)
    return caller_with_role
