"""Model governance: the stages a model version moves through and the approval gate.

A registered version starts in `ModelStage.NONE`. It reaches STAGING and then PRODUCTION
only through an approval by a named person, and only if its out-of-sample figures pass
an `ApprovalPolicy`. The rules live here, free of any registry technology, so every
registry (MLflow, an in-memory one in tests) enforces the same ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class ModelStage(StrEnum):
    """Where a model version is in its life."""

    NONE = "none"  # registered, not approved for anything
    STAGING = "staging"  # approved for paper trading and shadow evaluation
    PRODUCTION = "production"  # approved to trade; at most one version per model
    ARCHIVED = "archived"  # replaced in its stage; can no longer be promoted


# The only moves an approval may make: no skipping STAGING, no way back.
_PROMOTIONS = {ModelStage.NONE: ModelStage.STAGING, ModelStage.STAGING: ModelStage.PRODUCTION}


class StageTransitionError(ValueError):
    """A version was asked to move to a stage it may not reach from where it is."""


class ApprovalRejected(ValueError):  # noqa: N818 - reads as the event it reports
    """A version's out-of-sample figures failed the approval policy.

    Attributes
    ----------
    failures
        The checks that failed, each naming its metric, value and threshold.
    """

    def __init__(self, subject: str, failures: tuple[ApprovalCheck, ...]) -> None:
        self.failures = failures
        reasons = "; ".join(str(check) for check in failures)
        super().__init__(f"{subject} was not approved: {reasons}")


def check_promotion(current: ModelStage | str, target: ModelStage | str) -> ModelStage:
    """Return ``target`` as a `ModelStage` if a version in ``current`` may move there.

    Raises
    ------
    StageTransitionError
        Unless the move is NONE → STAGING or STAGING → PRODUCTION.
    """
    source = ModelStage(current)
    try:
        destination = ModelStage(target)
    except ValueError:
        msg = f"to_stage must be 'staging' or 'production', got {target!r}"
        raise StageTransitionError(msg) from None
    if _PROMOTIONS.get(source) != destination:
        allowed = _PROMOTIONS.get(source)
        hint = f"it can only go to {allowed.value!r}" if allowed else "it cannot be promoted"
        msg = f"a version in stage {source.value!r} cannot move to {destination.value!r}: {hint}"
        raise StageTransitionError(msg)
    return destination


@dataclass(frozen=True, slots=True)
class ApprovalCheck:
    """One metric held against one threshold.

    Attributes
    ----------
    metric
        Name of the out-of-sample figure (as in ``OutOfSampleMetrics.as_dict``).
    value
        The version's figure; NaN when it was not recorded (which fails).
    threshold
        The policy's bound.
    bound
        ``"min"``: the value must be at least the threshold; ``"max"``: at most.
    """

    metric: str
    value: float
    threshold: float
    bound: str

    @property
    def passed(self) -> bool:
        """Whether the value is within the bound (NaN never is)."""
        if math.isnan(self.value):
            return False
        return self.value >= self.threshold if self.bound == "min" else self.value <= self.threshold

    def to_dict(self) -> dict[str, float | str | bool]:
        """Return the check as JSON-ready data."""
        return {
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "bound": self.bound,
            "passed": self.passed,
        }

    def __str__(self) -> str:
        relation = ">=" if self.bound == "min" else "<="
        return f"{self.metric} = {self.value:.4g}, must be {relation} {self.threshold:.4g}"


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """Thresholds a version's out-of-sample figures must meet to be promoted.

    Each threshold is optional; ``None`` skips the check.

    Attributes
    ----------
    min_roc_auc
        Lowest acceptable ROC AUC; 0.5 is a coin.
    min_accuracy_margin
        Lowest acceptable accuracy minus the best naive baseline's (majority class,
        always up, last direction): a model must beat every free forecast.
    max_brier_score, max_log_loss
        Highest acceptable scores of the probabilities.
    min_balanced_accuracy
        Lowest acceptable mean per-class recall; guards against a model that calls one
        class almost always.
    min_samples
        Fewest out-of-sample forecasts the figures may rest on.
    """

    min_roc_auc: float | None = 0.52
    min_accuracy_margin: float | None = 0.0
    max_brier_score: float | None = None
    max_log_loss: float | None = None
    min_balanced_accuracy: float | None = None
    min_samples: int | None = 500

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None and not (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            ):
                msg = f"ApprovalPolicy.{item.name} must be a finite number or None, got {value!r}"
                raise ValueError(msg)

    def check(self, metrics: Mapping[str, float]) -> tuple[ApprovalCheck, ...]:
        """Return one `ApprovalCheck` per threshold set, against ``metrics``."""
        bounds = (
            ("roc_auc", self.min_roc_auc, "min"),
            ("accuracy_margin", self.min_accuracy_margin, "min"),
            ("brier_score", self.max_brier_score, "max"),
            ("log_loss", self.max_log_loss, "max"),
            ("balanced_accuracy", self.min_balanced_accuracy, "min"),
            ("n_samples", self.min_samples, "min"),
        )
        return tuple(
            ApprovalCheck(name, float(metrics.get(name, math.nan)), float(threshold), bound)
            for name, threshold, bound in bounds
            if threshold is not None
        )

    def to_dict(self) -> dict[str, float | None]:
        """Return the thresholds as JSON-ready data."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass(frozen=True, slots=True)
class Approval:
    """Who promoted a version to a stage, when, and on which figures."""

    stage: ModelStage
    approver: str
    approved_at_ns: int
    checks: tuple[ApprovalCheck, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the approval as JSON-ready data; `from_dict` reverses it."""
        return {
            "stage": self.stage.value,
            "approver": self.approver,
            "approved_at_ns": self.approved_at_ns,
            "checks": [check.to_dict() for check in self.checks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Approval:
        """Rebuild an approval from `to_dict` output."""
        checks = tuple(
            ApprovalCheck(c["metric"], float(c["value"]), float(c["threshold"]), c["bound"])
            for c in data["checks"]
        )
        return cls(ModelStage(data["stage"]), data["approver"], int(data["approved_at_ns"]), checks)


def review_promotion(
    subject: str,
    *,
    current: ModelStage,
    to_stage: ModelStage | str,
    metrics: Mapping[str, float],
    policy: ApprovalPolicy,
    approver: str,
    now_ns: int,
) -> Approval:
    """Decide a promotion: return the `Approval` to record, or raise why not.

    Parameters
    ----------
    subject
        What is promoted, for messages (e.g. ``"model 'eurusd' version 3"``).
    current, to_stage
        The version's stage and the one it is to reach.
    metrics
        Its out-of-sample figures.
    policy
        The thresholds they must meet.
    approver
        Who approves; must not be blank.
    now_ns
        The approval time, UTC ns.

    Raises
    ------
    StageTransitionError
        If the move is not NONE → STAGING or STAGING → PRODUCTION.
    ApprovalRejected
        If a figure fails the policy; every failing check is named.
    ValueError
        If ``approver`` is blank.

    Notes
    -----
    Nothing is recorded here: a registry writes the returned approval only after this
    returns, so a refusal leaves the registry as it was.
    """
    if not isinstance(approver, str) or not approver.strip():
        msg = f"approver must name who approves, got {approver!r}"
        raise ValueError(msg)
    target = check_promotion(current, to_stage)
    checks = policy.check(metrics)
    failures = tuple(check for check in checks if not check.passed)
    if failures:
        raise ApprovalRejected(subject, failures)
    return Approval(target, approver.strip(), now_ns, checks)


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """A registered model: its newest version and the versions in staging and production."""

    name: str
    latest_version: int | None
    staging_version: int | None
    production_version: int | None


@dataclass(frozen=True, slots=True)
class ModelVersionInfo:
    """A registered model version as a registry reports it.

    Attributes
    ----------
    name, version
        The registered model and the version number (1 first).
    stage
        Current stage.
    run_id
        The training run that produced it (lineage: parameters, data, artefact).
    created_at_ns
        Registration time, UTC ns.
    data_hash, feature_set_name, feature_set_fingerprint
        What it was trained on.
    metrics
        Its out-of-sample figures.
    approvals
        Its approvals, oldest first.
    """

    name: str
    version: int
    stage: ModelStage
    run_id: str
    created_at_ns: int
    data_hash: str
    feature_set_name: str
    feature_set_fingerprint: str
    metrics: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    approvals: tuple[Approval, ...] = ()

    @property
    def approver(self) -> str | None:
        """Who approved its latest promotion, if anyone."""
        return self.approvals[-1].approver if self.approvals else None
