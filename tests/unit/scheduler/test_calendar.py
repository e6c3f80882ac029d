"""``ExchangeCalendar``: sessions in local time, DST, holidays, early closes, overnight."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantgrid.scheduler import ALWAYS_OPEN, EVERY_DAY, XNYS, ExchangeCalendar, Session
from tests.unit.scheduler.conftest import HOUR_NS, utc

NEW_YORK = ZoneInfo("America/New_York")
#: Any time in the years the XNYS holiday list covers.
xnys_times = st.integers(utc(2024, 1, 1), utc(2028, 12, 31))


def session(open_: tuple[int, ...], close: tuple[int, ...]) -> Session:
    return Session(utc(*open_), utc(*close))


# -- New York: hours in UTC move with daylight-saving time ---------------------------------
def test_a_winter_session_is_14_30_to_21_00_utc() -> None:
    assert XNYS.session(date(2024, 1, 2)) == session((2024, 1, 2, 14, 30), (2024, 1, 2, 21))


def test_the_march_change_moves_the_utc_open_an_hour_earlier() -> None:
    # Clocks went forward on Sunday 10 March 2024.
    assert XNYS.session(date(2024, 3, 8)) == session((2024, 3, 8, 14, 30), (2024, 3, 8, 21))
    assert XNYS.session(date(2024, 3, 11)) == session((2024, 3, 11, 13, 30), (2024, 3, 11, 20))


def test_the_november_change_moves_the_utc_open_an_hour_later() -> None:
    # Clocks went back on Sunday 3 November 2024.
    assert XNYS.session(date(2024, 11, 1)) == session((2024, 11, 1, 13, 30), (2024, 11, 1, 20))
    assert XNYS.session(date(2024, 11, 4)) == session((2024, 11, 4, 14, 30), (2024, 11, 4, 21))


def test_is_open_holds_from_the_open_to_just_before_the_close() -> None:
    open_, close = utc(2024, 3, 11, 13, 30), utc(2024, 3, 11, 20)

    assert not XNYS.is_open(open_ - 1)
    assert XNYS.is_open(open_)
    assert XNYS.is_open(close - 1)
    assert not XNYS.is_open(close)


# -- holidays, weekends, early closes ------------------------------------------------------
@pytest.mark.parametrize(
    "day",
    [date(2024, 12, 25), date(2025, 1, 9), date(2026, 7, 3), date(2024, 3, 9), date(2024, 3, 10)],
    ids=["christmas", "carter-mourning", "july-4-observed", "saturday", "sunday"],
)
def test_holidays_and_weekends_have_no_session(day: date) -> None:
    assert XNYS.session(day) is None
    noon_in_new_york = datetime.combine(day, time(12), tzinfo=NEW_YORK)
    assert not XNYS.is_open(int(noon_in_new_york.timestamp()) * 1_000_000_000)


def test_an_early_close_ends_the_session_at_1pm() -> None:
    friday = XNYS.session(date(2024, 11, 29))  # the day after Thanksgiving, EST
    july_3 = XNYS.session(date(2024, 7, 3))  # EDT

    assert friday == session((2024, 11, 29, 14, 30), (2024, 11, 29, 18))
    assert july_3 == session((2024, 7, 3, 13, 30), (2024, 7, 3, 17))
    assert not XNYS.is_open(utc(2024, 11, 29, 18, 30))


def test_sessions_lists_those_overlapping_the_window_in_order() -> None:
    # Thanksgiving week 2024: Thursday is a holiday, Friday closes early.
    found = XNYS.sessions(utc(2024, 11, 25), utc(2024, 12, 2))

    assert found == [
        session((2024, 11, 25, 14, 30), (2024, 11, 25, 21)),
        session((2024, 11, 26, 14, 30), (2024, 11, 26, 21)),
        session((2024, 11, 27, 14, 30), (2024, 11, 27, 21)),
        session((2024, 11, 29, 14, 30), (2024, 11, 29, 18)),
    ]


def test_sessions_are_half_open_windows() -> None:
    open_, close = utc(2024, 1, 2, 14, 30), utc(2024, 1, 2, 21)

    assert XNYS.sessions(open_ - HOUR_NS, open_) == []  # ends at the open
    assert XNYS.sessions(close, close + HOUR_NS) == []  # starts at the close
    assert XNYS.sessions(close - 1, close) == [Session(open_, close)]
    assert XNYS.sessions(open_, open_) == []


def test_sessions_refuses_a_window_that_ends_before_it_starts() -> None:
    with pytest.raises(ValueError, match=r"end_ns \(1\) is before start_ns \(2\)"):
        XNYS.sessions(2, 1)


# -- stepping through sessions -------------------------------------------------------------
def test_next_open_skips_the_weekend_and_a_holiday() -> None:
    friday_evening = utc(2024, 3, 8, 22)
    christmas_eve_after_close = utc(2024, 12, 24, 19)

    assert XNYS.next_open(friday_evening) == utc(2024, 3, 11, 13, 30)
    assert XNYS.next_open(christmas_eve_after_close) == utc(2024, 12, 26, 14, 30)


def test_next_open_is_the_open_itself_at_the_open_and_the_next_one_inside() -> None:
    open_ = utc(2024, 1, 2, 14, 30)

    assert XNYS.next_open(open_) == open_
    assert XNYS.next_open(open_ + 1) == utc(2024, 1, 3, 14, 30)


def test_next_and_previous_session_around_a_session() -> None:
    tuesday = XNYS.session(date(2024, 1, 2))
    wednesday = XNYS.session(date(2024, 1, 3))
    assert tuesday is not None and wednesday is not None

    assert XNYS.next_session(tuesday.open_ns + 1) == tuesday  # in progress
    assert XNYS.next_session(tuesday.close_ns) == wednesday
    assert XNYS.previous_session(tuesday.close_ns + HOUR_NS) == tuesday
    assert XNYS.previous_session(wednesday.open_ns - 1) == tuesday


@given(xnys_times)
def test_stepping_agrees_with_is_open(ts: int) -> None:
    before, after = XNYS.previous_session(ts), XNYS.next_session(ts)

    assert before.open_ns <= ts < after.close_ns
    assert XNYS.is_open(ts) == (before == after) == (before.close_ns > ts)
    opens = XNYS.next_open(ts)
    assert opens >= ts
    assert XNYS.is_open(opens)
    # no session opens between ts and the next open
    assert all(s.open_ns < ts for s in XNYS.sessions(ts, opens))


@given(xnys_times)
def test_every_session_opens_at_9_30_and_closes_at_16_or_13_in_new_york(ts: int) -> None:
    found = XNYS.next_session(ts)
    open_local = datetime.fromtimestamp(found.open_ns / 1e9, tz=NEW_YORK)
    close_local = datetime.fromtimestamp(found.close_ns / 1e9, tz=NEW_YORK)

    assert open_local.time() == time(9, 30)
    assert close_local.time() in (time(16), time(13))
    assert open_local.date() == close_local.date()
    assert open_local.weekday() < 5


# -- other shapes of calendar --------------------------------------------------------------
def test_always_open_is_open_at_any_time_in_back_to_back_utc_days() -> None:
    ts = utc(2024, 3, 10, 7, 15)

    assert ALWAYS_OPEN.is_open(ts)
    assert ALWAYS_OPEN.sessions(ts, ts + 1) == [Session(utc(2024, 3, 10), utc(2024, 3, 11))]
    assert ALWAYS_OPEN.next_open(ts) == utc(2024, 3, 11)
    days = ALWAYS_OPEN.sessions(utc(2024, 3, 9), utc(2024, 3, 12))
    assert [s.close_ns for s in days[:-1]] == [s.open_ns for s in days[1:]]


def test_an_overnight_session_opens_the_evening_before_its_date() -> None:
    # Futures-like: 17:00 to 16:00 Chicago time, Monday's session opening on Sunday.
    globex = ExchangeCalendar("GLBX", "America/Chicago", time(17), time(16))

    assert globex.session(date(2024, 1, 8)) == session((2024, 1, 7, 23), (2024, 1, 8, 22))
    assert globex.session(date(2024, 1, 6)) is None  # Saturday
    assert globex.is_open(utc(2024, 1, 8, 2))
    assert not globex.is_open(utc(2024, 1, 8, 22, 30))  # the daily break
    assert globex.next_open(utc(2024, 1, 8, 22, 30)) == utc(2024, 1, 8, 23)


def test_a_local_open_in_the_spring_forward_gap_lands_an_hour_later() -> None:
    # 02:30 did not exist in New York on 10 March 2024: read with the old offset (EST).
    night = ExchangeCalendar("NIGHT", "America/New_York", time(2, 30), time(5), EVERY_DAY)
    twice = ExchangeCalendar("TWICE", "America/New_York", time(1, 30), time(5), EVERY_DAY)

    assert night.session(date(2024, 3, 10)) == session((2024, 3, 10, 7, 30), (2024, 3, 10, 9))
    # 01:30 happened twice on 3 November 2024: the first time (EDT) counts.
    assert twice.session(date(2024, 11, 3)) == session((2024, 11, 3, 5, 30), (2024, 11, 3, 10))


# -- a list that ran out ---------------------------------------------------------------------
def test_a_date_past_the_holiday_list_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    calendar = replace(XNYS, name=f"XNYS-{uuid.uuid4().hex[:8]}")

    with caplog.at_level(logging.WARNING, logger="quantgrid.scheduler"):
        assert calendar.session(date(2028, 12, 29)) is not None
        assert calendar.session(date(2029, 1, 2)) is not None  # weekdays alone
        calendar.session(date(2029, 1, 3))

    warnings = [r.getMessage() for r in caplog.records if calendar.name in r.getMessage()]
    assert len(warnings) == 1
    assert "only through 2028-12-31" in warnings[0]
    assert "extend its holiday list" in warnings[0]


def test_the_calendar_repr_is_short() -> None:
    assert repr(XNYS) == "ExchangeCalendar('XNYS', 'America/New_York', 09:30:00-16:00:00)"


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "name: give a calendar name"),
        ({"tz": "Mars/Olympus"}, "tz: 'Mars/Olympus' is not an IANA time zone"),
        ({"open_time": time(9, tzinfo=UTC)}, "open_time: give a naive local time"),
        ({"close_time": "16:00"}, "close_time: give a naive local time"),
        ({"weekdays": frozenset()}, "weekdays: give a non-empty set"),
        ({"weekdays": frozenset({5, 7})}, "weekdays: give a non-empty set"),
        (
            {"early_closes": {date(2024, 12, 25): time(13)}},
            "early_closes: 2024-12-25 does not trade",
        ),
        (
            {"early_closes": {date(2024, 12, 23): time(17)}},
            "early_closes: 2024-12-23 closes at 17:00:00, which is not inside",
        ),
        (
            {"early_closes": {date(2024, 12, 23): time(9)}},
            "which is not inside the regular session 09:30:00-16:00:00 of XNYS",
        ),
    ],
)
def test_bad_input_is_refused_naming_it(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "name": "XNYS",
        "tz": "America/New_York",
        "open_time": time(9, 30),
        "close_time": time(16),
        "holidays": frozenset({date(2024, 12, 25)}),
    }
    with pytest.raises(ValueError, match=message):
        ExchangeCalendar(**(fields | changes))  # type: ignore[arg-type]


def test_a_midnight_close_takes_an_early_close_after_the_open_only() -> None:
    late = ExchangeCalendar("LATE", "UTC", time(8), time(0), EVERY_DAY)
    ok = replace(late, early_closes={date(2024, 1, 2): time(20)})

    assert ok.session(date(2024, 1, 2)) == session((2024, 1, 2, 8), (2024, 1, 2, 20))
    assert late.session(date(2024, 1, 2)) == Session(utc(2024, 1, 2, 8), utc(2024, 1, 3))
    with pytest.raises(ValueError, match="not inside the regular session"):
        replace(late, early_closes={date(2024, 1, 2): time(7)})
