"""The built-in calendars: the NYSE list checked against the rules that make it."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from quantgrid.scheduler import ALWAYS_OPEN, XNYS
from tests.unit.scheduler.conftest import utc

YEARS = range(2024, 2029)


def easter(year: int) -> date:
    """Return Easter Sunday (the anonymous Gregorian algorithm, written independently)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    lam = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * lam) // 451
    month, day = divmod(h + lam - 7 * m + 114, 31)
    return date(year, month, day + 1)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """Return the ``n``-th ``weekday`` of the month (``n = -1``: the last)."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def observed(day: date) -> date:
    """Return the weekday a fixed-date holiday is observed on (Saturday -> Friday)."""
    return day + timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))


def test_easter_reference_matches_known_dates() -> None:
    assert [easter(y) for y in (2024, 2025, 2026)] == [
        date(2024, 3, 31),
        date(2025, 4, 20),
        date(2026, 4, 5),
    ]


@pytest.mark.parametrize("year", YEARS)
def test_each_years_holidays_follow_the_nyse_rules(year: int) -> None:
    expected = {
        nth_weekday(year, 1, 0, 3),  # Martin Luther King, Jr. Day
        nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        easter(year) - timedelta(days=2),  # Good Friday
        nth_weekday(year, 5, 0, -1),  # Memorial Day
        observed(date(year, 6, 19)),  # Juneteenth
        observed(date(year, 7, 4)),  # Independence Day
        nth_weekday(year, 9, 0, 1),  # Labor Day
        nth_weekday(year, 11, 3, 4),  # Thanksgiving Day
        observed(date(year, 12, 25)),  # Christmas Day
    }
    if date(year, 1, 1).weekday() != 5:  # NYSE Rule 7.2: no Friday before a Saturday 1 Jan
        expected.add(observed(date(year, 1, 1)))
    if year == 2025:
        expected.add(date(2025, 1, 9))  # unscheduled: national day of mourning

    listed = {day for day in XNYS.holidays if day.year == year}

    assert listed == expected


def test_no_holiday_falls_on_a_weekend_and_the_list_ends_with_2028() -> None:
    assert all(day.weekday() < 5 for day in XNYS.holidays)
    assert min(XNYS.holidays).year == 2024
    assert max(XNYS.holidays) <= XNYS.holidays_through == date(2028, 12, 31)
    assert XNYS.session(date(2027, 12, 31)) is not None  # 1 January 2028 is a Saturday


@pytest.mark.parametrize("year", YEARS)
def test_the_day_after_thanksgiving_closes_at_1pm(year: int) -> None:
    friday = nth_weekday(year, 11, 3, 4) + timedelta(days=1)

    assert XNYS.early_closes[friday] == time(13)


def test_early_closes_are_trading_days_closing_at_1pm() -> None:
    assert set(XNYS.early_closes.values()) == {time(13)}
    assert len(XNYS.early_closes) == 11
    for day in XNYS.early_closes:
        found = XNYS.session(day)
        assert found is not None
        assert found.close_ns - found.open_ns == 3 * 3_600_000_000_000 + 30 * 60_000_000_000


def test_always_open_never_closes() -> None:
    assert ALWAYS_OPEN.holidays_through is None
    assert all(ALWAYS_OPEN.is_open(utc(2024, 12, 25, h)) for h in range(24))
