"""The prediction and job-run contracts, held by the in-memory fake."""

from __future__ import annotations

import threading

import pytest

from quantgrid.adapters.storage import InMemoryStore
from tests.unit.adapters.storage.prediction_contract import (
    T0,
    JobRunStoreContract,
    PredictionStoreContract,
)


class TestInMemoryPredictions(PredictionStoreContract, JobRunStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryStore:
        return InMemoryStore()


def test_concurrent_claims_of_one_slot_have_one_winner():
    store = InMemoryStore()
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def claim(k: int) -> None:
        barrier.wait()
        results.append(store.claim_job_run("evaluate", T0, owner=f"w-{k}", now_ns=T0))

    threads = [threading.Thread(target=claim, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
