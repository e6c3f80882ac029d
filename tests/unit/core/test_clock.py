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
