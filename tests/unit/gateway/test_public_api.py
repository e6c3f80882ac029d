"""The gateway's public API is deliberate: this test changes with it."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_API = {
    "quantgrid.gateway": (
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
    ),
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC_API))
def test_public_api_is_exactly_what_is_listed(module_name: str) -> None:
    module = importlib.import_module(module_name)

    assert tuple(module.__all__) == PUBLIC_API[module_name]
    for name in module.__all__:
        assert hasattr(module, name), name


def test_every_error_is_an_http_problem() -> None:
    gateway = importlib.import_module("quantgrid.gateway")
    errors = [getattr(gateway, n) for n in gateway.__all__ if n.endswith("Error")]
    statuses = {e.__name__: e.status for e in errors}
    assert statuses == {
        "AuthError": 400,
        "AuthenticationError": 401,
        "InvalidAuthRequestError": 422,
        "PermissionDeniedError": 403,
        "RateLimitedError": 429,
        "UnknownKeyError": 404,
        "UnknownUserError": 404,
        "UserExistsError": 409,
    }
    assert all(issubclass(e, gateway.AuthError) and e.title for e in errors)
