"""Clocks: a test clock the backtest advances, a live clock that reads the wall."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

AlertCallback = Callable[[int], None]


class Clock(Protocol):
    """What every component reads the time from; backtest and live differ only here."""

    def timestamp_ns(self) -> int:
        """Return the current time as integer nanoseconds since the epoch, UTC."""
        ...

    def set_alert(self, ts_ns: int, callback: AlertCallback) -> None:
        """Call ``callback(ts_ns)`` once the clock reaches ``ts_ns``."""
        ...


class _Alerts:
    """Pending alerts in time order; alerts at the same time fire in the order set."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, AlertCallback]] = []
        self._seq = itertools.count()

    def add(self, ts_ns: int, callback: AlertCallback) -> None:
        heapq.heappush(self._heap, (int(ts_ns), next(self._seq), callback))

    def next_ns(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_ns: int) -> tuple[int, AlertCallback] | None:
        if self._heap and self._heap[0][0] <= now_ns:
            ts, _, callback = heapq.heappop(self._heap)
            return ts, callback
        return None


class TestClock:
    """A clock that moves only when told to, used by backtests and unit tests.

    Notes
    -----
    Time never moves backwards: ``set_time`` with an earlier time raises.
    """

    __test__ = False  # not a pytest test class
    __slots__ = ("_alerts", "_ts")

    def __init__(self, start_ns: int = 0) -> None:
        self._ts = int(start_ns)
        self._alerts = _Alerts()

    def timestamp_ns(self) -> int:
        """Return the clock's current time."""
        return self._ts

    def set_time(self, ts: int) -> None:
        """Move the clock to ``ts``; it may not go backwards."""
        if ts < self._ts:
            msg = f"clock cannot move backwards: {ts} < {self._ts}"
            raise ValueError(msg)
        self._ts = ts

    def set_alert(self, ts_ns: int, callback: AlertCallback) -> None:
        """Call ``callback(ts_ns)`` when ``advance_to`` reaches ``ts_ns``.

        An alert for a time already passed fires at the next ``advance_to``, at the
        clock's current time.
        """
        self._alerts.add(ts_ns, callback)

    def next_alert_ns(self) -> int | None:
        """Return the time of the earliest pending alert, if any."""
        return self._alerts.next_ns()

    def advance_to(self, ts: int) -> int:
        """Move the clock to ``ts``, firing every alert due by then in time order.

        The clock reads each alert's time while its callback runs (never earlier than
        the current time); callbacks may set new alerts, which fire in the same call if
        due. Returns the number of alerts fired.

        Notes
        -----
        This is how timers and latencies are simulated: a venue that receives an order
        at ``t`` sets an alert at ``t + latency`` and handles it then.
        """
        if ts < self._ts:
            msg = f"clock cannot move backwards: {ts} < {self._ts}"
            raise ValueError(msg)
        fired = 0
        while (due := self._alerts.pop_due(ts)) is not None:
            alert_ts, callback = due
            self._ts = max(self._ts, alert_ts)
            callback(self._ts)
            fired += 1
        self._ts = ts
        return fired


class LiveClock:
    """The wall clock, for paper and live trading.

    Alerts are kept in time order and fired by ``fire_due``, which the runtime's loop
    calls; nothing fires on its own thread, so handlers never race the loop.
    """

    __slots__ = ("_alerts",)

    def __init__(self) -> None:
        self._alerts = _Alerts()

    def timestamp_ns(self) -> int:
        """Return the wall-clock time in nanoseconds since the epoch, UTC."""
        return time.time_ns()

    def set_alert(self, ts_ns: int, callback: AlertCallback) -> None:
        """Call ``callback(ts_ns)`` from the first ``fire_due`` at or after ``ts_ns``."""
        self._alerts.add(ts_ns, callback)

    def next_alert_ns(self) -> int | None:
        """Return the time of the earliest pending alert, if any."""
        return self._alerts.next_ns()

    def fire_due(self) -> int:
        """Fire the alerts whose time has come, in time order; return how many fired."""
        fired = 0
        while (due := self._alerts.pop_due(time.time_ns())) is not None:
            due[1](due[0])
            fired += 1
        return fired
