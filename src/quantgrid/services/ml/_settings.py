"""The ML service's settings, read from ``QUANTGRID_ML_*`` variables."""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import Field, field_validator
from pydantic_core import PydanticUseDefault

from quantgrid.adapters import registry
from quantgrid.ml import ApprovalPolicy
from quantgrid.services import ServiceSettings
from quantgrid.services.ml._served import MODEL_NAME_PATTERN

#: Rows a batch prediction may hold at most, unless the settings say otherwise.
MAX_BATCH_ROWS = 10_000
#: The setting of each `ApprovalPolicy` threshold, by the policy's field name.
APPROVAL_FLOOR_SETTINGS = MappingProxyType(
    {
        "min_roc_auc": "ml_min_auc",
        "min_accuracy_margin": "ml_min_accuracy_margin",
        "max_brier_score": "ml_max_brier",
        "max_log_loss": "ml_max_log_loss",
        "min_balanced_accuracy": "ml_min_balanced_accuracy",
        "min_samples": "ml_min_samples",
    }
)

_NAME = re.compile(MODEL_NAME_PATTERN)
_DEFAULT_POLICY = ApprovalPolicy()
# A threshold's variable set to one of these skips that check.
_OFF = frozenset({"none", "off"})


class MlSettings(ServiceSettings):
    """What the ML service reads from its environment, besides the common settings.

    Attributes
    ----------
    ml_registry_uri
        The MLflow backend of the model registry (``QUANTGRID_ML_REGISTRY_URI``):
        ``sqlite:///path/mlflow.db`` or a tracking server's ``http(s)://`` URL. Unset:
        a SQLite registry in ``ml_registry_dir``.
    ml_registry_dir
        The folder of the default registry (``mlflow.db`` and its artefacts).
    ml_models
        The models to serve, comma-separated (``QUANTGRID_ML_MODELS=eurusd,gbpusd``).
        Unset: every registered model that has a version in production.
    ml_reload_interval_s
        Seconds between two polls of the registry for newly promoted versions; 0 never
        polls (promotions through the service still reload at once).
    ml_max_batch_rows
        Rows one ``POST /ml/predict/batch`` may hold; more are refused with 422.
    ml_min_auc, ml_min_accuracy_margin, ml_max_brier, ml_max_log_loss, \
ml_min_balanced_accuracy, ml_min_samples
        The deployment's approval floor (``QUANTGRID_ML_MIN_AUC`` and so on): the
        `ApprovalPolicy` thresholds every approval checks, through the service or
        ``quantgrid ml approve``. Each defaults to `ApprovalPolicy`'s; ``none`` (or
        ``off``) skips that check, a blank value keeps the default.

    Notes
    -----
    ``quantgrid ml approve`` reads the same variables and may only tighten the floor.
    """

    ml_registry_uri: str | None = None
    ml_registry_dir: Path = Path("results/mlflow")
    ml_models: tuple[str, ...] | None = None
    ml_reload_interval_s: float = Field(default=5.0, ge=0, le=86_400)
    ml_max_batch_rows: int = Field(default=MAX_BATCH_ROWS, ge=1, le=1_000_000)
    ml_min_auc: float | None = Field(
        default=_DEFAULT_POLICY.min_roc_auc, ge=0, le=1, allow_inf_nan=False
    )
    ml_min_accuracy_margin: float | None = Field(
        default=_DEFAULT_POLICY.min_accuracy_margin, ge=-1, le=1, allow_inf_nan=False
    )
    ml_max_brier: float | None = Field(
        default=_DEFAULT_POLICY.max_brier_score, ge=0, le=1, allow_inf_nan=False
    )
    ml_max_log_loss: float | None = Field(
        default=_DEFAULT_POLICY.max_log_loss, ge=0, allow_inf_nan=False
    )
    ml_min_balanced_accuracy: float | None = Field(
        default=_DEFAULT_POLICY.min_balanced_accuracy, ge=0, le=1, allow_inf_nan=False
    )
    ml_min_samples: int | None = Field(default=_DEFAULT_POLICY.min_samples, ge=0)

    @field_validator("ml_registry_uri", mode="before")
    @classmethod
    def _blank_uri_is_default(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(*APPROVAL_FLOOR_SETTINGS.values(), mode="before")
    @classmethod
    def _threshold_off_or_default(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                raise PydanticUseDefault
            if value.strip().lower() in _OFF:
                return None
        return value

    @field_validator("ml_models", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            names = tuple(part.strip() for part in value.split(",") if part.strip())
            return names or None
        return value

    @field_validator("ml_models")
    @classmethod
    def _check_names(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        for name in value:
            if not _NAME.fullmatch(name):
                msg = f"{name!r} is not a model name (letters, digits, '_', '.', '-')"
                raise ValueError(msg)
        if len(set(value)) != len(value):
            msg = "a model is named twice"
            raise ValueError(msg)
        return value

    @property
    def reload_interval(self) -> float | None:
        """The poll interval for `ModelServer`: None when polling is off (0)."""
        return self.ml_reload_interval_s or None

    def open_registry(self) -> registry.MlflowRegistry:
        """Return the MLflow registry these settings name (nothing is read yet)."""
        if self.ml_registry_uri is not None:
            return registry.MlflowRegistry(self.ml_registry_uri)
        return registry.MlflowRegistry.in_directory(self.ml_registry_dir)

    def approval_policy(self) -> ApprovalPolicy:
        """Return the deployment's approval floor as an `ApprovalPolicy`."""
        return ApprovalPolicy(
            **{policy: getattr(self, name) for policy, name in APPROVAL_FLOOR_SETTINGS.items()}
        )
