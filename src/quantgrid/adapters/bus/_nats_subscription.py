"""The handle of a NatsEventBus subscription: drained on close, never cancelling itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import nats.errors
from nats.aio.subscription import Subscription as CoreSubscription

if TYPE_CHECKING:
    from quantgrid.adapters.bus._nats import NatsEventBus

_logger = logging.getLogger("quantgrid.adapters.bus")


class NatsSubscription:
    """A core NATS or JetStream subscription whose callback runs one handler."""

    def __init__(
        self,
        bus: NatsEventBus,
        pattern: str,
        durable: str | None,
    ) -> None:
        self._bus = bus
        self._pattern = pattern
        self._durable = durable
        self._sub: CoreSubscription | None = None
        self._handler_task: asyncio.Task[Any] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self.stopping = False  # closed by its own handler: skip what still arrives

    @property
    def pattern(self) -> str:
        return self._pattern

    @property
    def durable(self) -> str | None:
        return self._durable

    def bind(self, sub: CoreSubscription) -> None:
        self._sub = sub

    def enter_handler(self) -> None:
        # nats-py runs every callback of a subscription in one task; remember it so a
        # handler closing its own subscription does not wait for itself.
        self._handler_task = asyncio.current_task()
        self._idle.clear()

    def leave_handler(self) -> None:
        self._idle.set()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bus._forget(self)
        sub = self._sub
        if sub is None or self._bus._connection_gone:
            return
        if asyncio.current_task() is self._handler_task:
            # Unsubscribing cancels the task that runs the handlers, this one: leave it
            # to another task, once this handler has returned.
            self.stopping = True
            self._bus._spawn(self._unsubscribe(sub, wait_idle=True))
            return
        # Drain: stop delivery, then handle (and acknowledge) what already arrived, so a
        # durable consumer resumes exactly after the last message handled here.
        try:
            # nats-py leaves drain() unannotated.
            drained = sub.drain()  # type: ignore[no-untyped-call]
            await asyncio.wait_for(drained, self._bus.close_timeout_s)
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            _logger.warning("subscription %r not drained: %r", self._pattern, exc)
            await self._unsubscribe(sub, wait_idle=False)
        else:
            await self._bus.flush()

    async def _unsubscribe(self, sub: CoreSubscription, *, wait_idle: bool) -> None:
        if wait_idle:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self._bus.close_timeout_s)
        if not self._bus._connection_gone:
            with contextlib.suppress(nats.errors.Error, OSError):
                await sub.unsubscribe()
            await self._bus.flush()
