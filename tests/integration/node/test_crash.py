"""A node killed mid-flow loses no acknowledged order and sends none twice (SQLite)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from quantgrid.adapters.storage import SqliteStore
from quantgrid.core import TestClock
from quantgrid.model import OrderStatus
from tests.unit.node.support import MS, START_NS, running_node

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

# Submits orders concurrently, prints each id once it is acknowledged, and dies with
# os._exit (no stop, no flush of anything but stdout) after the 25th acknowledgement.
CHILD = textwrap.dedent(
    """
    import asyncio, os, sys
    from quantgrid.adapters.bus import InProcessEventBus
    from quantgrid.adapters.storage import SqliteStore
    from quantgrid.core import TestClock
    from quantgrid.node import TradingNode
    from tests.unit.node.support import START_NS, limit_buy, make_config

    async def main():
        store = SqliteStore(sys.argv[1], auto_migrate=True)
        node = TradingNode(make_config(), store=store, bus=InProcessEventBus(),
                           clock=TestClock(START_NS), session_id="doomed")
        await node.start()
        acked = 0

        async def one(i):
            nonlocal acked
            await node.submit(limit_buy(f"o-{i}", quantity=1, price=99.5))
            print(f"o-{i}", flush=True)
            acked += 1
            if acked == 25:
                os._exit(0)

        await asyncio.gather(*(one(i) for i in range(60)))

    asyncio.run(main())
    """
)


async def test_every_acknowledged_order_survives_a_crash(tmp_path: Path) -> None:
    database = tmp_path / "node.db"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, str(script), str(database)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    acked = done.stdout.split()
    assert len(acked) == 25

    store = SqliteStore(database)
    clock = TestClock(START_NS + 1_000 * MS)
    async with running_node(store, clock=clock, session_id="after") as node:
        for oid in acked:
            stored = store.get_order(oid)
            assert stored is not None, f"acknowledged order {oid} was lost"
            assert stored.status is OrderStatus.ACCEPTED
        working = Counter(o.client_order_id for o in node.venue.working_orders())
        assert set(acked) <= set(working)
        assert max(working.values()) == 1  # each placed once
        assert len(working) == len(store.list_orders(limit=1000).items)
        for oid in working:
            history = [e.event_type for e in store.order_events(oid)]
            assert history.count("OrderSubmitted") <= 1
            assert history.count("OrderAccepted") <= 1
    store.close()
