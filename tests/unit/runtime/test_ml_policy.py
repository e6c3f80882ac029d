"""The ML service a runtime builds approves against the deployment's floor."""

from __future__ import annotations

from pathlib import Path

from quantgrid.ml import ApprovalPolicy
from quantgrid.runtime import build_service
from tests.unit.runtime.conftest import make_config


def test_the_ml_service_approves_against_the_floor_of_its_environment(tmp_path: Path) -> None:
    config = make_config(tmp_path, QUANTGRID_ML_MIN_AUC="0.6", QUANTGRID_ML_MAX_BRIER="0.24")

    runtime = build_service("ml", config)

    expected = ApprovalPolicy(min_roc_auc=0.6, max_brier_score=0.24)
    assert runtime.apps["ml"].state.ml.policy == expected


def test_without_variables_the_floor_is_the_default_policy(tmp_path: Path) -> None:
    runtime = build_service("ml", make_config(tmp_path))
    assert runtime.apps["ml"].state.ml.policy == ApprovalPolicy()
