"""Schedules: slot arithmetic, market-hours slots, DST, and one set of slots three ways."""

from __future__ import annotations

import itertools
from datetime import time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantgrid.scheduler import (
    ALWAYS_OPEN,
    MON_TO_FRI,
    XNYS,
    AtSessionClose,
    AtSessionOpen,
    Daily,
    DuringSession,
    Every,
    ExchangeCalendar,
    Schedule,
)
from tests.unit.scheduler.conftest import DAY_NS, HOUR_NS, MINUTE_NS, utc

FIVE_MINUTES = timedelta(minutes=5)


# -- Every -----------------------------------------------------------------------------------
@given(
    interval_us=st.integers(1_000, 10**9),
    anchor=st.integers(-(10**15), 10**15),
    start=st.integers(-(10**15), 10**15),
    length=st.integers(0, 2 * 10**9),
)
def test_every_lists_exactly_the_anchor_plus_multiples_of_the_interval(
    interval_us: int, anchor: int, start: int, length: int
) -> None:
    every = Every(timedelta(microseconds=interval_us), anchor_ns=anchor)
    step = interval_us * 1_000  # a timedelta resolves microseconds
    end = start + length
    # The reference: every multiple from safely before the window, kept if inside it.
    k0 = (start - anchor) // step - 2
    near = (anchor + k * step for k in range(k0, k0 + length // step + 5))

    slots = every.slots_between(start, end)

    assert slots == [s for s in near if start <= s < end]


@given(
    minutes=st.integers(1, 24 * 60),
    anchor=st.integers(-(10**18), 10**18),
    ts=st.integers(-(10**18), 10**18),
)
def test_every_steps_to_the_neighbouring_slots(minutes: int, anchor: int, ts: int) -> None:
    every = Every(timedelta(minutes=minutes), anchor_ns=anchor)
    step = minutes * MINUTE_NS

    after, latest = every.next_slot(ts), every.latest_slot(ts)

    assert latest <= ts < after == latest + step
    assert (after - anchor) % step == 0


def test_every_hour_falls_on_the_hour_in_utc_by_default() -> None:
    hourly = Every(timedelta(hours=1))

    assert hourly.next_slot(utc(2024, 1, 2, 9, 59, 59)) == utc(2024, 1, 2, 10)
    assert hourly.next_slot(utc(2024, 1, 2, 10)) == utc(2024, 1, 2, 11)  # strictly after
    assert hourly.latest_slot(utc(2024, 1, 2, 10)) == utc(2024, 1, 2, 10)


# -- Daily -----------------------------------------------------------------------------------
def test_daily_keeps_the_local_time_across_the_march_change() -> None:
    evening = Daily(time(16, 30), "America/New_York", weekdays=MON_TO_FRI)

    slots = evening.slots_between(utc(2024, 3, 7), utc(2024, 3, 13))

    assert slots == [
        utc(2024, 3, 7, 21, 30),
        utc(2024, 3, 8, 21, 30),
        utc(2024, 3, 11, 20, 30),  # EDT from Sunday 10 March
        utc(2024, 3, 12, 20, 30),
    ]


def test_daily_reads_a_missing_local_time_an_hour_later_and_a_doubled_one_first() -> None:
    gap = Daily(time(2, 30), "America/New_York")
    fold = Daily(time(1, 30), "America/New_York")

    assert gap.slots_between(utc(2024, 3, 9), utc(2024, 3, 12)) == [
        utc(2024, 3, 9, 7, 30),
        utc(2024, 3, 10, 7, 30),  # 03:30 EDT: 02:30 never happened
        utc(2024, 3, 11, 6, 30),
    ]
    assert fold.slots_between(utc(2024, 11, 2), utc(2024, 11, 5)) == [
        utc(2024, 11, 2, 5, 30),
        utc(2024, 11, 3, 5, 30),  # the first 01:30 (EDT)
        utc(2024, 11, 4, 6, 30),
    ]


def test_daily_in_utc_is_one_slot_every_day() -> None:
    midnight = Daily(time(0))

    assert midnight.next_slot(utc(2024, 2, 28, 12)) == utc(2024, 2, 29)
    assert midnight.latest_slot(utc(2024, 2, 29)) == utc(2024, 2, 29)


# -- at the open and the close -----------------------------------------------------------------
def test_at_session_open_with_a_negative_offset_runs_before_each_open() -> None:
    pre_open = AtSessionOpen(XNYS, offset=timedelta(minutes=-15))

    slots = pre_open.slots_between(utc(2024, 3, 8), utc(2024, 3, 12))

    assert slots == [utc(2024, 3, 8, 14, 15), utc(2024, 3, 11, 13, 15)]
    assert pre_open.next_slot(utc(2024, 3, 8, 14, 15)) == utc(2024, 3, 11, 13, 15)
    assert pre_open.latest_slot(utc(2024, 3, 11, 13, 14)) == utc(2024, 3, 8, 14, 15)


def test_at_session_close_follows_early_closes_and_skips_holidays() -> None:
    after_close = AtSessionClose(XNYS, offset=timedelta(minutes=10))

    slots = after_close.slots_between(utc(2024, 11, 27), utc(2024, 12, 3))

    assert slots == [
        utc(2024, 11, 27, 21, 10),
        utc(2024, 11, 29, 18, 10),  # early close at 13:00 New York time
        utc(2024, 12, 2, 21, 10),
    ]
    assert after_close.latest_slot(utc(2024, 11, 29, 18, 9)) == utc(2024, 11, 27, 21, 10)
    assert after_close.next_slot(utc(2024, 11, 27, 21, 10)) == utc(2024, 11, 29, 18, 10)


# -- during the session ------------------------------------------------------------------------
def test_every_five_minutes_from_the_open_moves_with_dst_in_utc() -> None:
    cycle = DuringSession(XNYS, every=FIVE_MINUTES)

    friday = cycle.slots_between(utc(2024, 3, 8), utc(2024, 3, 9))
    monday = cycle.slots_between(utc(2024, 3, 11), utc(2024, 3, 12))

    assert len(friday) == len(monday) == 78  # 6.5 hours, the close excluded
    assert (friday[0], friday[-1]) == (utc(2024, 3, 8, 14, 30), utc(2024, 3, 8, 20, 55))
    assert (monday[0], monday[-1]) == (utc(2024, 3, 11, 13, 30), utc(2024, 3, 11, 19, 55))
    assert cycle.slots_between(utc(2024, 3, 9), utc(2024, 3, 11)) == []  # the weekend


def test_offset_and_close_slots_on_an_early_close() -> None:
    cycle = DuringSession(XNYS, every=FIVE_MINUTES, offset_after_open=timedelta(minutes=1))
    with_close = DuringSession(XNYS, every=timedelta(minutes=30), include_close=True)

    short_day = cycle.slots_between(utc(2024, 11, 29), utc(2024, 11, 30))
    half_hours = with_close.slots_between(utc(2024, 11, 29), utc(2024, 11, 30))

    assert (short_day[0], short_day[-1], len(short_day)) == (
        utc(2024, 11, 29, 14, 31),
        utc(2024, 11, 29, 17, 56),
        42,
    )
    assert half_hours == [utc(2024, 11, 29, 14, 30) + k * 30 * MINUTE_NS for k in range(8)]
    assert half_hours[-1] == utc(2024, 11, 29, 18)  # the close, landed on by the steps once


def test_a_24_7_market_with_close_slots_has_no_double_slot_at_midnight() -> None:
    hourly = DuringSession(ALWAYS_OPEN, every=timedelta(hours=1), include_close=True)

    slots = hourly.slots_between(utc(2024, 1, 1, 22), utc(2024, 1, 2, 2))

    assert slots == [utc(2024, 1, 1, 22) + k * HOUR_NS for k in range(4)]


def test_a_session_shorter_than_the_offset_has_only_its_close() -> None:
    late = DuringSession(XNYS, every=FIVE_MINUTES, offset_after_open=timedelta(hours=4))
    late_with_close = DuringSession(
        XNYS, every=FIVE_MINUTES, offset_after_open=timedelta(hours=4), include_close=True
    )

    assert late.slots_between(utc(2024, 11, 29), utc(2024, 11, 30)) == []
    assert late_with_close.slots_between(utc(2024, 11, 29), utc(2024, 11, 30)) == [
        utc(2024, 11, 29, 18)
    ]
    assert late.next_slot(utc(2024, 11, 29)) == utc(2024, 12, 2, 18, 30)


def test_a_schedule_with_no_slot_in_any_session_ends() -> None:
    never = DuringSession(XNYS, every=FIVE_MINUTES, offset_after_open=timedelta(hours=7))

    assert never.next_slot(utc(2024, 1, 2)) is None
    assert never.latest_slot(utc(2024, 1, 2)) is None


# -- the three views of one set of slots agree ----------------------------------------------
GLOBEX = ExchangeCalendar("GLBX", "America/Chicago", time(17), time(16))
SCHEDULES: dict[str, Schedule] = {
    "every-7m": Every(timedelta(minutes=7), anchor_ns=utc(2024, 1, 1, 0, 3)),
    "daily-ny": Daily(time(2, 30), "America/New_York", weekdays=frozenset({0, 2, 6})),
    "open-minus-30m": AtSessionOpen(XNYS, offset=timedelta(minutes=-30)),
    "close-plus-1h": AtSessionClose(XNYS, offset=timedelta(hours=1)),
    "xnys-every-25m": DuringSession(
        XNYS, every=timedelta(minutes=25), offset_after_open=timedelta(minutes=2)
    ),
    "xnys-hourly-close": DuringSession(XNYS, every=timedelta(hours=1), include_close=True),
    "globex-every-3h": DuringSession(GLOBEX, every=timedelta(hours=3), include_close=True),
    "crypto-every-45m": DuringSession(ALWAYS_OPEN, every=timedelta(minutes=45)),
}
#: A March and a November change of clocks, Thanksgiving and Christmas, in reach.
times = st.sampled_from([utc(2024, 3, 6), utc(2024, 10, 30), utc(2024, 11, 25)]).flatmap(
    lambda base: st.integers(base, base + 8 * DAY_NS)
)


@pytest.mark.parametrize("name", SCHEDULES)
@given(ts=times, window_h=st.integers(0, 96))
def test_listing_and_stepping_agree(name: str, ts: int, window_h: int) -> None:
    schedule = SCHEDULES[name]
    end = ts + window_h * HOUR_NS

    listed = schedule.slots_between(ts, end)
    stepped, slot = [], schedule.next_slot(ts - 1)
    while slot is not None and slot < end:
        stepped.append(slot)
        slot = schedule.next_slot(slot)

    assert listed == stepped
    assert all(a < b for a, b in itertools.pairwise(listed))


@pytest.mark.parametrize("name", SCHEDULES)
@given(ts=times)
def test_next_and_latest_slot_bracket_a_time(name: str, ts: int) -> None:
    schedule = SCHEDULES[name]

    after, latest = schedule.next_slot(ts), schedule.latest_slot(ts)

    assert after is not None and latest is not None
    assert latest <= ts < after
    assert schedule.latest_slot(after) == after
    assert schedule.latest_slot(after - 1) == latest  # nothing in between
    assert schedule.next_slot(latest) == after


@given(ts=times)
def test_market_hours_slots_lie_inside_sessions_on_the_grid(ts: int) -> None:
    cycle = SCHEDULES["xnys-every-25m"]

    for slot in cycle.slots_between(ts, ts + 4 * DAY_NS):
        session = XNYS.previous_session(slot)
        assert XNYS.is_open(slot)
        assert (slot - session.open_ns - 2 * MINUTE_NS) % (25 * MINUTE_NS) == 0


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Every(timedelta(0)), ValueError, "interval must be positive"),
        (lambda: Every(60), TypeError, "interval: give a datetime.timedelta, got 60"),
        (lambda: Daily(time(9), "Nowhere/Land"), ValueError, "tz: 'Nowhere/Land'"),
        (lambda: Daily(time(9), weekdays=frozenset({8})), ValueError, "weekdays"),
        (lambda: Daily("09:00"), ValueError, "at: give a naive local time"),
        (
            lambda: AtSessionOpen(XNYS, offset=timedelta(days=1)),
            ValueError,
            "offset must be within a day",
        ),
        (
            lambda: AtSessionClose(XNYS, offset=timedelta(days=-2)),
            ValueError,
            "offset must be within a day",
        ),
        (lambda: DuringSession(XNYS, every=timedelta(0)), ValueError, "every must be positive"),
        (
            lambda: DuringSession(XNYS, FIVE_MINUTES, offset_after_open=timedelta(minutes=-1)),
            ValueError,
            "offset_after_open must be 0 or more",
        ),
    ],
)
def test_bad_input_is_refused_naming_it(make: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("name", SCHEDULES)
def test_a_window_that_ends_before_it_starts_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="is before start_ns"):
        SCHEDULES[name].slots_between(utc(2024, 1, 2), utc(2024, 1, 1))
