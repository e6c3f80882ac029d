"""The model registry on MLflow: runs for lineage, registered versions, aliases for stages.

Layout in MLflow
----------------
- Each registered model ``name`` has an experiment ``quantgrid/<name>``; every
  `log_training` is one run in it with the spec's effective parameters (``model.*``), the
  caller's parameters, the out-of-sample figures (fold figures as ``fold_*`` steps), the
  data hash and feature set as tags, and two artefacts under ``model/``: ``model.qgm``
  (`TrainedModel.to_bytes`) and ``training.json`` (spec, classes, feature names,
  validator, figures).
- The run's ``model`` artefact directory is registered as a new version of ``name``.
- Stages are model-version *aliases* ``staging`` and ``production`` (MLflow's own
  stages are deprecated) plus version tags: ``quantgrid.stage`` and, per approval,
  ``quantgrid.approval.<stage>`` holding approver, time and the checks as JSON.

Every call goes through an `mlflow.MlflowClient` bound to this registry's URIs; the
process-wide ``mlflow.set_tracking_uri`` is never touched, so registries do not interfere.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from quantgrid.adapters.registry._errors import ModelNotFoundError, RegistryError
from quantgrid.adapters.registry._port import (
    check_model_name,
    check_serving_stage,
    check_version,
)
from quantgrid.ml._governance import (
    Approval,
    ApprovalPolicy,
    ModelStage,
    ModelSummary,
    ModelVersionInfo,
    review_promotion,
)
from quantgrid.ml._model import ParamValue, TrainedModel
from quantgrid.ml._training import TrainingResult

_ARTEFACT_DIR = "model"
_MODEL_FILE = "model.qgm"
_STAGE_TAG = "quantgrid.stage"
_APPROVAL_TAG = "quantgrid.approval."
_DATA_HASH = "quantgrid.data_hash"
_FEATURE_SET = "quantgrid.feature_set"
_FEATURE_FINGERPRINT = "quantgrid.feature_set_fingerprint"
_ALIASES = {ModelStage.STAGING: "staging", ModelStage.PRODUCTION: "production"}
_NS_PER_MS = 1_000_000
_PAGE = 1_000


class MlflowRegistry:
    """A `ModelRegistry` on an MLflow tracking and registry backend.

    Parameters
    ----------
    tracking_uri
        ``sqlite:///path/to/mlflow.db`` for a local backend (tables created on first
        use), or ``http(s)://host:port`` for a tracking server; passed to MLflow as is.
    artifact_root
        Where runs store their artefacts: a directory or a URI. ``None`` means the
        ``artifacts`` directory next to a SQLite file, or the server's default.
    clock
        Returns the time in UTC ns, for approval times.

    Notes
    -----
    MLflow has no transactions across calls. `approve` writes in an order that keeps the
    record ahead of the effect: the approval tags first, then the alias that serving
    reads, then the archiving of the version it replaced.
    """

    def __init__(
        self,
        tracking_uri: str,
        artifact_root: str | Path | None = None,
        *,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if not isinstance(tracking_uri, str) or not tracking_uri.strip():
            msg = f"tracking_uri must be an MLflow backend URI, got {tracking_uri!r}"
            raise ValueError(msg)
        self._tracking_uri = tracking_uri
        self._artifact_root = _artifact_root(tracking_uri, artifact_root)
        self._clock = clock
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    @classmethod
    def in_directory(cls, directory: str | Path, **options: Any) -> MlflowRegistry:
        """Return a registry on ``<directory>/mlflow.db`` with artefacts beside it.

        The directory is created if missing.
        """
        root = Path(directory).resolve()
        root.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{root / 'mlflow.db'}", root / "artifacts", **options)

    @property
    def tracking_uri(self) -> str:
        """The MLflow backend this registry uses."""
        return self._tracking_uri

    def log_training(
        self,
        name: str,
        result: TrainingResult,
        *,
        data_hash: str,
        feature_set_name: str,
        feature_set_fingerprint: str,
        params: Mapping[str, ParamValue] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersionInfo:
        """Record a training run and register its model as a new version in NONE.

        Parameters
        ----------
        name
            The registered model (letters, digits, ``_ . -``).
        result
            What `train_model` returned.
        data_hash
            `compute_data_hash` of the training data.
        feature_set_name, feature_set_fingerprint
            The features it was trained on.
        params
            More parameters to record (label settings, the symbol universe...).
        tags
            More run tags.

        Raises
        ------
        ValueError
            If ``name`` is invalid or a lineage field is blank.
        RegistryError
            If MLflow fails; a run already started is marked FAILED.
        """
        check_model_name(name)
        lineage = {
            _DATA_HASH: data_hash,
            _FEATURE_SET: feature_set_name,
            _FEATURE_FINGERPRINT: feature_set_fingerprint,
        }
        for key, value in lineage.items():
            if not isinstance(value, str) or not value.strip():
                msg = f"{key.removeprefix('quantgrid.')} must not be blank, got {value!r}"
                raise ValueError(msg)
        with _mlflow_errors(f"logging a training run of {name!r}"):
            run_id, artefact_uri = self._log_run(name, result, lineage, params, tags)
            self._ensure_registered(name)
            created = self._client.create_model_version(
                name,
                source=artefact_uri,
                run_id=run_id,
                tags={**lineage, _STAGE_TAG: ModelStage.NONE.value},
            )
            return self._info(created, {})

    def approve(
        self,
        name: str,
        version: int,
        *,
        to_stage: ModelStage | str,
        approver: str,
        policy: ApprovalPolicy,
    ) -> ModelVersionInfo:
        """Promote a version one stage if its figures pass ``policy``; record the approval.

        Parameters
        ----------
        name, version
            The version to promote.
        to_stage
            ``"staging"`` (from NONE) or ``"production"`` (from STAGING).
        approver
            Who approves, recorded with the time, the thresholds and the figures.
        policy
            The thresholds the run's out-of-sample figures must meet.

        Returns
        -------
        ModelVersionInfo
            The version after its promotion.

        Raises
        ------
        StageTransitionError
            If the move skips or reverses a stage; nothing is changed.
        ApprovalRejected
            If a figure fails ``policy``, naming each metric and threshold; nothing is
            changed.
        ModelNotFoundError
            If there is no such model or version.

        Notes
        -----
        The version that held the stage before is ARCHIVED; promoting to production
        also takes the version out of staging.
        """
        with _mlflow_errors(f"approving {name!r} version {version}"):
            aliases = self._aliases(name)
            info = self._info(self._version(name, version), aliases)
            approval = review_promotion(
                f"model {name!r} version {version}",
                current=info.stage,
                to_stage=to_stage,
                metrics=info.metrics,
                policy=policy,
                approver=approver,
                now_ns=self._clock(),
            )
            stage = approval.stage
            record = json.dumps({**approval.to_dict(), "policy": policy.to_dict()})
            self._client.set_model_version_tag(name, str(version), _APPROVAL_TAG + stage, record)
            self._client.set_model_version_tag(name, str(version), _STAGE_TAG, stage.value)
            self._client.set_registered_model_alias(name, _ALIASES[stage], str(version))
            if stage is ModelStage.PRODUCTION and aliases.get("staging") == version:
                self._client.delete_registered_model_alias(name, "staging")
            previous = aliases.get(_ALIASES[stage])
            if previous is not None and previous != version:
                self._archive(name, previous, replaced_by=version, at_ns=approval.approved_at_ns)
            return self._info(self._version(name, version), self._aliases(name))

    def get_version(self, name: str, version: int) -> ModelVersionInfo:
        """Return one version's record.

        Raises
        ------
        ModelNotFoundError
            If there is no such model or version.
        """
        with _mlflow_errors(f"reading {name!r} version {version}"):
            return self._info(self._version(name, version), self._aliases(name))

    def load(
        self, name: str, stage: ModelStage | str = ModelStage.PRODUCTION
    ) -> tuple[ModelVersionInfo, TrainedModel]:
        """Return the version in ``stage`` (staging or production) and its model.

        Raises
        ------
        ModelNotFoundError
            If there is no such model or no version in that stage.
        """
        wanted = check_serving_stage(stage)
        with _mlflow_errors(f"loading the {wanted.value} version of {name!r}"):
            version = self._aliases(name).get(_ALIASES[wanted])
            if version is None:
                msg = f"model {name!r} has no version in {wanted.value}"
                raise ModelNotFoundError(msg)
            return self._load(name, version)

    def load_version(self, name: str, version: int) -> tuple[ModelVersionInfo, TrainedModel]:
        """Return a version, whatever its stage, and its model.

        Raises
        ------
        ModelNotFoundError
            If there is no such model or version.
        """
        with _mlflow_errors(f"loading {name!r} version {version}"):
            return self._load(name, version)

    def production_version(self, name: str) -> int | None:
        """Return the version in production, or None: one query, fit for polling.

        Raises
        ------
        ModelNotFoundError
            If there is no such model.
        """
        with _mlflow_errors(f"reading the production version of {name!r}"):
            return self._aliases(name).get("production")

    def list_models(self) -> list[ModelSummary]:
        """Return every registered model, by name."""
        with _mlflow_errors("listing registered models"):
            summaries = []
            token: str | None = None
            while True:
                page = self._client.search_registered_models(
                    max_results=100, order_by=["name ASC"], page_token=token
                )
                for model in page:
                    versions = [int(v.version) for v in model.latest_versions or ()]
                    aliases = {alias: int(v) for alias, v in (model.aliases or {}).items()}
                    summaries.append(
                        ModelSummary(
                            name=model.name,
                            latest_version=max(versions, default=None),
                            staging_version=aliases.get("staging"),
                            production_version=aliases.get("production"),
                        )
                    )
                token = page.token
                if not token:
                    return summaries

    def list_versions(self, name: str) -> list[ModelVersionInfo]:
        """Return every version of a model with its stage, figures and approvals."""
        with _mlflow_errors(f"listing the versions of {name!r}"):
            aliases = self._aliases(name)
            found: list[ModelVersion] = []
            token: str | None = None
            while True:
                page = self._client.search_model_versions(
                    f"name = '{name}'", max_results=_PAGE, page_token=token
                )
                found.extend(page)
                token = page.token
                if not token:
                    break
            found.sort(key=lambda v: int(v.version))
            return [self._info(v, aliases) for v in found]

    # -- internals ------------------------------------------------------------------------

    def _log_run(
        self,
        name: str,
        result: TrainingResult,
        lineage: Mapping[str, str],
        params: Mapping[str, ParamValue] | None,
        tags: Mapping[str, str] | None,
    ) -> tuple[str, str]:
        """Create and fill the training run; return its id and the model artefact URI."""
        experiment_id = self._experiment(name)
        spec = result.spec
        run_tags = {**(tags or {}), **lineage, "quantgrid.model_kind": spec.kind}
        run = self._client.create_run(experiment_id, tags=run_tags, run_name=f"{name}-train")
        run_id = run.info.run_id
        try:
            now_ms = self._clock() // _NS_PER_MS
            logged = {
                **{f"model.{k}": v for k, v in spec.estimator_params().items()},
                "model.kind": spec.kind,
                "model.seed": spec.seed,
                "cv": result.cv,
                "n_samples": result.n_samples,
                "n_features": len(result.feature_names),
                "classes": ",".join(map(str, result.classes)),
                **(params or {}),
            }
            metrics = [
                Metric(key, value, now_ms, 0) for key, value in result.metrics.as_dict().items()
            ]
            metrics.extend(
                Metric(f"fold_{key}", getattr(fold, key), now_ms, fold.fold)
                for fold in result.folds
                for key in ("accuracy", "roc_auc", "log_loss")
            )
            self._client.log_batch(
                run_id,
                metrics=metrics,
                params=[Param(key, str(value)) for key, value in logged.items()],
                # For the UI; a tag holds 8,000 characters, training.json the full list.
                tags=[RunTag("quantgrid.feature_names", ",".join(result.feature_names)[:5000])],
            )
            with tempfile.TemporaryDirectory(prefix="quantgrid-model-") as scratch:
                folder = Path(scratch)
                (folder / _MODEL_FILE).write_bytes(result.model.to_bytes())
                (folder / "training.json").write_text(_training_record(result, lineage))
                self._client.log_artifacts(run_id, scratch, artifact_path=_ARTEFACT_DIR)
        except BaseException:
            self._client.set_terminated(run_id, status="FAILED")
            raise
        self._client.set_terminated(run_id, status="FINISHED")
        return run_id, f"{run.info.artifact_uri}/{_ARTEFACT_DIR}"

    def _experiment(self, name: str) -> str:
        title = f"quantgrid/{name}"
        experiment = self._client.get_experiment_by_name(title)
        if experiment is not None:
            return str(experiment.experiment_id)
        location = None if self._artifact_root is None else f"{self._artifact_root}/{name}"
        return str(self._client.create_experiment(title, artifact_location=location))

    def _ensure_registered(self, name: str) -> None:
        try:
            self._client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    def _aliases(self, name: str) -> dict[str, int]:
        check_model_name(name)
        try:
            model = self._client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                msg = f"no registered model is named {name!r}"
                raise ModelNotFoundError(msg) from None
            raise
        return {alias: int(version) for alias, version in (model.aliases or {}).items()}

    def _version(self, name: str, version: int) -> ModelVersion:
        check_model_name(name)
        check_version(version)
        try:
            return self._client.get_model_version(name, str(version))
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                self._aliases(name)  # says so if the model itself is missing
                msg = f"model {name!r} has no version {version}"
                raise ModelNotFoundError(msg) from None
            raise

    def _archive(self, name: str, version: int, *, replaced_by: int, at_ns: int) -> None:
        for key, value in (
            (_STAGE_TAG, ModelStage.ARCHIVED.value),
            ("quantgrid.archived_at_ns", str(at_ns)),
            ("quantgrid.replaced_by", str(replaced_by)),
        ):
            self._client.set_model_version_tag(name, str(version), key, value)

    def _load(self, name: str, version: int) -> tuple[ModelVersionInfo, TrainedModel]:
        found = self._version(name, version)
        info = self._info(found, self._aliases(name))
        with tempfile.TemporaryDirectory(prefix="quantgrid-model-") as scratch:
            path = self._client.download_artifacts(
                info.run_id, f"{_ARTEFACT_DIR}/{_MODEL_FILE}", scratch
            )
            model = TrainedModel.from_bytes(Path(path).read_bytes())
        return info, model

    def _info(self, version: ModelVersion, aliases: Mapping[str, int]) -> ModelVersionInfo:
        number = int(version.version)
        tags = dict(version.tags or {})
        if aliases.get("production") == number:
            stage = ModelStage.PRODUCTION
        elif aliases.get("staging") == number:
            stage = ModelStage.STAGING
        elif tags.get(_STAGE_TAG) == ModelStage.ARCHIVED.value:
            stage = ModelStage.ARCHIVED
        else:
            stage = ModelStage.NONE
        approvals = sorted(
            (
                Approval.from_dict(json.loads(value))
                for key, value in tags.items()
                if key.startswith(_APPROVAL_TAG)
            ),
            key=lambda approval: approval.approved_at_ns,
        )
        run_id = str(version.run_id)
        metrics = self._client.get_run(run_id).data.metrics
        return ModelVersionInfo(
            name=str(version.name),
            version=number,
            stage=stage,
            run_id=run_id,
            created_at_ns=int(version.creation_timestamp) * _NS_PER_MS,
            data_hash=tags.get(_DATA_HASH, ""),
            feature_set_name=tags.get(_FEATURE_SET, ""),
            feature_set_fingerprint=tags.get(_FEATURE_FINGERPRINT, ""),
            metrics=MappingProxyType({k: float(v) for k, v in metrics.items()}),
            approvals=tuple(approvals),
        )


def _artifact_root(tracking_uri: str, artifact_root: str | Path | None) -> str | None:
    """Return the artefact root as a URI; beside the database for a SQLite backend."""
    if artifact_root is None:
        if not tracking_uri.startswith("sqlite:///"):
            return None  # a tracking server decides
        database = Path(tracking_uri.removeprefix("sqlite:///"))
        return (database.resolve().parent / "artifacts").as_uri()
    if isinstance(artifact_root, Path) or "://" not in artifact_root:
        return Path(artifact_root).resolve().as_uri()
    return artifact_root.rstrip("/")


def _training_record(result: TrainingResult, lineage: Mapping[str, str]) -> str:
    figures = {k: (None if math.isnan(v) else v) for k, v in result.metrics.as_dict().items()}
    folds = [
        {
            "fold": f.fold,
            "n_train": f.n_train,
            "n_test": f.n_test,
            "test_start_ns": f.test_start_ns,
            "test_end_ns": f.test_end_ns,
            "accuracy": f.accuracy,
            "roc_auc": None if math.isnan(f.roc_auc) else f.roc_auc,
            "log_loss": f.log_loss,
        }
        for f in result.folds
    ]
    record = {
        "spec": result.spec.to_dict(),
        "classes": list(result.classes),
        "feature_names": list(result.feature_names),
        "cv": result.cv,
        "n_samples": result.n_samples,
        "metrics": figures,
        "folds": folds,
        "lineage": {key.removeprefix("quantgrid."): value for key, value in lineage.items()},
    }
    return json.dumps(record, indent=2, sort_keys=True)


@contextmanager
def _mlflow_errors(action: str) -> Iterator[None]:
    """Turn MLflow's own failures into `RegistryError`; let ours through."""
    try:
        yield
    except MlflowException as exc:
        msg = f"MLflow failed {action}: {exc.message}"
        raise RegistryError(msg) from exc
