"""``quantgrid ml``: train a model into the registry, list the models, approve a version.

The training libraries and MLflow take seconds to import, so each command imports them
when it runs: ``quantgrid --help`` and the other commands do not pay for them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from quantgrid.cli._common import fail, load_data, out, progress_bar, user_errors
from quantgrid.ml._pipeline import LABELINGS
from quantgrid.ml._validation import HOLDOUT_EMBARGO, HOLDOUT_FRACTION

if TYPE_CHECKING:
    from quantgrid.adapters.registry import MlflowRegistry
    from quantgrid.ml import ApprovalPolicy, OutOfSampleMetrics
    from quantgrid.ml._model import ModelKind, ParamValue
    from quantgrid.ml._pipeline import Labeling
    from quantgrid.ml._training import TrainingResult
    from quantgrid.model import BarSeries

ml_app = typer.Typer(
    help="Train models into the MLflow registry, list them, approve versions.",
    no_args_is_help=True,
)

DEFAULT_REGISTRY = Path("results/mlflow")
DEFAULT_INSTRUMENTS = 2
DEFAULT_BARS = 5_000
KINDS = ("lightgbm", "logistic")
STAGES = ("staging", "production")
# The approval policy's thresholds by the options that set them, for messages.
_POLICY_OPTIONS = {
    "min_roc_auc": "--min-auc",
    "min_accuracy_margin": "--min-accuracy-margin",
    "max_brier_score": "--max-brier",
    "max_log_loss": "--max-log-loss",
    "min_balanced_accuracy": "--min-balanced-accuracy",
    "min_samples": "--min-samples",
}
# The cross-validated figures a tuned run records as parameters, for comparison.
_CV_LINEAGE = ("roc_auc", "accuracy", "accuracy_margin", "log_loss", "n_samples")
_FLOOR_HELP = "Default, and the loosest allowed: the floor in "

Registry = Annotated[
    Path, typer.Option("--registry", help="Directory of the MLflow registry (mlflow.db).")
]


@ml_app.command("train")
def train(
    model: Annotated[str, typer.Option("--model", help="Name to register the model under.")],
    registry: Registry = DEFAULT_REGISTRY,
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data", help="CSV or Parquet bars; FILE or SYMBOL=FILE [default: synthetic]."
        ),
    ] = None,
    instruments: Annotated[
        int | None,
        typer.Option(help=f"Instruments of the synthetic market [default: {DEFAULT_INSTRUMENTS}]."),
    ] = None,
    bars: Annotated[
        int | None,
        typer.Option(
            help=f"Bars per instrument of the synthetic market [default: {DEFAULT_BARS:,}]."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market and the model.")] = 7,
    kind: Annotated[str, typer.Option(help="Model: lightgbm or logistic.")] = "lightgbm",
    horizon: Annotated[int, typer.Option(help="Bars ahead the labels look.")] = 1,
    labeling: Annotated[
        str, typer.Option(help="fixed (direction after --horizon bars) or triple_barrier.")
    ] = "fixed",
    threshold: Annotated[
        float,
        typer.Option(
            help="Fixed labels: a log return within it is flat (HOLD). 0: the sign of the "
            "move, bars whose close did not move left out."
        ),
    ] = 0.0,
    folds: Annotated[int, typer.Option(help="Folds of the purged cross-validation.")] = 5,
    tune: Annotated[int, typer.Option("--tune", help="Optuna trials first; 0: no tuning.")] = 0,
    holdout: Annotated[
        float,
        typer.Option(
            help="With --tune: the share of the rows, the latest, that tuning never sees; "
            "the figures recorded are the tuned model's forecasts of them."
        ),
    ] = HOLDOUT_FRACTION,
) -> None:
    """Train a direction model on bars and register it as a new version (stage none).

    Prints the out-of-sample figures of purged, embargoed k-fold cross-validation beside
    the naive baselines; the model registered is then fitted on all the data. With
    --tune the figures recorded and approved on are those of a held-out final block
    (the tuned spec trained on the rows before it); the cross-validated figures tuning
    chose on are printed apart.
    """
    _check_train_options(data, instruments, bars, kind, labeling, horizon, folds, tune)
    if not 0.0 < holdout < 1.0:
        fail(f"--holdout must be a share of the rows in (0, 1), got {holdout}")
    with user_errors():
        from quantgrid.adapters.registry import log_dataset_training  # noqa: PLC0415
        from quantgrid.adapters.registry._port import check_model_name  # noqa: PLC0415
        from quantgrid.ml import ModelSpec, PurgedKFold  # noqa: PLC0415
        from quantgrid.ml._pipeline import train_on_bars  # noqa: PLC0415

        check_model_name(model)  # before training: a bad name should not cost a run
        series, source = _training_bars(data, instruments, bars, seed)
        # train_on_bars reports its own total of steps with each one.
        with progress_bar(1, True, "training") as progress:
            result, dataset = train_on_bars(
                series,
                spec=ModelSpec(cast("ModelKind", kind), seed=seed),
                cv=PurgedKFold(n_splits=folds, embargo=HOLDOUT_EMBARGO),
                horizon=horizon,
                labeling=cast("Labeling", labeling),
                threshold=threshold,
                drop_flat=labeling == "fixed" and threshold == 0.0,
                tune_trials=tune,
                holdout=holdout,
                progress=progress,
            )
    _print_figures(result, kind, len(dataset), source)
    with _registry_errors():
        info = log_dataset_training(
            _open(registry, create=True),
            model,
            result,
            dataset,
            params=_lineage_params(source, tune, result),
            tags={"quantgrid.source": source},
        )
    out.print(
        f"registered [bold]{escape(info.name)}[/] version [bold]{info.version}[/] "
        f"(stage {info.stage.value}) in {escape(str(registry))}; data hash "
        f"{info.data_hash[:12]}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"[dim]next: quantgrid ml approve {escape(info.name)} {info.version} --to staging "
        f"--approver NAME --registry {escape(str(registry))}[/]",
        highlight=False,
        soft_wrap=True,
    )


@ml_app.command("models")
def models(registry: Registry = DEFAULT_REGISTRY) -> None:
    """List every registered model version: stage, out-of-sample figures, approver."""
    with _registry_errors():
        store = _open(registry, create=False)
        versions = [
            info for summary in store.list_models() for info in store.list_versions(summary.name)
        ]
    if not versions:
        out.print(f"no models registered in {escape(str(registry))}", highlight=False)
        return
    # Light borders and the figures that decide an approval: fits 80 columns.
    table = Table(title=f"Models in {escape(str(registry))}", box=box.SIMPLE_HEAD)
    table.add_column("model", overflow="fold")
    for column in ("version", "stage", "ROC AUC", "margin", "samples"):
        table.add_column(column, no_wrap=True, justify="left" if column == "stage" else "right")
    table.add_column("approver", overflow="fold")
    for info in versions:
        figures = info.metrics
        table.add_row(
            escape(info.name),
            str(info.version),
            info.stage.value,
            _number(figures.get("roc_auc")),
            _number(figures.get("accuracy_margin"), signed=True),
            _count(figures.get("n_samples")),
            escape(info.approver or "-"),
        )
    table.caption = "out of sample; margin: accuracy minus the best naive baseline's"
    out.print(table)


@ml_app.command("approve")
def approve(
    name: Annotated[str, typer.Argument(help="The registered model.")],
    version: Annotated[int, typer.Argument(help="The version to promote.")],
    to: Annotated[str, typer.Option("--to", help="staging (from none) or production.")],
    approver: Annotated[str, typer.Option(help="Who approves; recorded with the checks.")],
    registry: Registry = DEFAULT_REGISTRY,
    min_auc: Annotated[
        float | None,
        typer.Option(help=f"Lowest out-of-sample ROC AUC. {_FLOOR_HELP}QUANTGRID_ML_MIN_AUC."),
    ] = None,
    min_accuracy_margin: Annotated[
        float | None,
        typer.Option(
            help="Lowest accuracy minus the best naive baseline's. "
            f"{_FLOOR_HELP}QUANTGRID_ML_MIN_ACCURACY_MARGIN."
        ),
    ] = None,
    min_samples: Annotated[
        int | None,
        typer.Option(
            help="Fewest out-of-sample forecasts behind the figures. "
            f"{_FLOOR_HELP}QUANTGRID_ML_MIN_SAMPLES."
        ),
    ] = None,
    max_brier: Annotated[
        float | None,
        typer.Option(help=f"Highest Brier score. {_FLOOR_HELP}QUANTGRID_ML_MAX_BRIER."),
    ] = None,
    max_log_loss: Annotated[
        float | None,
        typer.Option(help=f"Highest log loss. {_FLOOR_HELP}QUANTGRID_ML_MAX_LOG_LOSS."),
    ] = None,
    min_balanced_accuracy: Annotated[
        float | None,
        typer.Option(
            help=f"Lowest mean per-class recall. {_FLOOR_HELP}QUANTGRID_ML_MIN_BALANCED_ACCURACY."
        ),
    ] = None,
) -> None:
    """Promote a version one stage if its out-of-sample figures pass the checks.

    The checks are the deployment's approval floor, read from the QUANTGRID_ML_MIN_* and
    QUANTGRID_ML_MAX_* variables the ML service reads (defaults: ROC AUC >= 0.52, beat
    every naive baseline, 500 forecasts). The options may only tighten it: one that
    would loosen it exits 2. Exits 1, naming what failed, when the checks or the stage
    rules refuse it: a version goes none -> staging -> production, never skipping a stage.
    """
    if to not in STAGES:
        fail(f"--to must be staging or production, got {to!r}")
    if not approver.strip():
        fail("--approver must name who approves")
    if version < 1:
        fail(f"VERSION must be a positive integer, got {version}")
    from quantgrid.ml import ApprovalRejected, StageTransitionError  # noqa: PLC0415

    policy = _tightened_floor(
        {
            "min_roc_auc": min_auc,
            "min_accuracy_margin": min_accuracy_margin,
            "max_brier_score": max_brier,
            "max_log_loss": max_log_loss,
            "min_balanced_accuracy": min_balanced_accuracy,
            "min_samples": min_samples,
        }
    )

    with _registry_errors():
        store = _open(registry, create=False)
        info = store.get_version(name, version)
        checks = policy.check(info.metrics)
        table = Table(title=f"{escape(name)} version {version}: {info.stage.value} -> {to}")
        for column in ("check", "value", "rule", "result"):
            table.add_column(column, no_wrap=True)
        for check in checks:
            relation = ">=" if check.bound == "min" else "<="
            integer = check.metric == "n_samples"
            table.add_row(
                check.metric,
                _count(check.value) if integer else _number(check.value),
                f"{relation} {check.threshold:,g}",
                "[green]pass[/]" if check.passed else "[bold red]FAIL[/]",
            )
        if checks:
            out.print(table)
        try:
            promoted = store.approve(name, version, to_stage=to, approver=approver, policy=policy)
        except StageTransitionError as exc:
            fail(f"refused: {escape(str(exc))}", code=1)
        except ApprovalRejected as exc:
            failed = "; ".join(str(check) for check in exc.failures)
            fail(f"refused: {escape(name)} version {version} failed {failed}", code=1)
    out.print(
        f"approved: {escape(promoted.name)} version {promoted.version} is now in "
        f"{promoted.stage.value} (by {escape(approver.strip())})",
        highlight=False,
    )


# -- internals ----------------------------------------------------------------------------
def _tightened_floor(asked: dict[str, float | None]) -> ApprovalPolicy:
    """Return the deployment's approval floor, tightened by the options given.

    Exits 2 if the environment's floor is invalid, an option is not a finite number,
    or an option would loosen the floor (naming the option, the floor and its variable).
    """
    from quantgrid.ml import ApprovalPolicy  # noqa: PLC0415
    from quantgrid.services import SettingsError  # noqa: PLC0415
    from quantgrid.services.ml import APPROVAL_FLOOR_SETTINGS, MlSettings  # noqa: PLC0415

    try:
        floor = MlSettings.from_env().approval_policy()
    except SettingsError as exc:
        fail(f"the approval floor: {escape(str(exc))}")
    floor_values = floor.to_dict()
    # The policy checks every value's type itself (min_samples is an int or None).
    thresholds: dict[str, Any] = {
        field: floor_values[field] if value is None else value for field, value in asked.items()
    }
    try:
        policy = ApprovalPolicy(**thresholds)
    except ValueError as exc:
        message = str(exc)
        for field, option in _POLICY_OPTIONS.items():
            message = message.replace(f"ApprovalPolicy.{field}", option)
        fail(escape(message))
    for field, value in asked.items():
        bound = floor_values[field]
        if value is None or bound is None:
            continue  # not asked, or no floor to keep: any threshold tightens
        upper = field.startswith("max_")
        if (value > bound) if upper else (value < bound):
            variable = MlSettings.env_var(APPROVAL_FLOOR_SETTINGS[field])
            relation = "<=" if upper else ">="
            fail(
                f"{_POLICY_OPTIONS[field]} {value:g} would loosen the deployment's approval "
                f"floor ({field} {relation} {bound:g}, from {variable}): an option may only "
                f"tighten it"
            )
    return policy


def _check_train_options(
    data: list[str] | None,
    instruments: int | None,
    bars: int | None,
    kind: str,
    labeling: str,
    horizon: int,
    folds: int,
    tune: int,
) -> None:
    """Exit with the rule broken by the first bad option of ``ml train``."""
    if data and (instruments is not None or bars is not None):
        fail("--data and the synthetic market's --instruments/--bars exclude each other")
    if instruments is not None and instruments < 1:
        fail(f"--instruments must be at least 1, got {instruments}")
    if bars is not None and bars < 1:
        fail(f"--bars must be at least 1, got {bars}")
    if kind not in KINDS:
        fail(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if labeling not in LABELINGS:
        fail(f"--labeling must be one of {', '.join(LABELINGS)}, got {labeling!r}")
    if horizon < 1:
        fail(f"--horizon must be at least 1 bar, got {horizon}")
    if folds < 2:
        fail(f"--folds must be at least 2, got {folds}")
    if tune < 0:
        fail(f"--tune must be 0 (no tuning) or a number of trials, got {tune}")


def _training_bars(
    data: list[str] | None, instruments: int | None, bars: int | None, seed: int
) -> tuple[dict[str, BarSeries], str]:
    """Return the bars by instrument and a description of where they came from."""
    if data:
        series = load_data(data)
        names = ", ".join(Path(spec.partition("=")[2] or spec).name for spec in data)
        return {s.instrument_id: s for s in series}, f"files {names}"
    from quantgrid.data import SyntheticConfig, generate_market  # noqa: PLC0415

    count = DEFAULT_INSTRUMENTS if instruments is None else instruments
    length = DEFAULT_BARS if bars is None else bars
    ids = tuple(f"SYN{i}" for i in range(count))
    market = generate_market(SyntheticConfig(instruments=ids, bars=length), seed)
    return dict(market.bars), f"synthetic market of {count} x {length:,} bars, seed {seed}"


def _lineage_params(source: str, tune: int, result: TrainingResult) -> dict[str, ParamValue]:
    """Return what the run records beside the dataset's lineage and the model's params.

    With tuning: where the held-out block lies (``holdout.*``) and the cross-validated
    figures tuning chose on (``cv.*``), which are not the run's metrics.
    """
    params: dict[str, ParamValue] = {"data.source": source, "tune_trials": tune}
    if result.held_out is not None:
        params.update(result.held_out.as_params())
    if result.cv_metrics is not None:
        figures = result.cv_metrics.as_dict()
        params.update({f"cv.{key}": figures[key] for key in _CV_LINEAGE if key in figures})
    return params


def _print_figures(result: TrainingResult, kind: str, rows: int, source: str) -> None:
    """Print the figures recorded, and with tuning the cross-validated ones apart."""
    block = result.held_out
    if block is None or result.cv_metrics is None:
        out.print(_figures_table(result.metrics, f"{kind} on {rows:,} samples; {source}"))
        return
    out.print(
        _figures_table(
            result.cv_metrics,
            f"{kind}, the tuned spec on the {block.n_train:,} rows before the held-out "
            f"block: tuning chose on these, so they flatter it",
            "Cross-validated figures (not recorded)",
        )
    )
    out.print(
        _figures_table(
            result.metrics,
            f"{kind} trained on the {block.n_train:,} earlier rows, forecasting the last "
            f"{block.n_test:,} of {rows:,} (gap {block.n_gap:,}); {source}",
            "Out-of-sample figures (held-out block)",
        )
    )


def _figures_table(
    metrics: OutOfSampleMetrics, title: str, heading: str = "Out-of-sample figures"
) -> Table:
    """Return the out-of-sample figures with the naive baselines beside them."""
    table = Table(title=heading, caption=escape(title))
    table.add_column("figure", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    rows: list[tuple[str, float | None, bool]] = [
        ("accuracy", metrics.accuracy, False),
        ("balanced accuracy", metrics.balanced_accuracy, False),
        ("ROC AUC", metrics.roc_auc, False),
        ("log loss", metrics.log_loss, False),
        ("Brier score", metrics.brier_score, False),
        ("baseline: majority class", metrics.majority_accuracy, False),
        ("baseline: always up", metrics.always_up_accuracy, False),
        ("baseline: last direction", metrics.last_direction_accuracy, False),
        ("accuracy vs best baseline", metrics.accuracy_margin, True),
    ]
    for label, value, signed in rows:
        table.add_row(label, _number(value, signed=signed))
    table.add_row("samples", f"{metrics.n_samples:,}")
    return table


def _number(value: float | None, *, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _count(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{int(value):,}"


def _open(directory: Path, *, create: bool) -> MlflowRegistry:
    """Return the registry in ``directory``; without ``create`` it must exist already."""
    from quantgrid.adapters.registry import MlflowRegistry  # noqa: PLC0415

    # MLflow logs its database set-up at INFO on stderr; the commands say what matters.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    if not create and not (directory / "mlflow.db").is_file():
        fail(
            f"--registry {escape(str(directory))!r} holds no model registry (mlflow.db): "
            "train a model into it first with quantgrid ml train"
        )
    return MlflowRegistry.in_directory(directory)


@contextmanager
def _registry_errors() -> Iterator[None]:
    """Report a missing model or version (exit 2) or a backend failure (exit 1) in a line."""
    from quantgrid.adapters.registry import ModelNotFoundError, RegistryError  # noqa: PLC0415

    try:
        yield
    except ModelNotFoundError as exc:
        fail(escape(str(exc)))
    except RegistryError as exc:
        fail(escape(str(exc)), code=1)
    except ValueError as exc:
        fail(escape(str(exc)))
