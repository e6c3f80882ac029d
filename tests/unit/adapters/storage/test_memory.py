"""The storage contract, held by the in-memory fake the service tests use."""

from __future__ import annotations

import pytest

from quantgrid.adapters.storage import InMemoryStore, Store
from tests.unit.adapters.storage.contract import StoreContract


class TestInMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Store:
        return InMemoryStore()
