"""Handling messages one at a time when handlers send messages of their own."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any


class Serializer:
    """Run actions strictly one after another, even when an action triggers another.

    The bus delivers synchronously, so a component that reacts to an event can be
    re-entered by the events its own reaction causes (a venue's fill makes a strategy
    cancel, which reaches the venue while it is still matching). ``run`` performs the
    action at once when nothing is running, and otherwise queues it until the running
    one and everything queued before it have finished.

    Notes
    -----
    Order is first come, first served; an action that raises stops the queue and the
    exception propagates to the caller of the outermost ``run`` (queued actions stay
    queued and run with the next call).
    """

    __slots__ = ("_busy", "_queue")

    def __init__(self) -> None:
        self._busy = False
        self._queue: deque[tuple[Callable[[Any], None], Any]] = deque()

    @property
    def busy(self) -> bool:
        """Tell whether an action is running now."""
        return self._busy

    def run(self, action: Callable[[Any], None], argument: Any) -> None:
        """Run ``action(argument)`` now, or after what is running if anything is."""
        if self._busy:
            self._queue.append((action, argument))
            return
        self._busy = True
        try:
            action(argument)
            while self._queue:
                queued, queued_argument = self._queue.popleft()
                queued(queued_argument)
        finally:
            self._busy = False
