"""An in-memory model registry: the same rules as MLflow's, for tests and notebooks."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from quantgrid.adapters.registry._errors import ModelNotFoundError
from quantgrid.adapters.registry._port import (
    check_model_name,
    check_serving_stage,
    check_version,
)
from quantgrid.ml._governance import (
    ApprovalPolicy,
    ModelStage,
    ModelSummary,
    ModelVersionInfo,
    review_promotion,
)

if TYPE_CHECKING:  # they load scikit-learn and LightGBM: only where a model is used
    from quantgrid.ml._model import ParamValue, TrainedModel
    from quantgrid.ml._training import TrainingResult


@dataclass(slots=True)
class _Model:
    versions: list[ModelVersionInfo] = field(default_factory=list)
    artefacts: list[bytes] = field(default_factory=list)
    holders: dict[ModelStage, int] = field(default_factory=dict)


class InMemoryModelRegistry:
    """A `ModelRegistry` held in a dict; models are stored as their bytes, like MLflow's.

    Parameters
    ----------
    clock
        Returns the time in UTC ns, for registration and approval times.
    """

    def __init__(self, *, clock: Callable[[], int] = time.time_ns) -> None:
        self._clock = clock
        self._models: dict[str, _Model] = {}
        self._run_ids = itertools.count(1)

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
        """Register ``result``'s model as a new version in NONE (see `ModelRegistry`)."""
        model = self._models.setdefault(check_model_name(name), _Model())
        info = ModelVersionInfo(
            name=name,
            version=len(model.versions) + 1,
            stage=ModelStage.NONE,
            run_id=f"memory-{next(self._run_ids)}",
            created_at_ns=self._clock(),
            data_hash=data_hash,
            feature_set_name=feature_set_name,
            feature_set_fingerprint=feature_set_fingerprint,
            metrics=MappingProxyType(result.metrics.as_dict()),
        )
        model.versions.append(info)
        model.artefacts.append(result.model.to_bytes())
        return info

    def approve(
        self,
        name: str,
        version: int,
        *,
        to_stage: ModelStage | str,
        approver: str,
        policy: ApprovalPolicy,
    ) -> ModelVersionInfo:
        """Promote a version one stage if its figures pass ``policy`` (see `ModelRegistry`)."""
        info = self.get_version(name, version)
        approval = review_promotion(
            f"model {name!r} version {version}",
            current=info.stage,
            to_stage=to_stage,
            metrics=info.metrics,
            policy=policy,
            approver=approver,
            now_ns=self._clock(),
        )
        model = self._models[name]
        previous = model.holders.get(approval.stage)
        if previous is not None:
            self._set(name, previous, stage=ModelStage.ARCHIVED)
        if model.holders.get(ModelStage.STAGING) == version:
            del model.holders[ModelStage.STAGING]
        model.holders[approval.stage] = version
        return self._set(name, version, stage=approval.stage, approvals=(*info.approvals, approval))

    def get_version(self, name: str, version: int) -> ModelVersionInfo:
        """Return one version's record."""
        model = self._model(name)
        check_version(version)
        if version > len(model.versions):
            msg = f"model {name!r} has no version {version} (it has {len(model.versions)})"
            raise ModelNotFoundError(msg)
        return model.versions[version - 1]

    def load(
        self, name: str, stage: ModelStage | str = ModelStage.PRODUCTION
    ) -> tuple[ModelVersionInfo, TrainedModel]:
        """Return the version in ``stage`` and its model."""
        wanted = check_serving_stage(stage)
        version = self._model(name).holders.get(wanted)
        if version is None:
            msg = f"model {name!r} has no version in {wanted.value}"
            raise ModelNotFoundError(msg)
        return self.load_version(name, version)

    def load_version(self, name: str, version: int) -> tuple[ModelVersionInfo, TrainedModel]:
        """Return a version and its model."""
        info = self.get_version(name, version)
        from quantgrid.ml._model import TrainedModel  # noqa: PLC0415 - see the imports

        return info, TrainedModel.from_bytes(self._models[name].artefacts[version - 1])

    def production_version(self, name: str) -> int | None:
        """Return the version in production, or None."""
        return self._model(name).holders.get(ModelStage.PRODUCTION)

    def list_models(self) -> list[ModelSummary]:
        """Return every registered model, by name."""
        return [
            ModelSummary(
                name=name,
                latest_version=len(model.versions) or None,
                staging_version=model.holders.get(ModelStage.STAGING),
                production_version=model.holders.get(ModelStage.PRODUCTION),
            )
            for name, model in sorted(self._models.items())
        ]

    def list_versions(self, name: str) -> list[ModelVersionInfo]:
        """Return every version of a model, oldest first."""
        return list(self._model(name).versions)

    def _model(self, name: str) -> _Model:
        model = self._models.get(check_model_name(name))
        if model is None:
            msg = f"no registered model is named {name!r}"
            raise ModelNotFoundError(msg)
        return model

    def _set(self, name: str, version: int, **changes: object) -> ModelVersionInfo:
        versions = self._models[name].versions
        versions[version - 1] = replace(versions[version - 1], **changes)  # type: ignore[arg-type]
        return versions[version - 1]
