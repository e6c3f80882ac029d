"""``ReplayFeed``: stored bars played into a ``StrategyHost`` at N times their speed."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Protocol

import numpy as np

from quantgrid.model import Bar, BarSeries

#: Waits a number of seconds (``asyncio.sleep``; a test may pass its own).
Sleep = Callable[[float], Awaitable[None]]
_NANOS_PER_SECOND = 1_000_000_000


class BarSink(Protocol):
    """Where a replay delivers its bars: a ``StrategyHost``."""

    def on_bars(self, bars: tuple[Bar, ...]) -> None:
        """Handle the bars of one moment (one timestamp, one bar per instrument)."""
        ...

    async def flush(self) -> None:
        """Return once everything the last bars caused is durable."""
        ...


class ReplayFeed:
    """Play stored bars to a strategy host in time order, at ``speed`` times real time.

    Parameters
    ----------
    data
        The bars of one or more instruments (one ``BarSeries`` each).
    speed
        How many times faster than the data's own pace to play: the wait between two
        moments is their time apart divided by ``speed``. ``math.inf`` (the default)
        plays as fast as the host can take them.
    start_after_ns
        Play only the bars stamped after this time (to resume a replay that stopped).
    sleep
        Waits between moments at a finite speed (``asyncio.sleep`` by default).

    Raises
    ------
    ValueError
        If there is no data, a series has no bars, two series name one instrument, a
        series goes back in time, or ``speed`` is not a positive number.

    Notes
    -----
    Bars of several instruments with one timestamp form one moment, handed to the
    host together, in the order the series were given: the backtest engine's order.
    The clock is never read from the wall: the host moves the node's ``TestClock``
    to each moment's timestamp, so timestamps of orders and fills are the data's,
    whatever the speed. After each moment the feed waits for the host's writes, so a
    stop between two moments leaves the store complete up to the last moment played.
    """

    def __init__(
        self,
        data: BarSeries | Iterable[BarSeries],
        *,
        speed: float = math.inf,
        start_after_ns: int | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        series = [data] if isinstance(data, BarSeries) else list(data)
        if not series:
            raise ValueError("ReplayFeed.data must hold at least one BarSeries")
        seen: set[str] = set()
        for one in series:
            if not isinstance(one, BarSeries):
                msg = f"ReplayFeed.data must hold BarSeries, got {type(one).__name__}"
                raise ValueError(msg)
            if one.instrument_id in seen:
                msg = f"ReplayFeed.data names the instrument {one.instrument_id!r} twice"
                raise ValueError(msg)
            seen.add(one.instrument_id)
            if len(one) == 0:
                msg = f"ReplayFeed.data: the series of {one.instrument_id!r} has no bars"
                raise ValueError(msg)
            steps = np.diff(one.ts)
            if steps.size and int(steps.min()) <= 0:
                at = int(np.argmax(steps <= 0)) + 1
                msg = (
                    f"ReplayFeed.data: the series of {one.instrument_id!r} goes back in "
                    f"time at bar {at}; bars must have increasing timestamps"
                )
                raise ValueError(msg)
        number = isinstance(speed, int | float) and not isinstance(speed, bool)
        if not (number and speed > 0 and not math.isnan(speed)):
            msg = f"ReplayFeed.speed must be a positive number or math.inf, got {speed!r}"
            raise ValueError(msg)
        if start_after_ns is not None and (
            isinstance(start_after_ns, bool) or not isinstance(start_after_ns, int)
        ):
            msg = f"ReplayFeed.start_after_ns must be nanoseconds (int), got {start_after_ns!r}"
            raise ValueError(msg)
        self._series = series
        self.speed = float(speed)
        self.start_after_ns = start_after_ns
        self._sleep = sleep
        self.played = 0
        self.last_ts: int | None = None

    def moments(self) -> Iterator[tuple[Bar, ...]]:
        """Yield the bars to play, one moment (one timestamp) at a time, in time order."""
        series = self._series
        ts_all = np.concatenate([s.ts for s in series])
        which = np.repeat(np.arange(len(series)), [len(s) for s in series])
        row = np.concatenate([np.arange(len(s)) for s in series])
        order = np.argsort(ts_all, kind="stable")  # ties keep the series' order
        if self.start_after_ns is not None:
            order = order[ts_all[order] > self.start_after_ns]
        moment: list[Bar] = []
        for k in order.tolist():
            bar = series[int(which[k])].bar(int(row[k]))
            if moment and bar.ts_event != moment[0].ts_event:
                yield tuple(moment)
                moment = []
            moment.append(bar)
        if moment:
            yield tuple(moment)

    async def play(self, host: BarSink, *, limit: int | None = None) -> int:
        """Play the moments (at most ``limit`` of them) into ``host``; return how many.

        Raises
        ------
        ValueError
            If ``limit`` is not a whole number >= 0.
        """
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            msg = f"limit must be a whole number >= 0 or None, got {limit!r}"
            raise ValueError(msg)
        if limit is not None and limit < 0:
            msg = f"limit must be a whole number >= 0 or None, got {limit!r}"
            raise ValueError(msg)
        played = 0
        previous: int | None = None
        for bars in self.moments():
            if limit is not None and played >= limit:
                break
            ts = bars[0].ts_event
            if previous is not None and math.isfinite(self.speed):
                await self._sleep((ts - previous) / _NANOS_PER_SECOND / self.speed)
            host.on_bars(bars)
            await host.flush()
            previous = self.last_ts = ts
            played += 1
        self.played += played
        return played
