"""Every error is an RFC 9457 problem; bad input never gets a 500."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

import pytest
from fastapi import APIRouter, Body
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from quantgrid.services import PROBLEM_JSON, ServiceError, ServiceSettings, create_service_app
from tests.unit.services.apps import GOOD_ORDER, client_for, orders_app
from tests.unit.services.conftest import LogLines

pytestmark = pytest.mark.anyio


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """Check the RFC 9457 shape and return the problem."""
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == status
    assert isinstance(problem["type"], str) and problem["type"]
    assert isinstance(problem["title"], str) and problem["title"]
    assert isinstance(problem["detail"], str) and problem["detail"]
    assert problem["correlation_id"] == response.headers["x-correlation-id"]
    return problem


async def test_a_valid_request_is_answered_normally() -> None:
    async with client_for(orders_app()) as client:
        response = await client.post("/orders/C-1", json=GOOD_ORDER)

    assert response.status_code == 201
    assert response.json()["quantity"] == "10"


async def test_422_names_the_field_and_the_rule() -> None:
    async with client_for(orders_app()) as client:
        response = await client.post("/orders/C-1", json={**GOOD_ORDER, "quantity": 0})

    problem = assert_problem(response, 422)
    assert problem["type"] == "urn:quantgrid:problem:validation-error"
    assert problem["title"] == "Request validation failed"
    assert problem["detail"] == "body.quantity: Input should be greater than 0"
    assert problem["instance"] == "/orders/C-1"
    assert problem["errors"] == [
        {
            "field": "body.quantity",
            "rule": "greater_than",
            "message": "Input should be greater than 0",
        }
    ]


async def test_422_lists_every_broken_rule_but_never_the_input() -> None:
    body = {"instrument_id": "", "side": "HOLD", "quantity": -1, "limit_price": "secret-ish"}
    async with client_for(orders_app()) as client:
        response = await client.post("/orders/C-1", json=body, params={})

    problem = assert_problem(response, 422)
    assert {e["field"] for e in problem["errors"]} == {
        "body.instrument_id",
        "body.side",
        "body.quantity",
        "body.limit_price",
    }
    assert problem["detail"].endswith("; and 1 more")
    assert "secret-ish" not in response.text


async def test_422_for_query_and_missing_body() -> None:
    async with client_for(orders_app()) as client:
        query = await client.get("/orders/C-1", params={"limit": "many"})
        missing = await client.post("/orders/C-1")

    assert assert_problem(query, 422)["errors"][0]["field"] == "query.limit"
    assert assert_problem(missing, 422)["errors"][0] == {
        "field": "body",
        "rule": "missing",
        "message": "Field required",
    }


class Item(BaseModel):
    quantity: int


async def test_a_long_list_of_errors_is_capped() -> None:
    router = APIRouter()

    @router.post("/items")
    async def add_items(items: Annotated[list[Item], Body()]) -> int:
        return len(items)

    app = create_service_app("items", settings=ServiceSettings(), routers=[router])
    async with client_for(app) as client:
        response = await client.post("/items", json=[{"quantity": "x"}] * 80)

    problem = assert_problem(response, 422)
    assert len(problem["errors"]) == 50
    assert problem["errors_not_listed"] == 30
    assert problem["detail"].startswith("body.0.quantity: Input should be a valid integer")
    assert problem["detail"].endswith("; and 77 more")


@pytest.mark.parametrize(
    ("content", "position"),
    [(b"{bad json", "character 1"), (b'{"side": "BUY",', "character 15")],
)
async def test_malformed_json_is_400_not_500(content: bytes, position: str) -> None:
    async with client_for(orders_app()) as client:
        response = await client.post(
            "/orders/C-1", content=content, headers={"content-type": "application/json"}
        )

    problem = assert_problem(response, 400)
    assert problem["type"] == "urn:quantgrid:problem:malformed-json"
    assert problem["title"] == "Malformed JSON"
    assert problem["detail"].startswith(f"body: not valid JSON at {position}: ")


async def test_a_body_that_is_not_utf8_is_400() -> None:
    async with client_for(orders_app()) as client:
        response = await client.post(
            "/orders/C-1", content=b'{"side": "\xff"}', headers={"content-type": "application/json"}
        )

    assert response.status_code in (400, 422)
    assert_problem(response, response.status_code)


async def test_404_for_no_route_and_for_a_missing_thing() -> None:
    async with client_for(orders_app()) as client:
        no_route = await client.get("/nowhere")
        missing = await client.get("/orders/missing")

    assert assert_problem(no_route, 404)["detail"] == "No route matches /nowhere."
    problem = assert_problem(missing, 404)
    assert problem == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no order missing",
        "instance": "/orders/missing",
        "correlation_id": missing.headers["x-correlation-id"],
    }


async def test_405_names_the_allowed_methods() -> None:
    async with client_for(orders_app()) as client:
        response = await client.delete("/orders/C-1/echo")

    problem = assert_problem(response, 405)
    assert problem["title"] == "Method Not Allowed"
    assert problem["detail"] == "DELETE is not allowed on /orders/C-1/echo; allowed: POST."
    assert response.headers["allow"] == "POST"


async def test_413_is_a_problem() -> None:
    async with client_for(orders_app(max_request_bytes=16)) as client:
        response = await client.post("/orders/C-1", json=GOOD_ORDER)

    problem = assert_problem(response, 413)
    assert problem["detail"].endswith("the limit is 16.")


async def test_a_service_error_keeps_its_status_title_type_and_members() -> None:
    async with client_for(orders_app()) as client:
        response = await client.post("/orders/C-1", json={**GOOD_ORDER, "instrument_id": "HALTED"})

    problem = assert_problem(response, 409)
    assert problem["type"] == "urn:quantgrid:problem:instrument-halted"
    assert problem["title"] == "Instrument halted"
    assert problem["detail"] == "HALTED is halted"
    assert problem["instrument_id"] == "HALTED"


async def test_500_names_nothing_but_the_correlation_id_and_logs_the_traceback(
    log_lines: LogLines,
) -> None:
    async with client_for(orders_app()) as client:
        response = await client.get("/orders/boom")

    problem = assert_problem(response, 500)
    assert problem["title"] == "Internal Server Error"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    [error] = [line for line in log_lines() if line["level"] == "ERROR"]
    assert error["message"] == "unhandled error answering GET /orders/boom"
    assert error["correlation_id"] == problem["correlation_id"]
    assert error["service"] == "orders"
    assert "RuntimeError: database password is hunter2" in error["exception"]


def test_a_service_error_refuses_a_status_that_is_not_an_error() -> None:
    with pytest.raises(ValueError, match="400-599"):
        ServiceError("fine", status=200)


# -- no bad input gets a 500 -------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
# Bodies shaped like the real one, often valid, so that the search reaches the route.
positive = st.decimals(min_value="0.000001", max_value="1e9", places=6).map(str)
order_like = st.fixed_dictionaries(
    {
        "instrument_id": st.text(min_size=1, max_size=16) | json_values,
        "side": st.sampled_from(["BUY", "SELL", "buy"]) | json_values,
        "quantity": positive | st.decimals().map(str) | json_values,
    },
    optional={"limit_price": positive | json_values, "extra": json_values},
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values | order_like, order_id=st.text(min_size=1, max_size=12))
async def test_random_json_bodies_never_get_a_500(body: Any, order_id: str) -> None:
    content = json.dumps(body)  # NaN and Infinity too: Python's parser accepts them
    async with client_for(orders_app()) as client:
        response = await client.post(
            f"/orders/{quote(order_id, safe='')}",
            content=content,
            headers={"content-type": "application/json"},
        )

    event(f"status {response.status_code}")
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_problem(response, response.status_code)


@given(content=st.binary(max_size=64), content_type=st.sampled_from(["application/json", ""]))
async def test_random_bytes_never_get_a_500(content: bytes, content_type: str) -> None:
    async with client_for(orders_app()) as client:
        response = await client.post(
            "/orders/C-1", content=content, headers={"content-type": content_type}
        )

    assert response.status_code < 500, response.text
    assert_problem(response, response.status_code)
