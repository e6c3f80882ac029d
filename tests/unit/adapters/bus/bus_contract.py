"""What every EventBus must do, written once and run against each adapter.

A test class inherits ``EventBusContract`` and provides the fixtures ``bus`` (ready, with
``registry`` and ``on_error=errors.append``-like reporting), ``prefix`` (a topic root the
bus stores, unique to the test) and ``rpc_prefix`` (a root for request subjects).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from quantgrid.adapters.bus import (
    BusClosedError,
    BusError,
    EventBus,
    MessageRegistry,
    NoResponderError,
    RequestError,
    UnknownMessageTypeError,
)
from quantgrid.model import LiquiditySide, OrderFilled, OrderSide

WAIT_S = 5.0  # the longest any test waits for a message that should come


class Ping(msgspec.Struct, frozen=True):
    """A small test message."""

    n: int
    note: str = ""


class Unregistered(msgspec.Struct, frozen=True):
    """A Struct no test registry knows."""

    n: int


def make_registry() -> MessageRegistry:
    """Return a registry with the test messages and OrderFilled."""
    registry = MessageRegistry()
    registry.register(Ping)
    registry.register(OrderFilled)
    return registry


def a_fill(n: int = 1) -> OrderFilled:
    """Return a fill with every field set, enums included."""
    return OrderFilled(
        client_order_id=f"O-{n}",
        strategy_id="S-1",
        instrument_id="AAPL.XNAS",
        ts_event=1_704_067_200_000_000_000 + n,
        trade_id=f"T-{n}",
        side=OrderSide.SELL,
        last_qty=10.0,
        last_px=187.25,
        commission=0.35,
        liquidity_side=LiquiditySide.MAKER,
    )


class Inbox:
    """A handler that records messages and lets a test wait for them, bounded."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    async def __call__(self, message: Any) -> None:
        self.items.append(message)
        self._changed.set()

    async def wait_for(self, count: int, timeout_s: float = WAIT_S) -> list[Any]:
        """Wait until ``count`` messages arrived; fail after ``timeout_s``."""
        await self._wait(lambda: len(self.items) >= count, f"{count} messages", timeout_s)
        return list(self.items)

    async def wait_for_item(self, item: Any, timeout_s: float = WAIT_S) -> list[Any]:
        """Wait until ``item`` arrived; fail after ``timeout_s``."""
        await self._wait(lambda: item in self.items, repr(item), timeout_s)
        return list(self.items)

    async def _wait(self, done: Callable[[], bool], what: str, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not done():
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                msg = f"no {what} within {timeout_s}s; got {self.items}"
                raise AssertionError(msg)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)


class Errors(list[tuple[str, BaseException]]):
    """An ``on_error`` callback that records what it is given."""

    def __call__(self, topic: str, error: BaseException) -> None:
        self.append((topic, error))


class EventBusContract:
    """The behaviour shared by InProcessEventBus and NatsEventBus."""

    pytestmark = pytest.mark.anyio

    @pytest.fixture
    def registry(self) -> MessageRegistry:
        return make_registry()

    @pytest.fixture
    def errors(self) -> Errors:
        return Errors()

    # -- round trip and routing ----------------------------------------------------------
    async def test_a_struct_arrives_as_the_same_type_with_equal_fields(
        self, bus: EventBus, prefix: str
    ) -> None:
        inbox = Inbox()
        await bus.subscribe(f"{prefix}.order.>", inbox)

        await bus.publish(f"{prefix}.order.filled", a_fill())

        [received] = await inbox.wait_for(1)
        assert type(received) is OrderFilled
        assert received == a_fill()
        assert received.side is OrderSide.SELL

    async def test_a_dict_arrives_as_an_equal_dict(self, bus: EventBus, prefix: str) -> None:
        inbox = Inbox()
        await bus.subscribe(f"{prefix}.risk.state", inbox)
        payload = {"state": "HALTED", "reasons": ["drawdown"], "limit": 0.2}

        await bus.publish(f"{prefix}.risk.state", payload)

        assert await inbox.wait_for(1) == [payload]

    async def test_wildcards_route_as_in_the_core_bus(self, bus: EventBus, prefix: str) -> None:
        one_token, rest, exact, middle = Inbox(), Inbox(), Inbox(), Inbox()
        await bus.subscribe(f"{prefix}.order.*", one_token)
        await bus.subscribe(f"{prefix}.>", rest)
        await bus.subscribe(f"{prefix}.order.filled", exact)
        await bus.subscribe(f"{prefix}.*.filled", middle)
        topics = ["order.filled", "order.accepted", "risk.halted", "order.filled.late", "x.filled"]

        for n, topic in enumerate(topics):
            await bus.publish(f"{prefix}.{topic}", Ping(n, topic))

        assert [p.note for p in await rest.wait_for(5)] == topics
        assert [p.note for p in await one_token.wait_for(2)] == ["order.filled", "order.accepted"]
        assert [p.note for p in await exact.wait_for(1)] == ["order.filled"]
        assert [p.note for p in await middle.wait_for(2)] == ["order.filled", "x.filled"]
        # Nothing more came to the narrower patterns (the widest one saw everything).
        assert len(one_token.items) == 2
        assert len(exact.items) == 1
        assert len(middle.items) == 2

    async def test_messages_of_one_topic_arrive_in_publish_order(
        self, bus: EventBus, prefix: str
    ) -> None:
        inbox = Inbox()
        await bus.subscribe(f"{prefix}.md.>", inbox)

        for n in range(100):
            await bus.publish(f"{prefix}.md.{'a' if n % 3 else 'b'}", Ping(n))

        received = await inbox.wait_for(100)
        assert [p.n for p in received] == list(range(100))

    # -- what is refused -----------------------------------------------------------------
    async def test_an_unregistered_struct_is_refused_with_the_fix(
        self, bus: EventBus, prefix: str
    ) -> None:
        with pytest.raises(UnknownMessageTypeError, match=r"register_message_type\(Unregistered"):
            await bus.publish(f"{prefix}.x", Unregistered(1))

    async def test_only_structs_and_dicts_are_messages(self, bus: EventBus, prefix: str) -> None:
        with pytest.raises(TypeError, match="Struct or a dict"):
            await bus.publish(f"{prefix}.x", [1, 2])  # type: ignore[arg-type]

    @pytest.mark.parametrize("topic", ["", "events..x", "events.*", "events.>", "a b"])
    async def test_a_topic_to_publish_on_is_concrete(self, bus: EventBus, topic: str) -> None:
        with pytest.raises(ValueError, match="topic"):
            await bus.publish(topic, Ping(1))

    @pytest.mark.parametrize("pattern", ["", "events.>.x", "events.a*", "x..y"])
    async def test_a_malformed_pattern_is_refused(self, bus: EventBus, pattern: str) -> None:
        with pytest.raises(ValueError, match="pattern"):
            await bus.subscribe(pattern, Inbox())

    # -- handlers and subscriptions ------------------------------------------------------
    async def test_a_failing_handler_is_reported_and_later_messages_still_arrive(
        self, bus: EventBus, prefix: str, errors: Errors
    ) -> None:
        inbox = Inbox()

        async def handler(message: Ping) -> None:
            if message.n == 1:
                raise RuntimeError("boom")
            await inbox(message)

        await bus.subscribe(f"{prefix}.x", handler)
        for n in (1, 2):
            await bus.publish(f"{prefix}.x", Ping(n))

        assert await inbox.wait_for(1) == [Ping(2)]
        assert [(t, str(e)) for t, e in errors] == [(f"{prefix}.x", "boom")]

    async def test_a_closed_subscription_gets_nothing_more(
        self, bus: EventBus, prefix: str
    ) -> None:
        closed, witness = Inbox(), Inbox()
        subscription = await bus.subscribe(f"{prefix}.x", closed)
        await bus.subscribe(f"{prefix}.x", witness)
        await bus.publish(f"{prefix}.x", Ping(1))
        await closed.wait_for(1)

        await subscription.close()
        await subscription.close()  # idempotent
        await bus.publish(f"{prefix}.x", Ping(2))

        await witness.wait_for(2)
        assert closed.items == [Ping(1)]

    async def test_a_handler_may_close_its_own_subscription(
        self, bus: EventBus, prefix: str
    ) -> None:
        seen: list[int] = []
        closed = asyncio.Event()
        witness = Inbox()
        subscriptions = []

        async def once(message: Ping) -> None:
            seen.append(message.n)
            await subscriptions[0].close()
            closed.set()

        subscriptions.append(await bus.subscribe(f"{prefix}.x", once))
        await bus.subscribe(f"{prefix}.x", witness)
        await bus.publish(f"{prefix}.x", Ping(1))
        await asyncio.wait_for(closed.wait(), WAIT_S)
        await bus.publish(f"{prefix}.x", Ping(2))

        await witness.wait_for(2)
        assert seen == [1]

    async def test_a_durable_name_serves_one_live_subscription(
        self, bus: EventBus, prefix: str
    ) -> None:
        subscription = await bus.subscribe(f"{prefix}.>", Inbox(), durable="risk")
        assert subscription.durable == "risk"
        assert subscription.pattern == f"{prefix}.>"

        with pytest.raises(BusError, match="already has a live subscription"):
            await bus.subscribe(f"{prefix}.>", Inbox(), durable="risk")

    @pytest.mark.parametrize("durable", ["", "a.b", "a*", "a b", "a>"])
    async def test_a_malformed_durable_name_is_refused(
        self, bus: EventBus, prefix: str, durable: str
    ) -> None:
        with pytest.raises(ValueError, match="durable name"):
            await bus.subscribe(f"{prefix}.>", Inbox(), durable=durable)

    async def test_a_repeated_msg_id_is_delivered_once_to_a_durable_subscription(
        self, bus: EventBus, prefix: str
    ) -> None:
        inbox = Inbox()
        await bus.subscribe(f"{prefix}.fill", inbox, durable="ledger")

        await bus.publish(f"{prefix}.fill", a_fill(1), msg_id="T-1")
        await bus.publish(f"{prefix}.fill", a_fill(1), msg_id="T-1")  # a retry
        await bus.publish(f"{prefix}.fill", a_fill(2), msg_id="T-2")

        received = await inbox.wait_for(2)
        assert [f.trade_id for f in received] == ["T-1", "T-2"]

    async def test_a_closed_bus_refuses_to_publish_or_subscribe(
        self, bus: EventBus, prefix: str
    ) -> None:
        await bus.close()
        await bus.close()  # idempotent

        with pytest.raises(BusClosedError):
            await bus.publish(f"{prefix}.x", Ping(1))
        with pytest.raises(BusClosedError):
            await bus.subscribe(f"{prefix}.x", Inbox())

    # -- request and reply ---------------------------------------------------------------
    async def test_a_request_gets_the_responders_reply(
        self, bus: EventBus, rpc_prefix: str
    ) -> None:
        async def quote(request: Ping) -> dict[str, Any]:
            return {"n": request.n, "px": 101.5}

        await bus.serve(f"{rpc_prefix}.quote.*", quote)

        reply = await bus.request(f"{rpc_prefix}.quote.AAPL", Ping(7), timeout_s=WAIT_S)

        assert reply == {"n": 7, "px": 101.5}

    async def test_a_typed_reply_arrives_typed(self, bus: EventBus, rpc_prefix: str) -> None:
        async def last_fill(request: dict[str, Any]) -> OrderFilled:
            return a_fill(request["n"])

        await bus.serve(f"{rpc_prefix}.fills.last", last_fill)

        reply = await bus.request(f"{rpc_prefix}.fills.last", {"n": 3}, timeout_s=WAIT_S)

        assert reply == a_fill(3)

    async def test_a_request_nobody_serves_fails_at_once(
        self, bus: EventBus, rpc_prefix: str
    ) -> None:
        with pytest.raises(NoResponderError, match="nothing serves"):
            await bus.request(f"{rpc_prefix}.nobody", Ping(1), timeout_s=WAIT_S)

    async def test_a_failing_responder_fails_the_request_with_its_reason(
        self, bus: EventBus, rpc_prefix: str, errors: Errors
    ) -> None:
        async def broken(request: Ping) -> Ping:
            raise KeyError("no such instrument")

        await bus.serve(f"{rpc_prefix}.broken", broken)

        with pytest.raises(RequestError, match="KeyError") as caught:
            await bus.request(f"{rpc_prefix}.broken", Ping(1), timeout_s=WAIT_S)
        assert "no such instrument" in caught.value.reason
        assert len(errors) == 1

    async def test_a_slow_responder_times_the_request_out(
        self, bus: EventBus, rpc_prefix: str
    ) -> None:
        async def slow(request: Ping) -> Ping:
            await asyncio.sleep(0.5)
            return request

        await bus.serve(f"{rpc_prefix}.slow", slow)

        with pytest.raises(TimeoutError, match="no reply"):
            await bus.request(f"{rpc_prefix}.slow", Ping(1), timeout_s=0.1)

    async def test_a_closed_responder_no_longer_answers(
        self, bus: EventBus, rpc_prefix: str
    ) -> None:
        async def echo(request: Ping) -> Ping:
            return request

        served = await bus.serve(f"{rpc_prefix}.echo", echo)
        assert await bus.request(f"{rpc_prefix}.echo", Ping(1), timeout_s=WAIT_S) == Ping(1)

        await served.close()

        with pytest.raises(NoResponderError):
            await bus.request(f"{rpc_prefix}.echo", Ping(2), timeout_s=WAIT_S)
