"""The event bus port: what services publish to and subscribe on, whatever carries it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Protocol, Self

import msgspec

Message = msgspec.Struct | dict[str, Any]
"""What a bus carries: a registered msgspec Struct, or a dict of JSON values."""

EventHandler = Callable[[Any], Awaitable[None]]
"""An async callable given each message a subscription receives."""

Responder = Callable[[Any], Awaitable[Message]]
"""An async callable that answers a request message with a reply message."""

ErrorHandler = Callable[[str, BaseException], None]
"""Called with the topic and the error when a message cannot be delivered or handled."""

_logger = logging.getLogger("quantgrid.adapters.bus")


def log_error(topic: str, error: BaseException) -> None:
    """Log a delivery or handler error; the default ``on_error`` of every bus."""
    _logger.error("message on %r not handled: %s", topic, error, exc_info=error)


class Subscription(Protocol):
    """A live subscription; ``close()`` ends it."""

    @property
    def pattern(self) -> str:
        """Return the topic pattern (or request subject) subscribed to."""
        ...

    @property
    def durable(self) -> str | None:
        """Return the durable name, or None for a plain subscription."""
        ...

    async def close(self) -> None:
        """Stop delivery, after handling what already arrived; idempotent."""
        ...


class EventBus(Protocol):
    """Publish messages on topics; subscribe handlers to topic patterns.

    Topics are dot-separated (``events.order.filled``); patterns may use ``*`` for one
    token and a final ``>`` for one or more, exactly as the in-process ``MessageBus``.

    Notes
    -----
    Each subscription gets its messages one at a time, in publish order per topic, in
    its own task: a slow handler delays only its own subscription. A handler's exception
    goes to the bus's ``on_error`` and does not stop the subscription.
    """

    async def publish(self, topic: str, message: Message, *, msg_id: str | None = None) -> None:
        """Publish ``message`` on ``topic``; ``msg_id`` lets the bus drop a repeat."""
        ...

    async def subscribe(
        self, pattern: str, handler: EventHandler, *, durable: str | None = None
    ) -> Subscription:
        """Call ``handler`` with every message on a topic matching ``pattern``.

        A ``durable`` name makes the subscription resume where the last one of that name
        stopped, on buses that store messages.
        """
        ...

    async def serve(self, subject: str, responder: Responder) -> Subscription:
        """Answer every request on ``subject`` (a pattern) with ``responder``'s reply."""
        ...

    async def request(self, subject: str, message: Message, *, timeout_s: float = 5.0) -> Any:
        """Send a request on ``subject`` and return the reply."""
        ...

    async def close(self) -> None:
        """Close every subscription, then the bus; idempotent."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
