"""Training results to register: one with skill, one without, and a clock for approvals."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable

import numpy as np
import pytest

from quantgrid.ml._model import ModelSpec
from quantgrid.ml._training import TrainingResult, train_model
from quantgrid.ml._validation import PurgedKFold

STEP = 60_000_000_000
START_NS = 1_750_000_000_000_000_000


def training_result(seed: int, skill: float) -> TrainingResult:
    """Train a small logistic model; ``skill`` is how much the first feature tells."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(1_000, 3))
    labels = np.where(skill * features[:, 0] + rng.normal(size=1_000) > 0, 1, -1)
    ts = START_NS + STEP * np.arange(1_000, dtype=np.int64)
    return train_model(
        features,
        labels,
        ts,
        ts + STEP,
        ModelSpec("logistic", {"C": 0.5}, seed=seed),
        PurgedKFold(4, embargo=5),
        feature_names=("ret_1", "ret_2", "ret_3"),
    )


@pytest.fixture(scope="session")
def good_result() -> TrainingResult:
    """Out-of-sample AUC 0.82, accuracy 0.23 above the best baseline."""
    return training_result(seed=1, skill=1.0)


@pytest.fixture(scope="session")
def poor_result() -> TrainingResult:
    """No skill: AUC 0.47 and accuracy under the majority share; fails any policy."""
    return training_result(seed=4, skill=0.0)


@pytest.fixture(scope="module")
def clock() -> Callable[[], int]:
    """A clock that ticks one second per reading."""
    ticks = itertools.count()
    return lambda: START_NS + next(ticks) * 1_000_000_000


@pytest.fixture
def name() -> str:
    """A model name no other test uses, so tests may share a registry."""
    return f"model-{uuid.uuid4().hex[:10]}"
