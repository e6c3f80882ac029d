"""Clocks: the test clock moves only forward; the live clock reads the wall."""

from __future__ import annotations

import time

import pytest

from quantgrid.core import LiveClock, TestClock


def test_test_clock_starts_at_given_time() -> None:
    assert TestClock().timestamp_ns() == 0
    assert TestClock(1_704_067_200_000_000_000).timestamp_ns() == 1_704_067_200_000_000_000


def test_test_clock_moves_forward_and_may_stay_put() -> None:
    clock = TestClock(10)

    clock.set_time(25)
    assert clock.timestamp_ns() == 25
    clock.set_time(25)
    assert clock.timestamp_ns() == 25


def test_test_clock_cannot_go_backwards() -> None:
    clock = TestClock(100)

    with pytest.raises(ValueError, match="clock cannot move backwards: 99 < 100"):
        clock.set_time(99)

    assert clock.timestamp_ns() == 100


def test_live_clock_reads_the_wall_clock() -> None:
    before = time.time_ns()
    now = LiveClock().timestamp_ns()
    after = time.time_ns()

    assert isinstance(now, int)
    assert before <= now <= after


def test_alerts_fire_in_time_order_with_the_clock_at_their_time() -> None:
    clock = TestClock(0)
    seen: list[tuple[str, int, int]] = []
    clock.set_alert(30, lambda ts: seen.append(("c", ts, clock.timestamp_ns())))
    clock.set_alert(10, lambda ts: seen.append(("a", ts, clock.timestamp_ns())))
    clock.set_alert(10, lambda ts: seen.append(("b", ts, clock.timestamp_ns())))
    clock.set_alert(50, lambda ts: seen.append(("late", ts, clock.timestamp_ns())))

    fired = clock.advance_to(40)

    assert fired == 3
    assert seen == [("a", 10, 10), ("b", 10, 10), ("c", 30, 30)]
    assert clock.timestamp_ns() == 40
    assert clock.next_alert_ns() == 50


def test_alert_set_by_an_alert_fires_in_the_same_advance_when_due() -> None:
    clock = TestClock(0)
    seen: list[int] = []

    def first(ts: int) -> None:
        seen.append(ts)
        clock.set_alert(ts + 5, seen.append)
        clock.set_alert(ts + 500, seen.append)

    clock.set_alert(10, first)
    clock.advance_to(100)

    assert seen == [10, 15]
    assert clock.next_alert_ns() == 510


def test_alert_in_the_past_fires_at_the_current_time() -> None:
    clock = TestClock(100)
    times: list[int] = []
    clock.set_alert(50, lambda ts: times.append(clock.timestamp_ns()))

    clock.advance_to(100)

    assert times == [100]


def test_advance_to_cannot_go_backwards_and_fires_nothing() -> None:
    clock = TestClock(100)
    clock.set_alert(90, lambda ts: None)

    with pytest.raises(ValueError, match="clock cannot move backwards: 99 < 100"):
        clock.advance_to(99)
    assert clock.next_alert_ns() == 90


def test_live_clock_fires_only_due_alerts() -> None:
    clock = LiveClock()
    seen: list[int] = []
    now = time.time_ns()
    clock.set_alert(now - 1, seen.append)
    clock.set_alert(now + 3_600 * 10**9, seen.append)

    assert clock.fire_due() == 1
    assert seen == [now - 1]
    assert clock.next_alert_ns() == now + 3_600 * 10**9
