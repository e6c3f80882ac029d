"""InProcessEventBus: the bus contract, plus what only the in-process bus does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from quantgrid.adapters.bus import InProcessEventBus, MessageRegistry, open_event_bus
from quantgrid.core import TestClock
from tests.unit.adapters.bus.bus_contract import (
    Errors,
    EventBusContract,
    Inbox,
    Ping,
    make_registry,
)

pytestmark = pytest.mark.anyio


class TestInProcessEventBus(EventBusContract):
    @pytest.fixture
    async def bus(
        self, registry: MessageRegistry, errors: Errors
    ) -> AsyncIterator[InProcessEventBus]:
        async with InProcessEventBus(registry=registry, on_error=errors) as bus:
            yield bus

    @pytest.fixture
    def prefix(self) -> str:
        return "events"

    @pytest.fixture
    def rpc_prefix(self) -> str:
        return "rpc"


async def test_nothing_is_kept_for_a_durable_name_between_subscriptions() -> None:
    async with InProcessEventBus(registry=make_registry()) as bus:
        first = await bus.subscribe("events.>", Inbox(), durable="risk")
        await first.close()
        await bus.publish("events.x", Ping(1))  # nobody subscribed: gone
        later = Inbox()
        await bus.subscribe("events.>", later, durable="risk")
        await bus.publish("events.x", Ping(2))
        await bus.drain()

        assert later.items == [Ping(2)]


async def test_a_failed_message_is_reported_not_redelivered() -> None:
    errors = Errors()
    attempts: list[int] = []

    async def flaky(message: Ping) -> None:
        attempts.append(message.n)
        raise RuntimeError("down")

    async with InProcessEventBus(registry=make_registry(), on_error=errors) as bus:
        await bus.subscribe("events.x", flaky, durable="svc")
        await bus.publish("events.x", Ping(1))
        await bus.drain()

    assert attempts == [1]
    assert len(errors) == 1


async def test_publish_does_not_wait_for_handlers() -> None:
    release = asyncio.Event()
    inbox = Inbox()

    async def slow(message: Ping) -> None:
        await release.wait()
        await inbox(message)

    async with InProcessEventBus(registry=make_registry()) as bus:
        await bus.subscribe("events.x", slow)
        await bus.publish("events.x", Ping(1))
        await bus.publish("events.x", Ping(2))
        assert inbox.items == []
        release.set()
        assert await inbox.wait_for(2) == [Ping(1), Ping(2)]


async def test_each_subscriber_gets_its_own_copy_of_a_dict() -> None:
    seen: list[dict[str, int]] = []

    async def mutate(message: dict[str, int]) -> None:
        message["n"] += 1
        seen.append(message)

    async with InProcessEventBus(registry=make_registry()) as bus:
        await bus.subscribe("events.x", mutate)
        await bus.subscribe("events.x", mutate)
        original = {"n": 1}
        await bus.publish("events.x", original)
        await bus.drain()

    assert seen == [{"n": 2}, {"n": 2}]
    assert original == {"n": 1}


async def test_a_msg_id_is_forgotten_after_the_duplicate_window() -> None:
    clock = TestClock(start_ns=0)
    inbox = Inbox()
    bus = InProcessEventBus(
        registry=make_registry(), duplicate_window_s=2.0, now_ns=clock.timestamp_ns
    )
    async with bus:
        await bus.subscribe("events.x", inbox)
        await bus.publish("events.x", Ping(1), msg_id="a")
        clock.set_time(1_999_999_999)
        await bus.publish("events.x", Ping(2), msg_id="a")  # inside the window: dropped
        clock.set_time(2_000_000_000)
        await bus.publish("events.x", Ping(3), msg_id="a")  # window over: delivered
        await bus.drain()

    assert inbox.items == [Ping(1), Ping(3)]


async def test_closing_the_bus_first_handles_what_was_queued() -> None:
    inbox = Inbox()
    bus = InProcessEventBus(registry=make_registry())
    await bus.subscribe("events.x", inbox)
    for n in range(10):
        await bus.publish("events.x", Ping(n))

    await bus.close()

    assert [p.n for p in inbox.items] == list(range(10))


async def test_the_first_responder_registered_answers() -> None:
    async def first(request: Ping) -> Ping:
        return Ping(request.n, "first")

    async def second(request: Ping) -> Ping:
        return Ping(request.n, "second")

    async with InProcessEventBus(registry=make_registry()) as bus:
        await bus.serve("rpc.>", first)
        await bus.serve("rpc.quote", second)

        assert await bus.request("rpc.quote", Ping(1)) == Ping(1, "first")


@pytest.mark.parametrize("url", [None, "", "memory://"])
async def test_open_event_bus_defaults_to_in_process(url: str | None) -> None:
    bus = await open_event_bus(url)

    assert isinstance(bus, InProcessEventBus)
    await bus.close()


async def test_open_event_bus_refuses_an_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="kafka"):
        await open_event_bus("kafka://127.0.0.1:9092")
