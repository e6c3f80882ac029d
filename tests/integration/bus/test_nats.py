"""NatsEventBus against a real NATS JetStream: the bus contract, then what storage adds."""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import urlsplit

import msgspec
import nats
import pytest

from quantgrid.adapters.bus import (
    BusError,
    BusUnavailableError,
    MessageRegistry,
    NatsEventBus,
    UnknownMessageTypeError,
    open_event_bus,
)
from tests.integration.bus.conftest import BusFactory
from tests.unit.adapters.bus.bus_contract import (
    Errors,
    EventBusContract,
    Inbox,
    Ping,
    a_fill,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


class TestNatsEventBus(EventBusContract):
    @pytest.fixture
    async def bus(self, bus_factory: BusFactory) -> NatsEventBus:
        return await bus_factory()

    @pytest.fixture
    def prefix(self, root: str) -> str:
        return f"{root}.events"

    @pytest.fixture
    def rpc_prefix(self, root: str) -> str:
        return f"{root}.rpc"


# -- storage and acknowledgement ------------------------------------------------------------
async def test_publish_returns_once_the_stream_stored_the_message(
    bus_factory: BusFactory, root: str
) -> None:
    bus = await bus_factory()

    for n in range(3):
        await bus.publish(f"{root}.events.order.filled", a_fill(n))

    assert await bus.stored_messages() == 3


async def test_a_repeated_msg_id_is_stored_once(bus_factory: BusFactory, root: str) -> None:
    bus = await bus_factory()

    await bus.publish(f"{root}.events.fill", a_fill(1), msg_id="T-1")
    await bus.publish(f"{root}.events.fill", a_fill(1), msg_id="T-1")

    assert await bus.stored_messages() == 1


async def test_a_durable_subscriber_catches_up_after_a_restart(
    bus_factory: BusFactory, root: str
) -> None:
    publisher = await bus_factory(name="oms")
    risk_v1 = await bus_factory(name="risk")  # another connection: another process
    before = Inbox()
    await risk_v1.subscribe(f"{root}.events.order.>", before, durable="risk")
    for n in range(2):
        await publisher.publish(f"{root}.events.order.filled", a_fill(n))
    await before.wait_for(2)

    await risk_v1.close()  # the risk service stops...
    for n in range(2, 5):
        await publisher.publish(f"{root}.events.order.filled", a_fill(n))
    risk_v2 = await bus_factory(name="risk")  # ...and comes back
    after = Inbox()
    await risk_v2.subscribe(f"{root}.events.order.>", after, durable="risk")

    assert [f.trade_id for f in await after.wait_for(3)] == ["T-2", "T-3", "T-4"]
    await publisher.publish(f"{root}.events.order.filled", a_fill(5))
    assert [f.trade_id for f in await after.wait_for(4)][-1] == "T-5"
    assert [f.trade_id for f in before.items] == ["T-0", "T-1"]


async def test_a_new_durable_starts_from_the_stored_messages_by_default(
    bus_factory: BusFactory, root: str
) -> None:
    bus = await bus_factory()
    await bus.publish(f"{root}.events.x", Ping(1))
    inbox = Inbox()

    await bus.subscribe(f"{root}.events.>", inbox, durable="late")

    assert await inbox.wait_for(1) == [Ping(1)]


async def test_a_new_durable_may_start_from_new_messages(
    bus_factory: BusFactory, root: str
) -> None:
    bus = await bus_factory(durable_start="new")
    await bus.publish(f"{root}.events.x", Ping(1))
    inbox = Inbox()

    await bus.subscribe(f"{root}.events.>", inbox, durable="fresh")
    await bus.publish(f"{root}.events.x", Ping(2))

    assert await inbox.wait_for(1) == [Ping(2)]


async def test_a_failed_handler_gets_the_message_again(
    bus_factory: BusFactory, root: str, errors: Errors
) -> None:
    bus = await bus_factory()
    attempts: list[int] = []
    handled = Inbox()

    async def flaky(message: Ping) -> None:
        attempts.append(message.n)
        if message.n == 1 and attempts.count(1) == 1:
            raise ConnectionError("database down")
        await handled(message)

    await bus.subscribe(f"{root}.events.x", flaky, durable="ledger")
    await bus.publish(f"{root}.events.x", Ping(1))
    await bus.publish(f"{root}.events.x", Ping(2))

    assert sorted(p.n for p in await handled.wait_for(2)) == [1, 2]
    assert attempts.count(1) == 2
    assert attempts.count(2) == 1
    assert [type(e) for _, e in errors] == [ConnectionError]


async def test_a_message_whose_handler_keeps_failing_is_given_up_after_max_deliver(
    bus_factory: BusFactory, root: str, errors: Errors
) -> None:
    bus = await bus_factory(max_deliver=3)
    attempts = Inbox()

    async def broken(message: Ping) -> None:
        await attempts(message)
        raise ValueError("bad fill")

    await bus.subscribe(f"{root}.events.x", broken, durable="broken")
    await bus.publish(f"{root}.events.x", Ping(1))

    await attempts.wait_for(3)
    await asyncio.sleep(0.3)  # six redelivery delays: no fourth attempt comes
    assert len(attempts.items) == 3
    assert len(errors) == 3


async def test_a_message_of_a_type_the_receiver_lacks_is_reported_once(
    bus_factory: BusFactory, root: str, errors: Errors
) -> None:
    class Secret(msgspec.Struct, frozen=True):
        n: int

    sender_types = MessageRegistry()
    sender_types.register(Secret)
    sender_types.register(Ping)
    receiver_types = MessageRegistry()
    receiver_types.register(Ping)
    sender = await bus_factory(registry=sender_types)
    receiver = await bus_factory(registry=receiver_types)
    inbox = Inbox()
    await receiver.subscribe(f"{root}.events.>", inbox, durable="svc")

    await sender.publish(f"{root}.events.x", Secret(1))
    await sender.publish(f"{root}.events.x", Ping(2))

    assert await inbox.wait_for(1) == [Ping(2)]
    await asyncio.sleep(0.2)  # a redelivery would come after 0.05 s
    [(topic, error)] = errors
    assert topic == f"{root}.events.x"
    assert isinstance(error, UnknownMessageTypeError)
    assert "'Secret'" in str(error)


async def test_a_durable_keeps_its_pattern(bus_factory: BusFactory, root: str) -> None:
    bus = await bus_factory()
    subscription = await bus.subscribe(f"{root}.events.order.>", Inbox(), durable="risk")
    await subscription.close()

    with pytest.raises(BusError, match="follows"):
        await bus.subscribe(f"{root}.events.>", Inbox(), durable="risk")
    assert await bus.delete_durable("risk")
    await bus.subscribe(f"{root}.events.>", Inbox(), durable="risk")


async def test_a_durable_outside_the_stream_is_refused(bus_factory: BusFactory, root: str) -> None:
    bus = await bus_factory()

    with pytest.raises(BusError, match="inside stream"):
        await bus.subscribe(f"{root}.md.>", Inbox(), durable="md")


# -- topics outside the stream ------------------------------------------------------------
async def test_a_topic_outside_the_stream_goes_over_core_nats_unstored(
    bus_factory: BusFactory, root: str
) -> None:
    publisher = await bus_factory()
    subscriber = await bus_factory()
    inbox = Inbox()
    await subscriber.subscribe(f"{root}.md.quote.*", inbox)

    await publisher.publish(f"{root}.md.quote.AAPL", {"bid": 187.1, "ask": 187.2})

    assert await inbox.wait_for(1) == [{"bid": 187.1, "ask": 187.2}]
    assert await publisher.stored_messages() == 0


async def test_request_subjects_inside_the_stream_are_refused(
    bus_factory: BusFactory, root: str
) -> None:
    bus = await bus_factory()

    async def echo(request: Ping) -> Ping:
        return request

    with pytest.raises(BusError, match="overlaps stream"):
        await bus.serve(f"{root}.events.rpc", echo)
    with pytest.raises(BusError, match="overlaps stream"):
        await bus.serve(">", echo)
    with pytest.raises(BusError, match="overlaps stream"):
        await bus.request(f"{root}.events.rpc", Ping(1))


async def test_requests_reach_a_responder_on_another_connection(
    bus_factory: BusFactory, root: str
) -> None:
    server = await bus_factory()
    client = await bus_factory()

    async def double(request: Ping) -> Ping:
        return Ping(request.n * 2)

    await server.serve(f"{root}.rpc.double", double)

    assert await client.request(f"{root}.rpc.double", Ping(21), timeout_s=5.0) == Ping(42)


# -- the stream and the connection ------------------------------------------------------------
async def test_changed_limits_update_the_stream(
    bus_factory: BusFactory, root: str, nats_url: str
) -> None:
    first = await bus_factory(max_age_s=600.0)
    await first.publish(f"{root}.events.x", Ping(1))

    second = await bus_factory(max_age_s=300.0, duplicate_window_s=30.0)

    nc = await nats.connect(nats_url, connect_timeout=2, allow_reconnect=False)
    try:
        info = await nc.jetstream().stream_info(second.stream)
    finally:
        await nc.close()
    assert info.config.max_age == pytest.approx(300.0)
    assert info.config.duplicate_window == pytest.approx(30.0)
    assert info.state.messages == 1  # kept across the update


async def test_a_stream_whose_subjects_overlap_another_is_refused(
    bus_factory: BusFactory, root: str
) -> None:
    await bus_factory()

    with pytest.raises(BusError, match="overlap"):
        await bus_factory(stream="QGTEST_" + root.rsplit(".", 1)[1] + "_B")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_server_fails_fast_naming_the_url_and_the_fix() -> None:
    url = f"nats://user:s3cret@127.0.0.1:{_closed_port()}"
    bus = NatsEventBus(url, connect_attempts=2, reconnect_wait_s=0.05, connect_timeout_s=0.5)
    started = time.monotonic()

    with pytest.raises(BusUnavailableError) as caught:
        await bus.connect()

    message = str(caught.value)
    assert "127.0.0.1" in message
    assert "nats-server -js" in message
    assert "2 attempt(s)" in message
    assert "s3cret" not in message
    assert time.monotonic() - started < 5.0


async def test_open_event_bus_connects_to_nats(nats_url: str, root: str) -> None:
    stream = "QGTEST_" + root.rsplit(".", 1)[1]
    bus = await open_event_bus(nats_url, stream=stream, subjects=(f"{root}.events.>",))
    try:
        assert isinstance(bus, NatsEventBus)
        await bus.publish(f"{root}.events.x", {"n": 1})
        assert await bus.stored_messages() == 1
    finally:
        await bus.delete_stream()
        await bus.close()


class LoopbackProxy:
    """A TCP relay on loopback whose connections a test can cut, as a network would."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 4222
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        self._writers += [writer, up_writer]
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.transport.abort()

    def cut(self) -> None:
        """Abort every relayed connection at once."""
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def test_after_a_dropped_connection_the_bus_reconnects_and_resumes(
    bus_factory: BusFactory, root: str, nats_url: str
) -> None:
    proxy = LoopbackProxy(nats_url)
    await proxy.start()
    try:
        publisher = await bus_factory()
        subscriber = await bus_factory(
            url=f"nats://127.0.0.1:{proxy.port}",
            reconnect_wait_s=0.1,
            max_reconnect_attempts=20,
            # A message the server pushed into the cut connection is redelivered once
            # its ack wait is over.
            ack_wait_s=1.0,
        )
        stored, plain = Inbox(), Inbox()
        await subscriber.subscribe(f"{root}.events.>", stored, durable="svc")
        await subscriber.subscribe(f"{root}.events.>", plain)
        await publisher.publish(f"{root}.events.x", Ping(1))
        await stored.wait_for(1)

        proxy.cut()
        await publisher.publish(f"{root}.events.x", Ping(2))  # while it is away: stored

        # At least once: an acknowledgement lost in the cut brings Ping(1) back too.
        await stored.wait_for_item(Ping(2))
        await subscriber.publish(f"{root}.events.x", Ping(3))  # and it publishes again
        assert set(await stored.wait_for_item(Ping(3))) == {Ping(1), Ping(2), Ping(3)}
        assert await plain.wait_for_item(Ping(3)) == [Ping(1), Ping(3)]  # core NATS: missed 2
    finally:
        await proxy.close()
