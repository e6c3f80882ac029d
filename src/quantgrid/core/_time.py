"""Integer-nanosecond UTC timestamps and conversions at the edges."""

from __future__ import annotations

from datetime import UTC, datetime

NANOS_PER_SECOND = 1_000_000_000
NANOS_PER_DAY = 86_400 * NANOS_PER_SECOND


def dt_to_ns(value: datetime) -> int:
    """Convert an aware datetime to integer nanoseconds since the epoch (UTC).

    Naive datetimes are taken to be UTC.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NANOS_PER_SECOND + delta.microseconds * 1_000


def ns_to_dt(ts: int) -> datetime:
    """Convert integer nanoseconds since the epoch to an aware UTC datetime (microseconds)."""
    seconds, nanos = divmod(int(ts), NANOS_PER_SECOND)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=nanos // 1_000)


def ns_to_iso(ts: int) -> str:
    """Format integer nanoseconds as an ISO-8601 UTC string, e.g. ``2024-01-02T09:30:00Z``."""
    text = ns_to_dt(ts).isoformat()
    return text.replace("+00:00", "Z")


def ns_to_day(ts: int) -> int:
    """Return the UTC calendar day number (days since the epoch) of a timestamp."""
    return int(ts) // NANOS_PER_DAY
