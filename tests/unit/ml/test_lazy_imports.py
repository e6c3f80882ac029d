"""Reading predictions must not load the training libraries (about a second of import)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_storage_and_ml_leaves_sklearn_lightgbm_and_optuna_unloaded() -> None:
    probe = (
        "import sys, quantgrid.ml, quantgrid.adapters.storage;"
        "print(sorted(m for m in ('sklearn', 'lightgbm', 'optuna') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"


def test_a_training_name_loads_on_first_use() -> None:
    from quantgrid import ml
    from quantgrid.ml._training import train_model

    assert ml.train_model is train_model


def test_importing_the_ml_and_evaluation_services_leaves_mlflow_and_models_unloaded() -> None:
    probe = (
        "import sys, quantgrid.services.ml, quantgrid.services.evaluation;"
        "print(sorted(m for m in ('mlflow', 'sklearn', 'lightgbm', 'optuna') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"
