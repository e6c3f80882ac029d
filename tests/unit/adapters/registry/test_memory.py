"""InMemoryModelRegistry against the registry contract."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from quantgrid.adapters.registry import InMemoryModelRegistry
from tests.unit.adapters.registry.registry_contract import RegistryContract


@pytest.fixture
def registry(clock: Callable[[], int]) -> InMemoryModelRegistry:
    return InMemoryModelRegistry(clock=clock)


class TestInMemoryModelRegistry(RegistryContract):
    pass
