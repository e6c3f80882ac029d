"""What every ModelRegistry must do, written once and run against each adapter.

A test class inherits ``RegistryContract`` and provides the fixture ``registry``: a
registry whose clock is the ``clock`` fixture of conftest.py. Tests register under the
``name`` fixture, unique per test, so a registry may be shared by a module.
"""

from __future__ import annotations

import numpy as np
import pytest

from quantgrid.adapters.registry import ModelNotFoundError, ModelRegistry
from quantgrid.ml._governance import (
    ApprovalPolicy,
    ApprovalRejected,
    ModelStage,
    StageTransitionError,
)
from quantgrid.ml._training import TrainingResult

POLICY = ApprovalPolicy(min_roc_auc=0.6, min_accuracy_margin=0.02, max_brier_score=0.24)
LINEAGE = {
    "data_hash": "ab" * 32,
    "feature_set_name": "returns-v1",
    "feature_set_fingerprint": "f00d",
}


def register(registry: ModelRegistry, name: str, result: TrainingResult) -> int:
    return registry.log_training(name, result, **LINEAGE).version


def promote(registry: ModelRegistry, name: str, version: int, *stages: str) -> None:
    for stage in stages:
        registry.approve(name, version, to_stage=stage, approver="risk.officer", policy=POLICY)


class RegistryContract:
    """The lifecycle, governance and error behaviour every registry shares."""

    def test_a_logged_training_is_a_new_version_in_no_stage(
        self, registry: ModelRegistry, name: str, good_result: TrainingResult
    ) -> None:
        first = registry.log_training(name, good_result, **LINEAGE)
        second = registry.log_training(name, good_result, **LINEAGE)

        assert (first.version, second.version) == (1, 2)
        assert first.stage is ModelStage.NONE
        assert first.approvals == () and first.approver is None
        assert first.data_hash == LINEAGE["data_hash"]
        assert first.feature_set_name == "returns-v1"
        assert first.feature_set_fingerprint == "f00d"
        assert first.metrics["roc_auc"] == pytest.approx(good_result.metrics.roc_auc)
        assert first.metrics["accuracy_margin"] == pytest.approx(
            good_result.metrics.accuracy_margin
        )
        assert registry.production_version(name) is None
        assert [v.version for v in registry.list_versions(name)] == [1, 2]
        summary = next(s for s in registry.list_models() if s.name == name)
        assert (summary.latest_version, summary.staging_version) == (2, None)

    def test_full_lifecycle_reaches_production_with_the_trained_model(
        self, registry: ModelRegistry, name: str, good_result: TrainingResult
    ) -> None:
        version = register(registry, name, good_result)

        staged = registry.approve(
            name, version, to_stage="staging", approver="quant.lead", policy=POLICY
        )
        live = registry.approve(
            name, version, to_stage=ModelStage.PRODUCTION, approver="risk.officer", policy=POLICY
        )

        assert staged.stage is ModelStage.STAGING
        assert live.stage is ModelStage.PRODUCTION
        assert registry.production_version(name) == version
        info, model = registry.load(name)
        assert info.version == version
        rows = np.random.default_rng(0).normal(size=(50, 3))
        np.testing.assert_array_equal(
            model.predict_proba(rows), good_result.model.predict_proba(rows)
        )
        assert model.feature_names == ("ret_1", "ret_2", "ret_3")
        summary = next(s for s in registry.list_models() if s.name == name)
        assert (summary.staging_version, summary.production_version) == (None, version)

    def test_approvals_record_who_when_and_the_figures_checked(
        self, registry: ModelRegistry, name: str, good_result: TrainingResult
    ) -> None:
        version = register(registry, name, good_result)
        registry.approve(name, version, to_stage="staging", approver="quant.lead", policy=POLICY)
        registry.approve(
            name, version, to_stage="production", approver="risk.officer", policy=POLICY
        )

        info = registry.get_version(name, version)

        staging, production = info.approvals
        assert (staging.stage, staging.approver) == (ModelStage.STAGING, "quant.lead")
        assert (production.stage, production.approver) == (ModelStage.PRODUCTION, "risk.officer")
        assert staging.approved_at_ns < production.approved_at_ns
        assert info.approver == "risk.officer"
        checks = {check.metric: check for check in production.checks}
        assert set(checks) == {"roc_auc", "accuracy_margin", "brier_score", "n_samples"}
        assert checks["roc_auc"].threshold == 0.6
        assert checks["roc_auc"].value == pytest.approx(good_result.metrics.roc_auc)
        assert checks["brier_score"].bound == "max"
        assert all(check.passed for check in production.checks)

    def test_skipping_staging_is_refused_and_changes_nothing(
        self, registry: ModelRegistry, name: str, good_result: TrainingResult
    ) -> None:
        version = register(registry, name, good_result)

        with pytest.raises(StageTransitionError, match="'none' cannot move to 'production'"):
            registry.approve(
                name, version, to_stage="production", approver="risk.officer", policy=POLICY
            )

        info = registry.get_version(name, version)
        assert (info.stage, info.approvals) == (ModelStage.NONE, ())
        assert registry.production_version(name) is None

    def test_failing_figures_are_refused_by_name_and_change_nothing(
        self, registry: ModelRegistry, name: str, poor_result: TrainingResult
    ) -> None:
        version = register(registry, name, poor_result)

        with pytest.raises(ApprovalRejected) as refused:
            registry.approve(name, version, to_stage="staging", approver="quant", policy=POLICY)

        failed = {check.metric for check in refused.value.failures}
        assert {"roc_auc", "accuracy_margin"} <= failed
        assert "roc_auc = 0." in str(refused.value)
        assert "must be >= 0.6" in str(refused.value)
        info = registry.get_version(name, version)
        assert (info.stage, info.approvals) == (ModelStage.NONE, ())
        with pytest.raises(ModelNotFoundError):
            registry.load(name, "staging")

    def test_a_new_production_version_archives_the_previous_one(
        self, registry: ModelRegistry, name: str, good_result: TrainingResult
    ) -> None:
        old = register(registry, name, good_result)
        promote(registry, name, old, "staging", "production")
        new = register(registry, name, good_result)
        promote(registry, name, new, "staging")

        assert registry.production_version(name) == old  # staging changes no production
        promote(registry, name, new, "production")

        assert registry.production_version(name) == new
        assert registry.get_version(name, old).stage is ModelStage.ARCHIVED
        assert registry.load(name)[0].version == new
        stages = [(v.version, v.stage) for v in registry.list_versions(name)]
        assert stages == [(old, ModelStage.ARCHIVED), (new, ModelStage.PRODUCTION)]
        with pytest.raises(StageTransitionError, match="'archived' cannot move"):
            promote(registry, name, old, "staging")

    def test_a_new_staging_version_archives_the_previous_staging_one(
        self, registry: ModelRegistry, name: str, good_result: TrainingResult
    ) -> None:
        first = register(registry, name, good_result)
        second = register(registry, name, good_result)
        promote(registry, name, first, "staging")
        promote(registry, name, second, "staging")

        assert registry.get_version(name, first).stage is ModelStage.ARCHIVED
        assert registry.load(name, "staging")[0].version == second

    def test_production_cannot_be_approved_again_or_demoted(
        self, registry: ModelRegistry, name: str, good_result: TrainingResult
    ) -> None:
        version = register(registry, name, good_result)
        promote(registry, name, version, "staging", "production")

        for stage in ("production", "staging"):
            with pytest.raises(StageTransitionError, match="'production' cannot move"):
                promote(registry, name, version, stage)
        with pytest.raises(StageTransitionError, match="to_stage must be 'staging' or"):
            promote(registry, name, version, "archived-ish")

    def test_loading_a_specific_version_works_in_any_stage(
        self, registry: ModelRegistry, name: str, good_result: TrainingResult
    ) -> None:
        version = register(registry, name, good_result)

        info, model = registry.load_version(name, version)

        assert info.stage is ModelStage.NONE
        assert model.classes == good_result.classes

    def test_unknown_models_and_versions_are_not_found(
        self, registry: ModelRegistry, name: str, good_result: TrainingResult
    ) -> None:
        with pytest.raises(ModelNotFoundError, match=f"no registered model is named '{name}'"):
            registry.production_version(name)
        with pytest.raises(ModelNotFoundError):
            registry.list_versions(name)
        register(registry, name, good_result)
        with pytest.raises(ModelNotFoundError, match=f"model '{name}' has no version 9"):
            registry.get_version(name, 9)
        with pytest.raises(ModelNotFoundError, match="has no version in production"):
            registry.load(name)
        with pytest.raises(ModelNotFoundError):
            promote(registry, name, 9, "staging")

    @pytest.mark.parametrize("bad", ["", "has space", "slash/name", "-leading", "x" * 101])
    def test_bad_model_names_are_refused(
        self, registry: ModelRegistry, good_result: TrainingResult, bad: str
    ) -> None:
        with pytest.raises(ValueError, match="model name must be 1-100 letters"):
            registry.log_training(bad, good_result, **LINEAGE)
        with pytest.raises(ValueError, match="model name must be"):
            registry.production_version(bad)

    def test_bad_versions_stages_and_approvers_are_refused(
        self, registry: ModelRegistry, name: str, good_result: TrainingResult
    ) -> None:
        version = register(registry, name, good_result)

        with pytest.raises(ValueError, match="version must be a positive integer, got 0"):
            registry.get_version(name, 0)
        with pytest.raises(ValueError, match="stage must be 'staging' or 'production'"):
            registry.load(name, "none")
        with pytest.raises(ValueError, match="approver must name who approves"):
            registry.approve(name, version, to_stage="staging", approver=" ", policy=POLICY)
        assert registry.get_version(name, version).stage is ModelStage.NONE
