"""Every operation of the gateway's description, called with every kind of bad credentials.

The operations come from the gateway's OpenAPI description, so a new endpoint is in the
matrix as soon as it is routed; the role each needs is the description's
``x-required-role``, which the gateway reads from the route's dependencies. An
operation that is neither listed public here nor marked with a role fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from quantgrid.adapters.storage import Role
from quantgrid.services import GATEWAY, PROBLEM_JSON, SERVICES
from tests.unit.gateway.platform import (
    PASSWORD,
    PlatformEnv,
    gateway_schema,
    operations,
    running_platform,
)

ROLE = "x-required-role"
SCHEMA = gateway_schema()
OPERATIONS = {op["operationId"]: (method, path, op) for method, path, op in operations(SCHEMA)}
_probes = ("health", "health_dependencies")
#: Operations anyone may call: probes, and the routes that hand out credentials.
PUBLIC = {
    *_probes,
    "auth_login",
    "auth_refresh",
    *(
        f"{name.replace('-', '_')}_{probe}"
        for name in SERVICES
        if name != GATEWAY.name
        for probe in _probes
    ),
}
#: A value of each path parameter; any string does for those not named.
SAMPLES = {
    "symbol": "SYN0",
    "name": "sma_cross",
    "client_order_id": "C-404",
    "config_id": "no-such-config",
    "job_id": "no-such-job",
    "key_id": "0123456789abcdef",
}
#: Query parameters some operations are called with: the stream of snapshots would
#: otherwise last its default 300 s (0 sends one snapshot and ends).
QUERY_SAMPLES = {"portfolio_stream_snapshots": {"max_s": "0"}}
_BELOW = {Role.TRADER: Role.VIEWER, Role.ADMIN: Role.TRADER}
_AN_HOUR_NS = 3600 * 1_000_000_000

Credentials = Callable[[PlatformEnv, Role], dict[str, str]]


def _disabled_user(env: PlatformEnv, role: Role) -> dict[str, str]:
    name = f"gone-{time.monotonic_ns()}"
    env.users.create_user(name, PASSWORD, role)
    headers = env.token(name)
    env.runtime.store.disable_user(name, time.time_ns())
    return headers


#: Credentials that must not work, whatever the operation: each is answered 401.
REFUSED: dict[str, Credentials] = {
    "no credentials": lambda _env, _role: {},
    "malformed token": lambda _env, _role: {"Authorization": "Bearer not-a-token"},
    "not a bearer": lambda _env, _role: {"Authorization": "Basic YWRtaW46YWRtaW4="},
    "token signed with a wrong secret": lambda env, role: {
        "Authorization": f"Bearer {env.foreign_token(role, secret='x' * 48)}"
    },
    "expired token": lambda env, role: {
        "Authorization": f"Bearer {env.foreign_token(role, at_ns=time.time_ns() - _AN_HOUR_NS)}"
    },
    "refresh token as access token": lambda env, role: {
        "Authorization": f"Bearer {env.authenticator.login(role.value, PASSWORD).refresh}"
    },
    "malformed key": lambda _env, _role: {"X-API-Key": "not-a-key"},
    "revoked key": lambda env, role: env.key(role, owner="revoker"),
    "disabled user's token": _disabled_user,
    "disabled owner's key": lambda env, role: env.key(role, owner="disabled"),
    "token and key": lambda env, role: {**env.token(role), **env.key(role)},
}
#: Credentials of a role below the operation's: 403.
TOO_LOW: dict[str, Credentials] = {
    "role too low (token)": lambda env, role: env.token(_BELOW[role]),
    "role too low (key)": lambda env, role: env.key(_BELOW[role]),
}
#: Credentials of the operation's role: neither 401 nor 403.
ALLOWED: dict[str, Credentials] = {
    "right role (token)": lambda env, role: env.token(role),
    "right role (key)": lambda env, role: env.key(role),
}


@pytest.fixture(scope="module")
def env() -> Iterator[PlatformEnv]:
    with running_platform() as env:
        # Keys of each role, revoked, or of a user disabled after making them.
        for owner in ("revoker", "disabled"):
            env.users.create_user(owner, PASSWORD, Role.ADMIN)
            for role in Role:
                env.key(role, owner=owner)
        for role in Role:
            env.authenticator.keys.revoke_key(env.key_id(role, owner="revoker"))
        env.runtime.store.disable_user("disabled", time.time_ns())
        yield env


def call(
    env: PlatformEnv, operation_id: str, headers: dict[str, str], *, body: bytes | None = None
) -> Any:
    """Call an operation with path samples and, if it takes one, an empty JSON body.

    The empty body breaks most bodies' rules: the credentials must be refused before
    the body is looked at.
    """
    method, path, operation = OPERATIONS[operation_id]
    for name in [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]:
        path = path.replace(f"{{{name}}}", SAMPLES.get(name, "sample"))
    if "requestBody" in operation:
        headers = {**headers, "Content-Type": "application/json"}
        body = b"{}" if body is None else body
    params = QUERY_SAMPLES.get(operation_id)
    return env.request(method, path, headers=headers, content=body, params=params)


def assert_refused(answer: Any, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    problem = answer.json()
    assert problem["status"] == status
    assert problem["instance"] == answer.request.url.path
    if status == 401:
        assert answer.headers["www-authenticate"].startswith('Bearer realm="quantgrid"')


def test_every_operation_is_public_or_marked_with_its_role() -> None:
    unmarked = [
        f"{method} {path} ({op['operationId']})"
        for method, path, op in operations(SCHEMA)
        if op["operationId"] not in PUBLIC and op.get(ROLE) not in {r.value for r in Role}
    ]
    assert not unmarked, "operations neither public nor marked with x-required-role"
    assert set(OPERATIONS) >= PUBLIC, sorted(PUBLIC - set(OPERATIONS))


def test_the_description_says_who_may_call_each_operation() -> None:
    schemes = SCHEMA["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {
        "type": "http",
        "description": "An access token from /auth/login.",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert schemes["APIKeyHeader"]["in"] == "header"
    assert schemes["APIKeyHeader"]["name"] == "X-API-Key"
    for operation_id, (_method, _path, op) in OPERATIONS.items():
        if operation_id in PUBLIC:
            assert op["security"] == [] and ROLE not in op, operation_id
            continue
        assert op["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}], operation_id
        assert f"Needs the `{op[ROLE]}` role or above." in op["description"], operation_id
        expected = {"401", "429"} | ({"403"} if op[ROLE] != "viewer" else set())
        assert expected <= set(op["responses"]), operation_id


@pytest.mark.parametrize("operation_id", sorted(PUBLIC))
def test_public_operations_need_no_credentials(env: PlatformEnv, operation_id: str) -> None:
    answer = call(env, operation_id, {})

    assert answer.status_code not in (401, 403), answer.text
    assert answer.status_code < 500, answer.text


PROTECTED = sorted(set(OPERATIONS) - PUBLIC)
MATRIX = [
    pytest.param(op, case, id=f"{op}: {case}")
    for op in PROTECTED
    for case in [*REFUSED, *TOO_LOW, *ALLOWED]
    # An operation open to every role has no role too low.
    if case not in TOO_LOW or OPERATIONS[op][2][ROLE] != Role.VIEWER.value
]


@pytest.mark.parametrize(("operation_id", "case"), MATRIX)
def test_auth_matrix(env: PlatformEnv, operation_id: str, case: str) -> None:
    role = Role(OPERATIONS[operation_id][2][ROLE])
    make = {**REFUSED, **TOO_LOW, **ALLOWED}[case]

    answer = call(env, operation_id, make(env, role))

    if case in REFUSED:
        assert_refused(answer, 401)
    elif case in TOO_LOW:
        assert_refused(answer, 403)
    else:
        assert answer.status_code not in (401, 403), answer.text
        assert answer.status_code < 500, answer.text
        if answer.status_code >= 400:
            assert answer.headers["content-type"] == PROBLEM_JSON


WITH_BODY = [op for op in PROTECTED if "requestBody" in OPERATIONS[op][2]]


@pytest.mark.parametrize("operation_id", WITH_BODY)
def test_a_body_that_is_not_json_is_refused_after_the_credentials(
    env: PlatformEnv, operation_id: str
) -> None:
    role = Role(OPERATIONS[operation_id][2][ROLE])
    broken = b'{"quantity": '

    anonymous = call(env, operation_id, {}, body=broken)
    allowed = call(env, operation_id, env.token(role), body=broken)

    assert_refused(anonymous, 401)
    if role in _BELOW:
        assert_refused(call(env, operation_id, env.token(_BELOW[role]), body=broken), 403)
    assert allowed.status_code == 400, allowed.text
    assert allowed.json()["type"] == "urn:quantgrid:problem:malformed-json"


def test_the_one_process_gateway_serves_the_distributed_description(env: PlatformEnv) -> None:
    served = env.request("GET", "/openapi.json")

    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(SCHEMA))
