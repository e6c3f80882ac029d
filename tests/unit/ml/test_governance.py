"""Governance rules: the stage ladder, the approval policy and the approval record."""

from __future__ import annotations

import math

import pytest

from quantgrid.ml._governance import (
    Approval,
    ApprovalCheck,
    ApprovalPolicy,
    ApprovalRejected,
    ModelStage,
    StageTransitionError,
    check_promotion,
    review_promotion,
)

GOOD = {
    "roc_auc": 0.61,
    "accuracy_margin": 0.04,
    "brier_score": 0.23,
    "log_loss": 0.66,
    "balanced_accuracy": 0.55,
    "n_samples": 4_000.0,
}


@pytest.mark.parametrize(
    ("current", "target"),
    [(ModelStage.NONE, "staging"), (ModelStage.STAGING, ModelStage.PRODUCTION)],
)
def test_the_two_promotions_allowed(current: ModelStage, target: str) -> None:
    assert check_promotion(current, target) == ModelStage(target)


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        ("none", "production", "'none' cannot move to 'production': it can only go to 'staging'"),
        ("staging", "staging", "it can only go to 'production'"),
        ("production", "staging", "'production' cannot move to 'staging': it cannot be"),
        ("archived", "staging", "'archived' cannot move"),
        ("none", "none", "'none' cannot move to 'none'"),
        ("none", "live", "to_stage must be 'staging' or 'production', got 'live'"),
    ],
)
def test_every_other_move_is_refused(current: str, target: str, message: str) -> None:
    with pytest.raises(StageTransitionError, match=message):
        check_promotion(current, target)


def test_default_policy_checks_auc_margin_and_sample_count() -> None:
    checks = ApprovalPolicy().check(GOOD)

    assert [(c.metric, c.threshold, c.bound) for c in checks] == [
        ("roc_auc", 0.52, "min"),
        ("accuracy_margin", 0.0, "min"),
        ("n_samples", 500.0, "min"),
    ]
    assert all(c.passed for c in checks)


def test_bounds_are_inclusive_and_nan_or_missing_fails() -> None:
    policy = ApprovalPolicy(min_roc_auc=0.61, max_brier_score=0.23, min_samples=None)

    at_bounds = policy.check(GOOD)
    missing = policy.check({"accuracy_margin": 0.1, "brier_score": math.nan})

    assert all(c.passed for c in at_bounds)
    assert [(c.metric, c.passed) for c in missing] == [
        ("roc_auc", False),
        ("accuracy_margin", True),
        ("brier_score", False),
    ]
    assert str(missing[2]) == "brier_score = nan, must be <= 0.23"


@pytest.mark.parametrize("value", [math.nan, math.inf, "0.5", True])
def test_a_threshold_must_be_a_finite_number(value: object) -> None:
    with pytest.raises(ValueError, match=r"ApprovalPolicy\.min_roc_auc must be a finite number"):
        ApprovalPolicy(min_roc_auc=value)  # type: ignore[arg-type]


def test_review_returns_the_approval_to_record() -> None:
    approval = review_promotion(
        "model 'fx' version 2",
        current=ModelStage.NONE,
        to_stage="staging",
        metrics=GOOD,
        policy=ApprovalPolicy(max_log_loss=0.69),
        approver="  quant.lead ",
        now_ns=123,
    )

    assert (approval.stage, approval.approver, approval.approved_at_ns) == (
        ModelStage.STAGING,
        "quant.lead",
        123,
    )
    assert {c.metric for c in approval.checks} == {
        "roc_auc",
        "accuracy_margin",
        "log_loss",
        "n_samples",
    }
    assert Approval.from_dict(approval.to_dict()) == approval


def test_review_names_every_failing_metric_and_threshold() -> None:
    weak = {**GOOD, "roc_auc": 0.5, "accuracy_margin": -0.01}

    with pytest.raises(ApprovalRejected) as refused:
        review_promotion(
            "model 'fx' version 2",
            current=ModelStage.STAGING,
            to_stage="production",
            metrics=weak,
            policy=ApprovalPolicy(min_roc_auc=0.55, min_accuracy_margin=0.0),
            approver="risk",
            now_ns=1,
        )

    assert str(refused.value) == (
        "model 'fx' version 2 was not approved: roc_auc = 0.5, must be >= 0.55; "
        "accuracy_margin = -0.01, must be >= 0"
    )
    assert [c.metric for c in refused.value.failures] == ["roc_auc", "accuracy_margin"]
    assert isinstance(refused.value, ValueError)


def test_the_stage_rule_is_checked_before_the_figures() -> None:
    with pytest.raises(StageTransitionError):
        review_promotion(
            "m",
            current=ModelStage.NONE,
            to_stage="production",
            metrics={},
            policy=ApprovalPolicy(),
            approver="risk",
            now_ns=1,
        )


def test_a_check_reads_as_its_rule() -> None:
    check = ApprovalCheck("roc_auc", 0.5123, 0.52, "min")

    assert not check.passed
    assert str(check) == "roc_auc = 0.5123, must be >= 0.52"
    assert check.to_dict()["passed"] is False
