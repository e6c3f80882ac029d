"""A circuit breaker: stop calling a dependency that keeps failing, then probe it."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class CircuitState(StrEnum):
    """Where a circuit breaker is."""

    CLOSED = "closed"
    """Calls go through; consecutive failures are counted."""
    OPEN = "open"
    """Calls fail at once until the reset timeout passes."""
    HALF_OPEN = "half_open"
    """One probe call goes through; its outcome closes or reopens the circuit."""


class CircuitBreaker:
    """Fail fast while a dependency is down instead of waiting on it.

    Parameters
    ----------
    failure_threshold
        Consecutive failures that open the circuit.
    reset_timeout_s
        Seconds the circuit stays open before a probe is let through.
    clock
        Monotonic seconds; tests pass a fake.

    Notes
    -----
    Closed: calls go through, and ``failure_threshold`` failures in a row open the
    circuit (a success resets the count). Open: ``allow`` refuses until
    ``reset_timeout_s`` has passed, then lets one probe through (half-open) and
    refuses the others while it runs. The probe's success closes the circuit, its
    failure reopens it for another ``reset_timeout_s``. Outcomes reported while open
    change nothing: they are from calls let through before it opened.

    For one event loop: not thread-safe.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            msg = f"failure_threshold is at least 1, not {failure_threshold}"
            raise ValueError(msg)
        if not reset_timeout_s > 0:
            msg = f"reset_timeout_s is positive, not {reset_timeout_s}"
            raise ValueError(msg)
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> CircuitState:
        """The state now: an open circuit whose timeout has passed is half-open."""
        if self._state is CircuitState.OPEN and self.retry_after_s() == 0.0:
            return CircuitState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failures since the last success."""
        return self._failures

    def retry_after_s(self) -> float:
        """Seconds until an open circuit lets a probe through; 0.0 if not open."""
        if self._state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.reset_timeout_s - self._clock())

    def allow(self) -> bool:
        """Tell whether a call may go now; a True in half-open makes it the probe.

        A caller told True must report the outcome: ``record_success``,
        ``record_failure``, or ``release`` if the call ended without one.
        """
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.OPEN or self._probing:
            return False
        self._state = CircuitState.HALF_OPEN
        self._probing = True
        return True

    def record_success(self) -> None:
        """Report a call that succeeded."""
        if self._state is CircuitState.OPEN:
            return
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._probing = False

    def record_failure(self) -> None:
        """Report a call that failed."""
        if self._state is CircuitState.OPEN:
            return
        self._failures += 1
        if self._state is CircuitState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._state = CircuitState.OPEN
            self._opened_at = self._clock()
            self._probing = False

    def release(self) -> None:
        """Report a call that ended with no verdict (cancelled): free the probe."""
        self._probing = False

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(state={self.state.value}, failures={self._failures}/"
            f"{self.failure_threshold}, reset_timeout_s={self.reset_timeout_s})"
        )
