"""Model registries: trained models by version, with lineage and an approval gate.

``ModelRegistry`` is the port; ``MlflowRegistry`` keeps runs, versions and stages in
MLflow (a local SQLite file by default, a tracking server by URL), and
``InMemoryModelRegistry`` follows the same rules in a dict. The stages and the approval
policy are the core's (`quantgrid.ml`): a version reaches production only through
staging, and only on out-of-sample figures that pass the policy.
"""

from quantgrid.adapters.registry._errors import ModelNotFoundError, RegistryError
from quantgrid.adapters.registry._memory import InMemoryModelRegistry
from quantgrid.adapters.registry._mlflow import MlflowRegistry
from quantgrid.adapters.registry._port import ModelRegistry

__all__ = [
    "InMemoryModelRegistry",
    "MlflowRegistry",
    "ModelNotFoundError",
    "ModelRegistry",
    "RegistryError",
]
