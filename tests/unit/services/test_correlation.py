"""Correlation ids: taken from the request or made, returned, kept for the request."""

from __future__ import annotations

import uuid

import pytest

from quantgrid.services import (
    CORRELATION_ID_HEADER,
    ServiceSettings,
    correlation_context,
    create_service_app,
    current_correlation_id,
)
from tests.unit.services.apps import GOOD_ORDER, client_for, orders_app

pytestmark = pytest.mark.anyio


def is_uuid4(text: str) -> bool:
    return uuid.UUID(text).version == 4


async def test_a_request_without_one_gets_a_fresh_uuid4_on_every_response() -> None:
    async with client_for(orders_app()) as client:
        first = await client.post("/orders/C-1", json=GOOD_ORDER)
        second = await client.get("/orders/missing")

    ids = [first.headers[CORRELATION_ID_HEADER], second.headers[CORRELATION_ID_HEADER]]
    assert all(is_uuid4(cid) for cid in ids)
    assert ids[0] != ids[1]
    assert first.json()["correlation_id"] == ids[0]  # what the route saw
    assert second.json()["correlation_id"] == ids[1]  # what the problem carries


@pytest.mark.parametrize(
    "cid", ["abc", "req-42:retry.1", "A" * 128, "5f0b6a8e-3c1d-4e2f-9a7b-0c1d2e3f4a5b"]
)
async def test_a_well_formed_id_is_kept(cid: str) -> None:
    async with client_for(orders_app()) as client:
        response = await client.post(
            "/orders/C-1", json=GOOD_ORDER, headers={CORRELATION_ID_HEADER: cid}
        )

    assert response.headers[CORRELATION_ID_HEADER] == cid
    assert response.json()["correlation_id"] == cid


@pytest.mark.parametrize(
    "cid", ["", "has space", 'quote"d', "A" * 129, "-leading-dash", "new\u2028line", "ü"]
)
async def test_a_malformed_id_is_replaced(cid: str) -> None:
    async with client_for(orders_app()) as client:
        response = await client.post(
            "/orders/C-1",
            json=GOOD_ORDER,
            headers=[(CORRELATION_ID_HEADER.encode(), cid.encode())],
        )

    returned = response.headers[CORRELATION_ID_HEADER]
    assert returned != cid
    assert is_uuid4(returned)
    assert response.json()["correlation_id"] == returned


async def test_the_id_does_not_outlive_the_request() -> None:
    async with client_for(orders_app()) as client:
        await client.post("/orders/C-1", json=GOOD_ORDER, headers={CORRELATION_ID_HEADER: "x1"})

    assert current_correlation_id() is None


def test_correlation_context_sets_and_restores_the_id() -> None:
    assert current_correlation_id() is None
    with correlation_context("job-7") as cid:
        assert cid == "job-7"
        assert current_correlation_id() == "job-7"
        with correlation_context() as inner:
            assert is_uuid4(inner)
            assert current_correlation_id() == inner
        assert current_correlation_id() == "job-7"
    assert current_correlation_id() is None


def test_correlation_context_replaces_a_malformed_id() -> None:
    with correlation_context("bad id\n") as cid:
        assert is_uuid4(cid)


async def test_a_service_mounted_in_another_keeps_the_outer_id() -> None:
    outer = create_service_app("gateway", settings=ServiceSettings())
    outer.mount("/orders-service", orders_app())
    async with client_for(outer) as client:
        response = await client.post("/orders-service/orders/C-1", json=GOOD_ORDER)

    assert response.status_code == 201
    assert response.json()["correlation_id"] == response.headers[CORRELATION_ID_HEADER]
