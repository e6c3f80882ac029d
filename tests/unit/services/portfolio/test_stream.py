"""``/portfolio/stream``: the account's snapshots as server-sent events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from quantgrid.adapters.storage import Role
from quantgrid.core import TestClock
from quantgrid.gateway import Authenticator, install_auth
from quantgrid.model import QuoteTick
from quantgrid.node import TradingNode
from quantgrid.services import ServiceSettings, create_service_app
from quantgrid.services.execution import install_node_errors
from quantgrid.services.portfolio import portfolio_router
from quantgrid.services.portfolio._stream import (
    HEARTBEAT,
    WORKING_STATUSES,
    FillTally,
    SnapshotReader,
    snapshot_events,
)
from tests.unit.node.support import MS, limit_buy, market
from tests.unit.services.execution.conftest import Headers

pytestmark = pytest.mark.anyio

STREAM = "/portfolio/stream"
#: The longest any test waits on a stream: generous, and only a bound against a hang.
WAIT_S = 20.0


def events(body: str) -> list[tuple[str, Any]]:
    """Return the events of a stream's body: (name, data) or ("comment", text)."""
    found: list[tuple[str, Any]] = []
    for block in body.split("\n\n"):
        name, data = "message", None
        for line in block.splitlines():
            if line.startswith(":"):
                found.append(("comment", line[1:].strip()))
            elif line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
        if data is not None:
            found.append((name, data))
    return found


def snapshots(body: str) -> list[dict[str, Any]]:
    return [data for name, data in events(body) if name == "snapshot"]


async def stream(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> httpx.Response:
    return await asyncio.wait_for(client.get(STREAM, params=params, headers=headers), WAIT_S)


def fill_quote(node: TradingNode) -> None:
    node.on_quote(QuoteTick("AAPL", node.clock.timestamp_ns() + MS, 100.0, 100.02, 500, 500))


async def test_one_snapshot_of_the_account_with_the_node_clock(
    portfolio: httpx.AsyncClient, headers: Headers, node: TradingNode, clock: TestClock
) -> None:
    answer = await stream(portfolio, headers(Role.VIEWER), max_s=0)

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.text.startswith("retry: ")
    (snapshot,) = snapshots(answer.text)
    assert snapshot["ts"] == clock.timestamp_ns()
    assert snapshot["time"] == "2024-01-01T00:00:00Z"
    assert snapshot["equity"] == snapshot["cash"] == snapshot["capital"] == 100_000
    assert (snapshot["realized"], snapshot["unrealized"], snapshot["total"]) == (0, 0, 0)
    assert (snapshot["positions"], snapshot["working_orders"], snapshot["fills"]) == (0, 0, 0)
    assert snapshot["last_fill"] is None
    assert (snapshot["trading_state"], snapshot["trading_reason"]) == ("ACTIVE", "")


async def test_the_snapshot_counts_positions_working_orders_and_fills(
    portfolio: httpx.AsyncClient, headers: Headers, node: TradingNode
) -> None:
    fill_quote(node)
    await node.submit(market("m-1", quantity=10))
    await node.submit(market("m-2", quantity=5))
    await node.submit(limit_buy("l-1", price=90.0))
    await node.halt("lunch")

    (snapshot,) = snapshots((await stream(portfolio, headers(Role.VIEWER), max_s=0)).text)

    assert (snapshot["positions"], snapshot["working_orders"], snapshot["fills"]) == (1, 1, 2)
    assert snapshot["last_fill"]["client_order_id"] == "m-2"
    assert float(snapshot["last_fill"]["quantity"]) == 5
    assert snapshot["cash"] == pytest.approx(100_000 - 15 * 100.02)
    assert snapshot["total"] == pytest.approx(snapshot["equity"] - 100_000)
    assert snapshot["trading_state"] == "HALTED"
    assert "lunch" in snapshot["trading_reason"]


async def test_the_stream_ends_after_max_s(portfolio: httpx.AsyncClient, headers: Headers) -> None:
    # The in-process transport answers once the stream has ended: that it answers at
    # all is the test; nothing changed, so the one snapshot is the first.
    answer = await stream(portfolio, headers(Role.VIEWER), max_s=0.6)

    assert answer.status_code == 200
    assert len(snapshots(answer.text)) == 1


@pytest.mark.parametrize("max_s", ["-1", "301", "soon"])
async def test_max_s_is_bounded(portfolio: httpx.AsyncClient, headers: Headers, max_s: str) -> None:
    answer = await portfolio.get(STREAM, params={"max_s": max_s}, headers=headers(Role.VIEWER))

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "query.max_s"


async def test_the_stream_needs_a_caller(portfolio: httpx.AsyncClient) -> None:
    answer = await portfolio.get(STREAM, params={"max_s": 0})

    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


async def test_a_node_that_is_down_is_a_503_before_the_stream_starts(
    portfolio: httpx.AsyncClient, headers: Headers, node: TradingNode
) -> None:
    await node.stop()

    answer = await portfolio.get(STREAM, params={"max_s": 0}, headers=headers(Role.VIEWER))

    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


async def _take(events_: AsyncIterator[str], skip_heartbeats: bool = False) -> str:
    async def next_event() -> str:
        while True:
            event = await anext(events_)
            if not (skip_heartbeats and event == HEARTBEAT):
                return event

    return await asyncio.wait_for(next_event(), WAIT_S)


async def test_a_snapshot_is_sent_only_when_something_changed(node: TradingNode) -> None:
    reader = SnapshotReader(node)
    first = await reader.read()
    stream_ = snapshot_events(reader, first, max_s=WAIT_S, check_interval_s=0.01, heartbeat_s=0.05)
    try:
        assert (await _take(stream_)).startswith("retry: ")
        assert snapshots(await _take(stream_)) == [json.loads(first.model_dump_json())]
        # Nothing changes on the test clock: a heartbeat, not a snapshot.
        assert await _take(stream_) == HEARTBEAT

        await node.halt("news")
        (halted,) = snapshots(await _take(stream_, skip_heartbeats=True))
        assert halted["trading_state"] == "HALTED"
        await node.resume("done")
        (resumed,) = snapshots(await _take(stream_, skip_heartbeats=True))
        assert resumed["trading_state"] == "ACTIVE"

        fill_quote(node)
        await node.submit(market("m-1", quantity=3))
        changed = snapshots(await _take(stream_, skip_heartbeats=True))
        # The fill, or first the quote's new marks, then the fill.
        if changed[0]["fills"] == 0:
            changed = snapshots(await _take(stream_, skip_heartbeats=True))
        assert changed[0]["fills"] == 1
        assert changed[0]["last_fill"]["client_order_id"] == "m-1"
    finally:
        await stream_.aclose()


async def test_the_clock_counts_as_a_change_to_the_second(
    node: TradingNode, clock: TestClock
) -> None:
    reader = SnapshotReader(node)
    first = await reader.read()

    clock.set_time(clock.timestamp_ns() + 400 * MS)
    same_second = await reader.read()
    clock.set_time(clock.timestamp_ns() + 700 * MS)
    next_second = await reader.read()

    assert not same_second.changed_from(first)
    assert next_second.changed_from(same_second)
    assert next_second.ts == clock.timestamp_ns()


async def test_an_error_event_ends_the_stream_when_the_node_fails(node: TradingNode) -> None:
    reader = SnapshotReader(node)
    first = await reader.read()
    stream_ = snapshot_events(reader, first, max_s=WAIT_S, check_interval_s=0.01)
    try:
        await _take(stream_)
        await _take(stream_)
        await node.stop()

        ((name, data),) = events(await _take(stream_))
        assert name == "error"
        assert "the trading node has stopped" in data["detail"]
        with pytest.raises(StopAsyncIteration):
            await _take(stream_)
    finally:
        await stream_.aclose()


async def test_the_fill_tally_reads_only_new_fills(
    node: TradingNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("quantgrid.services.portfolio._stream._PAGE", 2)
    fill_quote(node)
    for n in range(5):
        await node.submit(market(f"m-{n}", quantity=1))
    tally = FillTally()
    await tally.update(node)
    assert tally.count == 5
    assert tally.last is not None and tally.last.client_order_id == "m-4"

    await tally.update(node)
    assert tally.count == 5

    await node.submit(market("m-5", quantity=1))
    await tally.update(node)
    assert tally.count == 6
    assert tally.last is not None and tally.last.client_order_id == "m-5"


@pytest.fixture
def timed_app(node: TradingNode, auth: Authenticator) -> FastAPI:
    """The portfolio routes with a heartbeat every 50 ms, checked every 10 ms."""
    app = create_service_app(
        "portfolio",
        settings=ServiceSettings(),
        routers=[portfolio_router(check_interval_s=0.01, heartbeat_s=0.05)],
    )
    app.state.backend = node
    install_auth(app, auth)
    install_node_errors(app)
    return app


async def test_heartbeats_keep_a_quiet_stream_alive(timed_app: FastAPI, headers: Headers) -> None:
    transport = httpx.ASGITransport(app=timed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        # Heartbeats come every few hundredths of a second here (timed_app): two seconds
        # leave a loaded machine room for one.
        answer = await stream(client, headers(Role.VIEWER), max_s=2.0)

    found = events(answer.text)
    assert [name for name, _ in found].count("snapshot") == 1
    assert ("comment", "heartbeat") in found


def test_working_orders_are_those_that_may_still_trade() -> None:
    assert {s.value for s in WORKING_STATUSES} == {
        "INITIALIZED",
        "SUBMITTED",
        "ACCEPTED",
        "TRIGGERED",
        "PARTIALLY_FILLED",
        "PENDING_CANCEL",
        "PENDING_UPDATE",
    }
