"""Model registries: trained models by version, with lineage and an approval gate.

``ModelRegistry`` is the port; ``MlflowRegistry`` keeps runs, versions and stages in
MLflow (a local SQLite file by default, a tracking server by URL), and
``InMemoryModelRegistry`` follows the same rules in a dict. The stages and the approval
policy are the core's (`quantgrid.ml`): a version reaches production only through
staging, and only on out-of-sample figures that pass the policy.
"""

import importlib
from typing import TYPE_CHECKING, Any

from quantgrid.adapters.registry._errors import ModelNotFoundError, RegistryError
from quantgrid.adapters.registry._memory import InMemoryModelRegistry
from quantgrid.adapters.registry._port import ModelRegistry, log_dataset_training

if TYPE_CHECKING:
    from quantgrid.adapters.registry._mlflow import MlflowRegistry

__all__ = [
    "InMemoryModelRegistry",
    "MlflowRegistry",
    "ModelNotFoundError",
    "ModelRegistry",
    "RegistryError",
    "log_dataset_training",
]


def __getattr__(name: str) -> Any:
    # MLflow takes about two seconds to import: loaded when a registry is first opened,
    # not by every process that imports the services.
    if name != "MlflowRegistry":
        msg = f"module 'quantgrid.adapters.registry' has no attribute {name!r}"
        raise AttributeError(msg)
    value = importlib.import_module("quantgrid.adapters.registry._mlflow").MlflowRegistry
    globals()[name] = value
    return value
