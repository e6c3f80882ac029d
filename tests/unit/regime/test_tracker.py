"""`RegimeTracker`: the streaming detector on the bus, as the risk engine's regime source."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from quantgrid.core import MessageBus
from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.model import Bar, BarSeries
from quantgrid.regime import UNKNOWN_REGIME, RegimeDetector, RegimeTracker
from quantgrid.regime._tracker import TRACKER_PRIORITY
from quantgrid.risk import BAR_PRIORITY


@pytest.fixture(scope="module")
def market() -> dict[str, BarSeries]:
    return generate_market(SyntheticConfig(instruments=("A", "B", "C"), bars=400), 11).bars


def _expected(regime: int) -> int | None:
    return None if regime == UNKNOWN_REGIME else regime


def test_it_answers_what_detect_gives_once_a_timestamp_is_complete(
    market: dict[str, BarSeries],
) -> None:
    bus = MessageBus()
    tracker = RegimeTracker(RegimeDetector(), bus, market)
    frames = RegimeDetector().detect(market)
    ids = list(market)
    seen: list[tuple[str, int | None, int | None]] = []

    def strategy(bar: Bar) -> None:  # priority 0, as strategies subscribe
        iid = bar.instrument_id
        seen.append((iid, tracker.regime_of(iid), tracker.regime_of(ids[-1])))

    for iid in ids:
        bus.subscribe(f"data.bars.{iid}", strategy)
    n = len(market[ids[0]])
    for k in range(n):
        for iid in ids:
            bus.publish(f"data.bars.{iid}", market[iid].bar(k))
        for iid in ids:
            assert tracker.regime_of(iid) == _expected(int(frames[iid].regime[k])), (iid, k)
            reading = tracker.reading(iid)
            assert reading is not None
            assert reading.ts_event == int(market[iid].ts[k])
            assert reading.confidence == frames[iid].confidence[k]
    # Before the last instrument's bar the previous timestamp's regime holds; with it,
    # the new one: handlers below the tracker's priority see it already.
    for k in range(1, n):
        for j, iid in enumerate(ids):
            own, last = seen[k * len(ids) + j][1:]
            row = k if iid == ids[-1] else k - 1
            assert own == _expected(int(frames[iid].regime[row])), (iid, k)
            assert last == _expected(int(frames[ids[-1]].regime[row])), (iid, k)
    regimes = np.concatenate([frames[i].regime for i in ids])
    assert len(set(regimes.tolist()) - {UNKNOWN_REGIME}) >= 3  # the test saw regimes change


def test_none_before_the_warm_up_and_for_unknown_instruments(
    market: dict[str, BarSeries],
) -> None:
    bus = MessageBus()
    tracker = RegimeTracker(RegimeDetector(), bus, ["A", "B", "C"])
    assert tracker.regime_of("A") is None
    assert tracker.reading("A") is None
    for k in range(5):
        for iid in ("A", "B", "C"):
            bus.publish(f"data.bars.{iid}", market[iid].bar(k))
    assert tracker.regime_of("A") is None  # warming up
    reading = tracker.reading("A")
    assert reading is not None
    assert reading.regime == UNKNOWN_REGIME
    assert tracker.regime_of("ZZZ") is None


def test_bars_of_other_instruments_are_ignored_and_a_partial_timestamp_is_dropped(
    market: dict[str, BarSeries],
) -> None:
    bus = MessageBus()
    tracker = RegimeTracker(RegimeDetector(), bus, ["A", "B"])
    reference = RegimeDetector()
    ab = {"A": market["A"], "B": market["B"]}
    for k in range(300):
        bus.publish("data.bars.C", market["C"].bar(k))  # not followed
        if k == 150:
            bus.publish("data.bars.A", market["A"].bar(k))  # B's bar never comes
            continue
        for iid in ("A", "B"):
            bus.publish(f"data.bars.{iid}", ab[iid].bar(k))
        readings = reference.update({iid: ab[iid].bar(k) for iid in ("A", "B")})
        for iid in ("A", "B"):
            assert tracker.regime_of(iid) == _expected(readings[iid].regime)


def test_it_runs_before_the_risk_engine_and_the_strategies(
    market: dict[str, BarSeries],
) -> None:
    assert TRACKER_PRIORITY > BAR_PRIORITY > 0
    bus = MessageBus()
    seen: list[tuple[str, int | None]] = []

    def handler(who: str) -> Callable[[Bar], None]:
        def record(bar: Bar) -> None:
            reading = tracker.reading("A")
            seen.append((who, None if reading is None else reading.ts_event))

        return record

    # Subscribed before the tracker, at the risk engine's and a strategy's priority.
    bus.subscribe("data.bars.>", handler("risk"), priority=BAR_PRIORITY)
    bus.subscribe("data.bars.A", handler("strategy"))
    tracker = RegimeTracker(RegimeDetector(), bus, ["A"])
    bar = market["A"].bar(0)
    bus.publish("data.bars.A", bar)
    assert seen == [("risk", bar.ts_event), ("strategy", bar.ts_event)]


def test_it_resets_the_detector_it_is_given(market: dict[str, BarSeries]) -> None:
    detector = RegimeDetector()
    detector.update({"B": market["B"].bar(5)})  # the state of another market, later
    bus = MessageBus()
    tracker = RegimeTracker(detector, bus, ["A"])
    bus.publish("data.bars.A", market["A"].bar(0))
    reading = tracker.reading("A")
    assert reading is not None
    assert reading.ts_event == int(market["A"].ts[0])


def test_it_refuses_a_wrong_detector_or_no_instruments() -> None:
    with pytest.raises(TypeError, match="detector must be a RegimeDetector"):
        RegimeTracker(object(), MessageBus(), ["A"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one instrument"):
        RegimeTracker(RegimeDetector(), MessageBus(), [])
