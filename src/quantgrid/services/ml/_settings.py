"""The ML service's settings, read from ``QUANTGRID_ML_*`` variables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from quantgrid.adapters import registry
from quantgrid.services import ServiceSettings
from quantgrid.services.ml._served import MODEL_NAME_PATTERN

#: Rows a batch prediction may hold at most, unless the settings say otherwise.
MAX_BATCH_ROWS = 10_000

_NAME = re.compile(MODEL_NAME_PATTERN)


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
    """

    ml_registry_uri: str | None = None
    ml_registry_dir: Path = Path("results/mlflow")
    ml_models: tuple[str, ...] | None = None
    ml_reload_interval_s: float = Field(default=5.0, ge=0, le=86_400)
    ml_max_batch_rows: int = Field(default=MAX_BATCH_ROWS, ge=1, le=1_000_000)

    @field_validator("ml_registry_uri", mode="before")
    @classmethod
    def _blank_uri_is_default(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

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
