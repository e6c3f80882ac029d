"""Kernel pieces every component shares: clocks, the message bus, timestamps."""

from quantgrid.core._bus import Handler, MessageBus, topic_matches
from quantgrid.core._clock import Clock, LiveClock, TestClock
from quantgrid.core._prices import PriceCache
from quantgrid.core._serial import Serializer
from quantgrid.core._time import (
    NANOS_PER_DAY,
    NANOS_PER_SECOND,
    dt_to_ns,
    ns_to_day,
    ns_to_dt,
    ns_to_iso,
)

__all__ = [
    "NANOS_PER_DAY",
    "NANOS_PER_SECOND",
    "Clock",
    "Handler",
    "LiveClock",
    "MessageBus",
    "PriceCache",
    "Serializer",
    "TestClock",
    "dt_to_ns",
    "ns_to_day",
    "ns_to_dt",
    "ns_to_iso",
    "topic_matches",
]
