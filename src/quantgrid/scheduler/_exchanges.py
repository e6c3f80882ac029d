"""Built-in calendars: the New York Stock Exchange and a market that never closes.

The NYSE holidays and early closes are a fixed list, copied from NYSE Group's
announcements of its holiday and early-closings calendars (published each year for the
next three: December 2021 for 2024, November 2024 for 2025-2027, December 2025 for
2026-2028), plus the unscheduled closure of 9 January 2025 (national day of mourning
for President Carter). The list ends with 2028: extend ``_XNYS_HOLIDAYS`` and
``_XNYS_EARLY_CLOSES`` from the next announcement (and any unscheduled closure) and move
``holidays_through``; past it the calendar logs a warning and knows weekdays only.
"""

from __future__ import annotations

from datetime import date, time

from quantgrid.scheduler._calendar import EVERY_DAY, MON_TO_FRI, ExchangeCalendar

_XNYS_HOLIDAYS = frozenset(
    {
        # 2024
        date(2024, 1, 1),  # New Year's Day
        date(2024, 1, 15),  # Martin Luther King, Jr. Day
        date(2024, 2, 19),  # Washington's Birthday
        date(2024, 3, 29),  # Good Friday
        date(2024, 5, 27),  # Memorial Day
        date(2024, 6, 19),  # Juneteenth
        date(2024, 7, 4),  # Independence Day
        date(2024, 9, 2),  # Labor Day
        date(2024, 11, 28),  # Thanksgiving Day
        date(2024, 12, 25),  # Christmas Day
        # 2025
        date(2025, 1, 1),
        date(2025, 1, 9),  # national day of mourning for President Carter (unscheduled)
        date(2025, 1, 20),
        date(2025, 2, 17),
        date(2025, 4, 18),
        date(2025, 5, 26),
        date(2025, 6, 19),
        date(2025, 7, 4),
        date(2025, 9, 1),
        date(2025, 11, 27),
        date(2025, 12, 25),
        # 2026
        date(2026, 1, 1),
        date(2026, 1, 19),
        date(2026, 2, 16),
        date(2026, 4, 3),
        date(2026, 5, 25),
        date(2026, 6, 19),
        date(2026, 7, 3),  # Independence Day observed (4 July is a Saturday)
        date(2026, 9, 7),
        date(2026, 11, 26),
        date(2026, 12, 25),
        # 2027
        date(2027, 1, 1),
        date(2027, 1, 18),
        date(2027, 2, 15),
        date(2027, 3, 26),
        date(2027, 5, 31),
        date(2027, 6, 18),  # Juneteenth observed (19 June is a Saturday)
        date(2027, 7, 5),  # Independence Day observed (4 July is a Sunday)
        date(2027, 9, 6),
        date(2027, 11, 25),
        date(2027, 12, 24),  # Christmas Day observed (25 December is a Saturday)
        # 2028: no New Year's Day holiday (1 January is a Saturday; NYSE Rule 7.2)
        date(2028, 1, 17),
        date(2028, 2, 21),
        date(2028, 4, 14),
        date(2028, 5, 29),
        date(2028, 6, 19),
        date(2028, 7, 4),
        date(2028, 9, 4),
        date(2028, 11, 23),
        date(2028, 12, 25),
    }
)

_ONE_PM = time(13, 0)
_XNYS_EARLY_CLOSES = {
    date(2024, 7, 3): _ONE_PM,
    date(2024, 11, 29): _ONE_PM,  # the day after Thanksgiving
    date(2024, 12, 24): _ONE_PM,  # Christmas Eve
    date(2025, 7, 3): _ONE_PM,
    date(2025, 11, 28): _ONE_PM,
    date(2025, 12, 24): _ONE_PM,
    date(2026, 11, 27): _ONE_PM,
    date(2026, 12, 24): _ONE_PM,
    date(2027, 11, 26): _ONE_PM,
    date(2028, 7, 3): _ONE_PM,
    date(2028, 11, 24): _ONE_PM,
}

XNYS = ExchangeCalendar(
    "XNYS",
    "America/New_York",
    time(9, 30),
    time(16, 0),
    weekdays=MON_TO_FRI,
    holidays=_XNYS_HOLIDAYS,
    early_closes=_XNYS_EARLY_CLOSES,
    holidays_through=date(2028, 12, 31),
)
"""The New York Stock Exchange's core session, 09:30-16:00 New York time, 2024-2028.

Before 2024 and after 2028 it knows weekdays only (see the module's notes)."""

ALWAYS_OPEN = ExchangeCalendar("ALWAYS_OPEN", "UTC", time(0), time(0), weekdays=EVERY_DAY)
"""A market that never closes (crypto): one session per UTC day, midnight to midnight."""
