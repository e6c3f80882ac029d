"""The execution process killed mid-stream loses no acknowledged order and makes none twice.

The gateway and the execution service run as processes of their own on loopback
(``conftest.py``). Orders go through the gateway, four at a time, each with its own
client order id (in the body and as ``Idempotency-Key``). After the 8th
acknowledgement the execution process is SIGKILLed; the orders sent after that must
get a 503 problem from the gateway, not a hang. The process is started again on its
port, the orders never acknowledged are sent again under the same ids, and a few new
ones after them. Then the store (PostgreSQL, read directly) and the API must both hold
every order once, each acknowledged one as it was acknowledged, with one submission
in its history; and the restarted node must be working the resting orders, which a
cancel-all shows.

The execution process runs with its market feed off (``QUANTGRID_FEED_INTERVAL_S=0``,
``conftest.py``): this test is about orders surviving a kill, and without quotes limit
orders rest and market orders end CANCELED for want of liquidity, so no order fills and
the account must be exactly its one deposit, before the kill and after the recovery.
Fills under a live feed are tested in ``tests/unit/runtime/test_feed.py``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest

from quantgrid.adapters.storage import PostgresStore
from quantgrid.model import OrderStatus
from tests.e2e.deployment import (
    STARTUP_TIMEOUT_S,
    TRADER,
    TRADER_PASSWORD,
    Deployment,
    ServiceProcess,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.anyio]

ORDERS_BEFORE_RESTART = 24
KILL_AFTER_ACKS = 8
WORKERS = 4
ORDERS_AFTER_RESTART = 5
#: The test's own limit on a request. The gateway bounds each call far below it:
#: (QUANTGRID_CLIENT_RETRIES + 1) attempts of QUANTGRID_CLIENT_TIMEOUT_S, with backoff.
CLIENT_TIMEOUT_S = 30.0
#: How long the gateway may take to reach the restarted service (its breaker resets
#: after a second, see conftest.py).
GATEWAY_RECONNECT_TIMEOUT_S = 15.0
PROBLEM_JSON = "application/problem+json"
ACKNOWLEDGED = (200, 201)
DECIMAL_FIELDS = frozenset({"quantity", "price", "trigger_price", "filled_qty", "avg_px"})


@dataclass(frozen=True, slots=True)
class Answer:
    """What one submission got: an HTTP answer, or the reason there was none."""

    client_order_id: str
    status: int | None
    body: dict[str, Any]
    headers: httpx.Headers
    sent_after_kill: bool = False
    error: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.status in ACKNOWLEDGED

    def describe(self) -> str:
        return f"{self.client_order_id}: {self.status or self.error} {self.body}"


def as_compared(order: dict[str, Any]) -> dict[str, Any]:
    """Return an order answer with its decimal strings as numbers ("0.0" equals "0")."""
    return {
        key: Decimal(value) if key in DECIMAL_FIELDS and value is not None else value
        for key, value in order.items()
    }


def order_body(client_order_id: str, n: int) -> dict[str, Any]:
    """Return the ``n``-th order: resting limit orders on both sides, and every sixth a
    market order (it finds no liquidity and ends CANCELED)."""
    instrument = f"SYN{n % 4}"
    if n % 6 == 5:
        return {
            "client_order_id": client_order_id,
            "instrument_id": instrument,
            "side": "BUY",
            "order_type": "MARKET",
            "quantity": "1",
        }
    buy = n % 2 == 0
    # Bids below asks, so the resting orders cannot trade with each other.
    price = Decimal("90") + Decimal(n) / 100 if buy else Decimal("110") + Decimal(n) / 100
    return {
        "client_order_id": client_order_id,
        "instrument_id": instrument,
        "side": "BUY" if buy else "SELL",
        "order_type": "LIMIT",
        "quantity": str(1 + n % 3),
        "price": str(price),
        "tag": f"e2e-{n}",
    }


async def submit(
    client: httpx.AsyncClient, body: dict[str, Any], *, sent_after_kill: bool = False
) -> Answer:
    """Submit ``body`` through the gateway; record the answer, or why there was none."""
    oid = body["client_order_id"]
    try:
        response = await client.post(
            "/api/execution/orders", json=body, headers={"Idempotency-Key": oid}
        )
    except httpx.HTTPError as error:  # a timeout above all: the gateway hung
        return Answer(oid, None, {}, httpx.Headers(), sent_after_kill, repr(error))
    return Answer(oid, response.status_code, response.json(), response.headers, sent_after_kill)


async def submit_all(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> list[Answer]:
    """Submit every body at once; return the answers."""
    answers: list[Answer] = []

    async def one(body: dict[str, Any]) -> None:
        answers.append(await submit(client, body))

    async with anyio.create_task_group() as group:
        for body in bodies:
            group.start_soon(one, body)
    return answers


async def submit_killing_midway(
    client: httpx.AsyncClient, bodies: dict[str, dict[str, Any]], execution: ServiceProcess
) -> list[Answer]:
    """Submit ``bodies`` with ``WORKERS`` at a time, SIGKILLing execution once
    ``KILL_AFTER_ACKS`` are acknowledged; the workers go on with the rest."""
    pending = list(bodies)
    answers: list[Answer] = []
    killed = False

    async def worker() -> None:
        nonlocal killed
        while pending:
            answer = await submit(client, bodies[pending.pop(0)], sent_after_kill=killed)
            answers.append(answer)
            if not killed and sum(a.acknowledged for a in answers) == KILL_AFTER_ACKS:
                execution.kill()  # blocks the loop until reaped: later sends find it dead
                killed = True

    async with anyio.create_task_group() as workers:
        for _ in range(WORKERS):
            workers.start_soon(worker)
    assert killed, [a.describe() for a in answers]
    return answers


async def wait_for_gateway_route(client: httpx.AsyncClient, timeout_s: float) -> None:
    """Wait until the gateway reaches execution again (its breaker lets a probe through)."""
    with anyio.fail_after(timeout_s):
        while (await client.get("/api/execution/health")).status_code != 200:
            await anyio.sleep(0.2)


async def get_json(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    """GET ``path`` through the gateway; return the body of its 200 answer."""
    response = await client.get(path, params=params)
    assert response.status_code == 200, (path, response.text)
    return response.json()


async def list_all_orders(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Return every order the API lists, following its cursor."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 500}
    while True:
        page = await get_json(client, "/api/execution/orders", **params)
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        params["after"] = page["next_cursor"]


def assert_clean_unavailable(answer: Answer) -> None:
    """The gateway answered a submission it could not deliver: a 503 problem naming
    execution, with ``Retry-After`` when its circuit is open."""
    assert answer.status == 503, answer.describe()
    assert answer.headers["content-type"].startswith(PROBLEM_JSON), answer.describe()
    assert answer.body["type"] == "urn:quantgrid:problem:dependency-unavailable"
    assert answer.body["dependency"] == "execution", answer.describe()
    if "circuit open" in answer.body["detail"]:
        assert "retry-after" in answer.headers, answer.describe()


def assert_stored_as_acknowledged(store: PostgresStore, acked: dict[str, dict[str, Any]]) -> None:
    """Every acknowledged order is stored with the status and venue id it was answered with."""
    for oid, answer in acked.items():
        order = store.get_order(oid)
        assert order is not None, f"acknowledged order {oid} is not stored"
        assert order.status.value == answer["status"], (oid, order.status, answer)
        assert order.venue_order_id == answer["venue_order_id"], (oid, order, answer)


async def test_killing_execution_loses_and_duplicates_no_acknowledged_order(
    deployment: Deployment, store: PostgresStore
) -> None:
    execution = deployment.processes["execution"]
    bodies = {f"e2e-{n:03d}": order_body(f"e2e-{n:03d}", n) for n in range(ORDERS_BEFORE_RESTART)}
    async with httpx.AsyncClient(
        base_url=deployment.gateway.url, timeout=CLIENT_TIMEOUT_S
    ) as client:
        login = await client.post(
            "/auth/login", json={"username": TRADER, "password": TRADER_PASSWORD}
        )
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        cash_before = await get_json(client, "/api/portfolio/portfolio/cash")

        # -- execution killed mid-stream: no hang, a clean 503 for what it did not answer --
        answers = await submit_killing_midway(client, bodies, execution)
        assert all(a.status is not None for a in answers), [a.describe() for a in answers]
        # The kill came at the 8th acknowledgement of 24, with at most 4 in flight.
        sent_dead = [a for a in answers if a.sent_after_kill]
        assert len(sent_dead) >= ORDERS_BEFORE_RESTART - KILL_AFTER_ACKS - WORKERS
        for answer in answers:
            if answer.sent_after_kill or not answer.acknowledged:
                assert_clean_unavailable(answer)
        acked = {a.client_order_id: a.body for a in answers if a.acknowledged}
        assert len(acked) >= KILL_AFTER_ACKS
        assert_stored_as_acknowledged(store, acked)  # durable while no process runs

        # -- restarted on its port: the unacknowledged again, the acknowledged replayed --
        execution.start()
        await execution.wait_healthy(STARTUP_TIMEOUT_S)
        await wait_for_gateway_route(client, GATEWAY_RECONNECT_TIMEOUT_S)
        unacknowledged = sorted(bodies.keys() - acked.keys())
        for answer in await submit_all(client, [bodies[oid] for oid in unacknowledged]):
            # 201: it never reached the store. 200: it was stored before the kill cut its
            # answer off (and worked again by the recovery); the stored order comes back.
            assert answer.acknowledged, answer.describe()
            if answer.status == 200:
                assert answer.headers["idempotent-replayed"] == "true"
        for oid in sorted(acked)[:3]:  # the same order as acknowledged, not a second one
            answer = await submit(client, bodies[oid])
            assert answer.status == 200, answer.describe()
            assert answer.headers["idempotent-replayed"] == "true"
            assert as_compared(answer.body) == as_compared(acked[oid])
        for n in range(ORDERS_BEFORE_RESTART, ORDERS_BEFORE_RESTART + ORDERS_AFTER_RESTART):
            oid = f"e2e-{n:03d}"
            bodies[oid] = order_body(oid, n)
            answer = await submit(client, bodies[oid])
            assert answer.status == 201, answer.describe()

        # -- every order once, in the API and in the store, each submitted once ----------
        listed = Counter(o["client_order_id"] for o in await list_all_orders(client))
        assert max(listed.values()) == 1, listed.most_common(3)
        assert set(listed) == set(bodies)
        stored = Counter(o.order.client_order_id for o in store.list_orders(limit=1000).items)
        assert max(stored.values()) == 1, stored.most_common(3)
        assert set(stored) == set(bodies)
        assert_stored_as_acknowledged(store, acked)
        for oid in bodies:
            history = Counter(e.event_type for e in store.order_events(oid))
            assert history["OrderSubmitted"] == history["OrderAccepted"] == 1, (oid, history)

        # -- the restarted node works every resting order, each once ----------------------
        resting = {oid for oid, body in bodies.items() if body["order_type"] == "LIMIT"}
        working = await get_json(client, "/api/execution/orders", status="ACCEPTED")
        assert {o["client_order_id"] for o in working["items"]} == resting
        canceled = await client.post("/api/execution/orders/cancel-all", json={})
        assert canceled.status_code == 200, canceled.text
        assert Counter(canceled.json()["canceled"]) == Counter(resting)
        for oid in resting:
            order = store.get_order(oid)
            assert order is not None and order.status is OrderStatus.CANCELED, (oid, order)
            history = Counter(e.event_type for e in store.order_events(oid))
            assert history["OrderCanceled"] == 1, (oid, history)

        # -- nothing filled, and the account holds its one deposit -------------------------
        assert (await get_json(client, "/api/execution/fills"))["items"] == []
        assert store.list_fills(limit=10).items == ()
        assert await get_json(client, "/api/portfolio/portfolio/positions") == []
        cash_after = await get_json(client, "/api/portfolio/portfolio/cash")
        assert Decimal(cash_after["balance"]) == Decimal(cash_before["balance"]) > 0
