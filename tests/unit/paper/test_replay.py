"""``ReplayFeed`` plays bars in time order, moment by moment, at its speed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantgrid.model import Bar, BarSeries
from quantgrid.paper import ReplayFeed
from tests.unit.paper.support import MINUTE_NS, START_NS, random_walk


class Recorder:
    """A host that keeps what it is given."""

    def __init__(self) -> None:
        self.moments: list[tuple[Bar, ...]] = []
        self.flushes = 0

    def on_bars(self, bars: tuple[Bar, ...]) -> None:
        self.moments.append(bars)

    async def flush(self) -> None:
        self.flushes += 1


def _series(iid: str, minutes: list[int]) -> BarSeries:
    n = len(minutes)
    ts = START_NS + np.array(minutes, dtype=np.int64) * MINUTE_NS
    prices = np.full(n, 100.0)
    return BarSeries.from_arrays(iid, ts, prices, prices, prices, prices, np.ones(n))


def test_bars_of_one_timestamp_form_one_moment_in_the_order_given() -> None:
    feed = ReplayFeed([_series("BBB", [0, 2, 3]), _series("AAA", [1, 2])])
    moments = [[(b.instrument_id, (b.ts_event - START_NS) // MINUTE_NS) for b in m]
               for m in feed.moments()]  # fmt: skip
    assert moments == [
        [("BBB", 0)],
        [("AAA", 1)],
        [("BBB", 2), ("AAA", 2)],
        [("BBB", 3)],
    ]


def test_a_resumed_feed_starts_after_the_given_time() -> None:
    series = _series("AAA", [0, 1, 2, 3])
    feed = ReplayFeed(series, start_after_ns=START_NS + MINUTE_NS)
    assert [m[0].ts_event for m in feed.moments()] == [
        START_NS + 2 * MINUTE_NS,
        START_NS + 3 * MINUTE_NS,
    ]


@pytest.mark.anyio
async def test_play_hands_every_moment_over_and_waits_for_its_writes() -> None:
    series = random_walk("AAA", 1, n=25)
    host = Recorder()
    feed = ReplayFeed(series)
    assert await feed.play(host, limit=10) == 10
    assert await feed.play(host, limit=0) == 0
    assert len(host.moments) == host.flushes == 10
    assert host.moments[9][0] == series.bar(9)
    assert feed.last_ts == int(series.ts[9])


@pytest.mark.anyio
async def test_a_finite_speed_waits_the_time_between_bars_divided_by_the_speed() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    series = _series("AAA", [0, 1, 3])
    played = await ReplayFeed(series, speed=60.0, sleep=sleep).play(Recorder())
    assert played == 3
    assert waits == [pytest.approx(1.0), pytest.approx(2.0)]  # 60 s and 120 s at 60x


@pytest.mark.anyio
async def test_an_infinite_speed_never_waits() -> None:
    async def sleep(seconds: float) -> None:
        raise AssertionError(f"waited {seconds} s")

    assert await ReplayFeed(random_walk("AAA", 2, n=5), sleep=sleep).play(Recorder()) == 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": []}, "at least one BarSeries"),
        ({"data": ["AAA"]}, "must hold BarSeries"),
        ({"data": [_series("AAA", [0]), _series("AAA", [1])]}, "'AAA' twice"),
        ({"data": _series("AAA", [])}, "has no bars"),
        ({"data": _series("AAA", [0, 2, 1])}, "goes back in time at bar 2"),
        ({"data": _series("AAA", [0, 1, 1])}, "goes back in time at bar 2"),
        ({"speed": 0}, "positive number"),
        ({"speed": -1.0}, "positive number"),
        ({"speed": math.nan}, "positive number"),
        ({"speed": True}, "positive number"),
        ({"start_after_ns": 1.5}, "nanoseconds"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {"data": _series("AAA", [0, 1])}
    settings.update(kwargs)
    data = settings.pop("data")
    with pytest.raises(ValueError, match=message):
        ReplayFeed(data, **settings)  # type: ignore[arg-type]


@pytest.mark.anyio
@pytest.mark.parametrize("limit", [-1, 1.5, True])
async def test_a_bad_limit_is_refused(limit: object) -> None:
    with pytest.raises(ValueError, match="limit must be a whole number"):
        await ReplayFeed(_series("AAA", [0])).play(Recorder(), limit=limit)  # type: ignore[arg-type]
