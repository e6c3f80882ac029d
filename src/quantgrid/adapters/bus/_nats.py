"""The event bus on NATS JetStream: stored, acknowledged, and caught up after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Literal, Self

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as CoreSubscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from quantgrid.adapters.bus._codec import DEFAULT_REGISTRY, MessageRegistry, encode_message
from quantgrid.adapters.bus._errors import (
    BusClosedError,
    BusError,
    BusUnavailableError,
    MessageDecodeError,
    NoResponderError,
    RequestError,
    UnknownMessageTypeError,
)
from quantgrid.adapters.bus._jetstream import (
    START_HINT,
    ensure_stream,
    redact_url,
    stream_config,
)
from quantgrid.adapters.bus._nats_subscription import NatsSubscription
from quantgrid.adapters.bus._port import (
    ErrorHandler,
    EventHandler,
    Message,
    Responder,
    log_error,
)
from quantgrid.adapters.bus._topics import (
    check_durable_name,
    check_pattern,
    check_topic,
    covered_by,
)

_logger = logging.getLogger("quantgrid.adapters.bus")

MSG_ID_HEADER = "Nats-Msg-Id"
ERROR_HEADER = "QuantGrid-Error"
_MsgCallback = Callable[[Msg], Awaitable[None]]
_SERVE_QUEUE = "quantgrid"  # instances serving one subject share its requests


class NatsEventBus:
    """An event bus on NATS with JetStream: the bus between services and processes.

    Parameters
    ----------
    url
        The NATS server, ``nats://host:4222``.
    stream
        The JetStream stream that stores the durable topics; created or updated on
        ``connect``.
    subjects
        The topics the stream stores. Publishing on them waits for the server's
        acknowledgement; other topics go over core NATS, unstored.
    max_age_s, max_bytes
        The stream's limits: older messages, then the oldest beyond the size, are
        discarded.
    duplicate_window_s
        How long the server remembers a ``msg_id`` to drop a repeated publish.
    ack_wait_s
        How long a durable consumer waits for a handler to finish before redelivering.
    max_deliver
        How many times a message is delivered to a durable subscription whose handler
        keeps failing before it is given up (reported, and terminated).
    redelivery_delay_s
        How long the server waits before redelivering a message whose handler failed.
    durable_start
        Where a durable subscription that has never run starts: ``"all"`` the messages
        the stream still holds, ``"new"`` only those published from then on.
    connect_timeout_s, connect_attempts, reconnect_wait_s
        The first connection: attempts of at most ``connect_timeout_s``, ``reconnect_wait_s``
        apart, then ``BusUnavailableError``.
    max_reconnect_attempts
        Reconnections after a lost connection; -1 keeps trying for as long as it runs.
    request_timeout_s
        The longest wait for a publish acknowledgement or a JetStream API answer.
    registry, on_error
        The message types carried, and the callback for handler errors.
    close_timeout_s
        The longest a closing subscription waits for its pending messages to be handled.
    name
        The connection name shown by the server's monitoring.

    Notes
    -----
    Delivery to a durable subscription is at least once: a message is acknowledged only
    after its handler returned; a failed handler gets it again after
    ``redelivery_delay_s``, at most ``max_deliver`` times, and a subscriber that stopped
    gets, on its next subscription under the same durable name, every stored message it
    had not acknowledged. Per topic the order is the publish order, except that a
    redelivered message comes after those delivered while it waited. Handlers should be
    idempotent. Plain subscriptions are core NATS: at most once, and only while
    connected.
    """

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        *,
        stream: str = "QUANTGRID",
        subjects: tuple[str, ...] = ("events.>",),
        max_age_s: float = 7 * 24 * 3600.0,
        max_bytes: int = 1 << 30,
        duplicate_window_s: float = 120.0,
        ack_wait_s: float = 30.0,
        max_deliver: int = 5,
        redelivery_delay_s: float = 1.0,
        durable_start: Literal["all", "new"] = "all",
        connect_timeout_s: float = 2.0,
        connect_attempts: int = 3,
        reconnect_wait_s: float = 1.0,
        max_reconnect_attempts: int = -1,
        request_timeout_s: float = 5.0,
        registry: MessageRegistry | None = None,
        on_error: ErrorHandler | None = None,
        close_timeout_s: float = 5.0,
        name: str | None = None,
    ) -> None:
        for subject in subjects:
            check_pattern(subject)
        if not subjects:
            msg = "a stream needs at least one subject"
            raise ValueError(msg)
        check_durable_name(stream)  # stream names follow the same rules
        if connect_attempts < 1 or max_deliver < 1:
            msg = "connect_attempts and max_deliver must be at least 1"
            raise ValueError(msg)
        if durable_start not in ("all", "new"):
            msg = f"durable_start is 'all' or 'new', not {durable_start!r}"
            raise ValueError(msg)
        self.url = url
        self.stream = stream
        self.subjects = tuple(subjects)
        self.registry = DEFAULT_REGISTRY if registry is None else registry
        self.close_timeout_s = close_timeout_s
        self._stream_config = stream_config(
            stream, self.subjects, max_age_s, max_bytes, duplicate_window_s
        )
        self._ack_wait_s = ack_wait_s
        self._max_deliver = max_deliver
        self._redelivery_delay_s = redelivery_delay_s
        self._deliver_policy = DeliverPolicy.ALL if durable_start == "all" else DeliverPolicy.NEW
        self._connect_timeout_s = connect_timeout_s
        self._connect_attempts = connect_attempts
        self._reconnect_wait_s = reconnect_wait_s
        self._max_reconnect_attempts = max_reconnect_attempts
        self._request_timeout_s = request_timeout_s
        self._on_error = log_error if on_error is None else on_error
        self._name = name
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._subscriptions: list[NatsSubscription] = []
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False

    # -- connection --------------------------------------------------------------------
    async def connect(self) -> Self:
        """Connect, check JetStream, and create or update the stream; returns the bus.

        Raises
        ------
        BusUnavailableError
            The server cannot be reached after ``connect_attempts``, or has no JetStream.
        BusError
            The stream cannot be created or updated (its subjects overlap another's,
            say).
        """
        if self._closed:
            msg = f"the NATS event bus on {redact_url(self.url)} is closed"
            raise BusClosedError(msg)
        if self._nc is not None:
            return self
        nc = Client()
        try:
            await nc.connect(
                servers=[self.url],
                name=self._name,
                # nats-py annotates these int but uses them as asyncio timeouts.
                connect_timeout=self._connect_timeout_s,  # type: ignore[arg-type]
                reconnect_time_wait=self._reconnect_wait_s,  # type: ignore[arg-type]
                allow_reconnect=True,
                # The first connection tries this many more times; widened below.
                max_reconnect_attempts=self._connect_attempts - 1,
                error_cb=self._on_connection_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            )
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            with contextlib.suppress(Exception):
                await nc.close()
            msg = (
                f"cannot reach NATS at {redact_url(self.url)} after {self._connect_attempts} "
                f"attempt(s) ({type(exc).__name__}: {exc}); {START_HINT}"
            )
            raise BusUnavailableError(msg) from exc
        nc.options["max_reconnect_attempts"] = self._max_reconnect_attempts
        self._nc = nc
        self._js = nc.jetstream(timeout=self._request_timeout_s)
        try:
            await ensure_stream(self._js, self._stream_config, where=redact_url(self.url))
        except BaseException:
            self._nc, self._js = None, None
            await nc.close()
            raise
        return self

    async def _on_connection_error(self, error: Exception) -> None:
        _logger.warning("NATS %s: %r", redact_url(self.url), error)

    async def _on_disconnected(self) -> None:
        if self._nc is not None:  # not while connecting, nor after close()
            _logger.warning("disconnected from NATS at %s; reconnecting", redact_url(self.url))

    async def _on_reconnected(self) -> None:
        _logger.info("reconnected to NATS at %s", redact_url(self.url))

    def _client(self) -> Client:
        if self._closed:
            msg = f"the NATS event bus on {redact_url(self.url)} is closed"
            raise BusClosedError(msg)
        if self._nc is None:
            msg = f"the NATS event bus on {redact_url(self.url)} is not connected: await connect()"
            raise BusError(msg)
        return self._nc

    def _jetstream(self) -> JetStreamContext:
        self._client()
        assert self._js is not None
        return self._js

    @property
    def _connection_gone(self) -> bool:
        """Tell whether the NATS connection is gone (closed, or never opened)."""
        return self._nc is None or self._nc.is_closed

    async def flush(self) -> None:
        """Wait until the server has everything sent so far (acks included)."""
        if not self._connection_gone:
            assert self._nc is not None
            await self._flush(self._nc)

    async def _flush(self, nc: Client) -> None:
        if nc.is_connected:
            with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
                await nc.flush(timeout=math.ceil(self._request_timeout_s))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in a task the bus keeps, and awaits on ``close()``."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _forget(self, subscription: NatsSubscription) -> None:
        """Drop a closed subscription from the bus's list."""
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def _report(self, topic: str, error: BaseException) -> None:
        with contextlib.suppress(Exception):
            self._on_error(topic, error)

    # -- the port ----------------------------------------------------------------------
    async def publish(self, topic: str, message: Message, *, msg_id: str | None = None) -> None:
        """Publish ``message``; on a stream topic, return once the server stored it.

        A ``msg_id`` the stream saw within ``duplicate_window_s`` is stored only once.
        Topics outside the stream's subjects are sent over core NATS and ignore it.

        Raises
        ------
        BusUnavailableError
            The server did not acknowledge within ``request_timeout_s``.
        """
        nc = self._client()
        check_topic(topic)
        data = encode_message(self.registry, message)
        where = f"{topic!r} on NATS at {redact_url(self.url)}"
        try:
            if covered_by(self.subjects, topic):
                headers = None if msg_id is None else {MSG_ID_HEADER: msg_id}
                await self._jetstream().publish(
                    topic,
                    data,
                    timeout=self._request_timeout_s,
                    stream=self.stream,
                    headers=headers,
                )
            else:
                await nc.publish(topic, data)
        except nats.errors.TimeoutError as exc:
            msg = f"no acknowledgement for a publish on {where} within {self._request_timeout_s}s"
            raise BusUnavailableError(msg) from exc
        except nats.errors.ConnectionClosedError as exc:
            msg = f"cannot publish on {where}: the connection is closed"
            raise BusClosedError(msg) from exc
        except nats.js.errors.APIError as exc:
            msg = f"JetStream refused a publish on {where}: {exc.description}"
            raise BusError(msg) from exc
        except nats.errors.Error as exc:
            msg = f"cannot publish on {where}: {type(exc).__name__}: {exc}"
            raise BusError(msg) from exc

    async def subscribe(
        self, pattern: str, handler: EventHandler, *, durable: str | None = None
    ) -> NatsSubscription:
        """Call ``handler`` with each message on a topic matching ``pattern``.

        Without ``durable``, a core NATS subscription: messages published while it is
        live. With it, a JetStream durable consumer named ``durable``: it resumes after
        the last message it acknowledged, and a handler's failure means redelivery.

        Raises
        ------
        BusError
            ``durable`` with a pattern outside the stream's subjects; a durable of that
            name already bound to a live subscription, or made for another pattern.
        """
        nc = self._client()
        check_pattern(pattern)
        subscription = NatsSubscription(self, pattern, durable)
        try:
            if durable is None:
                sub = await nc.subscribe(pattern, cb=self._plain_callback(subscription, handler))
            else:
                sub = await self._subscribe_durable(subscription, pattern, durable, handler)
        except nats.errors.Error as exc:
            what = f"durable {durable!r} on" if durable else "to"
            msg = f"cannot subscribe {what} {pattern!r}: {type(exc).__name__}: {exc}"
            raise BusError(msg) from exc
        subscription.bind(sub)
        self._subscriptions.append(subscription)
        await self.flush()  # live on the server once this returns
        return subscription

    async def _subscribe_durable(
        self,
        subscription: NatsSubscription,
        pattern: str,
        durable: str,
        handler: EventHandler,
    ) -> CoreSubscription:
        check_durable_name(durable)
        if not covered_by(self.subjects, pattern):
            msg = (
                f"a durable subscription needs a pattern inside stream {self.stream!r}'s "
                f"subjects {list(self.subjects)}, not {pattern!r}"
            )
            raise BusError(msg)
        js = self._jetstream()
        try:
            info = await js.consumer_info(self.stream, durable)
        except nats.js.errors.NotFoundError:
            pass
        else:
            if info.config.filter_subject != pattern:
                msg = (
                    f"durable {durable!r} of stream {self.stream!r} follows "
                    f"{info.config.filter_subject!r}, not {pattern!r}: use another name, or "
                    "delete_durable() it first"
                )
                raise BusError(msg)
        config = ConsumerConfig(
            durable_name=durable,
            deliver_policy=self._deliver_policy,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait_s,
            max_deliver=self._max_deliver,
            filter_subject=pattern,
        )
        try:
            return await js.subscribe(
                pattern,
                durable=durable,
                stream=self.stream,
                config=config,
                manual_ack=True,
                cb=self._durable_callback(subscription, handler),
            )
        except nats.js.errors.Error as exc:
            if "already bound" in str(exc):
                msg = f"durable {durable!r} already has a live subscription"
                raise BusError(msg) from exc
            raise

    def _plain_callback(
        self, subscription: NatsSubscription, handler: EventHandler
    ) -> _MsgCallback:
        async def deliver(msg: Msg) -> None:
            if subscription.stopping:
                return
            subscription.enter_handler()
            try:
                await handler(self.registry.decode(msg.data))
            except Exception as exc:
                self._report(msg.subject, exc)
            finally:
                subscription.leave_handler()

        return deliver

    def _durable_callback(
        self, subscription: NatsSubscription, handler: EventHandler
    ) -> _MsgCallback:
        async def deliver(msg: Msg) -> None:
            if subscription.stopping:
                return  # unacknowledged: redelivered to the next subscriber
            subscription.enter_handler()
            try:
                await self._handle_durable(msg, handler)
            finally:
                subscription.leave_handler()

        return deliver

    async def _handle_durable(self, msg: Msg, handler: EventHandler) -> None:
        try:
            message = self.registry.decode(msg.data)
        except (UnknownMessageTypeError, MessageDecodeError) as exc:
            # Redelivery cannot help a message this process cannot read.
            self._report(msg.subject, exc)
            await self._settle(msg.term())
            return
        try:
            await handler(message)
        except Exception as exc:
            self._report(msg.subject, exc)
            deliveries = msg.metadata.num_delivered
            if deliveries >= self._max_deliver:
                _logger.error(
                    "gave up on a message on %r after %d deliveries", msg.subject, deliveries
                )
                await self._settle(msg.term())
            else:
                await self._settle(msg.nak(delay=self._redelivery_delay_s))
            return
        await self._settle(msg.ack())

    async def _settle(self, reply: Awaitable[None]) -> None:
        try:
            await reply
        except nats.errors.Error as exc:  # the server redelivers after ack_wait
            _logger.warning("could not acknowledge a message: %r", exc)

    async def serve(self, subject: str, responder: Responder) -> NatsSubscription:
        """Answer requests on ``subject``; instances serving it share the requests.

        Raises
        ------
        BusError
            ``subject`` falls in the stream's subjects, where JetStream would answer.
        """
        nc = self._client()
        check_pattern(subject)
        self._check_outside_stream(subject)
        subscription = NatsSubscription(self, subject, None)

        async def answer(msg: Msg) -> None:
            if subscription.stopping:
                return
            subscription.enter_handler()
            try:
                await self._answer(msg, responder)
            finally:
                subscription.leave_handler()

        sub = await nc.subscribe(subject, queue=_SERVE_QUEUE, cb=answer)
        subscription.bind(sub)
        self._subscriptions.append(subscription)
        await self.flush()
        return subscription

    async def _answer(self, msg: Msg, responder: Responder) -> None:
        nc = self._client()
        try:
            reply = await responder(self.registry.decode(msg.data))
            data = encode_message(self.registry, reply)
        except Exception as exc:
            self._report(msg.subject, exc)
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:1000]
            with contextlib.suppress(nats.errors.Error):
                await nc.publish(msg.reply, b"", headers={ERROR_HEADER: reason})
            return
        with contextlib.suppress(nats.errors.Error):
            await msg.respond(data)

    async def request(self, subject: str, message: Message, *, timeout_s: float = 5.0) -> Any:
        """Send a request on ``subject`` and return the decoded reply.

        Raises
        ------
        NoResponderError
            Nothing serves ``subject``.
        RequestError
            The responder failed.
        TimeoutError
            No reply within ``timeout_s``.
        """
        nc = self._client()
        check_topic(subject)
        self._check_outside_stream(subject)
        data = encode_message(self.registry, message)
        try:
            reply = await nc.request(subject, data, timeout=timeout_s)
        except nats.errors.NoRespondersError as exc:
            msg = f"nothing serves {subject!r} on NATS at {redact_url(self.url)}"
            raise NoResponderError(msg) from exc
        except nats.errors.TimeoutError:
            msg = f"no reply on {subject!r} within {timeout_s}s"
            raise TimeoutError(msg) from None
        if reply.headers and ERROR_HEADER in reply.headers:
            raise RequestError(subject, reply.headers[ERROR_HEADER])
        return self.registry.decode(reply.data)

    def _check_outside_stream(self, subject: str) -> None:
        if covered_by(self.subjects, subject) or any(
            covered_by((subject,), stored) for stored in self.subjects
        ):
            msg = (
                f"request subject {subject!r} overlaps stream {self.stream!r}'s subjects "
                f"{list(self.subjects)}, where JetStream would answer: use another prefix"
            )
            raise BusError(msg)

    async def delete_durable(self, durable: str) -> bool:
        """Delete the durable consumer ``durable``; tell whether it existed."""
        check_durable_name(durable)
        try:
            return await self._jetstream().delete_consumer(self.stream, durable)
        except nats.js.errors.NotFoundError:
            return False

    async def delete_stream(self) -> bool:
        """Delete the stream, its messages and its consumers; tell whether it existed."""
        try:
            return await self._jetstream().delete_stream(self.stream)
        except nats.js.errors.NotFoundError:
            return False

    async def stored_messages(self) -> int:
        """Return how many messages the stream holds."""
        info = await self._jetstream().stream_info(self.stream)
        return info.state.messages

    async def close(self) -> None:
        """Drain every subscription, then close the connection; idempotent."""
        if self._closed:
            return
        for subscription in list(self._subscriptions):
            await subscription.close()
        if self._background:
            await asyncio.wait(self._background, timeout=self.close_timeout_s)
        self._closed = True
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            await self._flush(nc)
            # Closing a connection that is already broken may raise: it is closed anyway.
            with contextlib.suppress(nats.errors.Error, OSError):
                await nc.close()

    async def __aenter__(self) -> Self:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
