"""One thread that makes the node's store writes, in order, a batch at a time.

The store is synchronous and every write is durable when it returns. Writes are queued
from the event loop and made on one dedicated thread, in the order they were queued;
while the thread writes one batch, the next accumulates, so the batch grows with the
load and a quiet node writes each at once (group commit without a timer). A store that
offers ``transaction()`` gets each batch in one transaction, one commit (and one disk
sync) for many writes; any other store gets them one call each.

The thread hands a whole batch's outcomes back to the loop in one callback: no thread
hop per write, and none per request. Before it takes the next batch it lets the loop
act on those outcomes (at most ``catch_up_s``): what the awaiting requests write next
(an order's events, once the order itself is stored) then goes in the next batch
rather than the one after, one commit sooner.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from quantgrid.adapters.storage import OrderRecord, Store, StoreError, StoreUnavailableError

_log = logging.getLogger("quantgrid.node")

StoreWrite = Callable[[Store], Any]
"""A write: called with the store (or a transaction of it) on the writer thread."""

Outcome = tuple[bool, Any]
"""``(True, value)`` of a write that returned, ``(False, exception)`` of one that raised."""

Then = Callable[[bool, Any], None]
"""Called on the event loop with a write's outcome."""


@runtime_checkable
class SupportsTransaction(Protocol):
    """A store that can make several writes in one transaction.

    ``with store.transaction() as tx:`` gives a ``Store`` whose writes are committed
    together, durably, when the block ends, and rolled back together if it raises.
    The SQL stores (SQLite, PostgreSQL) have it; the in-memory store needs none.
    """

    def transaction(self) -> AbstractContextManager[Store]:
        """Return a context manager of one transaction."""
        ...


@runtime_checkable
class SupportsSaveOrders(Protocol):
    """A store that saves several new orders in one call, each with its own outcome.

    ``save_orders(records)`` returns, for each order in turn, what ``save_order``
    would have returned, or the ``StoreError`` it would have raised.
    """

    def save_orders(self, records: Sequence[OrderRecord]) -> list[bool | StoreError]:
        """Save new orders; return each one's outcome."""
        ...


class SaveOrder:
    """The write of a new order: ``store.save_order(order)``.

    In a transactional batch, the ``SaveOrder`` writes queued next to each other are
    made in one call of the store's ``save_orders`` if it has one (one statement for
    all of them); each still gets its own outcome.
    """

    __slots__ = ("order",)

    def __init__(self, order: OrderRecord) -> None:
        self.order = order

    def __call__(self, store: Store) -> bool:
        """Save the order; return ``False`` if it was already stored."""
        return store.save_order(self.order)


class _Item:
    __slots__ = ("future", "then", "write")

    def __init__(
        self, write: StoreWrite, future: asyncio.Future[Any] | None, then: Then | None
    ) -> None:
        self.write = write
        self.future = future
        self.then = then


def _noop(_store: Store) -> None:
    return None


class StoreWriter:
    """Makes store writes on a thread of its own, in the order they are queued.

    Parameters
    ----------
    store
        Where the writes go.
    max_batch
        Most writes taken from the queue at once.
    retries, retry_delay_s
        A write that finds the store unavailable (``StoreUnavailableError``) is tried
        again up to ``retries`` times, waiting ``retry_delay_s`` doubled each time.
    on_failure
        Called on the event loop with the error of a queued write that failed for
        good and that nobody awaits (``post`` without ``then``).
    catch_up_s
        After a batch, the most the thread waits for the loop to have run what the
        batch's outcomes woke (0: not at all) before it takes the next batch.

    Notes
    -----
    Writes are made in queue order; a write queued after another is durable only
    once that one is (so ``barrier()`` waits for everything queued before it). If
    one write of a transactional batch fails, the batch is rolled back and its writes
    are made again one at a time, so that only the bad write fails.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_batch: int = 512,
        retries: int = 2,
        retry_delay_s: float = 0.05,
        on_failure: Callable[[BaseException], None] | None = None,
        catch_up_s: float = 0.002,
    ) -> None:
        if catch_up_s < 0:
            raise ValueError(f"catch_up_s: at least 0, not {catch_up_s}")
        self._store = store
        self._transactional = isinstance(store, SupportsTransaction)
        # Checked on the store, not on each transaction: a transaction of it has it too.
        self._groups_orders = self._transactional and isinstance(store, SupportsSaveOrders)
        self._max_batch = max_batch
        self._retries = retries
        self._retry_delay_s = retry_delay_s
        self._on_failure = on_failure
        self._catch_up_s = catch_up_s
        # Set on the loop once it has run the callbacks a batch's outcomes scheduled.
        self._caught_up = threading.Event()
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self.pending = 0
        """Writes queued and not yet settled."""
        self.writes = 0
        self.batches = 0
        self.largest_batch = 0
        self.failures = 0

    @property
    def transactional(self) -> bool:
        """Tell whether batches are written in one transaction each."""
        return self._transactional

    @property
    def running(self) -> bool:
        """Tell whether the writer thread is taking writes."""
        return self._thread is not None and not self._stopping

    def start(self) -> None:
        """Start the writer thread; call from the event loop that will await writes."""
        if self._thread is not None:
            raise RuntimeError("the store writer was already started")
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="quantgrid-store-writer")
        self._thread.daemon = True
        self._thread.start()

    def post(self, write: StoreWrite, then: Then | None = None) -> None:
        """Queue ``write``; ``then(ok, value_or_error)`` runs on the loop once it is made."""
        self._put(_Item(write, None, then))

    def submit(self, write: StoreWrite) -> asyncio.Future[Any]:
        """Queue ``write`` and return a future of its result (or its error)."""
        assert self._loop is not None, "start() the writer first"
        future: asyncio.Future[Any] = self._loop.create_future()
        self._put(_Item(write, future, None))
        return future

    async def barrier(self) -> None:
        """Wait until every write queued so far has been made."""
        await self.submit(_noop)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Make the writes already queued, then stop the thread (waits ``timeout_s``)."""
        if self._thread is None or self._stopping:
            return
        self._stopping = True
        self._queue.put(None)
        thread = self._thread
        deadline = time.monotonic() + timeout_s
        while thread.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        if thread.is_alive():
            _log.error("store writer did not stop within %.1f s", timeout_s)
        await asyncio.sleep(0)  # let the last batch's callback run

    def _put(self, item: _Item) -> None:
        if self._thread is None or self._stopping:
            raise RuntimeError("the store writer is not running")
        self.pending += 1
        self._queue.put(item)

    # -- the writer thread -------------------------------------------------------------
    def _run(self) -> None:
        get, max_batch = self._queue.get, self._max_batch
        while True:
            item = get()
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            outcomes = self._write(batch)
            self.batches += 1
            self.writes += len(batch)
            self.largest_batch = max(self.largest_batch, len(batch))
            assert self._loop is not None
            self._caught_up.clear()
            try:
                self._loop.call_soon_threadsafe(self._settle, batch, outcomes)
            except RuntimeError:  # the loop closed under us
                self._caught_up.set()
            if stop:
                return
            if self._catch_up_s:
                self._caught_up.wait(self._catch_up_s)

    def _write(self, batch: list[_Item]) -> list[Outcome]:
        if self._transactional and len(batch) > 1:
            store = self._store
            assert isinstance(store, SupportsTransaction)
            try:
                with store.transaction() as tx:
                    outcomes = _write_in(tx, batch, group_orders=self._groups_orders)
                return outcomes
            except Exception:  # rolled back whole: redo one by one to isolate the bad one
                _log.debug("a batch of %d writes failed; writing them one by one", len(batch))
        return [self._write_one(item.write) for item in batch]

    def _write_one(self, write: StoreWrite) -> Outcome:
        delay = self._retry_delay_s
        for attempt in range(self._retries + 1):
            try:
                return True, write(self._store)
            except StoreUnavailableError as error:
                if attempt == self._retries:
                    return False, error
                time.sleep(delay)
                delay *= 2
            except Exception as error:
                return False, error
        raise AssertionError("unreachable")  # pragma: no cover

    # -- back on the loop --------------------------------------------------------------
    def _settle(self, batch: list[_Item], outcomes: list[Outcome]) -> None:
        assert self._loop is not None
        try:
            self._settle_batch(batch, outcomes)
        finally:
            # Scheduled after the steps of the tasks woken above (the loop runs its
            # callbacks in order), which queue what they write next: then the thread
            # takes its next batch.
            self._loop.call_soon(self._caught_up.set)

    def _settle_batch(self, batch: list[_Item], outcomes: list[Outcome]) -> None:
        self.pending -= len(batch)
        for item, (ok, value) in zip(batch, outcomes, strict=True):
            if not ok:
                self.failures += 1
            if item.future is not None:
                if item.future.done():
                    continue  # its awaiter was cancelled
                if ok:
                    item.future.set_result(value)
                else:
                    item.future.set_exception(value)
            elif item.then is not None:
                try:
                    item.then(ok, value)
                except Exception:
                    _log.exception("a store write's callback failed")
            elif not ok:
                _log.error("store write failed: %s", value, exc_info=value)
                if self._on_failure is not None:
                    self._on_failure(value)


def _write_in(tx: Store, batch: list[_Item], *, group_orders: bool) -> list[Outcome]:
    """Make a batch's writes in the open transaction ``tx``; an error rolls it back.

    Next-to-each-other new orders go in one ``save_orders`` call if ``group_orders``: an
    order it refuses (invalid, or in conflict with a stored one) fails alone, as it
    would have one by one, and the rest of the batch is written.
    """
    outcomes: list[Outcome] = []
    k, size = 0, len(batch)
    while k < size:
        end = k
        while group_orders and end < size and isinstance(batch[end].write, SaveOrder):
            end += 1
        if end - k > 1:
            assert isinstance(tx, SupportsSaveOrders)
            records = []
            for item in batch[k:end]:
                assert isinstance(item.write, SaveOrder)
                records.append(item.write.order)
            outcomes.extend(
                (False, result) if isinstance(result, StoreError) else (True, result)
                for result in tx.save_orders(records)
            )
            k = end
        else:
            outcomes.append((True, batch[k].write(tx)))
            k += 1
    return outcomes
