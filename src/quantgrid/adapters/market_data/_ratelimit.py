"""A token bucket that keeps calls to an upstream within its request rate."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from quantgrid.adapters.market_data._errors import RateLimitedError


class TokenBucket:
    """Let calls through at ``rate_per_s`` on average, in bursts of up to ``burst``.

    Parameters
    ----------
    rate_per_s
        Tokens added per second: the sustained call rate.
    burst
        The most tokens held: how many calls may go at once after a quiet spell.
    max_wait_s
        The longest a call waits for its token. A call that would wait longer is
        refused at once with `RateLimitedError`, which says when to retry.
    name
        The upstream, named in the error.
    clock, sleep
        Monotonic seconds and the async sleep; tests pass fakes.

    Notes
    -----
    A call that must wait reserves its token before sleeping, so waiting calls go in
    arrival order and the rate holds however many wait. A call cancelled while waiting
    gives its token back. `pause` empties the bucket until a time the upstream named
    (its ``Retry-After``). For one event loop: not thread-safe.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        max_wait_s: float = 1.0,
        name: str = "upstream",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not (rate_per_s > 0 and math.isfinite(rate_per_s)):
            msg = f"rate_per_s is a positive number, not {rate_per_s!r}"
            raise ValueError(msg)
        if burst < 1:
            msg = f"burst is at least 1, not {burst!r}"
            raise ValueError(msg)
        if not (max_wait_s >= 0 and math.isfinite(max_wait_s)):
            msg = f"max_wait_s is 0 or more, not {max_wait_s!r}"
            raise ValueError(msg)
        self.rate_per_s = float(rate_per_s)
        self.burst = int(burst)
        self.max_wait_s = float(max_wait_s)
        self.name = name
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self) -> float:
        now = self._clock()
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate_per_s)
            self._updated = now
        return now

    @property
    def tokens(self) -> float:
        """Tokens available now; negative while calls wait for reserved ones."""
        self._refill()
        return self._tokens

    def wait_s(self) -> float:
        """Return how long a call made now would wait for its token."""
        self._refill()
        # The token's wait plus any time the bucket is paused for (before _updated).
        ahead = max(0.0, self._updated - self._clock())
        return ahead + max(0.0, 1.0 - self._tokens) / self.rate_per_s

    async def acquire(self) -> None:
        """Take one token, waiting at most ``max_wait_s`` for it.

        Raises
        ------
        RateLimitedError
            If the token would come later than ``max_wait_s`` from now; no token is
            taken.
        """
        wait = self.wait_s()
        if wait > self.max_wait_s:
            detail = f"over {self.rate_per_s:g} calls a second (bursts of {self.burst})"
            raise RateLimitedError(self.name, wait, detail)
        self._tokens -= 1.0
        if wait <= 0.0:
            return
        try:
            await self._sleep(wait)
        except BaseException:
            self._tokens += 1.0  # cancelled: the token goes back
            raise

    def pause(self, seconds: float) -> None:
        """Give no tokens for ``seconds`` from now, as an upstream's Retry-After asks."""
        if not (seconds > 0 and math.isfinite(seconds)):
            return
        self._refill()
        resume = self._clock() + seconds
        if resume > self._updated:
            # Tokens start accruing again at ``resume``, from empty.
            self._updated = resume
            self._tokens = min(self._tokens, 0.0)

    def __repr__(self) -> str:
        return (
            f"TokenBucket(name={self.name!r}, rate_per_s={self.rate_per_s:g}, "
            f"burst={self.burst}, max_wait_s={self.max_wait_s:g})"
        )
