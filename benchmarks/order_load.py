"""Order load through the gateway: authenticated submissions, risk-checked, durable.

Starts QuantGrid as a server on loopback and places orders through the gateway's
``POST /api/execution/orders`` with a trader's API key, ``--connections`` at a time
over keep-alive HTTP/1.1, each order answered only once it is durable. Before the
load, an admin turns the pre-trade limits on through ``PUT /api/risk/risk/limits``
(order size and notional, position, price band, exposure, order rate, the drawdown
breaker),
so each order runs the full risk check. Orders are limit orders that rest on the
synthetic market, buys and sells in turn. After the load, every acknowledged client
order id is looked up in the store: ``lost_orders`` counts those missing, and the
store must hold exactly one order per id sent.

Two modes:

- ``one-process``: ``quantgrid up`` (every service in one process, SQLite in WAL with
  ``synchronous=FULL``, the in-process bus), the gateway mounting the services;
- ``distributed``: ``quantgrid serve gateway`` and ``quantgrid serve execution`` (which
  hosts risk and portfolio) as two processes on PostgreSQL and NATS JetStream, the
  gateway forwarding each request over HTTP. Needs PostgreSQL on 127.0.0.1:5432
  (database ``test``) and NATS on 127.0.0.1:4222; skipped with a message otherwise.

In one process, ``POST /api/execution/orders`` is answered by ``FastOrderEntry``
(``quantgrid.runtime``), the execution route's hot path; ``--variants fast,route``
measures it against the FastAPI route (``QUANTGRID_FAST_ORDERS=0``) in the same run,
``--repeat`` times each, interleaved, so that both see the same machine. Paper trading
(the replay ``quantgrid up`` runs by default) is off unless ``--paper``: its strategies
would share the server's CPU with the load.

The load comes from this process, on asyncio streams with hand-written HTTP/1.1
requests: an HTTP client library costs as much CPU per request as the server does, and
on a two-core machine would measure itself (the server gets the other core). Each run
reports the CPU the client and the server used, as a share of one core over the load,
so a client that is the bottleneck shows. Servers run at log level WARNING: an access
line per request is not what is measured. Bounded: ``--orders`` per run and
``--time-limit`` seconds each. The last line is one JSON object; its top-level figures
are the one-process mode's first variant's (the median run by orders/s).

    .venv/bin/python benchmarks/order_load.py [--orders N] [--connections C]
        [--variants fast,route] [--repeat 3] [--modes one-process]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa

from _loopback import free_port, post_request, read_response
from quantgrid.adapters.storage import PostgresStore, Role, SqliteStore, SqlStore
from quantgrid.gateway import ApiKeys, Users

INSTRUMENT = "SYN0"
PASSWORD = "order load benchmark password"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
#: One-process variants: the server's ``QUANTGRID_FAST_ORDERS``.
VARIANTS = {"fast": "1", "route": "0"}
NATS = "nats://127.0.0.1:4222"
WARMUP = 300
ORDERS_PATH = "/api/execution/orders"
#: Every limit on that the load does not reach, so each order runs every check. Not
#: concentration: resting buys count against it at their full value, and the demo
#: account's equity would cap the working set at about a thousand orders.
LIMITS = {
    "max_order_quantity": "100",
    "max_order_notional": "100000",
    "max_position": "1000000000",
    "price_band_pct": "0.5",
    "max_gross_exposure": "1000000000000",
    "max_net_exposure": "1000000000000",
    "max_orders": 1_000_000,
    "reduce_at_drawdown": "0.5",
    "halt_at_drawdown": "0.9",
    "blocked_regimes": [],
}


@dataclass
class Server:
    """The processes of one mode, the store they share, and the gateway's port."""

    store: SqlStore
    port: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def start(self, args: list[str], env: dict[str, str], log: Path) -> None:
        handle = log.open("wb")
        self.logs.append(log)
        command = [str(Path(sys.executable).with_name("quantgrid")), *args]
        self.processes.append(
            subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
        )

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.store.close()

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[:3000]}" for p in self.logs)

    def cpu_s(self) -> float | None:
        """Return the CPU seconds the server processes used so far (Linux), else None."""
        total = 0.0
        for process in self.processes:
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            # utime and stime, the 14th and 15th fields (12th and 13th after the name).
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


def wait_healthy(url: str, server: Server, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in server.processes):
            raise RuntimeError(f"a server process exited at start:\n{server.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not healthy within {timeout_s:.0f} s:\n{server.tail()}")


def base_env(secret: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTGRID_")}
    env |= dict(extra or {})
    env |= {
        "QUANTGRID_JWT_SECRET": secret,
        "QUANTGRID_LOG_LEVEL": "WARNING",
        "QUANTGRID_RATE_LIMIT_TRADER": "1000000/1000000",
        "QUANTGRID_RATE_LIMIT_ADMIN": "1000000/1000000",
    }
    return env


def make_users(store: SqlStore) -> str:
    """Create an admin and a trader; return the trader's API key."""
    users = Users(store)
    users.create_user("bench-admin", PASSWORD, Role.ADMIN)
    users.create_user("bench-trader", PASSWORD, Role.TRADER)
    return ApiKeys(store).create_key("bench-trader", Role.TRADER, "order_load").secret


@contextlib.contextmanager
def one_process(folder: Path, env: Mapping[str, str]) -> Iterator[tuple[Server, str]]:
    db = folder / "quantgrid.db"
    store = SqliteStore(db, auto_migrate=True)
    key = make_users(store)
    server = Server(store, free_port())
    args = ["up", "--port", str(server.port), "--database-url", f"sqlite:///{db}"]
    server.start(args, base_env(secrets.token_urlsafe(48), env), folder / "up.log")
    try:
        wait_healthy(f"http://127.0.0.1:{server.port}/health", server)
        yield server, key
    finally:
        server.stop()


@contextlib.contextmanager
def distributed(folder: Path, _env: Mapping[str, str]) -> Iterator[tuple[Server, str]]:
    schema = f"order_load_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES.replace("postgresql:", "postgresql+psycopg:"))
    url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    store = PostgresStore(url, auto_migrate=True)
    try:
        key = make_users(store)
        execution_port = free_port()
        server = Server(store, free_port())
        env = base_env(secrets.token_urlsafe(48)) | {
            "QUANTGRID_DATABASE_URL": url,
            "QUANTGRID_NATS_URL": NATS,
        }
        for name in ("execution", "risk", "portfolio"):
            env[f"QUANTGRID_{name.upper()}_URL"] = f"http://127.0.0.1:{execution_port}"
        server.start(
            ["serve", "execution", "--port", str(execution_port)], env, folder / "execution.log"
        )
        wait_healthy(f"http://127.0.0.1:{execution_port}/health", server)
        server.start(["serve", "gateway", "--port", str(server.port)], env, folder / "gw.log")
        try:
            wait_healthy(f"http://127.0.0.1:{server.port}/health", server)
            yield server, key
        finally:
            server.stop()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def reachable(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


def set_limits(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    login = httpx.post(f"{base}/auth/login", json={"username": "bench-admin", "password": PASSWORD})
    login.raise_for_status()
    token = login.json()["access_token"]
    answer = httpx.put(
        f"{base}/api/risk/risk/limits", json=LIMITS, headers={"Authorization": f"Bearer {token}"}
    )
    if answer.status_code != 200:
        raise RuntimeError(f"setting the limits failed: {answer.status_code} {answer.text}")


def order_request(port: int, key: str, oid: str, i: int) -> bytes:
    side = "BUY" if i % 2 == 0 else "SELL"
    # Resting orders a few percent off a price near the synthetic market's start.
    price = f"{95 - (i % 50) / 10:.2f}" if side == "BUY" else f"{105 + (i % 50) / 10:.2f}"
    body = {
        "client_order_id": oid,
        "instrument_id": INSTRUMENT,
        "side": side,
        "order_type": "LIMIT",
        "quantity": "1",
        "price": price,
    }
    return post_request(port, key, ORDERS_PATH, body)


@dataclass
class Load:
    """What one load run saw."""

    sent: list[str]
    status: np.ndarray[Any, np.dtype[np.int32]]
    latency_ns: np.ndarray[Any, np.dtype[np.int64]]
    elapsed_s: float
    errors: list[str]
    client_cpu_s: float


async def run_load(
    port: int, key: str, prefix: str, count: int, connections: int, time_limit_s: float
) -> Load:
    ids = [f"{prefix}-{i}" for i in range(count)]
    requests = [order_request(port, key, oid, i) for i, oid in enumerate(ids)]
    status = np.zeros(count, dtype=np.int32)
    latency = np.zeros(count, dtype=np.int64)
    errors: list[str] = []
    work = iter(range(count))
    deadline = time.monotonic() + time_limit_s

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in work:
                if time.monotonic() > deadline:
                    return
                start = time.perf_counter_ns()
                writer.write(requests[i])
                code, body = await read_response(reader)
                latency[i] = time.perf_counter_ns() - start
                status[i] = code
                if code not in (200, 201) and len(errors) < 5:
                    errors.append(f"{code} {body[:300]!r}")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return Load(ids, status, latency, elapsed, errors, time.process_time() - cpu)


def check_durable(store: SqlStore, sent: list[str], load: Load) -> tuple[int, int]:
    """Return (acknowledged orders not in the store, orders stored under no sent id)."""
    acked = {oid for oid, code in zip(load.sent, load.status, strict=True) if code in (200, 201)}
    stored: set[str] = set()
    after = None
    while True:
        page = store.list_orders(strategy_id="manual", limit=1000, after=after)
        stored.update(o.order.client_order_id for o in page.items)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    return len(acked - stored), len(stored - set(sent))


def measure(
    mode: str,
    orders: int,
    connections: int,
    time_limit_s: float,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        start = one_process if mode == "one-process" else distributed
        with start(Path(folder), env or {}) as (server, key):
            set_limits(server.port)
            warm = asyncio.run(
                run_load(server.port, key, "warm", WARMUP, connections, time_limit_s)
            )
            server_cpu = server.cpu_s()
            load = asyncio.run(
                run_load(server.port, key, "load", orders, connections, time_limit_s)
            )
            server_cpu_after = server.cpu_s()
            lost, strays = check_durable(server.store, [*warm.sent, *load.sent], load)
            if not np.isin(load.status, (200, 201)).any():
                print(f"{mode}: no order was acknowledged; the servers' logs:\n{server.tail()}")
    done = load.latency_ns > 0
    ok = np.isin(load.status, (200, 201))
    latencies_ms = load.latency_ns[done] / 1e6
    server_cpu_pct = server_cpu_us = None
    if server_cpu is not None and server_cpu_after is not None:
        server_cpu_pct = round(100 * (server_cpu_after - server_cpu) / load.elapsed_s, 1)
        server_cpu_us = round((server_cpu_after - server_cpu) / max(1, int(done.sum())) * 1e6)
    return {
        "mode": mode,
        "orders": int(done.sum()),
        "acknowledged": int(ok.sum()),
        "refused": int((done & ~ok).sum()),
        "orders_per_s": round(float(done.sum()) / load.elapsed_s, 1),
        "p50_ms": round(float(np.percentile(latencies_ms, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies_ms, 95)), 2),
        "p99_ms": round(float(np.percentile(latencies_ms, 99)), 2),
        "lost_orders": lost,
        "unexpected_orders": strays,
        "client_cpu_pct": round(100 * load.client_cpu_s / load.elapsed_s, 1),
        "server_cpu_pct": server_cpu_pct,
        "server_cpu_us_per_order": server_cpu_us,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "first_errors": load.errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--distributed-connections",
        type=int,
        default=8,
        help="connections in the distributed mode (at 32 its gateway's 5 s timeouts open "
        "the circuit to execution on this 2-core machine; see docs/run-modes.md)",
    )
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--modes", default="one-process,distributed")
    parser.add_argument(
        "--variants",
        default="fast",
        help="one-process variants, comma-separated: fast (FastOrderEntry answers the "
        "orders) and route (QUANTGRID_FAST_ORDERS=0: the FastAPI route does)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant, interleaved")
    parser.add_argument(
        "--paper",
        action="store_true",
        help="keep quantgrid up's paper-trading replay on during the load",
    )
    args = parser.parse_args()
    variants = args.variants.split(",")
    if unknown := sorted(set(variants) - set(VARIANTS)):
        parser.error(f"--variants: unknown {unknown}; choose from {sorted(VARIANTS)}")
    if not 1 <= args.repeat <= 20:
        parser.error(f"--repeat: 1 to 20, not {args.repeat}")
    paper = {} if args.paper else {"QUANTGRID_PAPER_MODE": "off"}
    runs: list[dict[str, Any]] = []
    for mode in args.modes.split(","):
        if mode == "distributed" and not (
            reachable("127.0.0.1", 5432) and reachable("127.0.0.1", 4222)
        ):
            print("distributed: skipped (start PostgreSQL on :5432 and NATS on :4222)")
            continue
        one = mode == "one-process"
        connections = args.connections if one else args.distributed_connections
        for _ in range(args.repeat if one else 1):
            for variant in variants if one else ["route"]:
                env = {"QUANTGRID_FAST_ORDERS": VARIANTS[variant], **paper}
                result = measure(mode, args.orders, connections, args.time_limit, env)
                result |= {"connections": connections, "variant": variant}
                runs.append(result)
                print(
                    f"{mode:12} {variant:6} {result['orders_per_s']:8,.0f} orders/s  "
                    f"p50 {result['p50_ms']:6.2f} ms  p95 {result['p95_ms']:6.2f} ms  "
                    f"p99 {result['p99_ms']:6.2f} ms  "
                    f"acknowledged {result['acknowledged']}/{result['orders']}  "
                    f"lost {result['lost_orders']}  cpu: client {result['client_cpu_pct']} %, "
                    f"server {result['server_cpu_pct']} % "
                    f"({result['server_cpu_us_per_order']} us/order)  "
                    f"load {result['load_average']}",
                    flush=True,
                )
                for error in result["first_errors"]:
                    print(f"  refused: {error}")
    for (mode, variant), group in _groups(runs).items():
        if len(group) > 1:
            print(
                f"{mode:12} {variant:6} over {len(group)} runs: "
                + "  ".join(
                    f"{key} {min(r[key] for r in group):,.2f}-{max(r[key] for r in group):,.2f}"
                    for key in ("orders_per_s", "p50_ms", "p99_ms")
                )
            )
    first = _groups(runs).get(("one-process", variants[0]), [])
    one = sorted(first, key=lambda r: r["orders_per_s"])[len(first) // 2] if first else {}
    summary = {
        "orders_per_s": one.get("orders_per_s"),
        "p50_ms": one.get("p50_ms"),
        "p99_ms": one.get("p99_ms"),
        "lost_orders": one.get("lost_orders"),
        "modes": runs,
    }
    print(json.dumps(summary))


def _groups(runs: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["mode"], run["variant"]), []).append(run)
    return groups


if __name__ == "__main__":
    main()
