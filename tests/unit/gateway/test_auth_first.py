"""A body that is not JSON is refused only after the route's credentials and role."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from quantgrid.gateway import Authenticator, auth_router, install_auth, install_auth_before_parsing
from quantgrid.services import PROBLEM_JSON, ServiceSettings, create_service_app
from tests.unit.gateway.conftest import PASSWORD

pytestmark = pytest.mark.anyio

BROKEN = b'{"username": '
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def service(auth: Authenticator) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app("accounts", settings=ServiceSettings(), routers=[auth_router])
    install_auth(app, auth)
    install_auth_before_parsing(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


def bearer(auth: Authenticator, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.login(username, PASSWORD).access}", **JSON}


async def test_without_credentials_a_broken_body_is_a_401(service: httpx.AsyncClient) -> None:
    answer = await service.post("/auth/users", content=BROKEN, headers=JSON)

    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.headers["www-authenticate"] == 'Bearer realm="quantgrid"'


async def test_with_bad_credentials_a_broken_body_is_a_401(service: httpx.AsyncClient) -> None:
    headers = {"Authorization": "Bearer not-a-token", **JSON}

    answer = await service.post("/auth/users", content=BROKEN, headers=headers)

    assert answer.status_code == 401, answer.text


async def test_with_a_role_too_low_a_broken_body_is_a_403(
    service: httpx.AsyncClient, auth: Authenticator
) -> None:
    answer = await service.post("/auth/users", content=BROKEN, headers=bearer(auth, "trader"))

    assert answer.status_code == 403, answer.text
    assert answer.json()["detail"] == "this needs the admin role; the caller has trader"


async def test_a_caller_who_may_call_the_route_learns_where_the_json_breaks(
    service: httpx.AsyncClient, auth: Authenticator
) -> None:
    answer = await service.post("/auth/users", content=BROKEN, headers=bearer(auth, "admin"))

    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == "urn:quantgrid:problem:malformed-json"


async def test_a_public_route_answers_a_broken_body_400(service: httpx.AsyncClient) -> None:
    answer = await service.post("/auth/login", content=BROKEN, headers=JSON)

    assert answer.status_code == 400, answer.text


async def test_other_validation_errors_are_answered_as_before(
    service: httpx.AsyncClient, auth: Authenticator
) -> None:
    anonymous = await service.post("/auth/users", json={"username": ""})
    allowed = await service.post(
        "/auth/users", json={"username": ""}, headers=bearer(auth, "admin")
    )

    assert anonymous.status_code == 401  # the dependencies run before the body's rules
    assert allowed.status_code == 422
    assert allowed.json()["type"] == "urn:quantgrid:problem:validation-error"
