"""The ML service's request bodies and answers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from quantgrid.ml import (
    Approval,
    ApprovalCheck,
    Direction,
    ModelStage,
    ModelSummary,
    ModelVersionInfo,
)
from quantgrid.services.ml._served import (
    MODEL_NAME_PATTERN,
    ServedBatch,
    ServedModelStatus,
    ServedPrediction,
)

#: Instrument and feature set ids: a letter or digit, then letters, digits, ``.``, ``_``, ``-``.
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
#: Features one row may name at most.
MAX_FEATURES = 1_000

ModelName = Annotated[str, StringConstraints(pattern=MODEL_NAME_PATTERN)]
Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
FeatureName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
FeatureValue = Annotated[float, Field(allow_inf_nan=False)]
FeatureMap = Annotated[
    dict[FeatureName, FeatureValue],
    Field(max_length=MAX_FEATURES, description="One finite number per feature, by name."),
]


def _number(value: float) -> float | None:
    """Return ``value``, or None for NaN (JSON has no NaN: a figure not recorded)."""
    return None if math.isnan(value) else value


class PredictBody(BaseModel):
    """What to predict: a model and its features, given or read from the feature store.

    Give ``features``, or ``instrument_id`` (and, optionally, ``feature_set``) to use the
    instrument's latest row in the online feature store.
    """

    model_config = ConfigDict(extra="forbid")

    model: ModelName = Field(description="The registered model; its production version answers.")
    features: FeatureMap | None = None
    instrument_id: Key | None = Field(
        default=None, description="Read the features of this instrument from the store."
    )
    feature_set: Key | None = Field(
        default=None,
        description="The stored feature set; by default the one the model was trained on.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.features is None) == (self.instrument_id is None):
            msg = "give either features, or instrument_id to read them from the feature store"
            raise ValueError(msg)
        if self.feature_set is not None and self.instrument_id is None:
            msg = "feature_set goes with instrument_id"
            raise ValueError(msg)
        return self


class PredictBatchBody(BaseModel):
    """Rows of features to predict with one model version, answered in order."""

    model_config = ConfigDict(extra="forbid")

    model: ModelName
    # The limit is the settings' (``ml_max_batch_rows``), checked by the route.
    rows: list[FeatureMap] = Field(min_length=1)


class ApproveBody(BaseModel):
    """The stage to promote a version to: staging from none, production from staging."""

    model_config = ConfigDict(extra="forbid")

    to_stage: Literal["staging", "production"]


class ModelPredictionOut(BaseModel):
    """A prediction of the model's production version."""

    model: str
    version: int
    direction: Direction = Field(description="The most probable direction.")
    confidence: float = Field(description="Its probability.")
    probabilities: dict[Direction, float] = Field(
        description="The probability of each direction the model knows; they sum to 1."
    )
    feature_names: list[str] = Field(description="The features used, in the model's order.")
    ts_event: int = Field(description="When the prediction was made, ns since the epoch, UTC.")
    instrument_id: str | None = Field(
        default=None, description="The instrument, when the features came from the store."
    )
    features_ts: int | None = Field(
        default=None, description="The time of the stored features used, ns since the epoch."
    )

    @classmethod
    def of(
        cls,
        prediction: ServedPrediction,
        instrument_id: str | None = None,
        features_ts: int | None = None,
    ) -> ModelPredictionOut:
        """Return the answer of a served prediction."""
        return cls(
            model=prediction.model,
            version=prediction.version,
            direction=prediction.direction,
            confidence=prediction.confidence,
            probabilities=dict(prediction.probabilities),
            feature_names=list(prediction.feature_names),
            ts_event=prediction.ts_event,
            instrument_id=instrument_id,
            features_ts=features_ts,
        )


class BatchRowOut(BaseModel):
    """The prediction of one row of a batch."""

    direction: Direction
    confidence: float
    probabilities: dict[Direction, float]


class ModelBatchOut(BaseModel):
    """The predictions of a batch, in the rows' order, all by one version."""

    model: str
    version: int
    feature_names: list[str]
    ts_event: int
    predictions: list[BatchRowOut]

    @classmethod
    def of(cls, batch: ServedBatch) -> ModelBatchOut:
        """Return the answer of a served batch."""
        columns = batch.columns
        rows = [
            BatchRowOut(
                direction=columns[best],
                confidence=proba[best],
                probabilities=dict(zip(columns, proba, strict=True)),
            )
            for best, proba in zip(batch.choice.tolist(), batch.probabilities.tolist(), strict=True)
        ]
        return cls(
            model=batch.model,
            version=batch.version,
            feature_names=list(batch.feature_names),
            ts_event=batch.ts_event,
            predictions=rows,
        )


class ApprovalCheckOut(BaseModel):
    """One figure of a version held against one threshold of the approval policy."""

    metric: str
    value: float | None = Field(description="The version's figure; null if not recorded.")
    threshold: float
    bound: Literal["min", "max"]
    passed: bool

    @classmethod
    def of(cls, check: ApprovalCheck) -> ApprovalCheckOut:
        """Return the answer of a check."""
        return cls(
            metric=check.metric,
            value=_number(check.value),
            threshold=check.threshold,
            bound="min" if check.bound == "min" else "max",
            passed=check.passed,
        )


class ModelApprovalOut(BaseModel):
    """Who promoted a version to a stage, when, and on which figures."""

    stage: ModelStage
    approver: str
    approved_at_ns: int
    checks: list[ApprovalCheckOut]

    @classmethod
    def of(cls, approval: Approval) -> ModelApprovalOut:
        """Return the answer of an approval."""
        return cls(
            stage=approval.stage,
            approver=approval.approver,
            approved_at_ns=approval.approved_at_ns,
            checks=[ApprovalCheckOut.of(c) for c in approval.checks],
        )


class ModelVersionOut(BaseModel):
    """A registered version: its stage, lineage, out-of-sample figures and approvals."""

    version: int
    stage: ModelStage
    run_id: str
    created_at_ns: int
    data_hash: str
    feature_set_name: str
    feature_set_fingerprint: str
    metrics: dict[str, float | None] = Field(
        description="Out-of-sample figures; null where one could not be computed."
    )
    approvals: list[ModelApprovalOut] = Field(description="Oldest first.")
    served: bool = Field(description="Whether this service is serving this version.")

    @classmethod
    def of(cls, info: ModelVersionInfo, served_version: int | None) -> ModelVersionOut:
        """Return the answer of a version's record."""
        return cls(
            version=info.version,
            stage=info.stage,
            run_id=info.run_id,
            created_at_ns=info.created_at_ns,
            data_hash=info.data_hash,
            feature_set_name=info.feature_set_name,
            feature_set_fingerprint=info.feature_set_fingerprint,
            metrics={k: _number(v) for k, v in sorted(info.metrics.items())},
            approvals=[ModelApprovalOut.of(a) for a in info.approvals],
            served=info.version == served_version,
        )


class ServingOut(BaseModel):
    """How this service serves a model."""

    version: int | None = Field(description="The version served; null if none is loaded.")
    loaded_at_ns: int | None
    reloads: int = Field(description="Versions loaded since start, the first included.")
    reload_failures: int
    last_error: str | None = Field(description="The latest failure to read or load it.")
    last_error_at_ns: int | None
    failed_version: int | None = Field(description="The version whose load failed, if any.")

    @classmethod
    def of(cls, status: ServedModelStatus) -> ServingOut:
        """Return the answer of a served model's status."""
        return cls(
            version=status.version,
            loaded_at_ns=status.loaded_at_ns,
            reloads=status.reloads,
            reload_failures=status.reload_failures,
            last_error=status.last_error,
            last_error_at_ns=status.last_error_at_ns,
            failed_version=status.failed_version,
        )


class ModelOut(BaseModel):
    """A registered model: its versions and stages, and how this service serves it."""

    name: str
    latest_version: int | None
    staging_version: int | None
    production_version: int | None
    serving: ServingOut | None = Field(
        description="Null when this service does not serve the model (not in production, "
        "or not among the models it was told to serve)."
    )
    versions: list[ModelVersionOut] = Field(description="Oldest first.")

    @classmethod
    def of(
        cls,
        summary: ModelSummary,
        versions: list[ModelVersionInfo],
        status: ServedModelStatus | None,
    ) -> ModelOut:
        """Return the answer of a model, its versions and its serving status."""
        served = status.version if status is not None else None
        return cls(
            name=summary.name,
            latest_version=summary.latest_version,
            staging_version=summary.staging_version,
            production_version=summary.production_version,
            serving=ServingOut.of(status) if status is not None else None,
            versions=[ModelVersionOut.of(v, served) for v in versions],
        )


class ModelListOut(BaseModel):
    """Every registered model, by name."""

    models: list[ModelOut]


class ApprovedOut(BaseModel):
    """A version after its promotion, and how the model is served after it."""

    version: ModelVersionOut
    serving: ServingOut | None = Field(
        description="After a promotion to production the new version is loaded at once; "
        "a failed load shows here and the previous version serves on."
    )


def summary_of(name: str, versions: list[ModelVersionInfo]) -> ModelSummary:
    """Return a model's summary made from its versions' stages."""
    stages: Mapping[ModelStage, int] = {v.stage: v.version for v in versions}
    return ModelSummary(
        name=name,
        latest_version=max((v.version for v in versions), default=None),
        staging_version=stages.get(ModelStage.STAGING),
        production_version=stages.get(ModelStage.PRODUCTION),
    )
