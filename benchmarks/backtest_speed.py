"""Backtest speed: ema_cross (10/20, size 100, no commission) over 1,000,000 one-minute bars.

Runs QuantGrid's full event-driven engine (orders, venue, portfolio) and backtesting.py
on the same synthetic bars, each in its own process so peak memory is each one's own,
and checks that both made the same trades. Prints a table, then one JSON line.

    .venv/bin/python benchmarks/backtest_speed.py [--bars N] [--skip-reference]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time
import warnings
from typing import Any

SEED = 42
FAST, SLOW, SIZE = 10, 20, 100.0


def _bars(n: int) -> Any:
    from quantgrid.data import SyntheticConfig, generate_market

    market = generate_market(SyntheticConfig(instruments=("SYN",), bars=n), SEED)
    return market.bars["SYN"]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_quantgrid(n: int, out: Any) -> None:
    from quantgrid.backtest import BacktestConfig, run_backtest
    from quantgrid.strategy import EmaCross

    bars = _bars(n)
    params = {"fast": FAST, "slow": SLOW, "size": SIZE}
    # Warm the numba caches and imports on a small slice, as any second run would be.
    run_backtest(EmaCross, bars.slice(0, 1_000), params)
    started = time.perf_counter()
    result = run_backtest(EmaCross, bars, params, BacktestConfig(initial_cash=1_000_000.0))
    wall = time.perf_counter() - started
    out.put(
        {
            "engine_seconds": result.engine_seconds,
            "wall_seconds": wall,
            "n_trades": result.stats.n_trades,
            "equity_final": result.stats.equity_final,
            "peak_rss_mb": _peak_rss_mb(),
        }
    )


def run_backtesting_py(n: int, out: Any) -> None:
    import os

    os.environ["TQDM_DISABLE"] = "1"  # its progress bar would interleave with our table
    import numpy as np
    import pandas as pd
    from backtesting import Backtest, Strategy

    from quantgrid.indicators import ema

    bars = _bars(n)
    frame = pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
        },
        index=pd.to_datetime(bars.ts, utc=True).tz_localize(None),
    )

    class Cross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            close = np.asarray(self.data.Close, dtype=float)
            self.fast = self.I(ema, close, FAST)
            self.slow = self.I(ema, close, SLOW)

        def next(self) -> None:
            f, s, pf, ps = self.fast[-1], self.slow[-1], self.fast[-2], self.slow[-2]
            held = self.position.size
            if f > s and pf <= ps and held <= 0:
                self.position.close()
                self.buy(size=SIZE)
            elif f < s and pf >= ps and held >= 0:
                self.position.close()
                self.sell(size=SIZE)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        stats = Backtest(frame, Cross, cash=1_000_000.0, finalize_trades=True).run()
        wall = time.perf_counter() - started
    out.put(
        {
            "wall_seconds": wall,
            "n_trades": int(stats["# Trades"]),
            "equity_final": float(stats["Equity Final [$]"]),
            "peak_rss_mb": _peak_rss_mb(),
        }
    )


def _in_child(target: Any, n: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(n, queue))
    process.start()
    result: dict[str, Any] = queue.get(timeout=1_800)
    process.join(timeout=60)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--skip-reference", action="store_true", help="skip backtesting.py")
    args = parser.parse_args()
    n = args.bars

    ours = _in_child(run_quantgrid, n)
    figures: dict[str, Any] = {
        "bars": n,
        "bars_per_s": round(n / ours["engine_seconds"]),
        "wall_bars_per_s": round(n / ours["wall_seconds"]),
        "peak_rss_mb": round(ours["peak_rss_mb"], 1),
        "n_trades": ours["n_trades"],
    }
    print(f"QuantGrid        {n:,} bars  engine {ours['engine_seconds']:.2f} s "
          f"({figures['bars_per_s']:,} bars/s)  whole run {ours['wall_seconds']:.2f} s  "
          f"peak RSS {ours['peak_rss_mb']:.0f} MB  trades {ours['n_trades']:,}  "
          f"final equity {ours['equity_final']:,.2f}")  # fmt: skip
    if not args.skip_reference:
        ref = _in_child(run_backtesting_py, n)
        figures.update(
            {
                "backtesting_py_bars_per_s": round(n / ref["wall_seconds"]),
                "backtesting_py_peak_rss_mb": round(ref["peak_rss_mb"], 1),
                "backtesting_py_n_trades": ref["n_trades"],
                "speedup": round(ref["wall_seconds"] / ours["wall_seconds"], 2),
                "same_trades": ref["n_trades"] == ours["n_trades"],
            }
        )
        print(f"backtesting.py   {n:,} bars  whole run {ref['wall_seconds']:.2f} s "
              f"({figures['backtesting_py_bars_per_s']:,} bars/s)  peak RSS "
              f"{ref['peak_rss_mb']:.0f} MB  trades {ref['n_trades']:,}  "
              f"final equity {ref['equity_final']:,.2f}")  # fmt: skip
        print(f"speedup (whole run vs whole run): {figures['speedup']}x")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
