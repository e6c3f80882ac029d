"""Clocks: a test clock the backtest advances, a live clock that reads the wall."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What every component reads the time from; backtest and live differ only here."""

    def timestamp_ns(self) -> int:
        """Return the current time as integer nanoseconds since the epoch, UTC."""
        ...


class TestClock:
    """A clock that moves only when told to, used by backtests and unit tests.

    Notes
    -----
    Time never moves backwards: ``set_time`` with an earlier time raises.
    """

    __test__ = False  # not a pytest test class
    __slots__ = ("_ts",)

    def __init__(self, start_ns: int = 0) -> None:
        self._ts = int(start_ns)

    def timestamp_ns(self) -> int:
        """Return the clock's current time."""
        return self._ts

    def set_time(self, ts: int) -> None:
        """Move the clock to ``ts``; it may not go backwards."""
        if ts < self._ts:
            msg = f"clock cannot move backwards: {ts} < {self._ts}"
            raise ValueError(msg)
        self._ts = ts


class LiveClock:
    """The wall clock, for paper and live trading."""

    __slots__ = ()

    def timestamp_ns(self) -> int:
        """Return the wall-clock time in nanoseconds since the epoch, UTC."""
        return time.time_ns()
