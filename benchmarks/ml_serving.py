"""ML serving: single-row prediction latency in process and over HTTP, batch throughput.

Trains a LightGBM direction model on the synthetic market: the built-in feature set
(``default_feature_set()``, 14 features) at every bar of one instrument, labelled with
the direction of the next bar (``fixed_horizon_labels(bars, 1)``; unchanged closes
dropped), with purged 5-fold cross-validation. ``--bars`` bounds the data (4,000 by
default). The model is logged to a temporary MLflow registry (SQLite) and approved
staging → production under a stated policy: at least 1,000 out-of-sample forecasts and
no skill threshold, because this measures serving, not skill (the figures are printed).

Then, on feature rows of that market:

- in process: ``ModelServer.predict`` one row at a time, ``--requests`` calls after a
  warm-up, each timed (p50, p99); and ``ModelServer.predict_batch`` on batches of
  1,000 rows, ``--batches`` of them (rows per second);
- over HTTP on loopback: the ML service (``ml_app``) in a uvicorn subprocess, run by
  this file (``serve``), with real authentication: a viewer's API key made in a
  temporary SQLite store, as ``order_load.py`` does. ``POST /ml/predict`` one row per
  request, sequentially on one keep-alive connection (latency, not throughput), then
  ``POST /ml/predict/batch`` with 1,000 rows per request. The client writes HTTP/1.1 by
  hand on asyncio streams: a client library would cost as much CPU as the server.

Every phase is bounded by its count and by ``--time-limit`` seconds. The server runs at
log level WARNING and, as ``quantgrid serve`` does, freezes its startup heap for the
garbage collector. Human lines, then one JSON line with ``p99_ms_in_process``,
``p99_ms_http`` and ``batch_rows_per_s`` (in process, 1,000-row batches) and more.

    .venv/bin/python benchmarks/ml_serving.py [--requests N] [--batches B] [--bars N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from _loopback import free_port, post_request, read_response

MODEL = "syn0-direction"
PASSWORD = "ml serving benchmark password"
WARMUP = 200
BATCH_ROWS = 1_000
STARTUP_S = 120.0


@dataclass
class Trained:
    """The registered model and the feature rows it is asked about."""

    registry_dir: Path
    rows: list[dict[str, float]]
    n_train: int
    n_features: int
    metrics: dict[str, float]


def train_and_register(folder: Path, bars: int, seed: int) -> Trained:
    """Train on the synthetic market, log to MLflow, approve to production."""
    from quantgrid.adapters.registry import MlflowRegistry
    from quantgrid.data import SyntheticConfig, generate_market
    from quantgrid.ml import (
        ApprovalPolicy,
        ModelSpec,
        PurgedKFold,
        compute_data_hash,
        default_feature_set,
        fixed_horizon_labels,
        train_model,
    )

    market = generate_market(SyntheticConfig(instruments=("SYN0",), bars=bars), seed=seed)
    series = market.bars["SYN0"]
    feature_set = default_feature_set()
    frame = feature_set.compute(series)
    labels = fixed_horizon_labels(series, 1)
    keep = np.isfinite(frame.values).all(axis=1) & labels.valid & (labels.label != 0)
    x, y = frame.values[keep], labels.label[keep].astype(np.int64)
    ts, t1 = labels.ts[keep], labels.t1[keep]
    spec = ModelSpec("lightgbm", {"n_estimators": 100}, seed=seed)
    result = train_model(
        x, y, ts, t1, spec, PurgedKFold(5, embargo=0.01), feature_names=frame.names
    )
    registry_dir = folder / "mlflow"
    registry = MlflowRegistry.in_directory(registry_dir)
    info = registry.log_training(
        MODEL,
        result,
        data_hash=compute_data_hash(x, y, ts, t1),
        feature_set_name=feature_set.name,
        feature_set_fingerprint=feature_set.fingerprint,
    )
    policy = ApprovalPolicy(min_roc_auc=None, min_accuracy_margin=None, min_samples=1_000)
    for stage in ("staging", "production"):
        registry.approve(MODEL, info.version, to_stage=stage, approver="bench", policy=policy)
    rows = [dict(zip(frame.names, map(float, values), strict=True)) for values in x]
    return Trained(registry_dir, rows, int(y.size), len(frame.names), result.metrics.as_dict())


def percentiles_ms(latency_ns: np.ndarray) -> tuple[float, float, float]:
    """Return p50, p99 and the maximum, in milliseconds."""
    ms = latency_ns / 1e6
    p50, p99 = np.percentile(ms, [50, 99])
    return round(float(p50), 4), round(float(p99), 4), round(float(ms.max()), 4)


async def measure_in_process(
    registry_dir: Path, rows: list[dict[str, float]], requests: int, batches: int, limit_s: float
) -> dict[str, Any]:
    from quantgrid.adapters.registry import MlflowRegistry
    from quantgrid.services.ml import ModelServer

    server = ModelServer(MlflowRegistry.in_directory(registry_dir), reload_interval_s=None)
    await server.start()
    try:
        version = server.status(MODEL).version
        for i in range(WARMUP):
            server.predict(MODEL, rows[i % len(rows)])
        latency = np.zeros(requests, dtype=np.int64)
        deadline = time.monotonic() + limit_s
        done = 0
        for i in range(requests):
            features = rows[i % len(rows)]
            start = time.perf_counter_ns()
            server.predict(MODEL, features)
            latency[i] = time.perf_counter_ns() - start
            done += 1
            if time.monotonic() > deadline:
                break
        batch = [rows[i % len(rows)] for i in range(BATCH_ROWS)]
        server.predict_batch(MODEL, batch)  # warm
        started, made = time.perf_counter(), 0
        deadline = time.monotonic() + limit_s
        while made < batches and time.monotonic() < deadline:
            server.predict_batch(MODEL, batch)
            made += 1
        elapsed = time.perf_counter() - started
        reference = server.predict(MODEL, rows[0])
    finally:
        await server.stop()
    p50, p99, worst = percentiles_ms(latency[:done])
    return {
        "version": version,
        "predictions": done,
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": worst,
        "batches": made,
        "batch_rows_per_s": round(made * BATCH_ROWS / elapsed),
        "reference": reference,
    }


# -- over HTTP ----------------------------------------------------------------------------


def make_viewer_key(database: Path) -> str:
    """Create a viewer and an API key of theirs in a new SQLite store; return the key."""
    from quantgrid.adapters.storage import Role, SqliteStore
    from quantgrid.gateway import ApiKeys, Users

    store = SqliteStore(database, auto_migrate=True)
    try:
        Users(store).create_user("bench-viewer", PASSWORD, Role.VIEWER)
        return ApiKeys(store).create_key("bench-viewer", Role.VIEWER, "ml_serving").secret
    finally:
        store.close()


@contextlib.contextmanager
def ml_service(folder: Path, registry_dir: Path, database: Path) -> Iterator[int]:
    """Run the ML service in a subprocess until the block ends; yield its port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTGRID_")}
    env |= {
        "QUANTGRID_JWT_SECRET": secrets.token_urlsafe(48),
        "QUANTGRID_LOG_LEVEL": "WARNING",
        "QUANTGRID_RATE_LIMIT_VIEWER": "1000000/1000000",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    command = [
        sys.executable,
        __file__,
        "serve",
        "--registry-dir",
        str(registry_dir),
        "--database",
        str(database),
        "--port",
        str(port),
    ]
    log = folder / "ml.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        wait_serving(port, process, log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_serving(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the service answers and serves the model (its dependencies are up)."""
    url = f"http://127.0.0.1:{port}/health/dependencies"
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the ML service exited at start:\n{log.read_text()[:3000]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the ML service was not up in {STARTUP_S:.0f} s:\n{log.read_text()[:3000]}")


async def measure_http(
    port: int,
    key: str,
    rows: list[dict[str, float]],
    requests: int,
    batches: int,
    limit_s: float,
) -> dict[str, Any]:
    singles = [
        post_request(port, key, "/ml/predict", {"model": MODEL, "features": rows[i]})
        for i in range(min(len(rows), 512))
    ]
    batch = post_request(
        port,
        key,
        "/ml/predict/batch",
        {"model": MODEL, "rows": [rows[i % len(rows)] for i in range(BATCH_ROWS)]},
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors: list[str] = []

    async def send(request: bytes) -> bytes:
        writer.write(request)
        status, body = await read_response(reader)
        if status != 200 and len(errors) < 5:
            errors.append(f"{status} {body[:300]!r}")
        return body

    try:
        first = json.loads(await send(singles[0]))
        for i in range(WARMUP):
            await send(singles[i % len(singles)])
        latency = np.zeros(requests, dtype=np.int64)
        deadline = time.monotonic() + limit_s
        done = 0
        for i in range(requests):
            start = time.perf_counter_ns()
            await send(singles[i % len(singles)])
            latency[i] = time.perf_counter_ns() - start
            done += 1
            if time.monotonic() > deadline:
                break
        await send(batch)  # warm
        started, made = time.perf_counter(), 0
        deadline = time.monotonic() + limit_s
        while made < batches and time.monotonic() < deadline:
            await send(batch)
            made += 1
        elapsed = time.perf_counter() - started
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    p50, p99, worst = percentiles_ms(latency[:done])
    return {
        "requests": done,
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": worst,
        "batches": made,
        "batch_rows_per_s": round(made * BATCH_ROWS / elapsed),
        "first": first,
        "errors": errors,
    }


# -- the service process ------------------------------------------------------------------


def serve(registry_dir: Path, database: Path, port: int) -> None:
    """Run the ML service on ``port`` (the benchmark's subprocess)."""
    import uvicorn

    from quantgrid.adapters.storage import SqliteStore
    from quantgrid.gateway import Authenticator, AuthSettings, RateLimits
    from quantgrid.services.ml import MlSettings, ModelServer, ml_app

    settings = MlSettings.from_env()
    store = SqliteStore(database)
    auth = Authenticator(store, AuthSettings.from_env(rate_limits=RateLimits.from_env()))
    registry = settings.model_copy(update={"ml_registry_dir": registry_dir}).open_registry()
    server = ModelServer(registry, models=[MODEL], reload_interval_s=settings.reload_interval)
    app = ml_app(server, registry, settings, auth=auth)
    # As `quantgrid serve` does: the startup heap is left out of later collections.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command")
    runner = sub.add_parser("serve", help="run the ML service (the benchmark's subprocess)")
    runner.add_argument("--registry-dir", type=Path, required=True)
    runner.add_argument("--database", type=Path, required=True)
    runner.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=int, default=5_000, help="single-row predictions")
    parser.add_argument("--batches", type=int, default=30, help="batches of 1,000 rows")
    parser.add_argument("--bars", type=int, default=4_000, help="bars of the training market")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per phase")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.registry_dir, args.database, args.port)
        return
    if not 1_000 <= args.bars <= 50_000 or args.requests < 100 or args.batches < 1:
        parser.error("--bars must be 1,000-50,000, --requests at least 100, --batches 1 or more")

    # MLflow draws a progress bar for every artefact download and logs its table setup.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="quantgrid-ml-bench-") as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        trained = train_and_register(folder, args.bars, args.seed)
        m = trained.metrics
        print(
            f"trained LightGBM on {trained.n_train:,} rows x {trained.n_features} features in "
            f"{time.perf_counter() - started:.1f} s; out of sample: ROC AUC {m['roc_auc']:.3f}, "
            f"accuracy {m['accuracy']:.3f} vs best baseline {m['best_baseline_accuracy']:.3f}"
        )
        print(
            "approved staging -> production under ApprovalPolicy(min_roc_auc=None, "
            "min_accuracy_margin=None, min_samples=1000)"
        )
        local = asyncio.run(
            measure_in_process(
                trained.registry_dir, trained.rows, args.requests, args.batches, args.time_limit
            )
        )
        print(
            f"in process  {local['predictions']:,} single rows: p50 {local['p50_ms']:.3f} ms  "
            f"p99 {local['p99_ms']:.3f} ms (target < 2 ms)  max {local['max_ms']:.2f} ms; "
            f"batches of {BATCH_ROWS:,}: "
            f"{local['batch_rows_per_s']:,} rows/s"
        )
        database = folder / "quantgrid.db"
        key = make_viewer_key(database)
        with ml_service(folder, trained.registry_dir, database) as port:
            remote = asyncio.run(
                measure_http(port, key, trained.rows, args.requests, args.batches, args.time_limit)
            )
    reference = local["reference"]
    same = remote["first"].get("probabilities", {}) == {
        d.value: p for d, p in reference.probabilities.items()
    }
    print(
        f"over HTTP   {remote['requests']:,} single requests: p50 {remote['p50_ms']:.3f} ms  "
        f"p99 {remote['p99_ms']:.3f} ms (target < 10 ms)  max {remote['max_ms']:.2f} ms; "
        f"batches of {BATCH_ROWS:,}: "
        f"{remote['batch_rows_per_s']:,} rows/s; answers equal in process: {same}"
    )
    for error in remote["errors"]:
        print(f"  refused: {error}")
    load_after = os.getloadavg()[0]
    print(
        f"load average (1 min) {load_before:.2f} before, {load_after:.2f} after; "
        f"{os.cpu_count()} CPUs"
    )
    summary = {
        "p99_ms_in_process": local["p99_ms"],
        "p99_ms_http": remote["p99_ms"],
        "batch_rows_per_s": local["batch_rows_per_s"],
        "p50_ms_in_process": local["p50_ms"],
        "p50_ms_http": remote["p50_ms"],
        "max_ms_in_process": local["max_ms"],
        "max_ms_http": remote["max_ms"],
        "batch_rows_per_s_http": remote["batch_rows_per_s"],
        "batch_rows": BATCH_ROWS,
        "single_predictions_in_process": local["predictions"],
        "single_requests_http": remote["requests"],
        "http_errors": len(remote["errors"]),
        "http_equals_in_process": same,
        "model_kind": "lightgbm",
        "train_rows": trained.n_train,
        "n_features": trained.n_features,
        "oos_roc_auc": round(m["roc_auc"], 4),
        "load_average_1m_before": round(load_before, 2),
        "load_average_1m_after": round(load_after, 2),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
