"""``/portfolio/stream``: snapshots of the account as server-sent events.

The console reads the stream with ``fetch`` (so its ``Authorization`` header is sent,
which ``EventSource`` cannot do) and draws the account from each snapshot.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from quantgrid.adapters.storage import FillRecord, StoreError
from quantgrid.model import OrderStatus
from quantgrid.node import NodeError
from quantgrid.services.execution import FillOut
from quantgrid.services.portfolio._backend import PortfolioBackend
from quantgrid.services.portfolio._models import SnapshotOut

#: The statuses of an order that may still trade (or wait for its parent to fill).
WORKING_STATUSES = frozenset(s for s in OrderStatus if not s.is_closed)
#: How often the stream looks for a change, and how long it stays silent at most.
CHECK_INTERVAL_S = 0.5
HEARTBEAT_S = 15.0
_PAGE = 1_000


class FillTally:
    """The number of stored fills and the latest one, reading only new fills each time.

    Notes
    -----
    Fills are listed by ``(ts_event, trade_id)``; after the first reading, only those
    from the latest one's ``ts_event`` on are read again, and counted if they come
    after it in that order.
    """

    def __init__(self) -> None:
        self.count = 0
        self.last: FillRecord | None = None

    async def update(self, backend: PortfolioBackend) -> None:
        """Count the fills stored since the last update."""
        last = self.last
        since = None if last is None else last.ts_event
        after: str | None = None
        while True:
            page = await backend.list_fills(since_ns=since, limit=_PAGE, after=after)
            for fill in page.items:
                if last is None or (fill.ts_event, fill.trade_id) > (last.ts_event, last.trade_id):
                    self.count += 1
                    last = fill
            if page.next_cursor is None:
                break
            after = page.next_cursor
        self.last = last


class SnapshotReader:
    """Reads the account's snapshot from a node, keeping the fill count between reads."""

    def __init__(self, backend: PortfolioBackend) -> None:
        self._backend = backend
        self._fills = FillTally()

    async def read(self) -> SnapshotOut:
        """Return the account now, stamped with the node's clock."""
        backend = self._backend
        status = await backend.risk_status()
        pnl = await backend.pnl()
        cash = await backend.cash()
        positions = await backend.positions()
        working = await _count_working(backend)
        await self._fills.update(backend)
        last = self._fills.last
        return SnapshotOut.of(
            status,
            pnl,
            cash,
            positions=len(positions),
            working_orders=working,
            fills=self._fills.count,
            last_fill=None if last is None else FillOut.of(last),
        )


async def _count_working(backend: PortfolioBackend) -> int:
    count, after = 0, None
    while True:
        page = await backend.list_orders(status=WORKING_STATUSES, limit=_PAGE, after=after)
        count += len(page.items)
        if page.next_cursor is None:
            return count
        after = page.next_cursor


def server_sent_event(event: str, data: str) -> str:
    """Return one server-sent event: its name and its data (one line of JSON)."""
    return f"event: {event}\ndata: {data}\n\n"


HEARTBEAT = ": heartbeat\n\n"


async def snapshot_events(
    reader: SnapshotReader,
    first: SnapshotOut,
    *,
    max_s: float,
    check_interval_s: float = CHECK_INTERVAL_S,
    heartbeat_s: float = HEARTBEAT_S,
) -> AsyncIterator[str]:
    """Yield ``first``, then a snapshot whenever the account changed, until ``max_s``.

    Parameters
    ----------
    reader
        Reads the account (it took ``first``).
    first
        The snapshot sent at once, whatever it holds.
    max_s
        How long the stream lasts; 0 sends ``first`` alone. The client reconnects.
    check_interval_s
        How often the account is read again.
    heartbeat_s
        The longest silence: a comment line is sent when nothing changed for so long,
        so that proxies and the client can tell the stream is alive.

    Notes
    -----
    A change is any field of the account, or the clock's second
    (``SnapshotOut.changed_from``): a stopped clock and an idle account send only
    heartbeats. If the node or its store fails while the stream runs, an ``error``
    event with the ``detail`` is sent and the stream ends.
    """
    start = time.monotonic()
    yield "retry: 2000\n\n"
    yield server_sent_event("snapshot", first.model_dump_json())
    sent, quiet_since = first, start
    while (remaining := max_s - (time.monotonic() - start)) > 0:
        await asyncio.sleep(min(check_interval_s, remaining))
        try:
            snapshot = await reader.read()
        except (NodeError, StoreError) as error:
            detail = f"the account cannot be read: {error}; the console reconnects"
            yield server_sent_event("error", json.dumps({"detail": detail}))
            return
        now = time.monotonic()
        if snapshot.changed_from(sent):
            yield server_sent_event("snapshot", snapshot.model_dump_json())
            sent, quiet_since = snapshot, now
        elif now - quiet_since >= heartbeat_s:
            yield HEARTBEAT
            quiet_since = now
