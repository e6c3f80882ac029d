"""Schedules: each maps time to the discrete slots (UTC ns) a recurring job runs for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from quantgrid.core import dt_to_ns, ns_to_dt
from quantgrid.scheduler._calendar import EVERY_DAY, ExchangeCalendar, Session, zone_of

_ONE_DAY = timedelta(days=1)
_ONE_DAY_NS = 86_400 * 1_000_000_000
#: Sessions a ``DuringSession`` looks through for a slot before it gives up.
_MAX_SESSIONS_SCANNED = 10_000


class Schedule(Protocol):
    """When a recurring job is due: a deterministic, ordered set of slot times.

    Notes
    -----
    A slot is a UTC nanosecond time; a job runs at most once per slot. The three
    methods describe one set of slots: ``slots_between`` lists them, ``next_slot``
    and ``latest_slot`` step through them, and the same time always gives the same
    answer.
    """

    def slots_between(self, start_ns: int, end_ns: int) -> list[int]:
        """Return the slots in ``[start_ns, end_ns)``, ascending."""
        ...

    def next_slot(self, after_ns: int) -> int | None:
        """Return the first slot strictly after ``after_ns``; None if there is none."""
        ...

    def latest_slot(self, at_ns: int) -> int | None:
        """Return the last slot at or before ``at_ns``; None if there is none."""
        ...


def _duration_ns(value: timedelta, label: str) -> int:
    if not isinstance(value, timedelta):
        msg = f"{label}: give a datetime.timedelta, got {value!r}"
        raise TypeError(msg)
    return (value // timedelta(microseconds=1)) * 1_000


def _check_range(start_ns: int, end_ns: int) -> None:
    if end_ns < start_ns:
        msg = f"end_ns ({end_ns}) is before start_ns ({start_ns})"
        raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Every:
    """Slots at ``anchor_ns + k * interval`` for every integer ``k``, around the clock.

    Parameters
    ----------
    interval
        The time between two slots (positive).
    anchor_ns
        One slot (UTC ns); the epoch by default, so ``Every(timedelta(hours=1))`` falls
        on the hour in UTC.
    """

    interval: timedelta
    anchor_ns: int = 0
    _step: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        step = _duration_ns(self.interval, "interval")
        if step <= 0:
            msg = f"interval must be positive, got {self.interval}"
            raise ValueError(msg)
        object.__setattr__(self, "_step", step)

    def slots_between(self, start_ns: int, end_ns: int) -> list[int]:
        """Return the slots in ``[start_ns, end_ns)``, ascending."""
        _check_range(start_ns, end_ns)
        first = self.anchor_ns + -((self.anchor_ns - start_ns) // self._step) * self._step
        return list(range(first, end_ns, self._step))

    def next_slot(self, after_ns: int) -> int:
        """Return the first slot strictly after ``after_ns``."""
        return self.anchor_ns + ((after_ns - self.anchor_ns) // self._step + 1) * self._step

    def latest_slot(self, at_ns: int) -> int:
        """Return the last slot at or before ``at_ns``."""
        return self.anchor_ns + ((at_ns - self.anchor_ns) // self._step) * self._step


@dataclass(frozen=True, slots=True)
class Daily:
    """One slot a day at a local wall-clock time, on the chosen weekdays.

    Parameters
    ----------
    at
        The local time (naive).
    tz
        The IANA time zone ``at`` is in; UTC by default.
    weekdays
        The weekdays with a slot (``date.weekday()`` numbers, Monday is 0); every day
        by default.

    Notes
    -----
    The UTC slot follows daylight-saving time. A time that does not exist that day
    (the spring-forward gap) falls one hour later on the wall clock; one that occurs
    twice (fall back) is its first occurrence. Holidays are not skipped: use
    ``AtSessionOpen`` or ``AtSessionClose`` for a market's days.
    """

    at: time
    tz: str = "UTC"
    weekdays: frozenset[int] = EVERY_DAY
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.at, time) or self.at.tzinfo is not None:
            msg = f"at: give a naive local time (the zone is tz), got {self.at!r}"
            raise ValueError(msg)
        object.__setattr__(self, "_zone", zone_of(self.tz))
        weekdays = frozenset(self.weekdays)
        if not weekdays or not weekdays <= EVERY_DAY:
            msg = f"weekdays: give a non-empty set of 0 (Monday) to 6, got {self.weekdays!r}"
            raise ValueError(msg)
        object.__setattr__(self, "weekdays", weekdays)

    def _slot(self, day: date) -> int | None:
        if day.weekday() not in self.weekdays:
            return None
        return dt_to_ns(datetime.combine(day, self.at, tzinfo=self._zone))

    def _local_date(self, ts_ns: int) -> date:
        return ns_to_dt(ts_ns).astimezone(self._zone).date()

    def slots_between(self, start_ns: int, end_ns: int) -> list[int]:
        """Return the slots in ``[start_ns, end_ns)``, ascending."""
        _check_range(start_ns, end_ns)
        found = []
        day, last = self._local_date(start_ns) - _ONE_DAY, self._local_date(end_ns) + _ONE_DAY
        while day <= last:
            slot = self._slot(day)
            if slot is not None and start_ns <= slot < end_ns:
                found.append(slot)
            day += _ONE_DAY
        return found

    def next_slot(self, after_ns: int) -> int:
        """Return the first slot strictly after ``after_ns``."""
        day = self._local_date(after_ns) - _ONE_DAY
        while True:  # a slot comes within 9 days: a weekday recurs within 7
            slot = self._slot(day)
            if slot is not None and slot > after_ns:
                return slot
            day += _ONE_DAY

    def latest_slot(self, at_ns: int) -> int:
        """Return the last slot at or before ``at_ns``."""
        day = self._local_date(at_ns) + _ONE_DAY
        while True:
            slot = self._slot(day)
            if slot is not None and slot <= at_ns:
                return slot
            day -= _ONE_DAY


def _offset_within_a_day(offset: timedelta, label: str) -> int:
    offset_ns = _duration_ns(offset, label)
    if not -_ONE_DAY_NS < offset_ns < _ONE_DAY_NS:
        msg = f"{label} must be within a day either way, got {offset}"
        raise ValueError(msg)
    return offset_ns


@dataclass(frozen=True, slots=True)
class AtSessionOpen:
    """One slot per session of ``calendar``, at its open plus ``offset``.

    ``offset`` may be negative (a slot before the open) and stays within a day.
    """

    calendar: ExchangeCalendar
    offset: timedelta = timedelta(0)
    _offset: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_offset", _offset_within_a_day(self.offset, "offset"))

    def slots_between(self, start_ns: int, end_ns: int) -> list[int]:
        """Return the slots in ``[start_ns, end_ns)``, ascending."""
        _check_range(start_ns, end_ns)
        sessions = self.calendar.sessions(start_ns - _ONE_DAY_NS, end_ns + _ONE_DAY_NS)
        slots = (s.open_ns + self._offset for s in sessions)
        return [slot for slot in slots if start_ns <= slot < end_ns]

    def next_slot(self, after_ns: int) -> int:
        """Return the first slot strictly after ``after_ns``."""
        return self.calendar.next_open(after_ns - self._offset + 1) + self._offset

    def latest_slot(self, at_ns: int) -> int:
        """Return the last slot at or before ``at_ns``."""
        return self.calendar.previous_session(at_ns - self._offset).open_ns + self._offset


@dataclass(frozen=True, slots=True)
class AtSessionClose:
    """One slot per session of ``calendar``, at its close plus ``offset``.

    Early closes move the slot with the close. ``offset`` may be negative (a slot
    before the close) and stays within a day.
    """

    calendar: ExchangeCalendar
    offset: timedelta = timedelta(0)
    _offset: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_offset", _offset_within_a_day(self.offset, "offset"))

    def slots_between(self, start_ns: int, end_ns: int) -> list[int]:
        """Return the slots in ``[start_ns, end_ns)``, ascending."""
        _check_range(start_ns, end_ns)
        sessions = self.calendar.sessions(start_ns - _ONE_DAY_NS, end_ns + _ONE_DAY_NS)
        slots = (s.close_ns + self._offset for s in sessions)
        return [slot for slot in slots if start_ns <= slot < end_ns]

    def next_slot(self, after_ns: int) -> int:
        """Return the first slot strictly after ``after_ns``."""
        return self.calendar.next_session(after_ns - self._offset).close_ns + self._offset

    def latest_slot(self, at_ns: int) -> int:
        """Return the last slot at or before ``at_ns``."""
        edge = at_ns - self._offset
        session = self.calendar.previous_session(edge)
        if session.close_ns > edge:  # still open at the edge: its close is not yet due
            session = self.calendar.previous_session(session.open_ns - 1)
        return session.close_ns + self._offset


@dataclass(frozen=True, slots=True)
class DuringSession:
    """Slots inside each session of ``calendar``: every ``every`` from the open.

    Parameters
    ----------
    calendar
        The market whose sessions hold the slots.
    every
        The time between two slots of a session (positive).
    offset_after_open
        Where a session's first slot falls after its open (0 or more, shorter than a
        day); the slots run ``open + offset_after_open + k * every`` while before the
        close.
    include_close
        Add a slot at each session's close too (once, if the steps land on it).

    Notes
    -----
    Slots restart at every open, so they keep to the open across daylight-saving
    changes and after early closes; a session shorter than ``offset_after_open`` has
    no slot (but its close, with ``include_close``).
    """

    calendar: ExchangeCalendar
    every: timedelta
    offset_after_open: timedelta = timedelta(0)
    include_close: bool = False
    _step: int = field(init=False, repr=False, compare=False)
    _offset: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        step = _duration_ns(self.every, "every")
        if step <= 0:
            msg = f"every must be positive, got {self.every}"
            raise ValueError(msg)
        offset = _duration_ns(self.offset_after_open, "offset_after_open")
        if not 0 <= offset < _ONE_DAY_NS:
            msg = (
                f"offset_after_open must be 0 or more and under a day, got {self.offset_after_open}"
            )
            raise ValueError(msg)
        object.__setattr__(self, "_step", step)
        object.__setattr__(self, "_offset", offset)

    def _in_session(self, session: Session) -> list[int]:
        first = session.open_ns + self._offset
        slots = list(range(first, session.close_ns, self._step))
        if self.include_close:
            slots.append(session.close_ns)
        return slots

    def _first_after(self, session: Session, after_ns: int) -> int | None:
        first = session.open_ns + self._offset
        k = 0 if after_ns < first else (after_ns - first) // self._step + 1
        slot = first + k * self._step
        if slot < session.close_ns:
            return slot
        if self.include_close and session.close_ns > after_ns:
            return session.close_ns
        return None

    def _last_at_or_before(self, session: Session, at_ns: int) -> int | None:
        if self.include_close and session.close_ns <= at_ns:
            return session.close_ns
        first = session.open_ns + self._offset
        if at_ns < first or first >= session.close_ns:
            return None
        last_k = (session.close_ns - first - 1) // self._step  # the last slot before close
        return first + min((at_ns - first) // self._step, last_k) * self._step

    def slots_between(self, start_ns: int, end_ns: int) -> list[int]:
        """Return the slots in ``[start_ns, end_ns)``, ascending."""
        _check_range(start_ns, end_ns)
        # A close at start_ns is a slot with include_close: ask from just before it.
        slots = {
            slot
            for session in self.calendar.sessions(start_ns - 1, end_ns)
            for slot in self._in_session(session)
            if start_ns <= slot < end_ns
        }
        return sorted(slots)

    def next_slot(self, after_ns: int) -> int | None:
        """Return the first slot strictly after ``after_ns``.

        None only if no session among the next 10,000 has a slot (an offset longer
        than every session).
        """
        session = self.calendar.next_session(after_ns)
        for _ in range(_MAX_SESSIONS_SCANNED):
            slot = self._first_after(session, after_ns)
            if slot is not None:
                return slot
            session = self.calendar.next_session(session.close_ns)
        return None

    def latest_slot(self, at_ns: int) -> int | None:
        """Return the last slot at or before ``at_ns``.

        None only if no session among the last 10,000 has a slot.
        """
        session = self.calendar.previous_session(at_ns)
        for _ in range(_MAX_SESSIONS_SCANNED):
            slot = self._last_at_or_before(session, at_ns)
            if slot is not None:
                return slot
            session = self.calendar.previous_session(session.open_ns - 1)
        return None
