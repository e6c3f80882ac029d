"""The drift check: stable on the training distribution, significant on a shifted one."""

from __future__ import annotations

import numpy as np
import pytest

from quantgrid.adapters.market_data import Timeframe
from quantgrid.ml import DriftStatus, FeatureFrame, FeatureSet, LogReturn
from quantgrid.model import BarSeries
from quantgrid.services.evaluation import DriftCheck, DriftCheckError, DriftResult
from tests.unit.services.evaluation.conftest import MINUTE, T0, FlakySource

pytestmark = pytest.mark.anyio

BARS = 4_000
WINDOW = 3_000
#: The slot: the close of the last bar.
SLOT = T0 + BARS * MINUTE
RETURNS = FeatureSet("returns", (LogReturn(1), LogReturn(5)))


def random_walk(symbol: str, seed: int, vol: np.ndarray | float) -> BarSeries:
    """One-minute bars from T0 whose log returns are normal with ``vol``."""
    steps = np.random.default_rng(seed).normal(0.0, 1.0, BARS) * vol
    close = 100.0 * np.exp(np.cumsum(steps))
    ts = T0 + np.arange(1, BARS + 1) * MINUTE
    return BarSeries.from_arrays(symbol, ts, close, close, close, close, np.ones(BARS))


def reference_frame() -> FeatureFrame:
    """The training sample: the features of another walk of the same volatility."""
    return RETURNS.compute(random_walk("TRAIN", 1, 0.001))


def source(**failing: bool) -> FlakySource:
    # SAME moves as training did; LOUD triples its volatility over the last window.
    loud = np.where(np.arange(BARS) >= BARS - WINDOW, 0.003, 0.001)
    bars = {
        "SAME": random_walk("SAME", 2, 0.001),
        "SAME2": random_walk("SAME2", 3, 0.001),
        "LOUD": random_walk("LOUD", 4, loud),
    }
    return FlakySource(bars, failing=[s for s, down in failing.items() if down])


def check(
    instruments: tuple[str, ...], src: FlakySource | None = None, **kwargs: object
) -> DriftCheck:
    return DriftCheck(
        {"returns": reference_frame()},
        RETURNS,
        src or source(),
        instruments,
        timeframe=Timeframe.M1,
        window_bars=WINDOW,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_the_same_distribution_is_stable_and_calls_no_hook() -> None:
    called: list[DriftResult] = []
    drift = check(("SAME", "SAME2"), on_drift=called.append)

    summary = await drift.run(SLOT)

    (result,) = drift.latest()
    assert result.report.status is DriftStatus.STABLE
    assert result.report.max_psi < 0.1
    assert (result.feature_set, result.ts_checked) == ("returns", SLOT)
    assert (result.instruments, result.rows) == (("SAME", "SAME2"), 2 * WINDOW)
    assert result.fingerprint == RETURNS.fingerprint
    assert called == []
    assert summary == result.summary()
    assert summary.startswith("returns: stable, max PSI ")


async def test_a_shifted_distribution_is_significant_and_calls_the_hook_once() -> None:
    called: list[DriftResult] = []
    drift = check(("LOUD",), on_drift=called.append)

    summary = await drift.run(SLOT)

    (result,) = drift.latest()
    assert result.report.status is DriftStatus.SIGNIFICANT
    assert set(result.report.drifted()) == {"log_return_1", "log_return_5"}
    assert called == [result]
    assert "significant: log_return_1, log_return_5" in summary


async def test_an_async_hook_is_awaited() -> None:
    seen: list[str] = []

    async def retrain(result: DriftResult) -> None:
        seen.append(result.feature_set)

    drift = check(("LOUD",))
    drift.on_drift = retrain  # connected after construction, as the runtime may

    await drift.run(SLOT)

    assert seen == ["returns"]


async def test_a_failing_instrument_is_left_out_and_named() -> None:
    drift = check(("SAME", "SAME2"), source(SAME2=True))

    summary = await drift.run(SLOT)

    (result,) = drift.latest()
    assert (result.instruments, result.failed_instruments, result.rows) == (
        ("SAME",),
        ("SAME2",),
        WINDOW,
    )
    assert summary.endswith("; no bars of SAME2")


async def test_no_bars_at_all_fail_the_check_and_keep_the_last_result() -> None:
    src = source()
    drift = check(("SAME",), src)
    await drift.run(SLOT)
    before = drift.latest()
    src.failing.add("SAME")

    with pytest.raises(DriftCheckError, match="no bars of any instrument"):
        await drift.run(SLOT + MINUTE)

    assert drift.latest() == before


async def test_a_window_holding_only_warm_ups_fails_the_check() -> None:
    drift = check(("SAME",))

    with pytest.raises(DriftCheckError, match="log_return_5"):
        await drift.run(T0 + 4 * MINUTE)  # four bars: the 5-bar return has none yet


async def test_values_are_a_reference_too() -> None:
    frame = reference_frame()
    drift = DriftCheck(
        {"returns": frame.values},
        [RETURNS],
        source(),
        ["SAME"],
        timeframe=Timeframe.M1,
        window_bars=WINDOW,
    )

    await drift.run(SLOT)

    assert drift.latest()[0].report.status is DriftStatus.STABLE


def test_there_are_no_results_before_a_run() -> None:
    assert check(("SAME",)).latest() == ()


@pytest.mark.parametrize(
    ("references", "kwargs", "message"),
    [
        ({}, {}, "feature set 'returns' has no reference sample"),
        ({"other": np.zeros((3, 2))}, {}, r"\['other'\] name no feature set"),
        ({"returns": np.zeros((3, 3))}, {}, "one column per feature \\(2\\)"),
        ({"returns": np.zeros((0, 2))}, {}, "must have rows"),
        ({"returns": np.full((3, 2), np.nan)}, {}, "have no value that is not NaN"),
        ({"returns": "abc"}, {}, "FeatureFrames or a 2-D array"),
        ({"returns": np.zeros((3, 2))}, {"window_bars": 1}, "window_bars: must be an integer >= 2"),
        ({"returns": np.zeros((3, 2))}, {"bins": 1}, "bins: must be an integer >= 2"),
        ({"returns": np.zeros((3, 2))}, {"moderate": 0.3}, "0 < moderate < significant"),
        ({"returns": np.zeros((3, 2))}, {"instruments": ()}, "instruments: give distinct"),
        ({"returns": np.zeros((3, 2))}, {"timeframe": "1m"}, "timeframe: must be a Timeframe"),
    ],
)
def test_bad_arguments_are_refused_by_name(
    references: dict[str, object], kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {
        "instruments": ("SAME",),
        "timeframe": Timeframe.M1,
    } | kwargs
    instruments = arguments.pop("instruments")
    with pytest.raises(ValueError, match=message):
        DriftCheck(references, RETURNS, source(), instruments, **arguments)  # type: ignore[arg-type]


def test_a_reference_frame_of_other_features_is_refused() -> None:
    other = FeatureSet("other", (LogReturn(5),)).compute(random_walk("X", 5, 0.001))
    with pytest.raises(ValueError, match="must have the set's features"):
        DriftCheck({"returns": other}, RETURNS, source(), ["SAME"], timeframe=Timeframe.M1)
