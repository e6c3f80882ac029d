"""Order throughput of a paper trading node: durable acknowledgements per second.

Submits ``--orders`` orders, ``--concurrency`` at a time, to a ``TradingNode`` with a
risk engine (every order checked), and times each submission from the call to its
acknowledgement, which comes only once the order and the events it caused are in the
store. Two order mixes: ``resting``, where nine orders in ten rest (limit buys below
the market; the working set grows) and one in ten is a market order that fills; and
``fills``, market orders buying and selling in turn, each filled at once (more writes
per order: the fill, its cash, the position; no working set). Two paths:

- ``node``: ``await node.submit(...)`` straight on the node;
- ``http``: ``POST /orders`` to the execution service in process (httpx over ASGI),
  with a trader's JWT checked on every request.

and two stores: ``memory`` (``InMemoryStore``: the node's own cost) and ``sqlite``
(``SqliteStore`` on a temporary file, WAL with ``synchronous=FULL``: the writer puts
each batch of queued writes in one transaction, one commit and one disk sync, and
the batch sizes show how many writes each carried). Bounded: each run has
a time limit. Prints a table, then one JSON line.

    .venv/bin/python benchmarks/node_throughput.py [--orders N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from argon2 import PasswordHasher

from quantgrid.adapters.bus import InProcessEventBus
from quantgrid.adapters.storage import InMemoryStore, Role, SqliteStore, Store
from quantgrid.gateway import Authenticator, AuthSettings, RateLimit, RateLimits
from quantgrid.model import Instrument, OrderSide, OrderType, QuoteTick
from quantgrid.node import NodeConfig, OrderRequest, TradingNode
from quantgrid.risk import RiskConfig
from quantgrid.services import ServiceSettings
from quantgrid.services.execution import create_app

PASSWORD = "benchmark password 1234"
TIME_LIMIT_S = 120.0
UNLIMITED = RateLimit(1e9, 1_000_000_000)


MIXES = ("resting", "fills")


def request(i: int, mix: str) -> OrderRequest:
    """Return order ``i``: of ``resting``, 9 in 10 rest; of ``fills``, all fill at once."""
    if mix == "fills":
        side = OrderSide.BUY if i % 2 == 0 else OrderSide.SELL  # stays flat
        return OrderRequest(f"o-{i}", "AAPL", side, OrderType.MARKET, 1)
    if i % 10 == 9:
        return OrderRequest(f"o-{i}", "AAPL", OrderSide.BUY, OrderType.MARKET, 1)
    price = round(99.0 - (i % 50) / 100, 2)
    return OrderRequest(f"o-{i}", "AAPL", OrderSide.BUY, OrderType.LIMIT, 1, price=price)


def body(i: int, mix: str) -> dict[str, Any]:
    r = request(i, mix)
    out: dict[str, Any] = {
        "client_order_id": r.client_order_id,
        "instrument_id": r.instrument_id,
        "side": r.side.value,
        "order_type": r.order_type.value,
        "quantity": str(r.quantity),
    }
    if r.price is not None:
        out["price"] = str(r.price)
    return out


async def run(
    store_kind: str, path: str, mix: str, orders: int, concurrency: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        store: Store = (
            InMemoryStore()
            if store_kind == "memory"
            else SqliteStore(Path(folder) / "node.db", auto_migrate=True)
        )
        config = NodeConfig(
            [Instrument("AAPL")],
            initial_cash=1e9,
            risk=RiskConfig(max_order_quantity=100, max_position=1e6, price_band_pct=0.5),
        )
        node = TradingNode(config, store=store, bus=InProcessEventBus())
        await node.start()
        node.on_quote(QuoteTick("AAPL", time.time_ns(), 100.0, 100.02, 1e6, 1e6))
        submit: Callable[[int], Awaitable[bool]]
        client: httpx.AsyncClient | None = None
        if path == "node":

            async def submit(i: int) -> bool:
                result = await node.submit(request(i, mix))
                return result.created and result.denial is None

        else:
            limits = RateLimits(
                viewer=UNLIMITED, trader=UNLIMITED, admin=UNLIMITED, login=UNLIMITED
            )
            auth = Authenticator(
                store,
                AuthSettings(jwt_secret=secrets.token_urlsafe(48), rate_limits=limits),
                hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
            )
            auth.users.create_user("bench", PASSWORD, Role.TRADER)
            token = auth.login("bench", PASSWORD).access
            app = create_app(node, ServiceSettings(log_level="WARNING"), auth=auth)
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://execution",
                headers={"Authorization": f"Bearer {token}"},
            )

            async def submit(i: int) -> bool:
                assert client is not None
                response = await client.post("/orders", json=body(i, mix))
                return response.status_code == 201

        latencies = np.zeros(orders, dtype=np.int64)
        ok = np.zeros(orders, dtype=bool)
        queue = iter(range(orders))

        async def worker() -> None:
            for i in queue:
                start = time.perf_counter_ns()
                ok[i] = await submit(i)
                latencies[i] = time.perf_counter_ns() - start

        started = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(worker() for _ in range(concurrency))), TIME_LIMIT_S
        )
        elapsed = time.perf_counter() - started
        stats = node.stats()
        if client is not None:
            await client.aclose()
        await node.stop()
        if isinstance(store, SqliteStore):
            store.close()
    return {
        "store": store_kind,
        "path": path,
        "mix": mix,
        "orders": orders,
        "acked": int(ok.sum()),
        "orders_per_s": round(orders / elapsed, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)) / 1e6, 3),
        "p99_ms": round(float(np.percentile(latencies, 99)) / 1e6, 3),
        "writes": stats["writes"],
        "writes_per_batch": round(int(stats["writes"]) / max(1, int(stats["write_batches"])), 1),
        "largest_batch": stats["largest_write_batch"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--stores", default="memory,sqlite")
    parser.add_argument("--paths", default="node,http")
    parser.add_argument("--mixes", default=",".join(MIXES))
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the access log would time the terminal
    results = []
    for mix in args.mixes.split(","):
        for store_kind in args.stores.split(","):
            for path in args.paths.split(","):
                result = asyncio.run(run(store_kind, path, mix, args.orders, args.concurrency))
                results.append(result)
                print(
                    f"{mix:7} {store_kind:6} {path:4} {result['orders_per_s']:7,.0f} orders/s  "
                    f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  "
                    f"{result['writes_per_batch']:5.1f} writes/batch "
                    f"(max {result['largest_batch']})  acked {result['acked']}/{result['orders']}"
                )
    print(json.dumps({"concurrency": args.concurrency, "runs": results}))


if __name__ == "__main__":
    main()
