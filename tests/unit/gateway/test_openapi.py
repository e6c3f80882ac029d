"""The gateway's description: roles read from routes, and service schemas merged."""

from __future__ import annotations

import copy
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from quantgrid.adapters.storage import Role
from quantgrid.gateway import Authenticator, Principal, authenticated, install_auth, require_role
from quantgrid.gateway._openapi import describe_security, install_gateway_openapi, merge_schemas
from quantgrid.services import ServiceSettings, create_service_app

pytestmark = pytest.mark.anyio

Trader = Annotated[Principal, Depends(require_role(Role.TRADER))]
Caller = Annotated[Principal, Depends(authenticated())]


class Limits(BaseModel):
    """A model two services define differently."""

    cap: float


def service(name: str, auth: Authenticator) -> FastAPI:
    """Return a small service: a public, a caller's, a trader's and an admin's route."""
    admins = APIRouter(prefix="/admin", dependencies=[Depends(require_role(Role.ADMIN))])

    @admins.post("/halt")
    async def halt() -> dict[str, str]:
        return {}

    router = APIRouter()

    @router.get("/open")
    async def open_route() -> dict[str, str]:
        return {}

    @router.get("/me")
    async def who(caller: Caller) -> dict[str, str]:
        return {"subject": caller.subject}

    @router.put("/limits")
    async def set_limits(body: Limits, _caller: Trader) -> Limits:
        return body

    app = create_service_app(name, settings=ServiceSettings(), routers=[router, admins])
    install_auth(app, auth)
    return app


def operation(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    op: dict[str, Any] = schema["paths"][path][method]
    return op


def test_roles_are_read_from_the_dependencies_of_routes_and_routers(auth: Authenticator) -> None:
    app = service("orders", auth)
    schema = describe_security(copy.deepcopy(app.openapi()), app)

    assert operation(schema, "get", "/open")["security"] == []
    assert "x-required-role" not in operation(schema, "get", "/open")
    assert operation(schema, "get", "/health")["security"] == []
    assert operation(schema, "get", "/me")["x-required-role"] == "viewer"
    assert operation(schema, "put", "/limits")["x-required-role"] == "trader"
    assert operation(schema, "post", "/admin/halt")["x-required-role"] == "admin"
    halt = operation(schema, "post", "/admin/halt")
    assert halt["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
    assert halt["description"].endswith("Needs the `admin` role or above.")
    assert {"401", "403", "429"} <= set(halt["responses"])
    assert "403" not in operation(schema, "get", "/me")["responses"]
    assert describe_security(copy.deepcopy(schema), app) == schema  # idempotent


def test_services_go_under_api_with_their_ids_prefixed(auth: Authenticator) -> None:
    apps = {"market-data": service("market-data", auth), "risk": service("risk", auth)}
    gateway = service("gateway", auth)

    merged = merge_schemas(
        describe_security(copy.deepcopy(gateway.openapi()), gateway),
        {n: describe_security(copy.deepcopy(a.openapi()), a) for n, a in apps.items()},
    )

    ids = {
        (method, path): op["operationId"]
        for path, item in merged["paths"].items()
        for method, op in item.items()
    }
    assert ids["put", "/limits"] == "set_limits"
    assert ids["put", "/api/market-data/limits"] == "market_data_set_limits"
    assert ids["get", "/api/risk/health"] == "risk_health"
    assert len(set(ids.values())) == len(ids)
    risk_limits = operation(merged, "put", "/api/risk/limits")
    assert risk_limits["tags"] == ["risk"]
    assert risk_limits["x-required-role"] == "trader"
    assert "503" in risk_limits["responses"]
    assert [t["name"] for t in merged["tags"]] == ["market-data", "risk"]


def test_components_defined_alike_are_shared_and_others_renamed(auth: Authenticator) -> None:
    gateway, risk, backtest = (service(n, auth) for n in ("gateway", "risk", "backtest"))
    differing = copy.deepcopy(backtest.openapi())
    differing["components"]["schemas"]["Limits"]["properties"]["floor"] = {"type": "number"}

    merged = merge_schemas(gateway.openapi(), {"risk": risk.openapi(), "backtest": differing})

    schemas = merged["components"]["schemas"]
    assert "Problem" in schemas and "Limits" in schemas  # the gateway's own keep their names
    assert "floor" in schemas["BacktestLimits"]["properties"]
    assert "floor" not in schemas["RiskLimits"]["properties"]
    body = operation(merged, "put", "/api/backtest/limits")["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BacktestLimits"
    }


def test_a_clash_of_operation_ids_is_refused(auth: Authenticator) -> None:
    gateway = service("gateway", auth).openapi()
    clashing = copy.deepcopy(gateway)
    clashing["paths"]["/open"]["get"]["operationId"] = "health"
    # The gateway's own "orders_health" would be the service's "health".
    gateway["paths"]["/open"]["get"]["operationId"] = "orders_health"

    with pytest.raises(ValueError, match="operation id 'orders_health' is both"):
        merge_schemas(gateway, {"orders": clashing})


async def test_the_gateway_serves_its_description_with_every_service(auth: Authenticator) -> None:
    gateway, risk = service("gateway", auth), service("risk", auth)
    built: list[str] = []

    def services() -> dict[str, FastAPI]:
        built.append("risk")
        return {"risk": risk}

    install_gateway_openapi(gateway, services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"
    ) as client:
        first = await client.get("/openapi.json")
        second = await client.get("/openapi.json")

    assert first.status_code == 200
    assert "/api/risk/admin/halt" in first.json()["paths"]
    assert second.json() == first.json()
    assert built == ["risk"]  # built once, at the first request
