"""TokenBucket on a fake clock: bursts, bounded waits, refusals, pauses."""

from __future__ import annotations

import asyncio

import pytest

from quantgrid.adapters.market_data import RateLimitedError, TokenBucket

pytestmark = pytest.mark.anyio


class FakeTime:
    """A monotonic clock and a sleep that moves it, without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def bucket(
    fake: FakeTime, *, rate: float = 2.0, burst: int = 3, max_wait: float = 1.0
) -> TokenBucket:
    return TokenBucket(
        rate, burst, max_wait_s=max_wait, name="vendor", clock=fake.clock, sleep=fake.sleep
    )


async def test_a_burst_goes_at_once_then_calls_wait_their_turn(fake: FakeTime) -> None:
    limiter = bucket(fake)

    for _ in range(3):
        await limiter.acquire()
    assert fake.slept == []
    await limiter.acquire()
    assert fake.slept == [pytest.approx(0.5)]  # 2 tokens a second


async def test_a_call_that_would_wait_too_long_is_refused_with_retry_after(
    fake: FakeTime,
) -> None:
    limiter = bucket(fake, rate=1.0, burst=1, max_wait=0.5)
    await limiter.acquire()

    with pytest.raises(RateLimitedError) as caught:
        await limiter.acquire()

    assert caught.value.upstream == "vendor"
    assert caught.value.retry_after_s == pytest.approx(1.0)
    assert "over 1 calls a second (bursts of 1)" in str(caught.value)
    fake.now += 1.0
    await limiter.acquire()  # the refused call took no token
    assert fake.slept == []


async def test_the_rate_holds_over_time(fake: FakeTime) -> None:
    limiter = bucket(fake, rate=10.0, burst=5, max_wait=10.0)
    start = fake.now

    for _ in range(105):
        await limiter.acquire()

    # 5 from the burst, then 100 at 10 a second.
    assert fake.now - start == pytest.approx(10.0)


async def test_waiting_calls_reserve_their_tokens_in_order(fake: FakeTime) -> None:
    limiter = bucket(fake, rate=1.0, burst=1, max_wait=5.0)
    await limiter.acquire()
    slept: list[float] = []

    async def sleep_without_moving(seconds: float) -> None:
        slept.append(seconds)

    limiter._sleep = sleep_without_moving
    await limiter.acquire()
    await limiter.acquire()
    assert slept == [pytest.approx(1.0), pytest.approx(2.0)]
    for _ in range(3):
        await limiter.acquire()
    assert slept[2:] == [pytest.approx(3.0), pytest.approx(4.0), pytest.approx(5.0)]
    with pytest.raises(RateLimitedError):  # the next would wait 6 s, over max_wait_s
        await limiter.acquire()


async def test_a_cancelled_wait_gives_its_token_back(fake: FakeTime) -> None:
    limiter = bucket(fake, rate=1.0, burst=1, max_wait=5.0)
    await limiter.acquire()
    gate = asyncio.Event()

    async def sleep_forever(seconds: float) -> None:
        gate.set()
        await asyncio.Event().wait()

    limiter._sleep = sleep_forever
    task = asyncio.ensure_future(limiter.acquire())
    await gate.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert limiter.tokens == pytest.approx(0.0)
    assert limiter.wait_s() == pytest.approx(1.0)


async def test_pause_holds_tokens_back_until_the_time_given(fake: FakeTime) -> None:
    limiter = bucket(fake, rate=2.0, burst=3, max_wait=1.0)

    limiter.pause(30.0)

    with pytest.raises(RateLimitedError) as caught:
        await limiter.acquire()
    assert caught.value.retry_after_s == pytest.approx(30.5)
    fake.now += 30.0
    await limiter.acquire()  # half a second's wait, within max_wait
    assert fake.slept == [pytest.approx(0.5)]


@pytest.mark.parametrize(
    ("rate", "burst", "max_wait", "message"),
    [(0.0, 1, 1.0, "rate_per_s"), (1.0, 0, 1.0, "burst"), (1.0, 1, -1.0, "max_wait_s")],
)
def test_bad_settings_are_refused(rate: float, burst: int, max_wait: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TokenBucket(rate, burst, max_wait_s=max_wait)
