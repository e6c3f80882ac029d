"""Sweeps on a Ray cluster: the same kernels as the local sweep, one Ray task per chunk.

Which Ray is used
-----------------
``address=None`` uses, in order: a Ray already initialised in this process (left as it
is); the cluster named by the ``RAY_ADDRESS`` environment variable; else a new local
Ray on this machine, on loopback only (unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` is
already set), with one worker per core. ``address="host:port"`` (or ``"auto"``)
connects to that running cluster. A connection made here is closed at the end of the
call, which also stops a local Ray started here.

Recent Ray (2.60 here) clusters use token authentication by default: a driver given an explicit
address needs ``RAY_AUTH_MODE=token`` and the cluster's token (``RAY_AUTH_TOKEN`` or
``~/.ray/auth_token``) in its environment, or it retries and fails with
``InvalidAuthToken``.

On a cluster every node needs quantgrid (and a file strategy's file, at the same path)
installed: tasks call quantgrid's own functions by reference.

Memory: the bars go into Ray's object store once (``ray.put``) and every task reads
them from there; each task returns its rows of figures only, never equity curves.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from quantgrid.backtest import BacktestConfig, SweepResult, sweep_crosses
from quantgrid.backtest._sweep import check_sweep_arguments, finish_sweep
from quantgrid.model import BarSeries, FloatArray

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

RAY_MISSING = "the ray backend needs the distributed extra: pip install 'quantgrid[distributed]'"

# Read by Ray when it is imported: with "0" a Ray started here binds to loopback only.
_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class RayUnavailableError(ImportError):
    """Ray is not installed: the ``distributed`` extra is missing."""


def import_ray() -> ModuleType:
    """Return the ``ray`` module, or raise ``RayUnavailableError`` naming the extra."""
    try:
        import ray  # noqa: PLC0415 - an optional dependency, imported on use
    except ImportError as exc:
        raise RayUnavailableError(RAY_MISSING) from exc
    return ray


@contextmanager
def connected(address: str | None = None) -> Iterator[ModuleType]:
    """Yield ``ray``, connected as the module docstring says; disconnect if connected here."""
    target = address or os.environ.get("RAY_ADDRESS") or None
    if target is None and "ray" not in sys.modules:
        os.environ.setdefault(_LOOPBACK_ENV, "0")
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    if target is None:
        # "local": a new Ray, even if a `ray start` cluster runs here (RAY_ADDRESS is for that).
        ray.init(
            address="local",
            include_dashboard=False,
            log_to_driver=False,
            logging_level="warning",
        )
    else:
        ray.init(address=target, log_to_driver=False, logging_level="warning")
    try:
        yield ray
    finally:
        ray.shutdown()


def _cpus(ray: ModuleType) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _get(ray: ModuleType, refs: Any) -> Any:
    """``ray.get``, raising a task's own exception rather than Ray's wrapper."""
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise


def _split(values: Sequence[int], parts: int) -> list[list[int]]:
    """``values`` in ``parts`` contiguous, near-equal, non-empty groups."""
    parts = max(1, min(parts, len(values)))
    size, extra = divmod(len(values), parts)
    groups, start = [], 0
    for k in range(parts):
        stop = start + size + (k < extra)
        groups.append(list(values[start:stop]))
        start = stop
    return groups


def _sweep_block(
    bars: BarSeries, fast: list[int], slow: list[int], options: dict[str, Any]
) -> tuple[tuple[dict[str, Any], ...], FloatArray]:
    """One Ray task: the local compiled sweep of one block of the grid.

    Returns figures and daily returns (days x rows), never equity curves.
    """
    result = sweep_crosses(bars, fast, slow, jobs=1, **options)
    return result.rows, result.daily_returns


def ray_sweep_crosses(
    bars: BarSeries,
    fast: Sequence[int],
    slow: Sequence[int],
    *,
    average: str = "ema",
    size: float | None = None,
    config: BacktestConfig | None = None,
    objective: str = "sharpe",
    address: str | None = None,
    chunks: int | None = None,
) -> SweepResult:
    """``quantgrid.backtest.sweep_crosses`` with the grid split into Ray tasks.

    The (fast, slow) grid is cut into about ``chunks`` blocks (default: the cluster's
    CPUs), each swept by ``sweep_crosses`` in one single-threaded Ray task; the rows
    are merged and ranked as ``sweep_crosses`` ranks them, so they equal its rows.
    ``address`` is described in the module docstring. Raises ``RayUnavailableError``
    if Ray is not installed.
    """
    started = time.perf_counter()
    check_sweep_arguments(fast, slow, average, objective, size)
    if chunks is not None and chunks < 1:
        msg = f"chunks must be >= 1, got {chunks}"
        raise ValueError(msg)
    pairs = [(f, s) for f in fast for s in slow if f < s]
    skipped = tuple({"fast": f, "slow": s} for f in fast for s in slow if f >= s)
    if not pairs:
        msg = "no (fast, slow) pair with fast < slow in the grid"
        raise ValueError(msg)
    options = {"average": average, "size": size, "config": config, "objective": objective}
    with connected(address) as ray:
        wanted = min(chunks or _cpus(ray), len(pairs))
        fast_groups = _split(fast, wanted)
        slow_groups = _split(slow, math.ceil(wanted / len(fast_groups)))
        blocks = [
            (fg, sg) for fg in fast_groups for sg in slow_groups if min(fg) < max(sg)
        ]  # a block without a pair with fast < slow has nothing to run
        task = ray.remote(num_cpus=1)(_sweep_block)
        bars_ref = ray.put(bars)
        parts = _get(ray, [task.remote(bars_ref, fg, sg, options) for fg, sg in blocks])
    by_pair: dict[tuple[int, int], tuple[dict[str, Any], FloatArray]] = {}
    for block_rows, block_returns in parts:
        for k, row in enumerate(block_rows):
            by_pair[(row["fast"], row["slow"])] = (row, block_returns[:, k])
    rows = [dict(by_pair[p][0]) for p in pairs]
    daily = np.column_stack([by_pair[p][1] for p in pairs])
    # Ranked, and the overfitting figures computed over every pair, as locally.
    return finish_sweep(f"{average}_cross", objective, rows, daily, skipped, len(bars), started)


def _run_batch(func: Callable[[S, T], R], shared: S, batch: list[T]) -> list[R]:
    """One Ray task: ``func(shared, item)`` for each item of a batch."""
    return [func(shared, item) for item in batch]


def ray_map(
    func: Callable[[S, T], R],
    items: Sequence[T],
    *,
    shared: S,
    address: str | None = None,
    batch: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    """Return ``[func(shared, item) for item in items]``, computed in Ray tasks, in order.

    ``shared`` (e.g. the bars) goes into the object store once and every task reads it
    from there. Items go in batches of ``batch`` per task (default: about four tasks per
    CPU). ``func`` must be importable on the workers (a module-level function) and
    should return small results (figures, not curves). ``progress(done, total)`` is
    called as batches finish. ``address`` is described in the module docstring.
    """
    if batch is not None and batch < 1:
        msg = f"batch must be >= 1, got {batch}"
        raise ValueError(msg)
    if not items:
        return []
    with connected(address) as ray:
        size = batch or max(1, math.ceil(len(items) / (4 * _cpus(ray))))
        batches = [list(items[k : k + size]) for k in range(0, len(items), size)]
        task = ray.remote(num_cpus=1)(_run_batch)
        shared_ref = ray.put(shared)
        refs = [task.remote(func, shared_ref, b) for b in batches]
        index = {ref: k for k, ref in enumerate(refs)}
        results: list[list[R]] = [[] for _ in batches]
        pending, done = list(refs), 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                k = index[ref]
                results[k] = _get(ray, ref)
                done += len(batches[k])
            if progress is not None:
                progress(done, len(items))
    return [r for part in results for r in part]
