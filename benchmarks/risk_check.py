"""Risk-check latency: 100,000 varied orders checked against every limit of a RiskEngine.

Builds a node by hand (test clock, bus, prices, portfolio with open positions, simulated
venue, execution engine, risk engine with every limit, the drawdown breaker and a
regime hook on), then times ``RiskEngine.check`` per order with ``perf_counter_ns``.
The limits are set so most orders pass every check: the timed path is the longest one.
Prints the percentiles, then one JSON line.

    .venv/bin/python benchmarks/risk_check.py [--checks N]
"""

from __future__ import annotations

import argparse
import json
import random
import time

import numpy as np

from quantgrid.core import MessageBus, PriceCache, TestClock
from quantgrid.execution import ExecutionEngine
from quantgrid.model import Bar, Instrument, Order, OrderSide, OrderType, Regime, SubmitOrder
from quantgrid.portfolio import Portfolio, PortfolioView
from quantgrid.risk import InstrumentLimits, RiskConfig, RiskEngine
from quantgrid.venues import SimulatedVenue, VenueConfig

SEED = 7
IDS = ("AAA", "BBB", "CCC", "DDD", "EEE")


def build() -> tuple[RiskEngine, TestClock]:
    clock = TestClock(1_704_067_200_000_000_000)
    bus = MessageBus()
    prices = PriceCache()
    instruments = {iid: Instrument(iid) for iid in IDS}
    portfolio = Portfolio(bus, prices, instruments, 10_000_000.0)
    venue = SimulatedVenue("SIM", bus, clock, prices, instruments, portfolio, VenueConfig())
    execution = ExecutionEngine(bus, clock, venue.endpoint)
    for k, iid in enumerate(IDS):
        prices.update(iid, 100.0 + 10 * k)
    # Open positions in three instruments, and a few working orders.
    for k, iid in enumerate(IDS[:3]):
        side = OrderSide.BUY if k % 2 == 0 else OrderSide.SELL
        order = Order(f"setup-{k}", "setup", iid, side, OrderType.MARKET, 2_000.0)
        execution.execute(SubmitOrder(order, clock.timestamp_ns()))
        venue.settle_at_close(order, _bar(iid, clock.timestamp_ns(), prices.last[iid]))
    config = RiskConfig(
        max_order_quantity=5_000,
        max_order_notional=1_000_000,
        max_position=20_000,
        max_concentration=0.5,
        price_band_pct=0.10,
        max_gross_exposure=20_000_000,
        max_net_exposure=10_000_000,
        max_orders=1_000_000,
        order_window_ns=1_000_000_000,
        reduce_at_drawdown=0.2,
        halt_at_drawdown=0.3,
        per_instrument={"AAA": InstrumentLimits(max_position=15_000, price_band_pct=0.05)},
    )
    regimes = {iid: int(Regime.TRENDING) for iid in IDS}
    risk = RiskEngine(
        bus, clock, PortfolioView(portfolio), instruments, config, execution, regimes.get
    )
    for k, iid in enumerate(IDS):
        order = Order(
            f"working-{k}", "S", iid, OrderSide.BUY, OrderType.LIMIT, 100.0, price=90.0 + 10 * k
        )
        risk.execute(SubmitOrder(order, clock.timestamp_ns()))
    return risk, clock


def _bar(iid: str, ts: int, price: float) -> Bar:
    return Bar(iid, ts, price, price, price, price, 1e9)


def orders(n: int, rng: random.Random) -> list[Order]:
    made = []
    for k in range(n):
        iid = rng.choice(IDS)
        last = 100.0 + 10 * IDS.index(iid)
        side = rng.choice((OrderSide.BUY, OrderSide.SELL))
        kind = rng.choice((OrderType.MARKET, OrderType.LIMIT, OrderType.STOP))
        quantity = float(rng.randint(1, 3_000))
        px = round(last * (1 + rng.uniform(-0.06, 0.06)), 2)
        made.append(
            Order(
                f"B-{k}",
                "S",
                iid,
                side,
                kind,
                quantity,
                price=px if kind is OrderType.LIMIT else None,
                trigger_price=px if kind is OrderType.STOP else None,
            )
        )
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=100_000)
    args = parser.parse_args()
    risk, _ = build()
    batch = orders(args.checks, random.Random(SEED))
    check = risk.check
    clock_ns = time.perf_counter_ns
    for order in batch[:2_000]:  # warm up
        check(order)
    latencies = np.empty(len(batch), dtype=np.int64)
    denied: dict[str, int] = {}
    for k, order in enumerate(batch):
        start = clock_ns()
        rejection = check(order)
        latencies[k] = clock_ns() - start
        if rejection is not None:
            denied[rejection.check] = denied.get(rejection.check, 0) + 1
    p50, p99, p999 = (float(np.percentile(latencies, q)) / 1_000 for q in (50, 99, 99.9))
    passed = len(batch) - sum(denied.values())
    print(f"checks       {len(batch):,}")
    print(f"passed all   {passed:,} ({passed / len(batch):.1%})")
    print(f"denied by    {dict(sorted(denied.items()))}")
    print(f"p50          {p50:.2f} us")
    print(f"p99          {p99:.2f} us")
    print(f"p99.9        {p999:.2f} us")
    print(json.dumps({"checks": len(batch), "p50_us": round(p50, 3), "p99_us": round(p99, 3)}))


if __name__ == "__main__":
    main()
