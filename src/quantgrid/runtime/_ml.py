"""The ML and evaluation services in a process, and the scheduler that runs their jobs.

One-process mode hosts both services and one scheduler with every job. In the
distributed mode ``serve ml`` hosts the model server and the "predict", "drift" and
"retrain-check" jobs, and ``serve evaluation`` the "evaluate" job; several processes
may host the same job safely, since the job-run store lets one claim each slot.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from pydantic import Field

from quantgrid.adapters.market_data import MarketDataSource, Timeframe
from quantgrid.adapters.registry import InMemoryModelRegistry, ModelRegistry
from quantgrid.adapters.storage import JobRunStore, PredictionStore
from quantgrid.core import LiveClock
from quantgrid.ml import FeatureFrame, FeatureSet, default_feature_set
from quantgrid.model import FloatArray
from quantgrid.runtime._ml_jobs import (
    DecayCheck,
    PredictionCycle,
    Retrainer,
    RetrainPolicy,
    recent_bars,
)
from quantgrid.scheduler import (
    ALWAYS_OPEN,
    XNYS,
    DuringSession,
    Every,
    ExchangeCalendar,
    RecurringJob,
    Scheduler,
)
from quantgrid.services import ServiceSettings
from quantgrid.services.evaluation import DriftCheck, DriftResult, Evaluator, evaluation_job
from quantgrid.services.ml import MlSettings, ModelServer

_log = logging.getLogger("quantgrid.runtime.ml")

#: Jobs by the service whose process hosts them in the distributed mode.
JOBS_BY_SERVICE: Mapping[str, tuple[str, ...]] = {
    "ml": ("predict", "drift", "retrain-check"),
    "evaluation": ("evaluate",),
}


class MlStore(JobRunStore, PredictionStore, Protocol):
    """What the ML jobs keep: job runs and predictions (both SQL stores and the fake)."""


class SchedulerSettings(ServiceSettings):
    """The recurring ML jobs, besides the common settings (``QUANTGRID_*``).

    Attributes
    ----------
    scheduler_owner
        The name job runs are claimed under; stable across restarts, so a run left
        unfinished by a crash is recognised as this process's (default: host/service).
    prediction_interval_s
        Seconds between prediction cycles, inside the calendar's sessions; 0 runs none.
    evaluation_interval_s
        Seconds between evaluation runs (resolving due predictions); 0 runs none.
    drift_interval_s, retrain_check_interval_s
        Seconds between drift checks and between decay checks; 0 runs none.
    ml_calendar
        The exchange calendar of the prediction cycle: ``ALWAYS_OPEN`` (24/7, as the
        synthetic market and crypto) or ``XNYS`` (New York Stock Exchange hours).
    ml_timeframe
        The bar length the models were trained on.
    ml_horizon_bars
        Bars ahead a logged prediction is for (the models' label horizon).
    drift_window_bars
        Bars per instrument in a drift check's current window and in its reference.
    retrain_min_hit_rate, retrain_min_resolved, retrain_window_s, retrain_min_interval_s
        When the production version counts as decayed, the training window of a
        retrained candidate, and the least time between two retrainings.
    """

    scheduler_owner: str | None = Field(default=None, min_length=1, max_length=128)
    prediction_interval_s: float = Field(default=60.0, ge=0, le=86_400)
    evaluation_interval_s: float = Field(default=60.0, ge=0, le=86_400)
    drift_interval_s: float = Field(default=3_600.0, ge=0, le=7 * 86_400)
    retrain_check_interval_s: float = Field(default=3_600.0, ge=0, le=7 * 86_400)
    ml_calendar: Literal["ALWAYS_OPEN", "XNYS"] = "ALWAYS_OPEN"
    ml_timeframe: Timeframe = Timeframe.M1
    ml_horizon_bars: int = Field(default=1, ge=1, le=10_000)
    drift_window_bars: int = Field(default=500, ge=10, le=1_000_000)
    retrain_min_hit_rate: float = Field(default=0.5, ge=0, le=1)
    retrain_min_resolved: int = Field(default=200, ge=1)
    retrain_window_s: float = Field(default=7 * 86_400.0, gt=0)
    retrain_min_interval_s: float = Field(default=86_400.0, ge=0)


def open_registry(settings: MlSettings, database_url: str) -> ModelRegistry:
    """Return the model registry of ``settings``.

    ``QUANTGRID_ML_REGISTRY_URI`` names an MLflow backend; unset, the registry is the
    folder ``QUANTGRID_ML_REGISTRY_DIR``, or, when that is left at its default and the
    store is a SQLite file, a folder ``mlflow`` beside that file (``results/mlflow``
    for ``make run``). ``memory`` keeps it in this process (tests, demos).
    """
    if settings.ml_registry_uri == "memory":
        return InMemoryModelRegistry()
    # MLflow logs its table creation at INFO on a handler of its own, outside the JSON
    # logs; its warnings still show.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    default_dir = MlSettings.model_fields["ml_registry_dir"].default
    if settings.ml_registry_uri is None and settings.ml_registry_dir == default_dir:
        sqlite_file = _sqlite_file(database_url)
        if sqlite_file is not None:
            settings = settings.model_copy(
                update={"ml_registry_dir": sqlite_file.parent / "mlflow"}
            )
    return settings.open_registry()


def _sqlite_file(url: str) -> Path | None:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return None if "://" in url else Path(url)


def feature_sets() -> dict[str, FeatureSet]:
    """Return the feature sets models may be trained on, by name."""
    default = default_feature_set()
    return {default.name: default}


class LateDrift:
    """The drift check, made once the scheduler has taken its reference sample."""

    def __init__(self) -> None:
        self.check: DriftCheck | None = None

    def latest(self) -> tuple[DriftResult, ...]:
        """Return the drift check's latest results; none before it exists."""
        return () if self.check is None else self.check.latest()


class MlJobs:
    """Build the scheduler of a process and the jobs it hosts."""

    def __init__(
        self,
        settings: SchedulerSettings,
        store: MlStore,
        source: MarketDataSource,
        instruments: Sequence[str],
        *,
        registry: ModelRegistry | None,
        server: ModelServer | None,
        evaluator: Evaluator | None,
        drift: LateDrift,
        service: str,
    ) -> None:
        self.settings = settings
        self._store = store
        self._source = source
        self._instruments = tuple(instruments)
        self._registry = registry
        self._server = server
        self._evaluator = evaluator
        self._drift = drift
        self._service = service
        self._clock = LiveClock()
        self.scheduler: Scheduler | None = None

    def _owner(self) -> str:
        return self.settings.scheduler_owner or f"{socket.gethostname()}/{self._service}"

    async def _drift_check(self, retrainer: Retrainer | None) -> DriftCheck | None:
        """Take the reference sample (the window before the current one) and make the check.

        The reference is what the features looked like when this process started
        serving; drift is measured against it. No bars there: no drift check.
        """
        window = self.settings.drift_window_bars
        frames: list[FeatureFrame] = []
        now = self._clock.timestamp_ns()
        end = now - window * self.settings.ml_timeframe.nanos
        feature_set = default_feature_set()
        for instrument in self._instruments:
            timeframe = self.settings.ml_timeframe
            try:
                bars = await recent_bars(
                    self._source, instrument, end, timeframe, window + feature_set.warmup
                )
                frame = feature_set.compute(bars)
            except Exception as error:  # a reference is optional; the rest still runs
                _log.warning("drift reference: no bars for %s: %s", instrument, error)
                continue
            if len(frame.ts) > 0:
                frames.append(frame)
        # Like the check's own window: each instrument's last `window` rows, pooled.
        rows = [_complete_rows(f)[-window:] for f in frames]
        reference = np.vstack(rows) if rows else np.empty((0, len(feature_set.names)))
        if len(reference) == 0:
            _log.info("drift check off: no bars for a reference sample before %d", end)
            return None
        return DriftCheck(
            {feature_set.name: reference},
            feature_set,
            self._source,
            self._instruments,
            timeframe=self.settings.ml_timeframe,
            window_bars=window,
            on_drift=None if retrainer is None else retrainer.on_drift,
        )

    async def start(self, stack: AsyncExitStack, hosted: Sequence[str]) -> None:
        """Make the jobs of ``hosted`` and start the scheduler (stopped by ``stack``)."""
        settings = self.settings
        jobs: list[RecurringJob] = []

        def every(seconds: float) -> Every:
            return Every(timedelta(seconds=seconds))

        retrainer = None
        if self._registry is not None and "retrain-check" in hosted:
            retrainer = Retrainer(
                self._registry,
                self._source,
                self._instruments,
                feature_sets=feature_sets(),
                timeframe=settings.ml_timeframe,
                policy=RetrainPolicy(
                    min_hit_rate=settings.retrain_min_hit_rate,
                    min_resolved=settings.retrain_min_resolved,
                    window_s=settings.retrain_window_s,
                    min_interval_s=settings.retrain_min_interval_s,
                    horizon_bars=settings.ml_horizon_bars,
                ),
                clock=self._clock.timestamp_ns,
            )
            if settings.retrain_check_interval_s > 0:
                check = DecayCheck(self._registry, self._store, retrainer)
                jobs.append(
                    RecurringJob(
                        "retrain-check", every(settings.retrain_check_interval_s), check.run
                    )
                )
        if "predict" in hosted and self._server is not None and settings.prediction_interval_s > 0:
            cycle = PredictionCycle(
                self._server,
                self._store,
                self._source,
                self._instruments,
                feature_sets=feature_sets(),
                timeframe=settings.ml_timeframe,
                horizon_bars=settings.ml_horizon_bars,
                exchange_tz=_calendar(settings).tz,
            )
            session = DuringSession(
                _calendar(settings), every=timedelta(seconds=settings.prediction_interval_s)
            )
            jobs.append(RecurringJob("predict", session, cycle.run))
        evaluating = "evaluate" in hosted and settings.evaluation_interval_s > 0
        if evaluating and self._evaluator is not None:
            job = evaluation_job(self._evaluator)
            jobs.append(RecurringJob("evaluate", every(settings.evaluation_interval_s), job))
        if "drift" in hosted and settings.drift_interval_s > 0:
            self._drift.check = await self._drift_check(retrainer)
            if self._drift.check is not None:
                jobs.append(
                    RecurringJob("drift", every(settings.drift_interval_s), self._drift.check.run)
                )
        if not jobs:
            return
        self.scheduler = Scheduler(self._clock, self._store, self._owner(), jobs)
        await self.scheduler.start()
        stack.push_async_callback(self.scheduler.stop)
        _log.info("scheduler %s runs: %s", self._owner(), ", ".join(j.name for j in jobs))


def _calendar(settings: SchedulerSettings) -> ExchangeCalendar:
    return XNYS if settings.ml_calendar == "XNYS" else ALWAYS_OPEN


def _complete_rows(frame: FeatureFrame) -> FloatArray:
    return frame.values[frame.complete]


def start_ml_jobs(
    jobs: MlJobs, hosted: Sequence[str]
) -> Callable[[AsyncExitStack], Awaitable[None]]:
    """Return the runtime's start hook of ``jobs``."""

    async def start(stack: AsyncExitStack) -> None:
        await jobs.start(stack, hosted)

    return start
