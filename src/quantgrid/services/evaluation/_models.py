"""What the evaluation API answers: reports, tables, predictions, runs and drift."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from quantgrid.adapters.storage import StoredPrediction
from quantgrid.ml import (
    ConfidenceBin,
    DriftReport,
    EvaluationReport,
    FeatureDrift,
    GroupScore,
    HitRate,
    ModelScore,
    PredictionOutcome,
)
from quantgrid.services.evaluation._drift import DriftResult
from quantgrid.services.evaluation._evaluator import EvaluationRun

Status = Literal["stable", "moderate", "significant"]


class WindowOut(BaseModel):
    """The predictions a report covers: ``ts_event`` in ``[since_ns, until_ns)``, filtered."""

    since_ns: int | None = Field(description="Inclusive lower bound of `ts_event`, UTC ns.")
    until_ns: int | None = Field(description="Exclusive upper bound of `ts_event`, UTC ns.")
    model: str | None
    version: int | None
    instrument: str | None


class HitRateOut(BaseModel):
    """How many calls there were and how many were right."""

    count: int
    hits: int
    hit_rate: float | None = Field(description="`hits / count`; null without calls.")

    @classmethod
    def of(cls, rate: HitRate) -> HitRateOut:
        """Return the answer of ``rate``."""
        return cls(count=rate.count, hits=rate.hits, hit_rate=rate.hit_rate)


class ConfidenceBinOut(BaseModel):
    """Calls with a confidence in `[lower, upper)` (the last bin includes 1)."""

    lower: float
    upper: float
    count: int
    hits: int
    hit_rate: float
    mean_confidence: float

    @classmethod
    def of(cls, b: ConfidenceBin) -> ConfidenceBinOut:
        """Return the answer of ``b``."""
        return cls(
            lower=b.lower,
            upper=b.upper,
            count=b.count,
            hits=b.hits,
            hit_rate=b.hit_rate,
            mean_confidence=b.mean_confidence,
        )


class InstrumentScoreOut(BaseModel):
    """The calls on one instrument, and how they did."""

    instrument_id: str
    count: int
    hits: int
    hit_rate: float
    mean_confidence: float
    mean_directional_return: float = Field(
        description="Mean log return taken in the call's direction."
    )

    @classmethod
    def of(cls, score: GroupScore) -> InstrumentScoreOut:
        """Return the answer of ``score``."""
        return cls(
            instrument_id=score.key,
            count=score.count,
            hits=score.hits,
            hit_rate=score.hit_rate,
            mean_confidence=score.mean_confidence,
            mean_directional_return=score.mean_directional_return,
        )


class ModelScoreOut(BaseModel):
    """The calls of one model version, and how they did."""

    model_name: str
    model_version: int
    count: int
    hits: int
    hit_rate: float
    mean_confidence: float
    mean_directional_return: float

    @classmethod
    def of(cls, score: ModelScore) -> ModelScoreOut:
        """Return the answer of ``score``."""
        return cls(
            model_name=score.model_name,
            model_version=score.model_version,
            count=score.count,
            hits=score.hits,
            hit_rate=score.hit_rate,
            mean_confidence=score.mean_confidence,
            mean_directional_return=score.mean_directional_return,
        )


class BaselinesOut(BaseModel):
    """Naive callers judged on the same calls as the model."""

    always_up: HitRateOut = Field(description="Always BUY: right when the return is positive.")
    last_direction: HitRateOut = Field(
        description="The prior return's direction, on the calls whose prior return is known."
    )


class MetricsOut(BaseModel):
    """How the predictions of a window did, beside the naive baselines."""

    window: WindowOut
    total: int = Field(description="Predictions in the window.")
    resolved: int
    unresolvable: int
    pending: int
    unresolvable_by_reason: dict[str, int]
    calls: HitRateOut = Field(description="Resolved BUY and SELL predictions: the hit rate.")
    holds: HitRateOut = Field(description="Resolved HOLD predictions.")
    brier_score: float | None = Field(description="Mean `(confidence - hit)^2` of the calls.")
    calibration: list[ConfidenceBinOut] = Field(description="Equal confidence bins, non-empty.")
    by_confidence: list[ConfidenceBinOut] = Field(description="Confidence buckets, non-empty.")
    by_instrument: list[InstrumentScoreOut]
    by_model: list[ModelScoreOut]
    baselines: BaselinesOut
    mean_directional_return: float | None

    @classmethod
    def of(cls, window: WindowOut, report: EvaluationReport) -> MetricsOut:
        """Return the answer of ``report`` over ``window``."""
        return cls(
            window=window,
            total=report.total,
            resolved=report.resolved,
            unresolvable=report.unresolvable,
            pending=report.pending,
            unresolvable_by_reason=report.unresolvable_by_reason,
            calls=HitRateOut.of(report.calls),
            holds=HitRateOut.of(report.holds),
            brier_score=report.brier_score,
            calibration=[ConfidenceBinOut.of(b) for b in report.calibration],
            by_confidence=[ConfidenceBinOut.of(b) for b in report.by_confidence],
            by_instrument=[InstrumentScoreOut.of(s) for s in report.by_instrument],
            by_model=[ModelScoreOut.of(s) for s in report.by_model],
            baselines=BaselinesOut(
                always_up=HitRateOut.of(report.always_up),
                last_direction=HitRateOut.of(report.last_direction),
            ),
            mean_directional_return=report.mean_directional_return,
        )


class InstrumentTableOut(BaseModel):
    """The calls of a window per instrument."""

    window: WindowOut
    items: list[InstrumentScoreOut]


class ModelTableOut(BaseModel):
    """The calls of a window per model name and version."""

    window: WindowOut
    items: list[ModelScoreOut]


class OutcomeOut(BaseModel):
    """What became of a prediction once its horizon passed."""

    status: Literal["resolved", "unresolvable"]
    reason: str | None = Field(description="Why it is unresolvable (null when resolved).")
    detail: str
    ts_resolved: int
    ts_entry: int | None
    entry_price: float | None
    ts_exit: int | None
    exit_price: float | None
    realized_return: float | None = Field(description="`log(exit_price / entry_price)`.")
    prior_return: float | None
    hit: bool | None

    @classmethod
    def of(cls, o: PredictionOutcome) -> OutcomeOut:
        """Return the answer of ``o``."""
        return cls.model_validate(
            {
                "status": o.status.value,
                "reason": None if o.reason is None else o.reason.value,
                "detail": o.detail,
                "ts_resolved": o.ts_resolved,
                "ts_entry": o.ts_entry,
                "entry_price": o.entry_price,
                "ts_exit": o.ts_exit,
                "exit_price": o.exit_price,
                "realized_return": o.realized_return,
                "prior_return": o.prior_return,
                "hit": o.hit,
            }
        )


class HorizonOut(BaseModel):
    """How far ahead a prediction looks."""

    kind: Literal["bars", "duration", "sessions"]
    value: int = Field(description="Bars, nanoseconds or sessions.")


class PredictionOut(BaseModel):
    """A logged prediction, with its outcome once resolved."""

    prediction_id: str
    model_name: str
    model_version: int
    instrument_id: str
    ts_event: int = Field(description="When the prediction was made, UTC ns.")
    direction: Literal["buy", "sell", "hold"]
    confidence: float
    horizon: HorizonOut
    exchange_tz: str
    strategy_id: str | None
    probabilities: dict[str, float] | None
    feature_snapshot: dict[str, float]
    outcome: OutcomeOut | None

    @classmethod
    def of(cls, stored: StoredPrediction) -> PredictionOut:
        """Return the answer of ``stored``."""
        p = stored.prediction
        return cls.model_validate(
            {
                "prediction_id": p.prediction_id,
                "model_name": p.model_name,
                "model_version": p.model_version,
                "instrument_id": p.instrument_id,
                "ts_event": p.ts_event,
                "direction": p.direction.value,
                "confidence": p.confidence,
                "horizon": {"kind": p.horizon.kind.value, "value": p.horizon.value},
                "exchange_tz": p.exchange_tz,
                "strategy_id": p.strategy_id,
                "probabilities": None
                if p.probabilities is None
                else {d.value: v for d, v in p.probabilities.items()},
                "feature_snapshot": dict(p.feature_snapshot),
                "outcome": None if stored.outcome is None else OutcomeOut.of(stored.outcome),
            }
        )


class PredictionPage(BaseModel):
    """A page of predictions; pass `next_cursor` back as `after` for the next one."""

    items: list[PredictionOut]
    next_cursor: str | None


class EvaluationRunOut(BaseModel):
    """What an evaluation run did (see `EvaluationRun`)."""

    ts_started: int
    ts_finished: int
    due: int
    instruments: int
    resolved: int
    unresolvable: int
    unresolvable_by_reason: dict[str, int]
    pending: int
    failed_instruments: list[str]
    failed_predictions: int
    saved: int
    already_resolved: int
    summary: str

    @classmethod
    def of(cls, run: EvaluationRun) -> EvaluationRunOut:
        """Return the answer of ``run``."""
        return cls(
            ts_started=run.ts_started,
            ts_finished=run.ts_finished,
            due=run.due,
            instruments=run.instruments,
            resolved=run.resolved,
            unresolvable=run.unresolvable,
            unresolvable_by_reason=run.unresolvable_by_reason,
            pending=run.pending,
            failed_instruments=list(run.failed_instruments),
            failed_predictions=run.failed_predictions,
            saved=run.saved,
            already_resolved=run.already_resolved,
            summary=run.summary(),
        )


class FeatureDriftOut(BaseModel):
    """One feature's PSI against its reference sample."""

    name: str
    psi: float
    status: Status
    reference_count: int
    current_count: int
    reference_nan: int
    current_nan: int

    @classmethod
    def of(cls, f: FeatureDrift) -> FeatureDriftOut:
        """Return the answer of ``f``."""
        return cls.model_validate(
            {
                "name": f.name,
                "psi": f.psi,
                "status": f.status.value,
                "reference_count": f.reference_count,
                "current_count": f.current_count,
                "reference_nan": f.reference_nan,
                "current_nan": f.current_nan,
            }
        )


class DriftOut(BaseModel):
    """One feature set's latest drift check."""

    feature_set: str
    fingerprint: str
    ts_checked: int = Field(description="The end of the window checked, UTC ns.")
    instruments: list[str]
    failed_instruments: list[str]
    rows: int
    status: Status
    max_psi: float
    max_feature: str
    moderate: float = Field(description="PSI from which a feature is MODERATE.")
    significant: float = Field(description="PSI from which a feature is SIGNIFICANT.")
    features: list[FeatureDriftOut]

    @classmethod
    def of(cls, result: DriftResult) -> DriftOut:
        """Return the answer of ``result``."""
        report: DriftReport = result.report
        return cls.model_validate(
            {
                "feature_set": result.feature_set,
                "fingerprint": result.fingerprint,
                "ts_checked": result.ts_checked,
                "instruments": list(result.instruments),
                "failed_instruments": list(result.failed_instruments),
                "rows": result.rows,
                "status": report.status.value,
                "max_psi": report.max_psi,
                "max_feature": report.max_feature,
                "moderate": report.moderate,
                "significant": report.significant,
                "features": [FeatureDriftOut.of(f) for f in report.features],
            }
        )
