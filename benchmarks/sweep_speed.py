"""Sweep speed: every EMA-cross pair of windows 5..29 (300 pairs) over 100,000 minute bars.

QuantGrid's compiled sweep (each pair a full simulation with the event-driven engine's
fill rules, size 100, no commission) against vectorbt doing the same job its usual way
(its EMAs, crossovers, ``Portfolio.from_signals`` with next-open fills), in one run. For
a sample of pairs, vectorbt is also fed QuantGrid's signals and must count the same
trades as the sweep.

    .venv/bin/python benchmarks/sweep_speed.py [--bars N] [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from typing import Any

from quantgrid.backtest import BacktestConfig, cross_signals, sweep_crosses
from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.indicators import ema

WINDOWS = range(5, 30)
SIZE = 100.0
CASH = 1_000_000.0
SAMPLE = ((5, 6), (10, 20), (12, 29), (20, 25), (28, 29))


def _best_of(repeat: int, job: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = job()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    bars = generate_market(SyntheticConfig(instruments=("SYN",), bars=args.bars), 42).bars["SYN"]
    config = BacktestConfig(initial_cash=CASH)
    windows = list(WINDOWS)

    def ours() -> Any:
        return sweep_crosses(bars, windows, windows, average="ema", size=SIZE, config=config)

    sweep_crosses(bars.slice(0, 500), windows, windows, size=SIZE, config=config)  # compile
    ours_s, result = _best_of(args.repeat, ours)
    pairs = len(result.rows)
    bar_combos = pairs * len(bars)

    import pandas as pd
    import vectorbt as vbt

    index = pd.to_datetime(bars.ts, utc=True).tz_localize(None)
    close = pd.Series(bars.close, index=index)
    open_ = pd.Series(bars.open, index=index)

    def theirs() -> Any:
        fast, slow = vbt.MA.run_combs(
            close, window=windows, r=2, short_names=["fast", "slow"], ewm=True
        )
        up = fast.ma_crossed_above(slow).vbt.fshift(1, fill_value=False)
        down = fast.ma_crossed_below(slow).vbt.fshift(1, fill_value=False)
        portfolio = vbt.Portfolio.from_signals(
            close, entries=up, short_entries=down, price=open_, size=SIZE,
            size_type="amount", init_cash=CASH, fees=0.0, freq="1min",
        )  # fmt: skip
        return portfolio.total_return()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs()  # compile vectorbt's numba functions
        theirs_s, _ = _best_of(args.repeat, theirs)

        # Same signals in, same trades out, for a sample of pairs.
        by_pair = {(r["fast"], r["slow"]): r for r in result.rows}
        mismatches = []
        for f, s in SAMPLE:
            signal = cross_signals(ema(bars.close, f), ema(bars.close, s))
            up = pd.Series(signal == 1, index=index).vbt.fshift(1, fill_value=False)
            down = pd.Series(signal == -1, index=index).vbt.fshift(1, fill_value=False)
            portfolio = vbt.Portfolio.from_signals(
                close, entries=up, short_entries=down, price=open_, size=SIZE,
                size_type="amount", init_cash=CASH, fees=0.0, freq="1min",
            )  # fmt: skip
            theirs_trades = int(portfolio.trades.count())
            if theirs_trades != by_pair[(f, s)]["n_trades"]:
                mismatches.append((f, s, by_pair[(f, s)]["n_trades"], theirs_trades))

    figures = {
        "bars": len(bars),
        "pairs": pairs,
        "seconds": round(ours_s, 4),
        "bar_combos_per_s": round(bar_combos / ours_s),
        "vectorbt_seconds": round(theirs_s, 4),
        "vectorbt_bar_combos_per_s": round(bar_combos / theirs_s),
        "speedup": round(theirs_s / ours_s, 1),
        "sample_pairs_same_trades": not mismatches,
    }
    print(f"QuantGrid sweep  {pairs} pairs x {len(bars):,} bars in {ours_s:.3f} s "
          f"= {figures['bar_combos_per_s']:,} bar-combinations/s")  # fmt: skip
    print(f"vectorbt         {pairs} pairs x {len(bars):,} bars in {theirs_s:.3f} s "
          f"= {figures['vectorbt_bar_combos_per_s']:,} bar-combinations/s")  # fmt: skip
    print(
        f"speedup {figures['speedup']}x; sample pairs {SAMPLE} "
        + ("trade the same" if not mismatches else f"DIFFER: {mismatches}")
    )
    best = result.best
    print(f"best by Sharpe: fast {best['fast']}, slow {best['slow']}, sharpe "
          f"{best['sharpe']:.2f}, trades {best['n_trades']:,}")  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
