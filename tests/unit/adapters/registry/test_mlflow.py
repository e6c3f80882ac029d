"""MlflowRegistry on a local SQLite backend: the contract, the run record, isolation."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mlflow import MlflowClient

from quantgrid.adapters.registry import MlflowRegistry, RegistryError
from quantgrid.ml._governance import ModelStage
from quantgrid.ml._training import TrainingResult
from tests.unit.adapters.registry.registry_contract import (
    LINEAGE,
    RegistryContract,
    promote,
    register,
)

# MLflow's own SQLAlchemy models use a loader strategy SQLAlchemy 2.1 deprecates.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)


@pytest.fixture(autouse=True)
def _quiet_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow draws a progress bar on stderr for every artefact download."""
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture(scope="module")
def empty_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return an MLflow database with its tables: creating them takes a second or two."""
    directory = tmp_path_factory.mktemp("template")
    MlflowRegistry.in_directory(directory).list_models()
    return directory / "mlflow.db"


@pytest.fixture(scope="module")
def new_registry(empty_database: Path) -> Callable[[Path], MlflowRegistry]:
    """Return a factory of registries in fresh directories, each from a copy of the tables."""

    def make(directory: Path, **options: Any) -> MlflowRegistry:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(empty_database, directory / "mlflow.db")
        return MlflowRegistry.in_directory(directory, **options)

    return make


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory,
    new_registry: Callable[..., MlflowRegistry],
    clock: Callable[[], int],
) -> MlflowRegistry:
    """One registry for the module's tests, which use model names of their own."""
    return new_registry(tmp_path_factory.mktemp("mlflow"), clock=clock)


class TestMlflowRegistry(RegistryContract):
    pass


def test_a_training_run_records_parameters_figures_lineage_and_artefacts(
    registry: MlflowRegistry, name: str, good_result: TrainingResult
) -> None:
    info = registry.log_training(
        name, good_result, **LINEAGE, params={"horizon_bars": 1}, tags={"desk": "fx"}
    )

    client = MlflowClient(tracking_uri=registry.tracking_uri)
    run = client.get_run(info.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.kind"] == "logistic"
    assert run.data.params["model.C"] == "0.5"
    assert run.data.params["model.class_weight"] == "balanced"
    assert run.data.params["horizon_bars"] == "1"
    assert run.data.params["cv"] == "PurgedKFold(n_splits=4, embargo=5)"
    assert run.data.metrics["roc_auc"] == pytest.approx(good_result.metrics.roc_auc)
    assert run.data.metrics["accuracy_margin"] == pytest.approx(good_result.metrics.accuracy_margin)
    assert run.data.tags["quantgrid.data_hash"] == LINEAGE["data_hash"]
    assert run.data.tags["quantgrid.feature_set"] == "returns-v1"
    assert run.data.tags["desk"] == "fx"
    folds = client.get_metric_history(info.run_id, "fold_accuracy")
    assert [m.step for m in folds] == [0, 1, 2, 3]
    assert [m.value for m in folds] == pytest.approx([f.accuracy for f in good_result.folds])
    artefacts = {a.path for a in client.list_artifacts(info.run_id, "model")}
    assert artefacts == {"model/model.qgm", "model/training.json"}
    record = json.loads(
        Path(client.download_artifacts(info.run_id, "model/training.json")).read_text()
    )
    assert record["feature_names"] == ["ret_1", "ret_2", "ret_3"]
    assert record["lineage"]["feature_set_fingerprint"] == "f00d"
    version = client.get_model_version(name, "1")
    assert version.run_id == info.run_id
    assert version.source.endswith("/model")


def test_stages_are_aliases_and_approvals_are_version_tags(
    registry: MlflowRegistry, name: str, good_result: TrainingResult
) -> None:
    old = register(registry, name, good_result)
    promote(registry, name, old, "staging", "production")
    new = register(registry, name, good_result)
    promote(registry, name, new, "staging", "production")

    client = MlflowClient(tracking_uri=registry.tracking_uri)
    assert client.get_registered_model(name).aliases == {"production": new}
    tags = client.get_model_version(name, str(new)).tags
    assert tags["quantgrid.stage"] == "production"
    approval = json.loads(tags["quantgrid.approval.production"])
    assert approval["approver"] == "risk.officer"
    assert approval["policy"]["min_roc_auc"] == 0.6
    assert {c["metric"] for c in approval["checks"]} >= {"roc_auc", "brier_score"}
    archived = client.get_model_version(name, str(old)).tags
    assert archived["quantgrid.stage"] == "archived"
    assert archived["quantgrid.replaced_by"] == str(new)


def test_registries_in_two_directories_do_not_interfere(
    tmp_path: Path,
    new_registry: Callable[[Path], MlflowRegistry],
    good_result: TrainingResult,
    poor_result: TrainingResult,
) -> None:
    left = new_registry(tmp_path / "left")
    right = new_registry(tmp_path / "right")

    register(left, "shared-name", good_result)
    promote(left, "shared-name", 1, "staging", "production")
    register(right, "shared-name", poor_result)
    register(right, "shared-name", poor_result)

    assert left.production_version("shared-name") == 1
    assert right.production_version("shared-name") is None
    assert [v.version for v in left.list_versions("shared-name")] == [1]
    assert [v.version for v in right.list_versions("shared-name")] == [1, 2]
    rows = np.random.default_rng(1).normal(size=(10, 3))
    _, served = left.load("shared-name")
    np.testing.assert_array_equal(served.predict_proba(rows), good_result.model.predict_proba(rows))
    assert (tmp_path / "left" / "artifacts").is_dir()
    assert (tmp_path / "right" / "artifacts").is_dir()


def test_a_reopened_registry_sees_what_was_recorded(
    tmp_path: Path, new_registry: Callable[[Path], MlflowRegistry], good_result: TrainingResult
) -> None:
    first = new_registry(tmp_path)
    register(first, "fx-direction", good_result)
    promote(first, "fx-direction", 1, "staging")

    again = MlflowRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}")

    info = again.get_version("fx-direction", 1)
    assert info.stage is ModelStage.STAGING
    assert info.approver == "risk.officer"
    assert again.load("fx-direction", "staging")[1].classes == good_result.classes


def test_an_mlflow_failure_is_a_registry_error_and_fails_the_run(
    registry: MlflowRegistry, name: str, good_result: TrainingResult
) -> None:
    with pytest.raises(RegistryError, match=f"MLflow failed logging a training run of '{name}'"):
        registry.log_training(name, good_result, **LINEAGE, params={"bad!key": 1})

    client = MlflowClient(tracking_uri=registry.tracking_uri)
    experiment = client.get_experiment_by_name(f"quantgrid/{name}")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"
    assert name not in {s.name for s in registry.list_models()}


@pytest.mark.parametrize("field", ["data_hash", "feature_set_name", "feature_set_fingerprint"])
def test_blank_lineage_is_refused(
    registry: MlflowRegistry, name: str, good_result: TrainingResult, field: str
) -> None:
    with pytest.raises(ValueError, match=f"{field.removesuffix('_name')} must not be blank"):
        registry.log_training(name, good_result, **{**LINEAGE, field: " "})


def test_a_tracking_server_url_is_passed_through_without_io() -> None:
    registry = MlflowRegistry("http://127.0.0.1:5000")

    assert registry.tracking_uri == "http://127.0.0.1:5000"


def test_an_empty_tracking_uri_is_refused() -> None:
    with pytest.raises(ValueError, match="tracking_uri must be an MLflow backend URI"):
        MlflowRegistry("")
