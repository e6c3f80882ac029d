"""A NATS JetStream server on loopback, and one stream per test.

Without a reachable server the tests that need it skip, saying what to start, except
under ``CI=true``, where they fail. Every test gets its own stream and subject root,
deleted afterwards, so runs and xdist workers never see each other's messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn
from urllib.parse import urlsplit

import nats
import pytest

from quantgrid.adapters.bus import BusError, BusUnavailableError, MessageRegistry, NatsEventBus
from tests.unit.adapters.bus.bus_contract import Errors, make_registry

NATS_URL = os.environ.get("QUANTGRID_NATS_URL", "nats://127.0.0.1:4222")
START_HINT = "start `nats-server -js` on 127.0.0.1:4222 (or set QUANTGRID_NATS_URL)"

BusFactory = Callable[..., Awaitable[NatsEventBus]]


def unavailable(message: str) -> NoReturn:
    """Skip the test, or fail it under CI=true, where the services must be up."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def nats_url() -> str:
    """Return the NATS URL once its port answers on loopback."""
    parts = urlsplit(NATS_URL)
    try:
        socket.create_connection((parts.hostname, parts.port or 4222), timeout=1.0).close()
    except OSError as exc:
        unavailable(f"NATS is not reachable at {NATS_URL} ({exc}): {START_HINT}")
    return NATS_URL


@pytest.fixture
def registry() -> MessageRegistry:
    return make_registry()


@pytest.fixture
def errors() -> Errors:
    return Errors()


@pytest.fixture
def root() -> str:
    """Return a subject root unique to the test."""
    return f"qgtest.{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def bus_factory(
    nats_url: str, root: str, registry: MessageRegistry, errors: Errors
) -> AsyncIterator[BusFactory]:
    """Make connected buses on the test's own stream; close them and delete the stream."""
    stream = "QGTEST_" + root.rsplit(".", 1)[1]
    buses: list[NatsEventBus] = []

    async def make(**overrides: Any) -> NatsEventBus:
        options: dict[str, Any] = {
            "stream": stream,
            "subjects": (f"{root}.events.>",),
            "registry": registry,
            "on_error": errors,
            "max_age_s": 600.0,  # leftovers of an interrupted run age out
            "max_bytes": 16 << 20,
            "ack_wait_s": 5.0,
            "max_deliver": 3,
            "redelivery_delay_s": 0.05,
            "connect_attempts": 1,
            "close_timeout_s": 2.0,
        }
        options.update(overrides)
        url = options.pop("url", nats_url)
        for attempt in range(3):
            bus = NatsEventBus(url, **options)
            try:
                await bus.connect()
            except BusUnavailableError as exc:
                unavailable(f"{exc}")
            except BusError as exc:
                # nats-server 2.9 removes the account's stream directory with its last
                # stream, so a create racing another worker's delete can fail: retry.
                if "error creating store" not in str(exc) or attempt == 2:
                    raise
                await asyncio.sleep(0.1)
                continue
            buses.append(bus)
            return bus
        raise AssertionError("unreachable")

    try:
        yield make
    finally:
        try:
            for bus in buses:
                await bus.close()
        finally:  # the stream goes even if a bus failed to close
            nc = await nats.connect(nats_url, connect_timeout=2, allow_reconnect=False)
            try:
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await nc.jetstream().delete_stream(stream)
            finally:
                await nc.close()
