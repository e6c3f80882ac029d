"""``quantgrid ml``: train into a real MLflow registry, approve through the gate, list.

One market has an edge planted in it (the CHOPPY MA(1) market of
``tests/unit/ml/test_honest_figures.py``, written to a CSV file): its model passes the
default approval policy on its own figures. The default synthetic market is used where
only the mechanics matter.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantgrid.adapters.registry import MlflowRegistry
from quantgrid.cli import app
from quantgrid.data import SyntheticConfig, generate_market, write_bars
from quantgrid.ml import ModelStage, default_feature_set
from quantgrid.ml._pipeline import build_dataset

# MLflow's own SQLAlchemy models use a loader strategy SQLAlchemy 2.1 deprecates.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)

runner = CliRunner()
BARS = 3_000
CHOPPY_MARKET = SyntheticConfig(
    instruments=("CHOP",),
    bars=BARS,
    min_regime_bars=BARS,
    mean_regime_bars=BARS,
    mean_crisis_bars=BARS,
    crisis_share=0.001,
    chop_reversal=0.75,
)
SYNTHETIC = ["--instruments", "1", "--bars", "700", "--seed", "3"]
QUICK = ["--kind", "logistic", "--folds", "3"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry the module's tests share; each uses model names of its own."""
    return tmp_path_factory.mktemp("ml") / "registry"


@pytest.fixture(scope="module")
def chop_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "CHOP.csv"
    write_bars(generate_market(CHOPPY_MARKET, seed=1).bars["CHOP"], path)
    return path


def ml(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["ml", *args])
    return result.exit_code, result.output


def test_train_prints_the_figures_and_registers_a_new_version(registry: Path) -> None:
    code, output = ml("train", "--model", "synth", "--registry", str(registry), *SYNTHETIC, *QUICK)

    assert code == 0, output
    for figure in ("ROC AUC", "log loss", "baseline: majority class", "baseline: last direction"):
        assert figure in output
    assert "registered synth version 1 (stage none)" in output
    info = MlflowRegistry.in_directory(registry).get_version("synth", 1)
    # Lineage: the data hash of the same rows built independently, and the feature set.
    market = generate_market(SyntheticConfig(instruments=("SYN0",), bars=700), seed=3)
    dataset = build_dataset(market.bars, drop_flat=True)
    assert info.data_hash == dataset.data_hash()
    assert info.feature_set_name == "default"
    assert info.feature_set_fingerprint == default_feature_set().fingerprint
    assert info.metrics["n_samples"] == len(dataset)
    assert f"{info.metrics['accuracy']:.4f}" in output
    assert info.stage is ModelStage.NONE

    code, output = ml("train", "--model", "synth", "--registry", str(registry), *SYNTHETIC, *QUICK)
    assert code == 0, output
    assert "registered synth version 2 (stage none)" in output


def test_a_model_goes_to_production_only_through_staging_and_its_checks(
    registry: Path, chop_csv: Path
) -> None:
    at = ["--registry", str(registry)]
    code, output = ml("train", "--model", "chop", "--data", str(chop_csv), *at, *QUICK)
    assert code == 0, output
    assert "registered chop version 1" in output

    # None -> production skips staging: refused, nothing changes.
    code, output = ml("approve", "chop", "1", "--to", "production", "--approver", "ann", *at)
    assert code == 1
    assert "cannot move to 'production': it can only go to 'staging'" in output
    # A policy the figures do not meet: refused, naming the check.
    code, output = ml(
        "approve", "chop", "1", "--to", "staging", "--approver", "ann", "--min-auc", "0.99", *at
    )
    assert code == 1
    assert "chop version 1 failed roc_auc = 0.7" in output
    assert "must be >= 0.99" in output
    assert MlflowRegistry.in_directory(registry).get_version("chop", 1).stage is ModelStage.NONE

    # The default policy (AUC >= 0.52, beat every baseline, 500 samples) passes.
    code, output = ml("approve", "chop", "1", "--to", "staging", "--approver", "ann", *at)
    assert code == 0, output
    assert "roc_auc" in output and "pass" in output and "FAIL" not in output
    assert "now in staging (by ann)" in output
    code, output = ml("approve", "chop", "1", "--to", "production", "--approver", "bob", *at)
    assert code == 0, output
    assert "now in production (by bob)" in output

    code, output = ml("models", *at)
    assert code == 0, output
    row = next(line for line in output.splitlines() if "chop" in line)
    assert "production" in row and "bob" in row
    info = MlflowRegistry.in_directory(registry).get_version("chop", 1)
    assert [a.approver for a in info.approvals] == ["ann", "bob"]


def test_models_lists_every_version_and_an_empty_registry_says_so(
    tmp_path: Path, registry: Path
) -> None:
    code, output = ml("train", "--model", "listed", "--registry", str(registry), *SYNTHETIC, *QUICK)
    assert code == 0, output

    code, output = ml("models", "--registry", str(registry))
    assert code == 0, output
    assert "listed" in output and "ROC AUC" in output and "approver" in output

    MlflowRegistry.in_directory(tmp_path).list_models()  # creates an empty registry
    code, output = ml("models", "--registry", str(tmp_path))
    assert code == 0, output
    assert "no models registered" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--model", "m", "--kind", "forest"], "--kind must be one of lightgbm, logistic"),
        (["train", "--model", "m", "--horizon", "0"], "--horizon must be at least 1 bar"),
        (["train", "--model", "m", "--folds", "1"], "--folds must be at least 2"),
        (["train", "--model", "m", "--tune", "-1"], "--tune must be 0"),
        (["train", "--model", "m", "--labeling", "meta"], "--labeling must be one of fixed"),
        (["train", "--model", "m", "--bars", "0"], "--bars must be at least 1"),
        (
            ["train", "--model", "m", "--data", "x.csv", "--bars", "10"],
            "--data and the synthetic market's --instruments/--bars exclude each other",
        ),
        (["train", "--model", "m", "--data", "missing.csv"], "file 'missing.csv' does not exist"),
        (["train", "--model", "bad name"], "model name must be 1-100 letters"),
        (["train", "--model", "m", "--bars", "40"], "no training row is left"),
        (
            ["train", "--model", "m", "--labeling", "triple_barrier", "--threshold", "0.1"],
            "threshold applies to labeling='fixed' only",
        ),
        (["approve", "m", "1", "--to", "archived", "--approver", "a"], "--to must be staging"),
        (["approve", "m", "1", "--to", "staging", "--approver", " "], "--approver must name"),
        (["approve", "m", "0", "--to", "staging", "--approver", "a"], "VERSION must be a positive"),
        (
            ["approve", "m", "1", "--to", "staging", "--approver", "a", "--min-auc", "nan"],
            "--min-auc must be a finite number or None, got nan",
        ),
    ],
)
def test_bad_arguments_exit_2_with_the_rule(tmp_path: Path, args: list[str], message: str) -> None:
    code, output = ml(*args, "--registry", str(tmp_path / "registry"))

    assert code == 2, output
    assert message in output
    assert "Traceback" not in output


def test_a_missing_registry_or_model_is_named(tmp_path: Path, registry: Path) -> None:
    code, output = ml("models", "--registry", str(tmp_path / "none"))
    assert code == 2
    assert "holds no model registry (mlflow.db)" in output

    MlflowRegistry.in_directory(tmp_path).list_models()
    code, output = ml(
        "approve", "ghost", "1", "--to", "staging", "--approver", "a", "--registry", str(tmp_path)
    )
    assert code == 2
    assert "no registered model is named 'ghost'" in output
