"""Pick the event bus a URL names: in-process by default, NATS when configured."""

from __future__ import annotations

from typing import Any

from quantgrid.adapters.bus._codec import MessageRegistry
from quantgrid.adapters.bus._in_process import InProcessEventBus
from quantgrid.adapters.bus._nats import NatsEventBus
from quantgrid.adapters.bus._port import ErrorHandler, EventBus

_MEMORY = ("", "memory", "memory://")


async def open_event_bus(
    url: str | None = None,
    *,
    registry: MessageRegistry | None = None,
    on_error: ErrorHandler | None = None,
    **nats_options: Any,
) -> EventBus:
    """Return a ready event bus for ``url``.

    Parameters
    ----------
    url
        None, ``""`` or ``memory://`` for the in-process bus; ``nats://`` or ``tls://``
        for NATS JetStream, connected and with its stream in place.
    registry, on_error
        Passed to either bus.
    **nats_options
        Passed to ``NatsEventBus`` (``stream``, ``subjects``, ``max_deliver``...).
    """
    if url is None or url in _MEMORY:
        return InProcessEventBus(registry=registry, on_error=on_error)
    if url.startswith(("nats://", "tls://")):
        bus = NatsEventBus(url, registry=registry, on_error=on_error, **nats_options)
        return await bus.connect()
    msg = f"no event bus for {url.split('://')[0]!r} URLs: use memory:// or nats://host:4222"
    raise ValueError(msg)
