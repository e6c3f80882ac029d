"""The message bus: commands go to one named endpoint, events go to every topic subscriber.

Topics are dot-separated (``events.order.filled``). A subscription pattern may use ``*``
for exactly one segment and a trailing ``>`` for one or more segments, as in NATS, so the
same topic names work unchanged when the bus is NATS JetStream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class _Subscription:
    pattern: str
    handler: Handler
    priority: int
    order: int


def topic_matches(pattern: str, topic: str) -> bool:
    """Tell whether a subscription ``pattern`` matches a concrete ``topic``."""
    if pattern == topic:
        return True
    p_parts = pattern.split(".")
    t_parts = topic.split(".")
    for i, part in enumerate(p_parts):
        if part == ">":
            return i == len(p_parts) - 1 and len(t_parts) > i
        if i >= len(t_parts):
            return False
        if part not in ("*", t_parts[i]):
            return False
    return len(p_parts) == len(t_parts)


class MessageBus:
    """In-process message bus with point-to-point endpoints and publish/subscribe topics.

    Notes
    -----
    Handlers of one topic run in descending ``priority``, then in subscription order, so
    the venue sees a bar before the portfolio marks it and before strategies act on it.
    The handler list of each concrete topic is resolved once and cached: publishing on
    the backtest's hot path is a dictionary look-up and a loop.
    """

    def __init__(self) -> None:
        self._endpoints: dict[str, Handler] = {}
        self._subscriptions: list[_Subscription] = []
        self._resolved: dict[str, tuple[Handler, ...]] = {}
        self._counter = 0

    # -- commands ------------------------------------------------------------------
    def register(self, endpoint: str, handler: Handler) -> None:
        """Register the single handler of a command ``endpoint``."""
        if endpoint in self._endpoints:
            msg = f"endpoint {endpoint!r} is already registered"
            raise ValueError(msg)
        self._endpoints[endpoint] = handler

    def deregister(self, endpoint: str) -> None:
        """Remove a command endpoint."""
        self._endpoints.pop(endpoint, None)

    def send(self, endpoint: str, command: Any) -> None:
        """Deliver ``command`` to the handler registered at ``endpoint``."""
        handler = self._endpoints.get(endpoint)
        if handler is None:
            msg = f"no handler registered at endpoint {endpoint!r}"
            raise LookupError(msg)
        handler(command)

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Return the registered endpoint names, sorted."""
        return tuple(sorted(self._endpoints))

    # -- events --------------------------------------------------------------------
    def subscribe(self, pattern: str, handler: Handler, priority: int = 0) -> None:
        """Call ``handler`` with every message published on a topic matching ``pattern``."""
        self._counter += 1
        self._subscriptions.append(_Subscription(pattern, handler, priority, self._counter))
        self._resolved.clear()

    def unsubscribe(self, pattern: str, handler: Handler) -> None:
        """Remove a subscription made with the same pattern and handler."""
        self._subscriptions = [
            s for s in self._subscriptions if not (s.pattern == pattern and s.handler == handler)
        ]
        self._resolved.clear()

    def handlers_for(self, topic: str) -> tuple[Handler, ...]:
        """Return the handlers a message on ``topic`` reaches, in call order."""
        handlers = self._resolved.get(topic)
        if handlers is None:
            matching = [s for s in self._subscriptions if topic_matches(s.pattern, topic)]
            matching.sort(key=lambda s: (-s.priority, s.order))
            handlers = tuple(s.handler for s in matching)
            self._resolved[topic] = handlers
        return handlers

    def publish(self, topic: str, message: Any) -> None:
        """Deliver ``message`` to every subscriber of ``topic``."""
        handlers = self._resolved.get(topic)
        if handlers is None:
            handlers = self.handlers_for(topic)
        for handler in handlers:
            handler(message)
