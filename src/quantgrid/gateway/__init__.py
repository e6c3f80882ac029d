"""The gateway's authentication: users, tokens, API keys, roles and request budgets.

People log in with a username and password and get a short-lived JWT access token and
a rotating refresh token; bots use API keys, kept only as argon2id hashes. Every
request's caller is a ``Principal`` with a role (viewer < trader < admin); routes ask
for one with ``authenticated()`` or ``require_role(...)``, and ``auth_router`` serves
``/auth``. See ``docs/auth.md``.
"""

from quantgrid.gateway._app import create_gateway_app
from quantgrid.gateway._auth import Authenticator
from quantgrid.gateway._auth_first import install_auth_before_parsing
from quantgrid.gateway._deps import AuthState, auth_state, authenticated, install_auth, require_role
from quantgrid.gateway._errors import (
    AuthenticationError,
    AuthError,
    InvalidAuthRequestError,
    PermissionDeniedError,
    RateLimitedError,
    UnknownKeyError,
    UnknownUserError,
    UserExistsError,
)
from quantgrid.gateway._keys import ApiKeys, NewApiKey
from quantgrid.gateway._passwords import default_password_hasher
from quantgrid.gateway._principal import Principal
from quantgrid.gateway._proxy import ServiceProxy
from quantgrid.gateway._ratelimit import InMemoryRateLimiter, RateLimiter
from quantgrid.gateway._router import auth_router
from quantgrid.gateway._settings import AuthSettings, RateLimit, RateLimits
from quantgrid.gateway._tokens import TokenClaims, TokenPair, Tokens
from quantgrid.gateway._users import SupportsPasswordRehash, Users

__all__ = [
    "ApiKeys",
    "AuthError",
    "AuthSettings",
    "AuthState",
    "AuthenticationError",
    "Authenticator",
    "InMemoryRateLimiter",
    "InvalidAuthRequestError",
    "NewApiKey",
    "PermissionDeniedError",
    "Principal",
    "RateLimit",
    "RateLimitedError",
    "RateLimiter",
    "RateLimits",
    "ServiceProxy",
    "SupportsPasswordRehash",
    "TokenClaims",
    "TokenPair",
    "Tokens",
    "UnknownKeyError",
    "UnknownUserError",
    "UserExistsError",
    "Users",
    "auth_router",
    "auth_state",
    "authenticated",
    "create_gateway_app",
    "default_password_hasher",
    "install_auth",
    "install_auth_before_parsing",
    "require_role",
]
