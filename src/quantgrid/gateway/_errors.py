"""What the gateway raises: each error is one HTTP problem (RFC 9457).

Every error carries the ``status``, ``title`` and ``detail`` of the problem+json answer it
becomes, and the headers that answer needs (``WWW-Authenticate``, ``Retry-After``), so
the same exception reads well in the CLI and maps one to one onto an HTTP response.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

#: The realm named in ``WWW-Authenticate`` challenges.
REALM = "quantgrid"


class AuthError(Exception):
    """Base of the gateway's errors: an HTTP problem with a status, a title and a detail.

    Parameters
    ----------
    detail
        What went wrong for this request, in words a client can act on.
    headers
        Extra response headers the problem needs.
    """

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers: dict[str, str] = dict(headers or {})


class AuthenticationError(AuthError):
    """No credentials, or ones that are malformed, wrong, expired, revoked or disabled (401).

    Notes
    -----
    The detail never says which part of a username and password was wrong, nor whether
    an API key exists: a caller learns only that these credentials do not work.
    """

    status: ClassVar[int] = 401
    title: ClassVar[str] = "Not authenticated"

    def __init__(self, detail: str, *, invalid_token: bool = True) -> None:
        challenge = f'Bearer realm="{REALM}"'
        if invalid_token:  # RFC 6750: credentials were given, and they do not work
            challenge += ', error="invalid_token"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class PermissionDeniedError(AuthError):
    """The caller is known, but its role is too low for the request (403)."""

    status: ClassVar[int] = 403
    title: ClassVar[str] = "Forbidden"


class RateLimitedError(AuthError):
    """The caller used up its request budget; it may retry after ``retry_after_s`` (429)."""

    status: ClassVar[int] = 429
    title: ClassVar[str] = "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        # Retry-After takes whole seconds: round up, so a client waiting that long succeeds.
        super().__init__(detail, headers={"Retry-After": str(max(1, math.ceil(retry_after_s)))})


class InvalidAuthRequestError(AuthError):
    """A request breaks a rule: a short password, a key role above its owner's (422)."""

    status: ClassVar[int] = 422
    title: ClassVar[str] = "Invalid request"


class UserExistsError(AuthError):
    """The username is taken (409)."""

    status: ClassVar[int] = 409
    title: ClassVar[str] = "Conflict"


class UnknownUserError(AuthError):
    """No user has that username (404)."""

    status: ClassVar[int] = 404
    title: ClassVar[str] = "Not found"


class UnknownKeyError(AuthError):
    """No API key has that id (404)."""

    status: ClassVar[int] = 404
    title: ClassVar[str] = "Not found"
