"""Request bodies over the limit get 413, declared or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import APIRouter, FastAPI, Request

from quantgrid.services import PROBLEM_JSON, ServiceSettings, create_service_app
from tests.unit.services.apps import client_for, orders_app

pytestmark = pytest.mark.anyio

LIMIT = 100


def upload_app() -> tuple[FastAPI, list[int]]:
    """An app whose route reads the whole body, and the sizes it has read."""
    seen: list[int] = []
    router = APIRouter()

    @router.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        size = len(await request.body())
        seen.append(size)
        return {"bytes": size}

    app = create_service_app(
        "uploads", settings=ServiceSettings(max_request_bytes=LIMIT), routers=[router]
    )
    return app, seen


async def chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * size


@pytest.mark.parametrize("size", [0, 1, LIMIT])
async def test_a_body_up_to_the_limit_is_read(size: int) -> None:
    app, seen = upload_app()
    async with client_for(app) as client:
        response = await client.post("/upload", content=b"x" * size)

    assert response.status_code == 200
    assert seen == [size]


async def test_a_declared_length_over_the_limit_is_refused_before_the_route_runs() -> None:
    app, seen = upload_app()
    async with client_for(app) as client:
        response = await client.post("/upload", content=b"x" * (LIMIT + 1))

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    assert (
        response.json()["detail"] == f"The request body is {LIMIT + 1} bytes; the limit is {LIMIT}."
    )
    assert seen == []


async def test_a_streamed_body_over_the_limit_is_refused_as_it_is_read() -> None:
    app, seen = upload_app()
    async with client_for(app) as client:
        response = await client.post("/upload", content=chunks(10, 30))

    assert "content-length" not in response.request.headers  # chunked
    assert response.status_code == 413
    problem = response.json()
    assert problem["detail"] == f"The request body is larger than the limit of {LIMIT} bytes."
    assert problem["correlation_id"] == response.headers["x-correlation-id"]
    assert seen == []


async def test_a_streamed_body_under_the_limit_is_read() -> None:
    app, seen = upload_app()
    async with client_for(app) as client:
        response = await client.post("/upload", content=chunks(4, 25))

    assert response.status_code == 200
    assert seen == [100]


async def test_a_body_longer_than_declared_is_counted_as_read() -> None:
    app, seen = upload_app()
    headers = {"content-length": "10"}
    async with client_for(app) as client:
        response = await client.post("/upload", content=chunks(5, 30), headers=headers)

    assert response.status_code == 413
    assert seen == []


async def test_a_typed_json_route_is_limited_too() -> None:
    big = {"instrument_id": "AAPL", "side": "BUY", "quantity": "1", "pad": "x" * LIMIT}
    headers = {"content-type": "application/json"}
    async with client_for(orders_app(max_request_bytes=LIMIT)) as client:
        declared = await client.post("/orders/C-1", json=big)
        streamed = await client.post("/orders/C-1", content=chunks(10, 30), headers=headers)

    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert streamed.headers["content-type"] == PROBLEM_JSON
