"""The scheduler's ML jobs: prediction cycles, and retraining on drift or decay.

``PredictionCycle`` is the "predict" job: each served model predicts every instrument
from the features of its latest bar, and the predictions are stored (the evaluator
resolves them once their horizon has passed). ``Retrainer`` trains a candidate version
on recent bars when the drift check finds significant drift (its hook) or when
``DecayCheck`` (the "retrain-check" job) finds the production version's resolved hit
rate below a floor. A candidate is registered in stage NONE: it serves only once an
admin approves it through the governance checks, never automatically.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from quantgrid.adapters.market_data import MarketDataSource, Timeframe
from quantgrid.adapters.registry import ModelRegistry, log_dataset_training
from quantgrid.adapters.storage import PredictionStore
from quantgrid.core import NANOS_PER_SECOND
from quantgrid.ml import (
    FeatureSet,
    Horizon,
    ModelStage,
    ModelVersionInfo,
    Prediction,
    PredictionOutcome,
    evaluate_predictions,
    train_on_bars,
)
from quantgrid.model import BarSeries
from quantgrid.services.evaluation import DriftResult, fetch_bars
from quantgrid.services.ml import ModelServer

_log = logging.getLogger("quantgrid.runtime.ml")


#: Bars fetched per warm-up bar of a feature set: the recursive features (EMA, Wilder's
#: RSI, ADX and ATR, MACD) forget their start only slowly, and must match training's
#: values, computed over the whole history (review: 52 bars left the EMA distance 10 %
#: and the MACD histogram 30 % away from them).
LOOKBACK_PER_WARMUP_BAR = 10


async def recent_bars(
    source: MarketDataSource, instrument: str, end_ns: int, timeframe: Timeframe, bars: int
) -> BarSeries:
    """Return the bars of the ``bars`` bar lengths up to ``end_ns``, paged (``fetch_bars``)."""
    start = end_ns - (bars + 1) * timeframe.nanos
    return await fetch_bars(source, instrument, start, end_ns, timeframe, chunk=1000)


class PredictionCycle:
    """Predict every instrument with every served model, and store the predictions.

    Parameters
    ----------
    server
        The served production models.
    store
        Where predictions are kept (idempotent by id).
    source
        The market data the features are computed from.
    instruments
        The universe to predict.
    feature_sets
        Feature sets by name: a model predicts from the set it was trained on.
    timeframe, horizon_bars, exchange_tz
        The bars' length, how many bars ahead a prediction is for, and the exchange's
        time zone (for session-aware evaluation).

    Notes
    -----
    A prediction is stamped at its bar's close and its id names model, version,
    instrument and bar, so a cycle that runs again over the same bar (a restart, a
    source whose data stopped) stores nothing twice.
    """

    def __init__(
        self,
        server: ModelServer,
        store: PredictionStore,
        source: MarketDataSource,
        instruments: Sequence[str],
        *,
        feature_sets: Mapping[str, FeatureSet],
        timeframe: Timeframe,
        horizon_bars: int = 1,
        exchange_tz: str = "UTC",
    ) -> None:
        if horizon_bars < 1:
            raise ValueError(f"horizon_bars must be at least 1, not {horizon_bars}")
        self._server = server
        self._store = store
        self._source = source
        self._instruments = tuple(instruments)
        self._feature_sets = dict(feature_sets)
        self._timeframe = timeframe
        self._horizon = Horizon.of_bars(horizon_bars)
        self._exchange_tz = exchange_tz

    async def run(self, slot_ns: int) -> str:
        """Predict at ``slot_ns`` and store; return a one-line summary for the job log."""
        predictions: list[Prediction] = []
        skipped: dict[str, int] = {}
        for status in self._server.statuses():
            if status.version is None:
                skipped["no version loaded"] = skipped.get("no version loaded", 0) + 1
                continue
            feature_set = self._feature_sets.get(status.feature_set_name)
            if feature_set is None or feature_set.names != status.feature_names:
                reason = f"unknown feature set {status.feature_set_name!r}"
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            for instrument in self._instruments:
                made = await self._predict(status.name, feature_set, instrument, slot_ns)
                if isinstance(made, str):
                    skipped[made] = skipped.get(made, 0) + 1
                else:
                    predictions.append(made)
        stored = await asyncio.to_thread(self._store.save_predictions, predictions)
        summary = f"{len(predictions)} predictions ({stored} new)"
        if skipped:
            summary += "; skipped: " + ", ".join(f"{n} {r}" for r, n in sorted(skipped.items()))
        return summary

    async def _predict(
        self, model: str, feature_set: FeatureSet, instrument: str, slot_ns: int
    ) -> Prediction | str:
        lookback = LOOKBACK_PER_WARMUP_BAR * (feature_set.warmup + 1)
        try:
            bars = await recent_bars(self._source, instrument, slot_ns, self._timeframe, lookback)
        except Exception as error:  # one instrument's outage must not stop the others
            _log.warning("predict: no bars for %s: %s", instrument, error)
            return "source error"
        if len(bars.ts) == 0:
            return "no bars"
        try:
            frame = feature_set.compute(bars)
        except ValueError as error:  # bad bars of one instrument: the others still run
            _log.warning("predict: bad bars for %s: %s", instrument, error)
            return "bad bars"
        row = frame.values[-1]
        if not all(math.isfinite(v) for v in row):
            return "features warming up"
        features = dict(zip(frame.names, (float(v) for v in row), strict=True))
        try:
            served = self._server.predict(model, features)
        except (LookupError, ValueError) as error:  # swapped or withdrawn meanwhile
            _log.warning("predict: %s could not predict %s: %s", model, instrument, error)
            return "model changed"
        ts = int(bars.ts[-1])
        return Prediction(
            prediction_id=f"{model}:v{served.version}:{instrument}:{ts}",
            model_name=model,
            model_version=served.version,
            instrument_id=instrument,
            ts_event=ts,
            direction=served.direction,
            confidence=served.confidence,
            horizon=self._horizon,
            exchange_tz=self._exchange_tz,
            feature_snapshot=features,
            probabilities=dict(served.probabilities),
        )


@dataclass(frozen=True, slots=True)
class RetrainPolicy:
    """When a retraining is due, and on what.

    Attributes
    ----------
    min_hit_rate
        The production version's resolved hit rate (BUY/SELL calls) below which it has
        decayed.
    min_resolved
        Resolved calls needed before the hit rate is judged.
    window_s
        How far back the decay check and the training data reach.
    min_interval_s
        Least time between two retrainings of one model, whatever triggers them.
    horizon_bars
        The label horizon of the candidate.
    """

    min_hit_rate: float = 0.5
    min_resolved: int = 200
    window_s: float = 7 * 86_400.0
    min_interval_s: float = 86_400.0
    horizon_bars: int = 1


class Retrainer:
    """Train a candidate version of a model on recent bars (stage NONE, to be approved)."""

    def __init__(
        self,
        registry: ModelRegistry,
        source: MarketDataSource,
        instruments: Sequence[str],
        *,
        feature_sets: Mapping[str, FeatureSet],
        timeframe: Timeframe,
        policy: RetrainPolicy,
        clock: Callable[[], int],
    ) -> None:
        self._registry = registry
        self._source = source
        self._instruments = tuple(instruments)
        self._feature_sets = dict(feature_sets)
        self._timeframe = timeframe
        self._policy = policy
        self._clock = clock
        self._last: dict[str, int] = {}
        self._lock = asyncio.Lock()

    @property
    def policy(self) -> RetrainPolicy:
        """Return when retrainings are due."""
        return self._policy

    async def retrain(self, model: str, reason: str) -> ModelVersionInfo | None:
        """Train and register a candidate of ``model``; None if one was trained lately.

        Raises
        ------
        ValueError
            If ``model`` has no production version, or its feature set is unknown.
        """
        async with self._lock:
            now = self._clock()
            last = self._last.get(model)
            if last is not None and now - last < self._policy.min_interval_s * 1e9:
                _log.info("retrain %s (%s): skipped, one ran at %d", model, reason, last)
                return None
            info, trained = await asyncio.to_thread(self._registry.load, model, "production")
            feature_set = self._feature_sets.get(info.feature_set_name)
            if feature_set is None:
                msg = f"model {model!r}: its feature set {info.feature_set_name!r} is unknown"
                raise ValueError(msg)
            bars = {}
            count = int(self._policy.window_s // self._timeframe.seconds)
            for instrument in self._instruments:
                bars[instrument] = await recent_bars(
                    self._source, instrument, now, self._timeframe, count
                )
            # The candidate answers the production version's question: a model without
            # a flat class was trained with flat bars dropped (as `quantgrid ml train`
            # does by default), so is its successor.
            result, dataset = await asyncio.to_thread(
                train_on_bars,
                bars,
                feature_set,
                trained.spec,
                horizon=self._policy.horizon_bars,
                drop_flat=0 not in trained.classes,
            )
            self._last[model] = now  # after the training: a failed one may be retried
            candidate = await asyncio.to_thread(
                log_dataset_training,
                self._registry,
                model,
                result,
                dataset,
                tags={
                    "quantgrid.retrain.reason": reason,
                    "quantgrid.retrain.replaces": str(info.version),
                },
            )
            _log.warning(
                "retrained %s (%s): version %d awaits approval", model, reason, candidate.version
            )
            return candidate

    async def on_drift(self, result: DriftResult) -> None:
        """Retrain every production model trained on the drifted feature set."""
        models = await asyncio.to_thread(self._registry.list_models)
        for summary in models:
            versions = await asyncio.to_thread(self._registry.list_versions, summary.name)
            production = [v for v in versions if v.stage is ModelStage.PRODUCTION]
            if production and production[0].feature_set_name == result.feature_set:
                report = result.report
                reason = f"drift: {report.max_feature} PSI {report.max_psi:.3f}"
                await self.retrain(summary.name, reason)


class DecayCheck:
    """The "retrain-check" job: retrain production models whose hit rate decayed."""

    def __init__(
        self,
        registry: ModelRegistry,
        store: PredictionStore,
        retrainer: Retrainer,
    ) -> None:
        self._registry = registry
        self._store = store
        self._retrainer = retrainer

    async def run(self, slot_ns: int) -> str:
        """Judge each production version's recent hit rate; return a summary line."""
        policy = self._retrainer.policy
        since = slot_ns - round(policy.window_s * NANOS_PER_SECOND)
        lines = []
        for summary in await asyncio.to_thread(self._registry.list_models):
            version = await asyncio.to_thread(self._registry.production_version, summary.name)
            if version is None:
                continue
            pairs = await asyncio.to_thread(self._resolved, summary.name, version, since, slot_ns)
            report = evaluate_predictions(pairs)
            calls, rate = report.calls.count, report.calls.hit_rate
            if calls < policy.min_resolved or rate is None:
                lines.append(f"{summary.name} v{version}: {calls} resolved calls, too few")
                continue
            if rate >= policy.min_hit_rate:
                lines.append(f"{summary.name} v{version}: hit rate {rate:.3f}, kept")
                continue
            reason = f"decay: hit rate {rate:.3f} < {policy.min_hit_rate} over {calls} calls"
            candidate = await self._retrainer.retrain(summary.name, reason)
            made = "retrain skipped" if candidate is None else f"v{candidate.version} trained"
            lines.append(f"{summary.name} v{version}: {reason}; {made}")
        return "; ".join(lines) or "no model in production"

    def _resolved(
        self, model: str, version: int, since: int, until: int
    ) -> list[tuple[Prediction, PredictionOutcome | None]]:
        pairs: list[tuple[Prediction, PredictionOutcome | None]] = []
        after = None
        while True:
            page = self._store.list_predictions(
                model_name=model,
                model_version=version,
                since_ns=since,
                until_ns=until,
                resolved=True,
                limit=1000,
                after=after,
            )
            pairs.extend((p.prediction, p.outcome) for p in page.items)
            if page.next_cursor is None:
                return pairs
            after = page.next_cursor
