"""The execution service over HTTP: orders, idempotency, problems, roles."""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from quantgrid.adapters.storage import InMemoryStore, Role
from quantgrid.model import QuoteTick
from quantgrid.node import TradingNode
from quantgrid.services import PROBLEM_JSON, assert_stable_operation_ids
from quantgrid.services.execution import SubmitOrderBody
from tests.unit.node.support import MS
from tests.unit.services.execution.conftest import Headers

pytestmark = pytest.mark.anyio

LIMIT = {
    "client_order_id": "o-1",
    "instrument_id": "AAPL",
    "side": "BUY",
    "order_type": "LIMIT",
    "quantity": "10",
    "price": "99.5",
}
PUBLIC = (
    "IDEMPOTENT_REPLAYED",
    "ID_PATTERN",
    "NODE_PROBLEMS",
    "AmendOrderBody",
    "CancelAllBody",
    "CanceledOut",
    "ExecutionBackend",
    "FillOut",
    "FillPage",
    "OrderDeniedError",
    "OrderDetailOut",
    "OrderEventOut",
    "OrderOut",
    "OrderPage",
    "SubmitOrderBody",
    "create_app",
    "install_node_errors",
    "orders_router",
)


def order(**changes: Any) -> dict[str, Any]:
    body = dict(LIMIT)
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_the_public_api_is_stable() -> None:
    assert tuple(importlib.import_module("quantgrid.services.execution").__all__) == PUBLIC


async def test_operation_ids_are_stable(apps: dict[str, FastAPI]) -> None:
    app = apps["execution"]
    assert_stable_operation_ids(app)
    ids = {
        op["operationId"]
        for path in app.openapi()["paths"].values()
        for op in path.values()
        if "operationId" in op
    }
    assert ids >= {
        "submit_order",
        "amend_order",
        "cancel_order",
        "cancel_all_orders",
        "list_orders",
        "get_order",
        "list_fills",
    }


async def test_the_description_names_the_problems_each_route_answers(
    apps: dict[str, FastAPI],
) -> None:
    paths = apps["execution"].openapi()["paths"]
    problems = {
        ("post", "/orders"): {"400", "409", "413", "422", "503"},
        ("patch", "/orders/{client_order_id}"): {"404", "409", "422", "503"},
        ("delete", "/orders/{client_order_id}"): {"404", "409", "503"},
        ("get", "/orders/{client_order_id}"): {"404", "503"},
        ("get", "/fills"): {"422", "503"},
    }

    for (method, path), statuses in problems.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (method, path)
        for status in statuses:
            assert PROBLEM_JSON in responses[status]["content"], (method, path, status)
    # A repeated submission answers 200 with the first order: described as one.
    repeated = paths["/orders"]["post"]["responses"]["200"]["content"]["application/json"]
    assert repeated["schema"] == {"$ref": "#/components/schemas/OrderOut"}


async def test_submit_answers_201_once_durable(
    execution: httpx.AsyncClient, headers: Headers, store: InMemoryStore
) -> None:
    response = await execution.post("/orders", json=LIMIT, headers=headers(Role.TRADER))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["client_order_id"], body["status"]) == ("o-1", "ACCEPTED")
    assert (body["quantity"], body["price"]) == ("10", "99.5")
    stored = store.get_order("o-1")
    assert stored is not None and stored.status.value == "ACCEPTED"


async def test_a_retry_returns_the_first_order_with_200(
    execution: httpx.AsyncClient, headers: Headers, node: TradingNode
) -> None:
    first = await execution.post("/orders", json=LIMIT, headers=headers(Role.TRADER))
    again = await execution.post("/orders", json=LIMIT, headers=headers(Role.TRADER))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["venue_order_id"] == first.json()["venue_order_id"]
    assert len(node.venue.working_orders()) == 1


async def test_the_idempotency_key_names_an_order_without_an_id(
    execution: httpx.AsyncClient, headers: Headers
) -> None:
    auth = headers(Role.TRADER)
    body = order(client_order_id=None)
    first = await execution.post("/orders", json=body, headers={**auth, "Idempotency-Key": "k-1"})
    again = await execution.post("/orders", json=body, headers={**auth, "Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["client_order_id"] == "k-1"
    mismatch = await execution.post(
        "/orders", json=LIMIT, headers={**auth, "Idempotency-Key": "k-2"}
    )
    assert mismatch.status_code == 422
    assert mismatch.json()["errors"][0]["field"] == "header.Idempotency-Key"


async def test_reusing_an_id_with_other_fields_is_409(
    execution: httpx.AsyncClient, headers: Headers
) -> None:
    await execution.post("/orders", json=LIMIT, headers=headers(Role.TRADER))
    response = await execution.post(
        "/orders", json=order(quantity="20"), headers=headers(Role.TRADER)
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == "urn:quantgrid:problem:order-conflict"
    assert problem["fields"] == ["quantity"]


async def test_a_denied_order_is_a_422_with_the_check(
    execution: httpx.AsyncClient, headers: Headers
) -> None:
    response = await execution.post(
        "/orders", json=order(quantity="5000"), headers=headers(Role.TRADER)
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:quantgrid:problem:order-denied"
    assert (problem["check"], problem["value"], problem["limit"]) == (
        "max_order_quantity",
        5000.0,
        1000.0,
    )
    stored = await execution.get("/orders/o-1", headers=headers(Role.VIEWER))
    assert stored.json()["status"] == "DENIED"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (order(quantity="1.5"), "body.quantity"),
        (order(price=None), "body.price"),
        (order(price="99.001"), "body.price"),
        (order(instrument_id="TSLA"), "body.instrument_id"),
        (order(quantity="-1"), "body.quantity"),
        (order(side="HOLD"), "body.side"),
        (order(client_order_id="has space"), "body.client_order_id"),
        (order(extra=1), "body.extra"),
        (order(order_type="MARKET"), "body.price"),
    ],
)
async def test_bad_orders_are_422_naming_the_field(
    execution: httpx.AsyncClient, headers: Headers, body: dict[str, Any], field: str
) -> None:
    response = await execution.post("/orders", json=body, headers=headers(Role.TRADER))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_amend_cancel_and_cancel_all(execution: httpx.AsyncClient, headers: Headers) -> None:
    auth = headers(Role.TRADER)
    await execution.post("/orders", json=LIMIT, headers=auth)
    await execution.post("/orders", json=order(client_order_id="o-2"), headers=auth)
    await execution.post("/orders", json=order(client_order_id="o-3"), headers=auth)
    amended = await execution.patch("/orders/o-1", json={"quantity": "20"}, headers=auth)
    assert amended.status_code == 200, amended.text
    assert amended.json()["quantity"] == "20"
    assert (await execution.patch("/orders/o-1", json={}, headers=auth)).status_code == 422
    canceled = await execution.delete("/orders/o-2", headers=auth)
    assert canceled.json()["status"] == "CANCELED"
    again = await execution.delete("/orders/o-2", headers=auth)
    assert again.status_code == 409
    assert again.json()["order_status"] == "CANCELED"
    missing = await execution.delete("/orders/nope", headers=auth)
    assert missing.status_code == 404
    everything = await execution.post("/orders/cancel-all", headers=auth)
    assert everything.json() == {"canceled": ["o-1", "o-3"]}


async def test_a_refused_amend_is_409_with_the_reason(
    execution: httpx.AsyncClient, headers: Headers
) -> None:
    auth = headers(Role.TRADER)
    await execution.post("/orders", json=LIMIT, headers=auth)
    response = await execution.patch("/orders/o-1", json={"quantity": "5000"}, headers=auth)
    assert response.status_code == 409
    assert response.json()["reason"].startswith("max_order_quantity")


async def test_listing_filters_and_pages(
    execution: httpx.AsyncClient, headers: Headers, node: TradingNode
) -> None:
    auth = headers(Role.TRADER)
    node.on_quote(QuoteTick("AAPL", node.clock.timestamp_ns() + MS, 100.0, 100.02, 500, 500))
    for i in range(3):
        await execution.post("/orders", json=order(client_order_id=f"o-{i}"), headers=auth)
    market = order(client_order_id="m-1", order_type="MARKET", price=None, quantity="5")
    assert (await execution.post("/orders", json=market, headers=auth)).status_code == 201
    viewer = headers(Role.VIEWER)
    page = (await execution.get("/orders", params={"limit": 2}, headers=viewer)).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = await execution.get(
        "/orders", params={"limit": 2, "after": page["next_cursor"]}, headers=viewer
    )
    assert len(rest.json()["items"]) == 2 and rest.json()["next_cursor"] is None
    filled = await execution.get("/orders", params={"status": "FILLED"}, headers=viewer)
    assert [o["client_order_id"] for o in filled.json()["items"]] == ["m-1"]
    bad_cursor = await execution.get("/orders", params={"after": "nonsense"}, headers=viewer)
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["errors"][0]["field"] == "query.after"
    bad_status = await execution.get("/orders", params={"status": "LOST"}, headers=viewer)
    assert bad_status.status_code == 422
    detail = (await execution.get("/orders/m-1", headers=viewer)).json()
    assert [e["event_type"] for e in detail["events"]] == [
        "OrderSubmitted",
        "OrderAccepted",
        "OrderFilled",
    ]
    assert detail["events"][2]["data"]["last_px"] == 100.02
    assert detail["avg_px"] == "100.02"
    fills = (
        await execution.get("/fills", params={"client_order_id": "m-1"}, headers=viewer)
    ).json()
    assert [f["price"] for f in fills["items"]] == ["100.02"]
    assert fills["items"][0]["trade_id"] == detail["fills"][0]["trade_id"]


ROUTES = [
    ("POST", "/orders", Role.TRADER, LIMIT),
    ("PATCH", "/orders/o-1", Role.TRADER, {"quantity": "11"}),
    ("DELETE", "/orders/o-1", Role.TRADER, None),
    ("POST", "/orders/cancel-all", Role.TRADER, None),
    ("GET", "/orders", Role.VIEWER, None),
    ("GET", "/orders/o-1", Role.VIEWER, None),
    ("GET", "/fills", Role.VIEWER, None),
]
_BELOW = {Role.TRADER: Role.VIEWER, Role.ADMIN: Role.TRADER}


@pytest.mark.parametrize(("method", "path", "minimum", "body"), ROUTES)
async def test_every_route_checks_the_caller(
    execution: httpx.AsyncClient,
    headers: Headers,
    node: TradingNode,
    method: str,
    path: str,
    minimum: Role,
    body: dict[str, Any] | None,
) -> None:
    if path != "/orders" or method != "POST":
        await node.submit(SubmitOrderBody.model_validate(LIMIT).to_request("o-1"))
    anonymous = await execution.request(method, path, json=body)
    assert anonymous.status_code == 401
    if minimum in _BELOW:
        below = await execution.request(method, path, json=body, headers=headers(_BELOW[minimum]))
        assert below.status_code == 403
        assert below.headers["content-type"] == PROBLEM_JSON
    allowed = await execution.request(method, path, json=body, headers=headers(minimum))
    assert allowed.status_code in (200, 201), allowed.text


async def test_metrics_count_orders_and_fills(
    execution: httpx.AsyncClient, headers: Headers, node: TradingNode
) -> None:
    node.on_quote(QuoteTick("AAPL", node.clock.timestamp_ns() + MS, 100.0, 100.02, 500, 500))
    market = order(order_type="MARKET", price=None, quantity="5")
    await execution.post("/orders", json=market, headers=headers(Role.TRADER))
    await execution.post(
        "/orders", json=order(client_order_id="big", quantity="5000"), headers=headers(Role.TRADER)
    )
    text = (await execution.get("/metrics")).text
    assert 'quantgrid_orders_total{order_type="MARKET",side="BUY"} 1.0' in text
    assert 'quantgrid_fills_total{side="BUY"} 1.0' in text
    assert 'quantgrid_rejections_total{reason="max_order_quantity",source="risk"} 1.0' in text


async def test_readiness_checks_the_node(execution: httpx.AsyncClient, node: TradingNode) -> None:
    ready = await execution.get("/health/dependencies")
    assert ready.status_code == 200
    assert ready.json()["dependencies"]["node"]["status"] == "ok"
    await node.stop()
    down = await execution.get("/health/dependencies")
    assert down.status_code == 503
    refused = await execution.get("/orders/o-1", headers={})
    assert refused.status_code == 401
