"""The store writer: one thread, queue order, batches, one transaction per batch."""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from quantgrid.adapters.storage import (
    AccountEventKind,
    AccountEventRecord,
    ConflictError,
    InMemoryStore,
    InvalidRecordError,
    OrderRecord,
    Store,
    StoreError,
    StoreUnavailableError,
)
from quantgrid.node import StoreWriter, SupportsTransaction
from quantgrid.node._writer import SaveOrder
from tests.unit.adapters.storage.contract import make_order
from tests.unit.node.support import START_NS, limit_buy, running_node

pytestmark = pytest.mark.anyio


def deposit(event_id: str, amount: str = "1") -> AccountEventRecord:
    return AccountEventRecord(
        event_id=event_id,
        account_id="a",
        kind=AccountEventKind.DEPOSIT,
        amount=Decimal(amount),
        currency="USD",
        ts_event=START_NS,
    )


class TransactionalStore(InMemoryStore):
    """A fake whose ``transaction()`` makes a batch all-or-nothing, and counts commits.

    The transaction writes straight into the store and puts the old state back if the
    block raises.
    """

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[int] = []

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        saved = {k: copy.deepcopy(v) for k, v in vars(self).items() if k != "_lock"}
        writes = [0]
        outer = self

        class Transaction:
            def __getattr__(self, name: str) -> Any:
                writes[0] += 1
                return getattr(outer, name)

        try:
            yield Transaction()  # type: ignore[misc]
        except BaseException:
            vars(self).update(saved)
            raise
        self.commits.append(writes[0])


async def test_writes_are_made_in_queue_order_and_awaitable() -> None:
    store = InMemoryStore()
    writer = StoreWriter(store)
    writer.start()
    futures = [
        writer.submit(lambda s, i=i: s.append_account_event(deposit(f"e-{i}"))) for i in range(20)
    ]
    assert await asyncio.gather(*futures) == [True] * 20
    assert [e.event_id for e in store.account_events("a")] == [f"e-{i}" for i in range(20)]
    await writer.stop()
    assert writer.pending == 0 and writer.writes == 20


async def test_writes_queued_while_one_is_made_go_together() -> None:
    store = InMemoryStore()
    release = threading.Event()
    writer = StoreWriter(store)
    writer.start()
    first = writer.submit(lambda _s: release.wait(5))
    await asyncio.sleep(0.02)  # the thread is inside the first write
    rest = [
        writer.submit(lambda s, i=i: s.append_account_event(deposit(f"e-{i}"))) for i in range(50)
    ]
    release.set()
    await asyncio.gather(first, *rest)
    assert writer.batches == 2 and writer.largest_batch == 50
    await writer.stop()


async def test_a_transactional_store_gets_a_batch_in_one_commit() -> None:
    store = TransactionalStore()
    assert isinstance(store, SupportsTransaction)
    release = threading.Event()
    writer = StoreWriter(store)
    assert writer.transactional
    writer.start()
    first = writer.submit(lambda _s: release.wait(5))
    await asyncio.sleep(0.02)
    rest = [
        writer.submit(lambda s, i=i: s.append_account_event(deposit(f"e-{i}"))) for i in range(10)
    ]
    release.set()
    await asyncio.gather(first, *rest)
    assert store.commits[-1] == 10  # ten writes, one commit
    assert len(store.account_events("a")) == 10
    await writer.stop()


async def test_a_bad_write_fails_alone_when_its_batch_is_redone() -> None:
    store = TransactionalStore()
    release = threading.Event()
    writer = StoreWriter(store)
    writer.start()
    first = writer.submit(lambda _s: release.wait(5))
    await asyncio.sleep(0.02)
    good = writer.submit(lambda s: s.append_account_event(deposit("good")))
    bad = writer.submit(lambda s: s.append_account_event(deposit("bad", "-1")))
    also_good = writer.submit(lambda s: s.append_account_event(deposit("also-good")))
    release.set()
    await first
    assert await good is True and await also_good is True
    with pytest.raises(InvalidRecordError):
        await bad
    assert [e.event_id for e in store.account_events("a")] == ["good", "also-good"]
    await writer.stop()


async def test_an_unavailable_store_is_tried_again() -> None:
    attempts: list[int] = []

    def flaky(store: Store) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise StoreUnavailableError("locked")
        return "written"

    writer = StoreWriter(InMemoryStore(), retries=2, retry_delay_s=0.001)
    writer.start()
    assert await writer.submit(flaky) == "written"
    assert len(attempts) == 3
    await writer.stop()


async def test_what_a_batch_wakes_goes_in_the_next_batch() -> None:
    """The thread lets the loop act on a batch's outcomes before it takes the next one.

    Ten requests each write twice, the second once the first is made (an order, then
    its events): the ten second writes go together in the batch after the first ten,
    not spread over the batches the thread would start while they are being queued.
    """
    store = InMemoryStore()
    release = threading.Event()
    writer = StoreWriter(store, catch_up_s=5.0)  # a bound only: the loop sets it at once
    writer.start()
    gate = writer.submit(lambda _s: release.wait(5))
    await asyncio.sleep(0.02)  # the thread is inside the gate's write

    async def request(i: int) -> None:
        await writer.submit(lambda s: s.append_account_event(deposit(f"first-{i}")))
        # The loop busy with something else, the interpreter lock free: the thread
        # could take what is queued so far, were it not waiting for the loop.
        time.sleep(0.001)
        await writer.submit(lambda s: s.append_account_event(deposit(f"second-{i}")))

    requests = [asyncio.create_task(request(i)) for i in range(10)]
    await asyncio.sleep(0)  # each queued its first write
    release.set()
    await gate
    await asyncio.gather(*requests)
    assert (writer.batches, writer.largest_batch) == (3, 10)
    events = [e.event_id for e in store.account_events("a")]
    assert events[:10] == [f"first-{i}" for i in range(10)]
    assert sorted(events[10:]) == sorted(f"second-{i}" for i in range(10))
    await writer.stop()


def test_the_catch_up_wait_is_not_negative() -> None:
    with pytest.raises(ValueError, match="catch_up_s: at least 0, not -1"):
        StoreWriter(InMemoryStore(), catch_up_s=-1)


async def test_a_posted_write_that_fails_is_reported() -> None:
    errors: list[BaseException] = []
    writer = StoreWriter(InMemoryStore(), retries=0, on_failure=errors.append)
    writer.start()

    def broken(_store: Store) -> Any:
        raise StoreUnavailableError("gone")

    writer.post(broken)
    await writer.barrier()
    assert [str(e) for e in errors] == ["gone"]
    assert writer.failures == 1
    await writer.stop()
    with pytest.raises(RuntimeError, match="not running"):
        writer.post(broken)


async def test_a_node_on_a_transactional_store_batches_its_writes() -> None:
    store = TransactionalStore()
    async with running_node(store) as node:
        results = await asyncio.gather(*(node.submit(limit_buy(f"o-{i}")) for i in range(20)))
        assert all(r.created for r in results)
        stats = node.stats()
        assert stats["transactional"] is True
        # 20 orders x (save, submitted, accepted): far fewer batches than writes.
        assert stats["writes"] >= 60
        assert stats["write_batches"] < stats["writes"]
        assert max(store.commits) > 1
        stored = store.list_orders(limit=100).items
        assert [o.status.value for o in stored] == ["ACCEPTED"] * 20


class GroupingStore(TransactionalStore):
    """A transactional fake that also saves orders many at a time, and logs each call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def save_orders(self, records: Sequence[OrderRecord]) -> list[bool | StoreError]:
        self.calls.append([r.client_order_id for r in records])
        outcomes: list[bool | StoreError] = []
        for record in records:
            try:
                outcomes.append(self.save_order(record))
            except StoreError as error:
                outcomes.append(error)
        return outcomes


async def test_new_orders_next_to_each_other_are_saved_in_one_call() -> None:
    store = GroupingStore()
    store.save_order(make_order("old"))
    release = threading.Event()
    writer = StoreWriter(store)
    writer.start()
    first = writer.submit(lambda _s: release.wait(5))
    await asyncio.sleep(0.02)  # the thread is inside the first write
    saves = [
        writer.submit(SaveOrder(make_order("a"))),
        writer.submit(SaveOrder(make_order("old", price=Decimal("190")))),  # a conflict
        writer.submit(SaveOrder(make_order("b", quantity=Decimal("-1")))),  # invalid
        writer.submit(SaveOrder(make_order("old"))),  # the same again
    ]
    deposit_written = writer.submit(lambda s: s.append_account_event(deposit("d")))
    last = writer.submit(SaveOrder(make_order("c")))  # alone after the deposit: no group
    release.set()
    await first
    outcomes = await asyncio.gather(*saves, deposit_written, last, return_exceptions=True)
    assert outcomes[0] is True and outcomes[3] is False
    assert isinstance(outcomes[1], ConflictError) and "price" in str(outcomes[1])
    assert isinstance(outcomes[2], InvalidRecordError) and "quantity" in str(outcomes[2])
    assert outcomes[4] is True and outcomes[5] is True
    assert store.calls == [["a", "old", "b", "old"]]
    assert store.commits[-1] > 0  # one transaction: a refused order did not undo the batch
    assert writer.batches == 2 and writer.failures == 2
    ids = sorted(o.order.client_order_id for o in store.list_orders(limit=100).items)
    assert ids == ["a", "c", "old"]
    assert [e.event_id for e in store.account_events("a")] == ["d"]
    await writer.stop()


async def test_a_store_without_save_orders_gets_each_order_alone() -> None:
    store = TransactionalStore()
    release = threading.Event()
    writer = StoreWriter(store)
    writer.start()
    first = writer.submit(lambda _s: release.wait(5))
    await asyncio.sleep(0.02)
    saves = [writer.submit(SaveOrder(make_order(f"o-{i}"))) for i in range(5)]
    release.set()
    await first
    assert await asyncio.gather(*saves) == [True] * 5
    assert store.commits[-1] == 5
    await writer.stop()
