"""Small trained models and a registry that serves them, for the ML service's tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from quantgrid.adapters.registry import InMemoryModelRegistry, ModelRegistry, RegistryError
from quantgrid.ml import (
    ApprovalPolicy,
    ModelKind,
    ModelSpec,
    ModelSummary,
    ModelVersionInfo,
    PurgedKFold,
    TrainedModel,
    TrainingResult,
)
from quantgrid.ml import train_model as fit

START_NS = 1_750_000_000_000_000_000
STEP_NS = 60_000_000_000
FEATURES = ("ret_1", "ret_5", "rsi_14")
LINEAGE = {
    "data_hash": "ab" * 32,
    "feature_set_name": "returns-v1",
    "feature_set_fingerprint": "f00d",
}
#: Passes any model: these tests are about serving, not skill.
LENIENT = ApprovalPolicy(min_roc_auc=None, min_accuracy_margin=None, min_samples=None)
#: Fails any model: an AUC of at least 0.99.
STRICT = ApprovalPolicy(min_roc_auc=0.99, min_accuracy_margin=None, min_samples=None)


def train(
    seed: int, kind: ModelKind = "logistic", *, three_classes: bool = False
) -> TrainingResult:
    """Train a small model on 600 rows where the first feature tells the direction."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(600, len(FEATURES)))
    signal = features[:, 0] + 0.5 * rng.normal(size=600)
    if three_classes:
        labels = np.select([signal > 0.4, signal < -0.4], [1, -1], 0)
    else:
        labels = np.where(signal > 0, 1, -1)
    ts = START_NS + STEP_NS * np.arange(600, dtype=np.int64)
    params = {"n_estimators": 20} if kind == "lightgbm" else {}
    return fit(
        features,
        labels,
        ts,
        ts + STEP_NS,
        ModelSpec(kind, params, seed=seed),
        PurgedKFold(3, embargo=2),
        feature_names=FEATURES,
    )


def ticking_clock() -> Callable[[], int]:
    """Return a clock that moves one second at each reading."""
    ticks = itertools.count()
    return lambda: START_NS + next(ticks) * 1_000_000_000


def register(registry: ModelRegistry, name: str, result: TrainingResult) -> int:
    """Log ``result`` as a new version of ``name``; return its number."""
    return registry.log_training(name, result, **LINEAGE).version


def to_production(registry: ModelRegistry, name: str, version: int) -> None:
    """Approve a new version to staging, then to production."""
    for stage in ("staging", "production"):
        registry.approve(name, version, to_stage=stage, approver="risk.officer", policy=LENIENT)


def memory_registry() -> InMemoryModelRegistry:
    """Return an empty in-memory registry on a ticking clock."""
    return InMemoryModelRegistry(clock=ticking_clock())


def row(values: np.ndarray) -> dict[str, float]:
    """Return one feature row by name."""
    return dict(zip(FEATURES, (float(v) for v in values), strict=True))


class FlakyRegistry(InMemoryModelRegistry):
    """Fails to load the versions in ``broken``; every read fails while ``down``."""

    def __init__(self) -> None:
        super().__init__(clock=ticking_clock())
        self.broken: set[int] = set()
        self.down = False

    def _check_up(self) -> None:
        if self.down:
            raise RegistryError("the database is locked")

    def load_version(self, name: str, version: int) -> tuple[ModelVersionInfo, TrainedModel]:
        self._check_up()
        if version in self.broken:
            msg = f"artefact of version {version} is corrupt"
            raise OSError(msg)
        return super().load_version(name, version)

    def list_models(self) -> list[ModelSummary]:
        self._check_up()
        return super().list_models()

    def list_versions(self, name: str) -> list[ModelVersionInfo]:
        self._check_up()
        return super().list_versions(name)

    def production_version(self, name: str) -> int | None:
        self._check_up()
        return super().production_version(name)
