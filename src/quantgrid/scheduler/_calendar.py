"""Exchange calendars: when a market is open, in its own time zone, as UTC nanoseconds."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from quantgrid.core import dt_to_ns, ns_to_dt

_log = logging.getLogger("quantgrid.scheduler")

#: Monday to Friday, as ``date.weekday()`` numbers them.
MON_TO_FRI = frozenset(range(5))
#: Every day of the week.
EVERY_DAY = frozenset(range(7))

_ONE_DAY = timedelta(days=1)
_MIDNIGHT = time(0)
#: Calendars already warned about running past their holiday list (once per process).
_WARNED_PAST_LIST: set[str] = set()


class Session(NamedTuple):
    """One trading session: open from ``open_ns`` (included) to ``close_ns`` (excluded)."""

    open_ns: int
    close_ns: int


@dataclass(frozen=True, slots=True, repr=False)
class ExchangeCalendar:
    """When a market trades: local opening hours, trading weekdays, holidays, early closes.

    Parameters
    ----------
    name
        The market's name, e.g. ``"XNYS"`` (its ISO 10383 MIC where it has one).
    tz
        The IANA time zone the hours are in, e.g. ``"America/New_York"``.
    open_time, close_time
        The regular local opening and closing times (naive). A ``close_time`` of
        midnight means the end of the day (24:00); one at or before ``open_time``
        otherwise makes an overnight session that opens the evening before its date.
    weekdays
        The weekdays that trade, as ``date.weekday()`` numbers (Monday is 0).
    holidays
        Dates that would trade by their weekday but do not.
    early_closes
        Trading dates that close before ``close_time``, and their local closing time.
    holidays_through
        The last date ``holidays`` and ``early_closes`` are known to cover; None when
        the calendar needs none (a 24/7 market).

    Notes
    -----
    A session's date is the date it closes on. Times are resolved in ``tz`` for each
    date, so the UTC open and close follow daylight-saving time. A local time that
    does not exist on a date (the spring-forward gap) is read with the offset in
    force before the change, so it lands one hour later on the wall clock; one that
    occurs twice (fall back) is its first occurrence. Asked about a date after
    ``holidays_through``, the calendar still answers, from weekdays alone, and logs
    a warning once per process: extend the list.
    """

    name: str
    tz: str
    open_time: time
    close_time: time
    weekdays: frozenset[int] = MON_TO_FRI
    holidays: frozenset[date] = field(default=frozenset())
    early_closes: Mapping[date, time] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    holidays_through: date | None = None
    _zone: ZoneInfo = field(init=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip():
            msg = f"name: give a calendar name without surrounding spaces, got {self.name!r}"
            raise ValueError(msg)
        object.__setattr__(self, "_zone", zone_of(self.tz))
        for label, value in (("open_time", self.open_time), ("close_time", self.close_time)):
            if not isinstance(value, time) or value.tzinfo is not None:
                msg = f"{label}: give a naive local time (the zone is tz), got {value!r}"
                raise ValueError(msg)
        weekdays = frozenset(self.weekdays)
        if not weekdays or not weekdays <= EVERY_DAY:
            msg = f"weekdays: give a non-empty set of 0 (Monday) to 6, got {self.weekdays!r}"
            raise ValueError(msg)
        object.__setattr__(self, "weekdays", weekdays)
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        early = dict(self.early_closes)
        for day, close in early.items():
            self._check_early_close(day, close)
        object.__setattr__(self, "early_closes", MappingProxyType(early))

    def _check_early_close(self, day: date, close: time) -> None:
        if day.weekday() not in self.weekdays or day in self.holidays:
            msg = f"early_closes: {day} does not trade (weekend or holiday) in {self.name}"
            raise ValueError(msg)
        if not isinstance(close, time) or close.tzinfo is not None:
            msg = f"early_closes: give a naive local time for {day}, got {close!r}"
            raise ValueError(msg)
        if self._ends_at_midnight:
            inside = self.open_time < close and close != _MIDNIGHT
        elif self._overnight:
            inside = close < self.close_time
        else:
            inside = self.open_time < close < self.close_time
        if not inside:
            msg = (
                f"early_closes: {day} closes at {close}, which is not inside the regular "
                f"session {self.open_time}-{self.close_time} of {self.name}"
            )
            raise ValueError(msg)

    def __repr__(self) -> str:
        return (
            f"ExchangeCalendar({self.name!r}, {self.tz!r}, "
            f"{self.open_time.isoformat()}-{self.close_time.isoformat()})"
        )

    @property
    def _ends_at_midnight(self) -> bool:
        return self.close_time == _MIDNIGHT

    @property
    def _overnight(self) -> bool:
        return not self._ends_at_midnight and self.close_time <= self.open_time

    # -- sessions ------------------------------------------------------------------------
    def session(self, day: date) -> Session | None:
        """Return the session of trading date ``day``; None on a weekend or holiday."""
        if self.holidays_through is not None and day > self.holidays_through:
            self._warn_past_list(day)
        if day.weekday() not in self.weekdays or day in self.holidays:
            return None
        close = self.early_closes.get(day, self.close_time)
        if self._ends_at_midnight and close == _MIDNIGHT:
            close_ns = self._local_ns(day + _ONE_DAY, _MIDNIGHT)
        else:
            close_ns = self._local_ns(day, close)
        open_day = day - _ONE_DAY if self._overnight else day
        return Session(self._local_ns(open_day, self.open_time), close_ns)

    def sessions(self, start_ns: int, end_ns: int) -> list[Session]:
        """Return the sessions that overlap ``[start_ns, end_ns)``, in time order.

        Raises
        ------
        ValueError
            If ``end_ns`` is before ``start_ns``.
        """
        if end_ns < start_ns:
            msg = f"end_ns ({end_ns}) is before start_ns ({start_ns})"
            raise ValueError(msg)
        found = []
        day, last = self._local_date(start_ns) - _ONE_DAY, self._local_date(end_ns) + _ONE_DAY
        while day <= last:
            session = self.session(day)
            if session is not None and session.close_ns > start_ns and session.open_ns < end_ns:
                found.append(session)
            day += _ONE_DAY
        return found

    def is_open(self, ts_ns: int) -> bool:
        """Tell whether the market is in a session at ``ts_ns``."""
        return bool(self.sessions(ts_ns, ts_ns + 1))

    def next_session(self, ts_ns: int) -> Session:
        """Return the session in progress at ``ts_ns``, else the next one to open."""
        for session in self._walk(self._local_date(ts_ns) - _ONE_DAY, forward=True):
            if session.close_ns > ts_ns:
                return session
        raise AssertionError("unreachable: _walk ends only after a session")  # pragma: no cover

    def previous_session(self, ts_ns: int) -> Session:
        """Return the last session to open at or before ``ts_ns`` (it may still be open)."""
        for session in self._walk(self._local_date(ts_ns) + _ONE_DAY, forward=False):
            if session.open_ns <= ts_ns:
                return session
        raise AssertionError("unreachable: _walk ends only after a session")  # pragma: no cover

    def next_open(self, ts_ns: int) -> int:
        """Return the first session open at or after ``ts_ns`` (UTC ns)."""
        session = self.next_session(ts_ns)
        if session.open_ns >= ts_ns:
            return session.open_ns
        return self.next_session(session.close_ns).open_ns

    # -- helpers -------------------------------------------------------------------------
    def _walk(self, day: date, *, forward: bool) -> Iterator[Session]:
        """Yield the sessions from trading date ``day`` on, forward or backward.

        Every week without a holiday has a trading day, so ``7 * (holidays + 2)`` days
        always hold the session a caller looks for.
        """
        step = _ONE_DAY if forward else -_ONE_DAY
        for _ in range(7 * (len(self.holidays) + 2) + 2):
            session = self.session(day)
            if session is not None:
                yield session
            day += step

    def _local_ns(self, day: date, at: time) -> int:
        return dt_to_ns(datetime.combine(day, at, tzinfo=self._zone))

    def _local_date(self, ts_ns: int) -> date:
        return ns_to_dt(ts_ns).astimezone(self._zone).date()

    def _warn_past_list(self, day: date) -> None:
        if self.name in _WARNED_PAST_LIST:
            return
        _WARNED_PAST_LIST.add(self.name)
        _log.warning(
            "calendar %s lists holidays and early closes only through %s, asked about %s: "
            "sessions after it come from weekdays alone; extend its holiday list",
            self.name,
            self.holidays_through,
            day,
        )


def zone_of(tz: str) -> ZoneInfo:
    """Return the IANA zone ``tz``; raise ValueError naming it if there is none."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        msg = f"tz: {tz!r} is not an IANA time zone name (e.g. 'America/New_York')"
        raise ValueError(msg) from None
