"""The model registry port: versions of trained models, their lineage and their stages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from quantgrid.ml._governance import ApprovalPolicy, ModelStage, ModelSummary, ModelVersionInfo

if TYPE_CHECKING:  # they load scikit-learn and LightGBM: only where a model is used
    from quantgrid.ml._model import ParamValue, TrainedModel
    from quantgrid.ml._pipeline import Dataset
    from quantgrid.ml._training import TrainingResult

# Safe in file paths, URIs and MLflow filter strings without quoting.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class ModelRegistry(Protocol):
    """Where trained models are versioned, approved and fetched for serving.

    Notes
    -----
    A version moves NONE → STAGING → PRODUCTION only through `approve`, which checks its
    out-of-sample figures against a policy and records who approved it. At most one
    version is in STAGING and one in PRODUCTION; the one a promotion replaces becomes
    ARCHIVED. Registered models are never changed otherwise: lineage is append-only.
    """

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
        """Record a training run and register its model as a new version in NONE."""
        ...

    def approve(
        self,
        name: str,
        version: int,
        *,
        to_stage: ModelStage | str,
        approver: str,
        policy: ApprovalPolicy,
    ) -> ModelVersionInfo:
        """Promote a version one stage if its figures pass ``policy``; record the approval."""
        ...

    def get_version(self, name: str, version: int) -> ModelVersionInfo:
        """Return one version's record."""
        ...

    def load(
        self, name: str, stage: ModelStage | str = ModelStage.PRODUCTION
    ) -> tuple[ModelVersionInfo, TrainedModel]:
        """Return the version in ``stage`` (staging or production) and its model."""
        ...

    def load_version(self, name: str, version: int) -> tuple[ModelVersionInfo, TrainedModel]:
        """Return a version, whatever its stage, and its model."""
        ...

    def production_version(self, name: str) -> int | None:
        """Return the version in production, or None; cheap enough to poll."""
        ...

    def list_models(self) -> list[ModelSummary]:
        """Return every registered model, by name."""
        ...

    def list_versions(self, name: str) -> list[ModelVersionInfo]:
        """Return every version of a model, oldest first."""
        ...


def check_model_name(name: str) -> str:
    """Return ``name`` if it is a valid registered model name.

    Raises
    ------
    ValueError
        Unless it is 1-100 letters, digits, ``_``, ``.`` or ``-``, starting with a letter
        or digit.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        msg = (
            f"model name must be 1-100 letters, digits, '_', '.' or '-', starting with a "
            f"letter or digit, got {name!r}"
        )
        raise ValueError(msg)
    return name


def check_version(version: int) -> int:
    """Return ``version`` if it is a positive integer.

    Raises
    ------
    ValueError
        Otherwise.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        msg = f"version must be a positive integer, got {version!r}"
        raise ValueError(msg)
    return version


def check_serving_stage(stage: ModelStage | str) -> ModelStage:
    """Return ``stage`` if a model can be loaded from it (staging or production).

    Raises
    ------
    ValueError
        Otherwise.
    """
    try:
        parsed = ModelStage(stage)
    except ValueError:
        parsed = None
    if parsed not in (ModelStage.STAGING, ModelStage.PRODUCTION):
        msg = f"stage must be 'staging' or 'production', got {stage!r}"
        raise ValueError(msg)
    return parsed


def log_dataset_training(
    registry: ModelRegistry,
    name: str,
    result: TrainingResult,
    dataset: Dataset,
    *,
    params: Mapping[str, ParamValue] | None = None,
    tags: Mapping[str, str] | None = None,
) -> ModelVersionInfo:
    """Log a run trained on ``dataset`` with its hash, feature set and lineage.

    The run records ``dataset.lineage()`` (labelling and rows), then ``params`` (where
    the data came from, tuning, ...), which win on a shared key.
    """
    return registry.log_training(
        name,
        result,
        data_hash=dataset.data_hash(),
        feature_set_name=dataset.feature_set_name,
        feature_set_fingerprint=dataset.feature_set_fingerprint,
        params={**dataset.lineage(), **(params or {})},
        tags=tags,
    )
