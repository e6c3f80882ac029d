"""The ML service's settings from QUANTGRID_ML_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantgrid.adapters.registry import MlflowRegistry
from quantgrid.ml import ApprovalPolicy
from quantgrid.services import SettingsError
from quantgrid.services.ml import MAX_BATCH_ROWS, MlSettings


def test_defaults_serve_every_production_model_from_a_local_registry() -> None:
    settings = MlSettings.from_env({})
    assert settings.ml_registry_uri is None
    assert settings.ml_registry_dir == Path("results/mlflow")
    assert settings.ml_models is None
    assert settings.reload_interval == 5.0
    assert settings.ml_max_batch_rows == MAX_BATCH_ROWS == 10_000


def test_variables_set_the_registry_models_interval_and_batch_limit() -> None:
    settings = MlSettings.from_env(
        {
            "QUANTGRID_ML_REGISTRY_URI": "http://mlflow:5000",
            "QUANTGRID_ML_MODELS": " eurusd, gbpusd.v2 ,",
            "QUANTGRID_ML_RELOAD_INTERVAL_S": "0",
            "QUANTGRID_ML_MAX_BATCH_ROWS": "500",
        }
    )
    assert settings.ml_registry_uri == "http://mlflow:5000"
    assert settings.ml_models == ("eurusd", "gbpusd.v2")
    assert settings.reload_interval is None  # 0: never poll
    assert settings.ml_max_batch_rows == 500
    assert MlSettings.from_env({"QUANTGRID_ML_MODELS": " , "}).ml_models is None
    assert MlSettings.from_env({"QUANTGRID_ML_REGISTRY_URI": " "}).ml_registry_uri is None


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("QUANTGRID_ML_MODELS", "eurusd,eur usd", "QUANTGRID_ML_MODELS: 'eur usd' is not a model"),
        ("QUANTGRID_ML_MODELS", "eurusd,eurusd", "QUANTGRID_ML_MODELS: a model is named twice"),
        ("QUANTGRID_ML_RELOAD_INTERVAL_S", "-1", "QUANTGRID_ML_RELOAD_INTERVAL_S"),
        ("QUANTGRID_ML_MAX_BATCH_ROWS", "0", "QUANTGRID_ML_MAX_BATCH_ROWS"),
    ],
)
def test_bad_values_name_their_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        MlSettings.from_env({variable: value})


def test_the_registry_opened_is_the_one_named(tmp_path: Path) -> None:
    local = MlSettings(ml_registry_dir=tmp_path / "reg").open_registry()
    assert local.tracking_uri == f"sqlite:///{tmp_path / 'reg' / 'mlflow.db'}"
    uri = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    remote = MlSettings(ml_registry_uri=uri).open_registry()
    assert isinstance(remote, MlflowRegistry) and remote.tracking_uri == uri


# -- the approval floor -------------------------------------------------------------------
def test_the_approval_floor_defaults_to_the_policy_s_defaults() -> None:
    assert MlSettings.from_env({}).approval_policy() == ApprovalPolicy()


def test_variables_set_each_threshold_of_the_floor() -> None:
    settings = MlSettings.from_env(
        {
            "QUANTGRID_ML_MIN_AUC": "0.55",
            "QUANTGRID_ML_MIN_ACCURACY_MARGIN": "0.01",
            "QUANTGRID_ML_MIN_SAMPLES": "2000",
            "QUANTGRID_ML_MAX_BRIER": "0.24",
            "QUANTGRID_ML_MAX_LOG_LOSS": "0.68",
            "QUANTGRID_ML_MIN_BALANCED_ACCURACY": "0.51",
        }
    )
    assert settings.approval_policy() == ApprovalPolicy(
        min_roc_auc=0.55,
        min_accuracy_margin=0.01,
        max_brier_score=0.24,
        max_log_loss=0.68,
        min_balanced_accuracy=0.51,
        min_samples=2000,
    )


def test_none_skips_a_check_and_a_blank_value_keeps_the_default() -> None:
    policy = MlSettings.from_env(
        {"QUANTGRID_ML_MIN_SAMPLES": "None", "QUANTGRID_ML_MIN_AUC": "off"}
    ).approval_policy()
    assert policy.min_samples is None and policy.min_roc_auc is None
    assert MlSettings.from_env({"QUANTGRID_ML_MIN_AUC": " "}).approval_policy() == ApprovalPolicy()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("QUANTGRID_ML_MIN_AUC", "nan"),
        ("QUANTGRID_ML_MIN_AUC", "1.2"),
        ("QUANTGRID_ML_MIN_AUC", "high"),
        ("QUANTGRID_ML_MIN_ACCURACY_MARGIN", "-2"),
        ("QUANTGRID_ML_MIN_SAMPLES", "12.5"),
        ("QUANTGRID_ML_MIN_SAMPLES", "-1"),
        ("QUANTGRID_ML_MAX_BRIER", "inf"),
        ("QUANTGRID_ML_MAX_LOG_LOSS", "-0.1"),
        ("QUANTGRID_ML_MIN_BALANCED_ACCURACY", "2"),
    ],
)
def test_a_bad_threshold_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"invalid settings: {variable}: "):
        MlSettings.from_env({variable: value})
