"""The default event bus: asyncio queues in one process, routed by the core ``MessageBus``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from quantgrid.adapters.bus._codec import DEFAULT_REGISTRY, MessageRegistry, encode_message
from quantgrid.adapters.bus._errors import (
    BusClosedError,
    BusError,
    NoResponderError,
    RequestError,
)
from quantgrid.adapters.bus._port import (
    ErrorHandler,
    EventHandler,
    Message,
    Responder,
    log_error,
)
from quantgrid.adapters.bus._topics import check_durable_name, check_pattern, check_topic
from quantgrid.core import MessageBus, topic_matches


class _LocalSubscription:
    """One subscriber: a queue of encoded messages and the task that handles them."""

    def __init__(
        self,
        bus: InProcessEventBus,
        pattern: str,
        handler: EventHandler,
        durable: str | None,
    ) -> None:
        self._bus = bus
        self._pattern = pattern
        self._handler = handler
        self._durable = durable
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._unhandled = 0
        self._closed = False
        self._stop = False  # set when the handler closes its own subscription
        self._task = asyncio.create_task(self._run(), name=f"bus-subscription:{pattern}")

    @property
    def pattern(self) -> str:
        return self._pattern

    @property
    def durable(self) -> str | None:
        return self._durable

    @property
    def busy(self) -> bool:
        return self._unhandled > 0

    def enqueue(self, item: tuple[str, bytes]) -> None:
        self._unhandled += 1
        self._queue.put_nowait(item)

    async def join(self) -> None:
        await self._queue.join()

    async def _run(self) -> None:
        while not self._stop:
            topic, data = await self._queue.get()
            try:
                # Each subscriber decodes its own copy, as it would off the network.
                await self._handler(self._bus.registry.decode(data))
            except Exception as exc:
                self._bus._report(topic, exc)
            finally:
                self._unhandled -= 1
                self._queue.task_done()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bus._detach(self)
        if asyncio.current_task() is self._task:
            self._stop = True  # closed from its own handler: stop after this message
            return
        # Deliver what was already queued, as a drained NATS subscription does.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), self._bus.close_timeout_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class _LocalResponder:
    def __init__(self, bus: InProcessEventBus, subject: str, responder: Responder) -> None:
        self._bus = bus
        self._subject = subject
        self.responder = responder

    @property
    def pattern(self) -> str:
        return self._subject

    @property
    def durable(self) -> str | None:
        return None

    async def close(self) -> None:
        self._bus._detach_responder(self)


class InProcessEventBus:
    """An event bus inside one asyncio process: the default, and the unit tests' fake.

    Parameters
    ----------
    registry
        The message types it carries; the default registry if None.
    on_error
        Called with the topic and error when a handler fails; logs by default.
    duplicate_window_s
        How long a ``msg_id`` is remembered to drop repeats, as on JetStream.
    close_timeout_s
        How long closing a subscription waits for its queued messages to be handled.
    now_ns
        The monotonic clock the duplicate window runs on.

    Notes
    -----
    Messages are encoded and decoded on the way through, exactly as on NATS, so a type
    that is not registered, or a value with no JSON form, fails here first; a handler
    gets its own copy of the message. Delivery is at most once: a message goes to the
    subscriptions live when it is published. A ``durable`` name only keeps two live
    subscriptions from sharing it; nothing is stored for a later subscriber, and a
    failed handler's message is reported to ``on_error`` and dropped, not redelivered.
    """

    def __init__(
        self,
        *,
        registry: MessageRegistry | None = None,
        on_error: ErrorHandler | None = None,
        duplicate_window_s: float = 120.0,
        close_timeout_s: float = 5.0,
        now_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.registry = DEFAULT_REGISTRY if registry is None else registry
        self.close_timeout_s = close_timeout_s
        self._on_error = log_error if on_error is None else on_error
        self._router = MessageBus()
        self._subscriptions: list[_LocalSubscription] = []
        self._responders: list[_LocalResponder] = []
        self._window_ns = int(duplicate_window_s * 1e9)
        self._now_ns = now_ns
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._closed = False

    # -- plumbing the subscriptions call back into -----------------------------------
    def _report(self, topic: str, error: BaseException) -> None:
        """Pass a delivery error to ``on_error``; never raises."""
        with contextlib.suppress(Exception):
            self._on_error(topic, error)

    def _detach(self, subscription: _LocalSubscription) -> None:
        """Stop routing messages to ``subscription``."""
        self._router.unsubscribe(subscription.pattern, subscription.enqueue)
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def _detach_responder(self, responder: _LocalResponder) -> None:
        """Stop routing requests to ``responder``."""
        if responder in self._responders:
            self._responders.remove(responder)

    def _check_open(self) -> None:
        if self._closed:
            msg = "the in-process event bus is closed"
            raise BusClosedError(msg)

    def _is_repeat(self, msg_id: str) -> bool:
        now = self._now_ns()
        while self._seen:
            oldest_id, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self._window_ns:
                break
            del self._seen[oldest_id]
        if msg_id in self._seen:
            return True
        self._seen[msg_id] = now
        return False

    # -- the port ----------------------------------------------------------------------
    async def publish(self, topic: str, message: Message, *, msg_id: str | None = None) -> None:
        """Queue ``message`` for every subscription matching ``topic``.

        A ``msg_id`` seen within ``duplicate_window_s`` makes the publish a no-op.
        """
        self._check_open()
        check_topic(topic)
        data = encode_message(self.registry, message)
        if msg_id is not None and self._is_repeat(msg_id):
            return
        self._router.publish(topic, (topic, data))

    async def subscribe(
        self, pattern: str, handler: EventHandler, *, durable: str | None = None
    ) -> _LocalSubscription:
        """Call ``handler`` with each message published on a topic matching ``pattern``."""
        self._check_open()
        check_pattern(pattern)
        if durable is not None:
            check_durable_name(durable)
            if any(s.durable == durable for s in self._subscriptions):
                msg = f"durable {durable!r} already has a live subscription"
                raise BusError(msg)
        subscription = _LocalSubscription(self, pattern, handler, durable)
        self._subscriptions.append(subscription)
        self._router.subscribe(pattern, subscription.enqueue)
        return subscription

    async def serve(self, subject: str, responder: Responder) -> _LocalResponder:
        """Answer requests on ``subject``; the first responder registered wins."""
        self._check_open()
        check_pattern(subject)
        entry = _LocalResponder(self, subject, responder)
        self._responders.append(entry)
        return entry

    async def request(self, subject: str, message: Message, *, timeout_s: float = 5.0) -> Any:
        """Call the responder serving ``subject`` and return its reply.

        Raises
        ------
        NoResponderError
            Nothing serves ``subject``.
        RequestError
            The responder raised, or replied with something that cannot be sent.
        TimeoutError
            No reply within ``timeout_s``.
        """
        self._check_open()
        check_topic(subject)
        data = encode_message(self.registry, message)
        entry = next((r for r in self._responders if topic_matches(r.pattern, subject)), None)
        if entry is None:
            msg = f"nothing serves {subject!r} on the in-process bus"
            raise NoResponderError(msg)
        try:
            reply = await asyncio.wait_for(entry.responder(self.registry.decode(data)), timeout_s)
            reply_data = encode_message(self.registry, reply)
        except TimeoutError:
            msg = f"no reply on {subject!r} within {timeout_s}s"
            raise TimeoutError(msg) from None
        except Exception as exc:
            self._report(subject, exc)
            raise RequestError(subject, f"{type(exc).__name__}: {exc}") from exc
        return self.registry.decode(reply_data)

    async def drain(self) -> None:
        """Wait until every message published so far has been handled (for tests).

        Messages the handlers publish meanwhile are waited for too.
        """
        while busy := [s for s in self._subscriptions if s.busy]:
            for subscription in busy:
                await subscription.join()

    async def close(self) -> None:
        """Close every subscription, after its queued messages are handled."""
        if self._closed:
            return
        self._closed = True
        for subscription in list(self._subscriptions):
            await subscription.close()
        self._responders.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
