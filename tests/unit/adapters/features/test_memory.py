"""MemoryOnlineStore: the online store contract, and the newest row winning under threads."""

from __future__ import annotations

import threading

import pytest

from quantgrid.adapters.features import MemoryOnlineStore
from tests.unit.adapters.features.online_contract import NAMES, OnlineStoreContract, T


class TestMemoryOnlineStore(OnlineStoreContract):
    @pytest.fixture
    def store(self) -> MemoryOnlineStore:
        return MemoryOnlineStore()


def test_racing_writers_leave_the_newest_row() -> None:
    store = MemoryOnlineStore()
    start = threading.Barrier(4)

    def write(offset: int) -> None:
        start.wait()
        for k in range(500):
            ts = T + 4 * k + offset
            store.put("fs", "AAPL", ts, NAMES, [float(ts - T), 0.0])

    threads = [threading.Thread(target=write, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    row = store.get("fs", "AAPL")
    assert row is not None
    assert row.ts == T + 4 * 499 + 3
    assert row.values[0] == 4 * 499 + 3
    assert len(store) == 1
