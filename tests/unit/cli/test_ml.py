"""``quantgrid ml``: train into a real MLflow registry, approve through the gate, list.

One market has an edge planted in it (the CHOPPY MA(1) market of
``tests/unit/ml/test_honest_figures.py``, written to a CSV file): its model passes the
default approval policy on its own figures. The default synthetic market is used where
only the mechanics matter.
"""

from __future__ import annotations

import math
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
        (["train", "--model", "m", "--holdout", "1.5"], "--holdout must be a share of the rows"),
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


# -- tuning: figures of a held-out block --------------------------------------------------
def test_a_tuned_model_is_recorded_with_the_figures_of_the_held_out_block(registry: Path) -> None:
    code, output = ml(
        "train", "--model", "tuned", "--registry", str(registry), *SYNTHETIC, *QUICK,
        "--tune", "2", "--holdout", "0.25",
    )  # fmt: skip

    assert code == 0, output
    assert "Cross-validated figures (not recorded)" in output
    assert "Out-of-sample figures (held-out block)" in output
    store = MlflowRegistry.in_directory(registry)
    info = store.get_version("tuned", 1)
    market = generate_market(SyntheticConfig(instruments=("SYN0",), bars=700), seed=3)
    rows = len(build_dataset(market.bars, drop_flat=True))
    assert info.metrics["n_samples"] == math.ceil(0.25 * rows)  # the block's forecasts only
    params = store._client.get_run(info.run_id).data.params  # the lineage recorded
    assert params["holdout.fraction"] == "0.25"
    assert int(params["holdout.rows"]) == math.ceil(0.25 * rows)
    assert int(params["holdout.train_end_ns"]) < int(params["holdout.start_ns"])
    assert float(params["cv.n_samples"]) == int(params["holdout.train_rows"])


# -- the deployment's approval floor ------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "option", "message"),
    [
        ({}, ["--min-auc", "0.5"], "--min-auc 0.5 would loosen the deployment's approval floor "
         "(min_roc_auc >= 0.52, from QUANTGRID_ML_MIN_AUC)"),
        ({}, ["--min-samples", "100"], "--min-samples 100 would loosen"),
        ({}, ["--min-accuracy-margin", "-0.05"], "(min_accuracy_margin >= 0, from "
         "QUANTGRID_ML_MIN_ACCURACY_MARGIN)"),
        ({"QUANTGRID_ML_MAX_BRIER": "0.24"}, ["--max-brier", "0.3"],
         "(max_brier_score <= 0.24, from QUANTGRID_ML_MAX_BRIER)"),
        ({"QUANTGRID_ML_MAX_LOG_LOSS": "0.69"}, ["--max-log-loss", "0.7"], "--max-log-loss 0.7"),
        ({"QUANTGRID_ML_MIN_BALANCED_ACCURACY": "0.55"}, ["--min-balanced-accuracy", "0.5"],
         "(min_balanced_accuracy >= 0.55, from QUANTGRID_ML_MIN_BALANCED_ACCURACY)"),
        ({"QUANTGRID_ML_MIN_AUC": "0.6"}, ["--min-auc", "0.55"], "(min_roc_auc >= 0.6, from"),
    ],
)  # fmt: skip
def test_an_option_looser_than_the_floor_exits_2_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env: dict[str, str],
    option: list[str],
    message: str,
) -> None:
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    code, output = ml(
        "approve", "m", "1", "--to", "staging", "--approver", "a", *option,
        "--registry", str(tmp_path),
    )  # fmt: skip

    assert code == 2, output
    assert message in " ".join(output.split())  # the message may wrap
    assert "an option may only tighten it" in " ".join(output.split())


def test_a_bad_floor_in_the_environment_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QUANTGRID_ML_MIN_AUC", "high")
    code, output = ml(
        "approve", "m", "1", "--to", "staging", "--approver", "a", "--registry", str(tmp_path)
    )
    assert code == 2, output
    assert "QUANTGRID_ML_MIN_AUC" in output and "Traceback" not in output


def test_the_floor_applies_without_options_and_options_only_tighten_it(
    monkeypatch: pytest.MonkeyPatch, registry: Path, chop_csv: Path
) -> None:
    at = ["--registry", str(registry)]
    code, output = ml("train", "--model", "floored", "--data", str(chop_csv), *at, *QUICK)
    assert code == 0, output
    approve = ["approve", "floored", "1", "--to", "staging", "--approver", "ann", *at]

    # A floor the figures (AUC about 0.77) miss refuses the approval with no option given.
    monkeypatch.setenv("QUANTGRID_ML_MIN_AUC", "0.9")
    code, output = ml(*approve)
    assert code == 1, output
    assert "floored version 1 failed roc_auc" in output and "must be >= 0.9" in output
    code, output = ml(*approve, "--min-auc", "0.95")  # tighter: checked, and fails too
    assert code == 1, output
    assert "must be >= 0.95" in output
    assert MlflowRegistry.in_directory(registry).get_version("floored", 1).stage is (
        ModelStage.NONE
    )

    # A check the deployment turned off may be set by an option at any level.
    monkeypatch.setenv("QUANTGRID_ML_MIN_AUC", "0.6")
    monkeypatch.setenv("QUANTGRID_ML_MIN_SAMPLES", "none")
    code, output = ml(*approve, "--min-samples", "10")
    assert code == 0, output
    assert ">= 0.6" in output and ">= 10" in output
    assert "now in staging (by ann)" in output
