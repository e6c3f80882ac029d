"""Operation ids are the route functions' names; errors are described as problems."""

from __future__ import annotations

import pytest
from fastapi import APIRouter

from quantgrid.services import (
    PROBLEM_JSON,
    ServiceSettings,
    assert_stable_operation_ids,
    create_service_app,
    problem_responses,
)
from tests.unit.services.apps import client_for, orders_app


def operation_ids(schema: dict[str, object]) -> dict[str, str]:
    paths = schema["paths"]
    assert isinstance(paths, dict)
    return {
        f"{method.upper()} {path}": operation["operationId"]
        for path, item in paths.items()
        for method, operation in item.items()
    }


def test_operation_ids_are_function_names() -> None:
    assert operation_ids(orders_app().openapi()) == {
        "GET /health": "health",
        "GET /health/dependencies": "health_dependencies",
        "POST /orders/{client_order_id}": "submit_order",
        "GET /orders/{client_order_id}": "get_order",
        "POST /orders/{client_order_id}/echo": "echo_body",
    }
    assert_stable_operation_ids(orders_app())


def test_an_explicit_operation_id_wins() -> None:
    router = APIRouter()

    @router.get("/quotes", operation_id="list_quotes")
    async def quotes() -> list[str]:
        return []

    app = create_service_app("md", settings=ServiceSettings(), routers=[router])
    assert operation_ids(app.openapi())["GET /quotes"] == "list_quotes"


def test_duplicate_and_badly_cased_ids_are_reported_together() -> None:
    first, second = APIRouter(prefix="/a"), APIRouter(prefix="/b")

    @first.get("/items")
    async def list_items() -> list[str]:
        return []

    @second.get("/items", name="list_items")
    async def other_items() -> list[str]:
        return []

    @second.get("/odd", operation_id="getOdd")
    async def odd() -> str:
        return ""

    app = create_service_app("items", settings=ServiceSettings(), routers=[first, second])
    with pytest.raises(AssertionError) as caught:
        assert_stable_operation_ids(app)

    message = str(caught.value)
    assert "GET /b/items: operationId 'list_items' is also GET /a/items" in message
    assert "GET /b/odd: operationId 'getOdd' is not snake_case" in message


def test_errors_are_described_as_problem_json() -> None:
    schema = orders_app().openapi()
    responses = schema["paths"]["/orders/{client_order_id}"]["post"]["responses"]

    assert responses["422"]["content"] == {
        PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}
    }
    assert responses["default"]["content"] == {
        PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    components = schema["components"]["schemas"]
    assert {"Problem", "ValidationProblem", "FieldError"} <= set(components)
    assert "HTTPValidationError" not in components
    assert "ValidationError" not in components
    assert set(components["Problem"]["required"]) == {"title", "status", "detail"}


def test_problems_answered_before_a_route_runs_are_described() -> None:
    paths = orders_app().openapi()["paths"]

    submit = paths["/orders/{client_order_id}"]["post"]["responses"]
    get = paths["/orders/{client_order_id}"]["get"]["responses"]
    health = paths["/health"]["get"]["responses"]
    assert {"400", "404", "413"} <= set(submit)  # a body; a path parameter
    assert "404" in get and "400" not in get and "413" not in get
    assert not {"400", "404", "413"} & set(health)
    assert submit["413"]["content"] == {
        PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }


def test_a_route_describes_its_own_problems() -> None:
    router = APIRouter()

    @router.delete("/quotes/{quote_id}", responses=problem_responses({409: "It traded."}))
    async def cancel_quote(quote_id: str) -> dict[str, str]:
        return {}

    app = create_service_app("md", settings=ServiceSettings(), routers=[router])
    responses = app.openapi()["paths"]["/quotes/{quote_id}"]["delete"]["responses"]

    assert responses["409"] == {
        "description": "It traded.",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    assert responses["404"]["description"] == "Nothing is at this path."


def test_describing_problems_twice_changes_nothing() -> None:
    app = orders_app()
    first = app.openapi()
    assert app.openapi() == first


@pytest.mark.anyio
async def test_the_schema_is_served() -> None:
    async with client_for(orders_app()) as client:
        response = await client.get("/openapi.json")

    assert response.status_code == 200
    assert response.json()["info"] == {"title": "QuantGrid orders", "version": "0.1.0"}
