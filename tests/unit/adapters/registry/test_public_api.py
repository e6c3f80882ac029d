"""The registry adapters' public API is deliberate: this test changes with it."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_API = {
    "quantgrid.adapters.registry": (
        "InMemoryModelRegistry",
        "MlflowRegistry",
        "ModelNotFoundError",
        "ModelRegistry",
        "RegistryError",
        "log_dataset_training",
    ),
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC_API))
def test_public_api_is_exactly_what_is_listed(module_name: str) -> None:
    module = importlib.import_module(module_name)

    assert tuple(module.__all__) == PUBLIC_API[module_name]
    for name in module.__all__:
        assert hasattr(module, name), name
