"""The ML service's settings from QUANTGRID_ML_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantgrid.adapters.registry import MlflowRegistry
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
