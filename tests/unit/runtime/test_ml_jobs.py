"""The scheduler's ML jobs end to end: predict, store, resolve, judge decay, retrain.

On the planted MA(1) market (choppy regime only), a logistic model trained on the first
bars serves the later ones. The prediction cycle logs one prediction per instrument,
the evaluator resolves them once their bar has passed, and a decay check whose floor
the model cannot reach trains a candidate that waits for approval.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest

from quantgrid.adapters.market_data import InMemorySource, Timeframe
from quantgrid.adapters.registry import InMemoryModelRegistry
from quantgrid.adapters.storage import InMemoryStore
from quantgrid.core import LiveClock, TestClock
from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.ml import (
    ApprovalPolicy,
    DriftStatus,
    ModelSpec,
    ModelStage,
    OutcomeStatus,
    default_feature_set,
    train_on_bars,
)
from quantgrid.model import BarSeries
from quantgrid.runtime._ml import LateDrift, MlJobs, SchedulerSettings, feature_sets
from quantgrid.runtime._ml_jobs import DecayCheck, PredictionCycle, Retrainer, RetrainPolicy
from quantgrid.services.evaluation import Evaluator
from quantgrid.services.ml import ModelServer

MINUTE = 60 * 1_000_000_000
LENIENT = ApprovalPolicy(min_roc_auc=None, min_accuracy_margin=None, min_samples=100)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _market(start: str = "2024-01-01T00:00:00Z") -> dict[str, BarSeries]:
    """Two instruments in one regime throughout: stationary, so nothing drifts."""
    config = SyntheticConfig(
        start=start,
        instruments=("SYN0", "SYN1"),
        bars=3_000,
        min_regime_bars=3_000,
        mean_regime_bars=3_000,
        mean_crisis_bars=3_000,
        crisis_share=0.001,
    )
    return generate_market(config, seed=1).bars


async def _serving(bars: dict[str, BarSeries]) -> tuple[InMemoryModelRegistry, ModelServer]:
    registry = InMemoryModelRegistry()
    history = {name: series.slice(0, 2_000) for name, series in bars.items()}
    result, dataset = train_on_bars(history, default_feature_set(), ModelSpec("logistic"))
    info = registry.log_training(
        "mr",
        result,
        data_hash=dataset.data_hash(),
        feature_set_name=dataset.feature_set_name,
        feature_set_fingerprint=dataset.feature_set_fingerprint,
    )
    for stage in ("staging", "production"):
        registry.approve("mr", info.version, to_stage=stage, approver="ann", policy=LENIENT)
    server = ModelServer(registry, reload_interval_s=None)
    await server.start()
    return registry, server


@pytest.mark.anyio
async def test_predictions_are_logged_once_resolved_and_a_decayed_model_is_retrained() -> None:
    bars = _market()
    source = InMemorySource(bars)
    store = InMemoryStore()
    registry, server = await _serving(bars)
    try:
        cycle = PredictionCycle(
            server,
            store,
            source,
            ("SYN0", "SYN1"),
            feature_sets=feature_sets(),
            timeframe=Timeframe.M1,
        )
        slot = int(bars["SYN0"].ts[2_500])

        assert await cycle.run(slot) == "2 predictions (2 new)"
        assert await cycle.run(slot) == "2 predictions (0 new)"  # a rerun stores nothing
        page = store.list_predictions(limit=10)
        logged = sorted((p.prediction for p in page.items), key=lambda p: p.instrument_id)
        assert [p.instrument_id for p in logged] == ["SYN0", "SYN1"]
        for prediction in logged:
            assert prediction.ts_event == slot
            assert prediction.prediction_id == f"mr:v1:{prediction.instrument_id}:{slot}"
            assert prediction.probabilities is not None
            # The most probable direction, with its probability as the confidence.
            best = max(prediction.probabilities, key=prediction.probabilities.__getitem__)
            assert prediction.direction is best
            assert prediction.confidence == prediction.probabilities[best]
            # The features of training, computed over the whole history, at that bar.
            full = default_feature_set().compute(bars[prediction.instrument_id])
            trained_on = full.as_of(slot).as_dict()
            assert set(prediction.feature_snapshot) == set(trained_on)
            for name, value in prediction.feature_snapshot.items():
                assert value == pytest.approx(trained_on[name], rel=1e-6, abs=1e-9), name

        clock = TestClock(slot + 5 * MINUTE)
        evaluator = Evaluator(store, source, clock, timeframe=Timeframe.M1)
        run = await evaluator.resolve_due()
        assert run.resolved == 2
        for stored in store.list_predictions(limit=10).items:
            assert stored.outcome is not None
            assert stored.outcome.status is OutcomeStatus.RESOLVED
            i = 2_500
            series = bars[stored.prediction.instrument_id]
            assert stored.outcome.entry_price == series.close[i]
            assert stored.outcome.exit_price == series.close[i + 1]

        retrainer = Retrainer(
            registry,
            source,
            ("SYN0", "SYN1"),
            feature_sets=feature_sets(),
            timeframe=Timeframe.M1,
            policy=RetrainPolicy(min_hit_rate=1.01, min_resolved=2, window_s=1_500 * 60.0),
            clock=clock.timestamp_ns,
        )
        check = DecayCheck(registry, store, retrainer)
        summary = await check.run(clock.timestamp_ns())
        assert "decay: hit rate" in summary and "v2 trained" in summary
        versions = {v.version: v for v in registry.list_versions("mr")}
        assert versions[1].stage is ModelStage.PRODUCTION  # never replaced without approval
        assert versions[2].stage is ModelStage.NONE
        assert versions[2].data_hash != versions[1].data_hash
        _, candidate = registry.load_version("mr", 2)
        _, production = registry.load_version("mr", 1)
        assert candidate.classes == production.classes  # the same question
        # A second check within the minimum interval trains nothing more.
        assert "retrain skipped" in await check.run(clock.timestamp_ns())
        assert len(registry.list_versions("mr")) == 2
    finally:
        await server.stop()


@pytest.mark.anyio
async def test_a_cycle_skips_an_instrument_without_bars_and_says_why() -> None:
    bars = _market()
    _, server = await _serving(bars)
    try:
        cycle = PredictionCycle(
            server,
            InMemoryStore(),
            InMemorySource({"SYN0": bars["SYN0"]}),
            ("SYN0", "SYN1"),
            feature_sets=feature_sets(),
            timeframe=Timeframe.M1,
        )
        summary = await cycle.run(int(bars["SYN0"].ts[2_500]))
        assert summary.startswith("1 predictions (1 new); skipped: 1 source error")
    finally:
        await server.stop()


def test_a_horizon_below_one_bar_is_refused() -> None:
    with pytest.raises(ValueError, match="horizon_bars must be at least 1"):
        PredictionCycle(
            None,  # type: ignore[arg-type]
            InMemoryStore(),
            InMemorySource({}),
            (),
            feature_sets={},
            timeframe=Timeframe.M1,
            horizon_bars=0,
        )


@pytest.mark.anyio
async def test_the_drift_check_takes_its_reference_from_the_window_before_the_start() -> None:
    """Found in review: a reference was a list of arrays, and startup failed on it."""
    now = LiveClock().timestamp_ns()
    start = datetime.fromtimestamp(now / 1e9 - 3_000 * 60, tz=UTC).isoformat()
    source = InMemorySource(_market(start))
    settings = SchedulerSettings(drift_window_bars=500)
    jobs = MlJobs(
        settings,
        InMemoryStore(),
        source,
        ("SYN0", "SYN1"),
        registry=None,
        server=None,
        evaluator=None,
        drift=LateDrift(),
        service="ml",
    )
    async with AsyncExitStack() as stack:
        await jobs.start(stack, ["drift"])
        assert jobs.scheduler is not None
        assert [job.name for job in jobs.scheduler.jobs] == ["drift"]
        check = jobs._drift.check
        assert check is not None
        summary = await check.run(LiveClock().timestamp_ns())
    assert summary.startswith("default")
    (result,) = check.latest()
    assert result.rows == 2 * 500
    # One stationary regime on both sides: no feature has drifted significantly.
    assert result.report.status is not DriftStatus.SIGNIFICANT
