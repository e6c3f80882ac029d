"""The circuit breaker's state machine, on a fake clock."""

from __future__ import annotations

import pytest

from quantgrid.services import CircuitBreaker, CircuitState


class FakeClock:
    """Monotonic seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, reset_timeout_s=10.0, clock=clock)


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert breaker.allow()
        breaker.record_failure()


def test_closed_lets_calls_through_and_counts_consecutive_failures(
    breaker: CircuitBreaker,
) -> None:
    fail(breaker, 2)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.consecutive_failures == 2

    assert breaker.allow()
    breaker.record_success()
    assert breaker.consecutive_failures == 0
    fail(breaker, 2)
    assert breaker.state is CircuitState.CLOSED  # a success in between resets the count


def test_the_threshold_opens_it_and_open_refuses(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)

    assert breaker.state is CircuitState.OPEN
    assert not breaker.allow()
    assert breaker.retry_after_s() == 10.0
    clock.now += 9.5
    assert not breaker.allow()
    assert breaker.retry_after_s() == pytest.approx(0.5)


def test_after_the_timeout_one_probe_goes_and_its_success_closes(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 10.0

    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # others wait for it
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.consecutive_failures == 0
    assert breaker.allow()


def test_a_failed_probe_reopens_for_another_timeout(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 12.0
    assert breaker.allow()
    breaker.record_failure()

    assert breaker.state is CircuitState.OPEN
    assert breaker.retry_after_s() == 10.0  # counted from the probe, not the first opening
    clock.now += 10.0
    assert breaker.allow()


def test_a_released_probe_lets_another_through(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.now += 10.0
    assert breaker.allow()
    assert not breaker.allow()

    breaker.release()  # cancelled: no verdict

    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow()


def test_outcomes_of_calls_from_before_it_opened_change_nothing(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    breaker.record_success()
    breaker.record_failure()

    assert breaker.state is CircuitState.OPEN
    assert breaker.retry_after_s() == 10.0


def test_a_threshold_of_one_opens_on_the_first_failure(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=1.0, clock=clock)
    fail(breaker, 1)
    assert breaker.state is CircuitState.OPEN
    assert "state=open" in repr(breaker)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"failure_threshold": 0}, "failure_threshold"), ({"reset_timeout_s": 0.0}, "reset_timeout")],
)
def test_nonsense_parameters_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]
