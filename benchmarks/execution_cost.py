"""Execution cost: the router's algorithms against a market order at arrival.

The same seeded set of parent orders (notionals log-uniform from $300 to $50,000, so
around and above the router's $1,000 and $5,000 thresholds; arriving through the first
25 minutes of an hour; in mirrored pairs, one buy and one sell of the same size at the
same moment, so that which way the price drifted over a horizon cancels out of the
totals) is executed twice on the ``OrderBookVenue`` fed by one seeded synthetic
quote/trade stream (``quantgrid.data.generate_ticks``):

(a) naively: one market order for the full quantity at arrival (``algorithm="market"``);
(b) through the router (``algorithm=None``), with the scenario's urgency.

The market model was fixed before looking at any result and is not tuned to the
router: the ``TickConfig`` defaults (a liquid $100 share, one-cent tick, 2 % daily
volatility, ~500 shares at the touch, 2 prints/s of median 100 shares), a 2 ms one-way
latency plus up to 2 ms jitter, the conservative queue model (only trades move a
resting order forward), taker fee 5 bps, maker fee 0. Costs come from
``quantgrid.analytics`` execution reports against the arrival mid; the implementation
shortfall includes the opportunity cost of any unfilled quantity at the end mid.
``cost_reduction = 1 - router shortfall / naive shortfall`` (totals in dollars), with
a 90 % bootstrap interval over the mirrored pairs. Each scenario pools independent
streams (4 for the default, 2 per grid cell) of 100 parents each.

Prints the default scenario, a grid (spread 1 vs 5 ticks, volatility 1 % vs 4 %,
urgency LOW/NORMAL/HIGH), the default scenario at lower taker fees (where the targets
stop holding), an adverse trend (the price drifts the way every parent trades, as when
a signal is right and others act on it: passive orders chase the price), then one JSON
line.

    .venv/bin/python benchmarks/execution_cost.py [--quick] [--parents N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from typing import Any

SEED = 7
N_PARENTS = 100  # per stream; every scenario pools several independent streams
DEFAULT_STREAMS = 4
GRID_STREAMS = 2
DURATION_S = 3_600.0
ARRIVALS_S = (30.0, 1_500.0)  # arrival window: leaves the longest horizon (30 min) room
NOTIONAL_RANGE = (300.0, 50_000.0)
TAKER_RATE = 0.0005  # 5 bps
MAKER_RATE = 0.0  # no fee, no rebate
LATENCY_NS = 2_000_000
JITTER_NS = 2_000_000
TRENDS = (0.002, 0.01)  # +0.2 %/h and +1 %/h, with every parent buying
TARGET_MAKER_RATIO = 0.60
TARGET_COST_REDUCTION = 0.40
BOOTSTRAP = 2_000


def _parents(stream: Any, n: int, seed: int, with_trend: Any = None) -> list[tuple[int, Any]]:
    """Return ``(arrival_ns, ParentOrder)`` pairs; the same seed gives the same set.

    Parents come in mirrored pairs (``P007`` and ``P007m``: same arrival and quantity,
    opposite sides), so the market's drift over a horizon adds to one and takes from
    the other: the totals measure the cost of executing, not which way the price went.
    With ``with_trend`` (an ``OrderSide``) both parents of a pair trade that side
    instead: the adverse case where the price runs the way the orders go.
    """
    import numpy as np

    from quantgrid.core import NANOS_PER_SECOND
    from quantgrid.execution.algorithms import ParentOrder
    from quantgrid.model import OrderSide

    rng = np.random.default_rng(seed)
    pairs = max(1, n // 2)
    start = int(stream.mid_ts[0])
    low, high = np.log(NOTIONAL_RANGE[0]), np.log(NOTIONAL_RANGE[1])
    arrivals = np.sort(rng.uniform(*ARRIVALS_S, pairs))
    notionals = np.exp(rng.uniform(low, high, pairs))
    sides = rng.random(pairs) < 0.5
    iid = stream.instrument.id
    out = []
    for i in range(pairs):
        ts = start + int(arrivals[i] * NANOS_PER_SECOND)
        quantity = max(1.0, float(round(notionals[i] / stream.mid_at(ts))))
        side = OrderSide.BUY if sides[i] else OrderSide.SELL
        mirror = side.opposite
        if with_trend is not None:
            side = mirror = with_trend
        out.append((ts, ParentOrder(f"P{i:03d}", "bench", iid, side, quantity)))
        out.append((ts, ParentOrder(f"P{i:03d}m", "bench", iid, mirror, quantity)))
    return out


def run_stream(task: dict[str, Any]) -> dict[str, Any]:
    """Generate one stream and execute its parents once per mode.

    A mode is ``"naive"`` (a market order at arrival) or an urgency name (the router).
    Returns the execution reports and chosen algorithms per mode.
    """
    import msgspec

    from quantgrid.analytics import execution_report
    from quantgrid.backtest import ReplayConfig, ReplayEngine
    from quantgrid.data import TickConfig, generate_ticks
    from quantgrid.execution.algorithms import (
        ALGO_ENDPOINT,
        ExecAlgorithmEngine,
        ExecuteParentOrder,
        ParentOrderEnded,
        Urgency,
        parent_execution,
    )
    from quantgrid.model import OrderSide
    from quantgrid.venues import BookVenueConfig, MakerTakerCommission

    drift = task.get("drift", 0.0)
    config = TickConfig(
        duration_s=task["duration_s"],
        spread_ticks=task["spread"],
        daily_volatility=task["volatility"],
        drift_per_hour=drift,
    )
    stream = generate_ticks(config, task["seed"])
    trend = None if not drift else (OrderSide.BUY if drift > 0 else OrderSide.SELL)
    parents = _parents(stream, task["parents"], task["seed"] + 1_000, trend)
    venue = BookVenueConfig(
        commission=MakerTakerCommission(maker_rate=MAKER_RATE, taker_rate=task["taker_rate"]),
        latency_ns=LATENCY_NS,
        latency_jitter_ns=JITTER_NS,
        seed=task["seed"],
    )
    out: dict[str, Any] = {"task": task, "realized_volatility": stream.realized_volatility()}
    for mode in task["modes"]:
        engine = ReplayEngine(
            ReplayConfig([stream.instrument], initial_cash=10_000_000.0, venue=venue),
            start_ns=int(stream.mid_ts[0]),
        )
        algos = ExecAlgorithmEngine(engine.bus, engine.clock, engine.instruments)
        for ts, parent in parents:
            if mode == "naive":
                routed = msgspec.structs.replace(parent, algorithm="market")
            else:
                routed = msgspec.structs.replace(parent, urgency=Urgency[mode])

            def send(now: int, parent: Any = routed, bus: Any = engine.bus) -> None:
                bus.send(ALGO_ENDPOINT, ExecuteParentOrder(parent, now))

            engine.clock.set_alert(ts, send)
        engine.run(stream.items)
        ended = [r for r in algos.results if isinstance(r, ParentOrderEnded)]
        out[mode] = {
            "reports": [execution_report(parent_execution(e), stream.market_trades) for e in ended],
            "algorithms": [e.algorithm for e in ended],
            "unfinished": len(algos.running),
            "rejected": len(algos.results) - len(ended),
        }
    return out


def _pool(results: list[dict[str, Any]], mode: str) -> tuple[list[Any], list[str], list[str]]:
    """Return the reports, algorithms and (stream, parent) keys of ``mode`` over streams."""
    reports, algorithms, keys = [], [], []
    for r in results:
        reports += r[mode]["reports"]
        algorithms += r[mode]["algorithms"]
        keys += [f"{r['task']['seed']}/{rep.parent_id.rstrip('m')}" for rep in r[mode]["reports"]]
    return reports, algorithms, keys


def _compare(results: list[dict[str, Any]], mode: str, seed: int) -> dict[str, Any]:
    """Summarise ``mode`` against naive over the pooled streams, with a bootstrap interval.

    The interval resamples mirrored pairs of parents (each pair's naive and routed
    shortfall together) and gives the 5th and 95th percentiles of ``cost_reduction``.
    Pairs of one stream share its price path, so it is a rough guide, not exact.
    """
    import numpy as np

    from quantgrid.analytics import summarize_executions

    naive_reports, _, naive_keys = _pool(results, "naive")
    reports, algorithms, keys = _pool(results, mode)
    naive_is: dict[str, float] = {}
    for key, report in zip(naive_keys, naive_reports, strict=True):
        naive_is[key] = naive_is.get(key, 0.0) + report.implementation_shortfall
    routed_is: dict[str, float] = {}
    for key, report in zip(keys, reports, strict=True):
        routed_is[key] = routed_is.get(key, 0.0) + report.implementation_shortfall
    paired = [k for k in routed_is if k in naive_is]
    a = np.array([naive_is[k] for k in paired])
    b = np.array([routed_is[k] for k in paired])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(paired), (BOOTSTRAP, len(paired)))
    draws = 1.0 - b[idx].sum(axis=1) / a[idx].sum(axis=1)
    naive = summarize_executions(naive_reports)
    routed = summarize_executions(reports)
    by_algorithm: dict[str, Any] = {}
    for name in sorted(set(algorithms)):
        rows = [r for r, n in zip(reports, algorithms, strict=True) if n == name]
        by_algorithm[name] = (len(rows), summarize_executions(rows))
    return {
        "naive": naive,
        "router": routed,
        "cost_reduction": 1.0 - routed.implementation_shortfall / naive.implementation_shortfall,
        "cost_reduction_90": (float(np.percentile(draws, 5)), float(np.percentile(draws, 95))),
        "by_algorithm": by_algorithm,
        "unfinished": sum(r[mode]["unfinished"] + r["naive"]["unfinished"] for r in results),
        "rejected": sum(r[mode]["rejected"] + r["naive"]["rejected"] for r in results),
        "parents": len(reports),
        "realized_volatility": float(np.mean([r["realized_volatility"] for r in results])),
    }


def _row(label: str, s: Any) -> str:
    return (
        f"{label:<28} maker {s.maker_quantity_ratio:6.1%} (count {s.maker_fill_ratio:6.1%})"
        f"  fill {s.fill_rate:6.1%}  slip {s.slippage_bps:6.2f} bp"
        f"  fees {s.fees_bps:5.2f} bp  IS {s.implementation_shortfall_bps:6.2f} bp"
        f"  (${s.implementation_shortfall:10,.2f})"
    )


def _met(c: dict[str, Any]) -> bool:
    return bool(
        c["router"].maker_quantity_ratio >= TARGET_MAKER_RATIO
        and c["cost_reduction"] >= TARGET_COST_REDUCTION
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one stream per scenario, 50 parents")
    parser.add_argument("--parents", type=int, default=None, help="parents per stream")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    n = args.parents or (50 if args.quick else N_PARENTS)
    default_streams = 1 if args.quick else DEFAULT_STREAMS
    grid_streams = 1 if args.quick else GRID_STREAMS
    base = {"duration_s": DURATION_S, "parents": n, "taker_rate": TAKER_RATE}

    def seeds(k: int) -> list[int]:
        return [args.seed + 17 * i for i in range(k)]

    tasks: list[tuple[str, dict[str, Any]]] = []
    for seed in seeds(default_streams):
        spec = {"spread": 1, "volatility": 0.02, "modes": ("naive", "NORMAL"), "seed": seed}
        tasks.append(("default", {**base, **spec}))
    for spread in (1, 5):
        for vol in (0.01, 0.04):
            for seed in seeds(grid_streams):
                spec = {"spread": spread, "volatility": vol, "seed": seed}
                tasks.append(
                    (
                        f"grid/{spread}/{vol}",
                        {**base, **spec, "modes": ("naive", "LOW", "NORMAL", "HIGH")},
                    )
                )
    for taker in (0.0001, 0.0):
        for seed in seeds(grid_streams):
            spec = {"spread": 1, "volatility": 0.02, "seed": seed, "taker_rate": taker}
            tasks.append((f"fees/{taker}", {**base, **spec, "modes": ("naive", "NORMAL")}))
    for drift in TRENDS:
        for seed in seeds(grid_streams):
            spec = {"spread": 1, "volatility": 0.02, "seed": seed, "drift": drift}
            tasks.append((f"trend/{drift}", {**base, **spec, "modes": ("naive", "NORMAL", "HIGH")}))

    started = time.perf_counter()
    with mp.get_context("spawn").Pool(2) as pool:
        done = pool.map(run_stream, [t for _, t in tasks])
    wall = time.perf_counter() - started
    groups: dict[str, list[dict[str, Any]]] = {}
    for (name, _), result in zip(tasks, done, strict=True):
        groups.setdefault(name, []).append(result)

    print(f"Fees: taker {TAKER_RATE * 1e4:g} bps, maker {MAKER_RATE * 1e4:g} bps. Latency "
          f"{LATENCY_NS / 1e6:g} ms + up to {JITTER_NS / 1e6:g} ms jitter; "
          "conservative queue.")  # fmt: skip
    head = _compare(groups["default"], "NORMAL", args.seed)
    print(f"Default scenario: spread 1 tick, volatility 2 %/day (realised "
          f"{head['realized_volatility']:.2%}), urgency NORMAL; {head['parents']} parents over "
          f"{default_streams} independent one-hour streams")  # fmt: skip
    print(_row("  naive (market at arrival)", head["naive"]))
    print(_row("  router", head["router"]))
    for name, (count, stats) in head["by_algorithm"].items():
        print(f"    {name:<11} n={count:4d}  maker {stats.maker_quantity_ratio:6.1%}"
              f"  fill {stats.fill_rate:6.1%}  IS {stats.implementation_shortfall_bps:6.2f} bp"
              f"  notional ${stats.target_notional:,.0f}")  # fmt: skip
    low, high = head["cost_reduction_90"]
    print(f"  cost_reduction {head['cost_reduction']:.1%}  (90 % bootstrap interval "
          f"{low:.1%} to {high:.1%}); unfinished parents {head['unfinished']}, "
          f"rejected {head['rejected']}")  # fmt: skip

    print(f"\nGrid ({grid_streams} stream(s) x {n} parents per cell; router vs naive on the "
          "same streams)")  # fmt: skip
    print(f"{'spread':>6} {'vol':>4} {'urgency':>7}  {'maker':>6} {'count':>6} {'fill':>6}"
          f"  {'naive IS':>8} {'router IS':>9}  {'cost red.':>9} {'90 % interval':>17}"
          "  targets")  # fmt: skip
    scenarios = []

    def show(label: str, c: dict[str, Any], extra: dict[str, Any]) -> None:
        s = c["router"]
        low, high = c["cost_reduction_90"]
        print(f"{label}  {s.maker_quantity_ratio:6.1%} {s.maker_fill_ratio:6.1%}"
              f" {s.fill_rate:6.1%}  {c['naive'].implementation_shortfall_bps:6.2f}bp"
              f" {s.implementation_shortfall_bps:7.2f}bp  {c['cost_reduction']:9.1%}"
              f" {low:7.1%} to {high:6.1%}  {'met' if _met(c) else 'MISSED'}")  # fmt: skip
        scenarios.append(
            {
                **extra,
                "maker_ratio": round(s.maker_quantity_ratio, 4),
                "fill_rate": round(s.fill_rate, 4),
                "cost_reduction": round(c["cost_reduction"], 4),
                "targets_met": _met(c),
            }
        )

    for spread in (1, 5):
        for vol in (0.01, 0.04):
            for urgency in ("LOW", "NORMAL", "HIGH"):
                c = _compare(groups[f"grid/{spread}/{vol}"], urgency, args.seed)
                show(
                    f"{spread:>6} {vol:>4.0%} {urgency:>7}",
                    c,
                    {"spread_ticks": spread, "volatility": vol, "urgency": urgency},
                )
    print("\nFee sensitivity (spread 1, volatility 2 %, NORMAL): taker fee instead of 5 bps")
    for taker in (0.0001, 0.0):
        c = _compare(groups[f"fees/{taker}"], "NORMAL", args.seed)
        show(f"taker {taker * 1e4:g} bp".rjust(20), c, {"taker_fee_bps": taker * 1e4})

    print(
        "\nAdverse trend (spread 1, volatility 2 %): the price drifts the way every parent trades"
    )
    for drift in TRENDS:
        for urgency in ("NORMAL", "HIGH"):
            c = _compare(groups[f"trend/{drift}"], urgency, args.seed)
            show(
                f"{drift:+.1%}/h {urgency:>7}".rjust(20),
                c,
                {"drift_per_hour": drift, "urgency": urgency},
            )

    print(f"\nwall {wall:.1f} s on 2 processes")
    s = head["router"]
    figures = {
        "maker_ratio": round(s.maker_quantity_ratio, 4),
        "maker_fill_ratio": round(s.maker_fill_ratio, 4),
        "cost_reduction": round(head["cost_reduction"], 4),
        "cost_reduction_90": [round(low, 4) for low in head["cost_reduction_90"]],
        "fill_rate": round(s.fill_rate, 4),
        "naive_is_bps": round(head["naive"].implementation_shortfall_bps, 3),
        "router_is_bps": round(s.implementation_shortfall_bps, 3),
        "router_fees_bps": round(s.fees_bps, 3),
        "parents": head["parents"],
        "targets_met": _met(head),
        "scenarios_meeting_targets": sum(sc["targets_met"] for sc in scenarios),
        "scenarios_total": len(scenarios),
        "scenarios": scenarios,
        "wall_seconds": round(wall, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
