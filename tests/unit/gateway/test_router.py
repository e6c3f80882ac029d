"""The /auth routes over HTTP, and the auth matrix every non-public route must pass."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from quantgrid.adapters.storage import InMemoryStore, Role
from quantgrid.core import TestClock
from quantgrid.gateway import (
    Authenticator,
    Principal,
    auth_router,
    create_gateway_app,
    require_role,
)
from quantgrid.services import PROBLEM_JSON, ServiceSettings
from tests.unit.gateway.conftest import PASSWORD, START_NS

pytestmark = pytest.mark.anyio

NANOS = 1_000_000_000
PUBLIC = {"auth_login", "auth_refresh"}
_names = itertools.count()


@dataclass(frozen=True)
class Endpoint:
    """A non-public route: how to call it successfully, and the role it needs."""

    method: str
    minimum: Role
    # Returns the path and JSON body of a call that succeeds with the right role.
    request: Callable[[Authenticator], tuple[str, dict[str, Any] | None]]


ENDPOINTS = {
    "auth_me": Endpoint("GET", Role.VIEWER, lambda _a: ("/auth/me", None)),
    "auth_list_users": Endpoint("GET", Role.ADMIN, lambda _a: ("/auth/users", None)),
    "auth_create_user": Endpoint(
        "POST",
        Role.ADMIN,
        lambda _a: ("/auth/users", {"username": f"new{next(_names)}", "password": PASSWORD}),
    ),
    "auth_create_key": Endpoint(
        "POST",
        Role.ADMIN,
        lambda _a: ("/auth/keys", {"owner": "trader", "role": "viewer", "label": "bot"}),
    ),
    "auth_revoke_key": Endpoint(
        "DELETE",
        Role.ADMIN,
        lambda a: (f"/auth/keys/{a.keys.create_key('trader', Role.VIEWER).key_id}", None),
    ),
}
_BELOW = {Role.TRADER: Role.VIEWER, Role.ADMIN: Role.TRADER}

# Each case: how to get the credentials, and the status they must get.
CASES = {
    "no credentials": 401,
    "bad token": 401,
    "expired token": 401,
    "refresh token as access token": 401,
    "revoked key": 401,
    "role too low (token)": 403,
    "role too low (key)": 403,
    "right role (token)": 200,
    "right role (key)": 200,
}


def credentials(case: str, auth: Authenticator, clock: TestClock, minimum: Role) -> dict[str, str]:
    """Return the headers of ``case`` for a route that needs ``minimum``."""
    if case == "no credentials":
        return {}
    if case == "bad token":
        return {"Authorization": "Bearer not-a-token"}
    if case == "expired token":
        access = auth.login("admin", PASSWORD).access
        clock.set_time(START_NS + 15 * 60 * NANOS)
        return {"Authorization": f"Bearer {access}"}
    if case == "refresh token as access token":
        return {"Authorization": f"Bearer {auth.login('admin', PASSWORD).refresh}"}
    if case == "revoked key":
        new = auth.keys.create_key("admin", Role.ADMIN, "revoked")
        auth.keys.revoke_key(new.key_id)
        return {"X-API-Key": new.secret}
    role = _BELOW[minimum] if case.startswith("role too low") else minimum
    if case.endswith("(token)"):
        return {"Authorization": f"Bearer {auth.login(role.value, PASSWORD).access}"}
    return {"X-API-Key": auth.keys.create_key("admin", role, case).secret}


def test_the_matrix_covers_every_route_of_the_router() -> None:
    routed = {r.operation_id for r in auth_router.routes if isinstance(r, APIRoute)}
    assert routed == set(ENDPOINTS) | PUBLIC


def test_operation_ids_are_stable(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    ids = {(m.upper(), p): op["operationId"] for p, ops in paths.items() for m, op in ops.items()}
    assert ids == {
        ("POST", "/auth/login"): "auth_login",
        ("POST", "/auth/refresh"): "auth_refresh",
        ("GET", "/auth/me"): "auth_me",
        ("GET", "/auth/users"): "auth_list_users",
        ("POST", "/auth/users"): "auth_create_user",
        ("POST", "/auth/keys"): "auth_create_key",
        ("DELETE", "/auth/keys/{key_id}"): "auth_revoke_key",
    }


def test_the_description_names_the_problems_each_route_answers(auth: Authenticator) -> None:
    paths = create_gateway_app(ServiceSettings(), auth).openapi()["paths"]
    problems = {
        ("post", "/auth/login"): {"400", "401", "422", "429"},
        ("post", "/auth/refresh"): {"400", "401", "422"},
        ("get", "/auth/me"): {"401", "429"},
        ("post", "/auth/users"): {"401", "403", "409", "422", "429"},
        ("post", "/auth/keys"): {"401", "403", "404", "422", "429"},
        ("delete", "/auth/keys/{key_id}"): {"401", "403", "404", "429"},
    }

    for (method, path), statuses in problems.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (method, path)
        assert all(PROBLEM_JSON in responses[s]["content"] for s in statuses), (method, path)


MATRIX = [
    pytest.param(operation, case, id=f"{operation}: {case}")
    for operation, endpoint in ENDPOINTS.items()
    for case in CASES
    # A route open to every role has no role too low.
    if endpoint.minimum in _BELOW or not case.startswith("role too low")
]


@pytest.mark.parametrize(("operation", "case"), MATRIX)
async def test_auth_matrix(
    operation: str,
    case: str,
    auth: Authenticator,
    clock: TestClock,
    client: httpx.AsyncClient,
) -> None:
    endpoint = ENDPOINTS[operation]
    path, body = endpoint.request(auth)
    headers = credentials(case, auth, clock, endpoint.minimum)

    answer = await client.request(endpoint.method, path, json=body, headers=headers)

    expected = CASES[case]
    if expected == 200:
        assert answer.is_success, answer.text
        return
    assert answer.status_code == expected, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == expected and problem["instance"] == path
    if expected == 401:
        assert answer.headers["www-authenticate"].startswith('Bearer realm="quantgrid"')


async def test_login_then_me(client: httpx.AsyncClient) -> None:
    answer = await client.post("/auth/login", json={"username": "trader", "password": PASSWORD})

    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    tokens = answer.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json() == {"subject": "trader", "role": "trader", "kind": "user", "key_id": None}


@pytest.mark.parametrize(
    "body",
    [
        {"username": "trader", "password": "not the password"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "trader", "password": "x" * 5000},
    ],
)
async def test_a_failed_login_says_the_same_whatever_was_wrong(
    client: httpx.AsyncClient, body: dict[str, str]
) -> None:
    answer = await client.post("/auth/login", json=body)

    assert answer.status_code == 401
    assert answer.json() == {
        "type": "about:blank",
        "title": "Not authenticated",
        "status": 401,
        "detail": "invalid username or password",
        "instance": "/auth/login",
    }


async def test_refresh_over_http_rotates_and_refuses_reuse(client: httpx.AsyncClient) -> None:
    login = await client.post("/auth/login", json={"username": "viewer", "password": PASSWORD})
    old = login.json()["refresh_token"]

    first = await client.post("/auth/refresh", json={"refresh_token": old})
    again = await client.post("/auth/refresh", json={"refresh_token": old})

    assert first.status_code == 200 and first.json()["refresh_token"] != old
    assert again.status_code == 401 and "already used" in again.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"X-API-Key": ""},
        {"X-API-Key": "qgk_nonsense"},
    ],
)
async def test_malformed_credentials_are_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await client.get("/auth/me", headers=headers)
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


async def test_a_token_and_a_key_together_are_refused(
    auth: Authenticator, client: httpx.AsyncClient
) -> None:
    headers = {
        "Authorization": f"Bearer {auth.login('admin', PASSWORD).access}",
        "X-API-Key": auth.keys.create_key("admin", Role.ADMIN).secret,
    }
    answer = await client.get("/auth/me", headers=headers)
    assert answer.status_code == 401 and "not both" in answer.json()["detail"]


def admin(auth: Authenticator) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.login('admin', PASSWORD).access}"}


async def test_an_admin_creates_and_lists_users(
    auth: Authenticator, client: httpx.AsyncClient
) -> None:
    body = {"username": "carol", "password": PASSWORD, "role": "trader"}
    created = await client.post("/auth/users", json=body, headers=admin(auth))
    taken = await client.post("/auth/users", json=body, headers=admin(auth))
    listed = await client.get("/auth/users", headers=admin(auth))

    assert created.status_code == 201
    assert created.json() == {
        "username": "carol",
        "role": "trader",
        "created_ns": START_NS,
        "disabled_ns": None,
    }
    assert taken.status_code == 409
    assert [u["username"] for u in listed.json()] == ["admin", "carol", "trader", "viewer"]
    assert "argon2" not in listed.text and "password" not in listed.text


async def test_a_refused_password_is_not_echoed(
    auth: Authenticator, client: httpx.AsyncClient
) -> None:
    body = {"username": "dave", "password": "hunter2", "role": "viewer"}
    answer = await client.post("/auth/users", json=body, headers=admin(auth))

    assert answer.status_code == 422
    assert "hunter2" not in answer.text
    assert "12 to 1024 characters" in answer.json()["detail"]


async def test_an_admin_creates_uses_and_revokes_a_key(
    auth: Authenticator, client: httpx.AsyncClient, store: InMemoryStore
) -> None:
    body = {"owner": "trader", "role": "trader", "label": "grid bot"}
    created = await client.post("/auth/keys", json=body, headers=admin(auth))
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    new = created.json()
    assert new["key"].startswith(f"qgk_{new['key_id']}_")

    me = await client.get("/auth/me", headers={"X-API-Key": new["key"]})
    assert me.json() == {
        "subject": "trader",
        "role": "trader",
        "kind": "key",
        "key_id": new["key_id"],
    }

    revoked = await client.delete(f"/auth/keys/{new['key_id']}", headers=admin(auth))
    assert revoked.status_code == 200 and revoked.json()["revoked_ns"] == START_NS
    assert "key" not in revoked.json() and "key_hash" not in revoked.json()
    after = await client.get("/auth/me", headers={"X-API-Key": new["key"]})
    assert after.status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"owner": "viewer", "role": "trader"}, 422, "cannot exceed its owner's"),
        ({"owner": "nobody", "role": "viewer"}, 404, "no user is named 'nobody'"),
    ],
)
async def test_a_bad_key_request_is_refused(
    auth: Authenticator,
    client: httpx.AsyncClient,
    body: dict[str, str],
    status: int,
    detail: str,
) -> None:
    answer = await client.post("/auth/keys", json=body, headers=admin(auth))
    assert answer.status_code == status and detail in answer.json()["detail"]


async def test_revoking_an_unknown_key_is_404(
    auth: Authenticator, client: httpx.AsyncClient
) -> None:
    answer = await client.delete("/auth/keys/0123456789abcdef", headers=admin(auth))
    assert answer.status_code == 404


async def test_require_role_guards_a_services_route(
    app: FastAPI, auth: Authenticator, client: httpx.AsyncClient
) -> None:
    @app.post("/orders", operation_id="submit_order")
    async def submit(caller: Annotated[Principal, Depends(require_role(Role.TRADER))]) -> str:
        return caller.subject

    viewer = {"Authorization": f"Bearer {auth.login('viewer', PASSWORD).access}"}
    trader = {"X-API-Key": auth.keys.create_key("trader", Role.TRADER).secret}
    denied = await client.post("/orders", headers=viewer)
    allowed = await client.post("/orders", headers=trader)

    assert denied.status_code == 403
    assert denied.json()["detail"] == "this needs the trader role; the caller has viewer"
    assert allowed.json() == "trader"


async def test_an_app_without_install_auth_says_what_is_missing() -> None:
    app = FastAPI()
    app.include_router(auth_router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        with pytest.raises(RuntimeError, match="install_auth"):
            await client.get("/auth/me", headers={"Authorization": "Bearer x"})
