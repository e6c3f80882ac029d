"""Paper trading resumed after a restart trades as if it had never stopped.

A run is stopped between two moments, as a crash after the last flush leaves it (no
``on_stop``; every write of the moments played is in the store). A new node on the
same store, a new host and fresh strategy instances resume (``StrategyHost.resume``
warms them up on the bars played) and play the rest. The orders and fills of the two
halves together must be those of one uninterrupted run on the same bars: same ids,
prices, quantities and times (venue names aside, as in ``test_parity``).

The bracket strategy keeps the bars its entry has waited outside indicators and
orders: it comes back through ``Strategy.save_state``/``load_state``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from quantgrid.adapters.storage import SqliteStore, Store
from quantgrid.model import BarSeries, Order, OrderFilled, OrderStatus
from quantgrid.node import RecoveryReport
from quantgrid.paper import ReplayFeed, StrategyHost
from quantgrid.strategy import SmaCross, Strategy
from quantgrid.venues import PercentCommission, VenueConfig
from tests.unit.paper.support import fill_key, make_node, order_key, random_walk
from tests.unit.paper.test_parity import DipBracket

pytestmark = pytest.mark.anyio

VENUE = VenueConfig(commission=PercentCommission(0.001))


@dataclass
class Run:
    """What one run (or one half of a restarted run) left behind."""

    orders: tuple[Order, ...]
    fills: tuple[OrderFilled, ...]
    store: Store
    host: StrategyHost
    recovery: RecoveryReport
    last_ts: int | None


async def _run(
    strategies: Sequence[Strategy],
    series: Sequence[BarSeries],
    store: Store,
    *,
    session_id: str,
    start_ns: int,
    limit: int | None = None,
    resume_after: int | None = None,
) -> Run:
    """Play ``series`` on a node over ``store``: all, the first ``limit`` moments, or
    (``resume_after``) resume after that many moments and play the rest.

    A run cut by ``limit`` ends as a crash would: no ``on_stop``, node and store closed
    once the last moment's writes are in.
    """
    node = make_node([s.instrument_id for s in series], store=store, start_ns=start_ns,
                     session_id=session_id)  # fmt: skip
    host = StrategyHost(node, VENUE)
    for strategy in strategies:
        host.add_strategy(strategy)
    recovery = await node.start()
    feed = ReplayFeed(series)
    if resume_after is None:
        await host.start()
    else:
        warm_up = itertools.islice(ReplayFeed(series).moments(), resume_after)
        start_after = await host.resume(warm_up)
        assert start_after is not None
        feed = ReplayFeed(series, start_after_ns=start_after)
    await feed.play(host, limit=limit)
    if limit is None:
        await host.stop()
    await node.stop()
    return Run(host.orders, host.fills, store, host, recovery, feed.last_ts)


def _sqlite(path: Path) -> SqliteStore:
    return SqliteStore(path, auto_migrate=True)


def _stored_history(store: Store, oid: str) -> list[tuple[str, OrderStatus, int]]:
    return [(e.event_type, e.status, e.ts_event) for e in store.order_events(oid)]


def _stored_orders(store: Store) -> list[Any]:
    page = store.list_orders(limit=1000)
    assert page.next_cursor is None
    return list(page.items)


async def _assert_restart_is_seamless(
    make: Callable[[], list[Strategy]],
    series: Sequence[BarSeries],
    tmp_path: Path,
    crash: int | str,
) -> tuple[Run, Run, Run]:
    """Compare a run restarted after a crash with an uninterrupted one.

    ``crash`` is a number of moments, or the id of an order of the uninterrupted run:
    the crash comes right after the moment that order was decided on, so it works on.
    """
    start = min(int(s.ts[0]) for s in series)
    whole = await _run(make(), series, _sqlite(tmp_path / "whole.db"), session_id="w",
                       start_ns=start)  # fmt: skip
    if isinstance(crash, str):
        (decided,) = (o.ts_init for o in whole.orders if o.client_order_id == crash)
        moments = ReplayFeed(series).moments()
        crash_after = sum(1 for _ in itertools.takewhile(lambda m: m[0].ts_event <= decided,
                                                         moments))  # fmt: skip
    else:
        crash_after = crash

    path = tmp_path / "restarted.db"
    first_store = _sqlite(path)
    first = await _run(make(), series, first_store, session_id="a", start_ns=start,
                       limit=crash_after)  # fmt: skip
    first_store.close()
    crash_ts = first.last_ts
    assert crash_ts is not None
    working_at_crash = [o.client_order_id for o in first.orders if not o.is_closed]
    if isinstance(crash, str):
        assert crash in working_at_crash  # the restart has working orders to bring back
    second = await _run(make(), series, _sqlite(path), session_id="b", start_ns=crash_ts,
                        resume_after=crash_after)  # fmt: skip

    # The working orders came back from the store, placed again, none sent anew.
    assert sorted(second.recovery.replaced) == sorted(working_at_crash)
    assert second.recovery.resubmitted == ()
    assert first.host.refused_orders == second.host.refused_orders == 0

    # Fills: the second node replays the stored ones, then adds its own.
    replayed = second.recovery.fills
    assert replayed == len(first.fills)
    union_fills = first.fills + second.fills[replayed:]
    assert [fill_key(f) for f in union_fills] == [fill_key(f) for f in whole.fills]

    # Orders: the first half's, each as the second half left it if it worked on.
    at_crash = {o.client_order_id: len(o.events) for o in first.orders if not o.is_closed}
    later = {o.client_order_id: o for o in second.orders}
    union = [later.pop(o.client_order_id, o) for o in first.orders] + list(later.values())
    assert [o.client_order_id for o in union] == [o.client_order_id for o in whole.orders]
    for mine, theirs in zip(union, whole.orders, strict=True):
        assert _key(mine, at_crash, crash_ts) == order_key(theirs)

    # The store: the same orders, each once, with the same histories.
    stored = _stored_orders(second.store)
    expected = _stored_orders(whole.store)
    assert [s.order.client_order_id for s in stored] == [s.order.client_order_id for s in expected]
    for mine_s, theirs_s in zip(stored, expected, strict=True):
        oid = mine_s.order.client_order_id
        assert mine_s.order == theirs_s.order
        assert (mine_s.status, mine_s.filled_qty, mine_s.ts_last) == (
            theirs_s.status,
            theirs_s.filled_qty,
            theirs_s.ts_last,
        )
        history = _stored_history(second.store, oid)
        assert history == _stored_history(whole.store, oid)
        assert [kind for kind, _, _ in history].count("OrderSubmitted") <= 1
    return whole, first, second


def _key(order: Order, at_crash: dict[str, int], restart_ns: int) -> tuple[Any, ...]:
    """Return ``order_key`` of ``order``, less a recovered order's placing at the restart.

    In memory, an order working at the crash also holds its placing on the new venue
    (submitted, accepted, at the restart) right after its history of the first run;
    the store does not (its stored history is compared whole).
    """
    n = at_crash.get(order.client_order_id)
    if n is None:
        return order_key(order)
    placing = [(type(e).__name__, e.ts_event) for e in order.events[n : n + 2]]
    if n == 0 and placing != [("OrderSubmitted", restart_ns), ("OrderAccepted", restart_ns)]:
        # A bracket's exit still held for its entry at the crash is held again, not
        # placed: it is released when the entry fills, as in the uninterrupted run.
        return order_key(order)
    assert placing == [("OrderSubmitted", restart_ns), ("OrderAccepted", restart_ns)]
    return order_key(dataclasses.replace(order, events=order.events[:n] + order.events[n + 2 :]))


@pytest.mark.parametrize(
    ("seed", "crash"), [(1, 150), (1, "sma_cross-5"), (7, "sma_cross-8"), (42, 211)]
)
async def test_sma_cross_sized_from_cash_resumes_as_if_never_stopped(
    seed: int, crash: int | str, tmp_path: Path
) -> None:
    series = [random_walk("AAA", seed)]
    _whole, first, second = await _assert_restart_is_seamless(
        lambda: [SmaCross({"fast": 5, "slow": 20})], series, tmp_path, crash
    )
    new_fills = len(second.fills) - len(first.fills)
    assert len(first.fills) >= 3 and new_fills >= 3  # both halves trade


@pytest.mark.parametrize("crash", [60, "sma_cross-4"])
async def test_sma_cross_of_fixed_size_on_two_instruments_resumes(
    crash: int | str, tmp_path: Path
) -> None:
    # A volume cap spreads fills over bars: orders work across the crash, part filled.
    series = [random_walk("AAA", 3), random_walk("BBB", 4)]
    _whole, first, second = await _assert_restart_is_seamless(
        lambda: [SmaCross({"fast": 4, "slow": 12, "size": 20})], series, tmp_path, crash
    )
    assert {f.instrument_id for f in second.fills[len(first.fills) :]} == {"AAA", "BBB"}


@pytest.mark.parametrize("crash", [65, 175])
async def test_brackets_resume_as_if_never_stopped_when_nothing_works_at_the_crash(
    crash: int, tmp_path: Path
) -> None:
    # Crashes right after a stale entry's bracket was cancelled: nothing to recover
    # but the ids and the indicators; the next bar places a new bracket at once.
    series = [random_walk("AAA", 5)]
    _whole, first, second = await _assert_restart_is_seamless(
        lambda: [DipBracket()], series, tmp_path, crash
    )
    assert second.recovery.replaced == ()
    assert len(second.orders) >= 9 and len(second.fills) > len(first.fills)


@pytest.mark.parametrize(
    ("seed", "crash"),
    [
        (5, 50),
        (5, 120),
        (11, 75),
        (11, 200),
    ],
)
async def test_brackets_working_at_the_crash_resume_as_if_never_stopped(
    seed: int, crash: int, tmp_path: Path
) -> None:
    series = [random_walk("AAA", seed)]
    await _assert_restart_is_seamless(lambda: [DipBracket()], series, tmp_path, crash)
