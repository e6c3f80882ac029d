"""The lookahead check: replay a strategy on cut-short data and compare its decisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from quantgrid.backtest._engine import BacktestConfig, BacktestEngine
from quantgrid.backtest._result import BacktestResult
from quantgrid.model import BarSeries, Order
from quantgrid.strategy import Strategy

Decision = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class LookaheadFinding:
    """The first decision that changed when the data was cut after ``cut_ts``."""

    cut_ts: int
    with_all_data: Decision | None
    with_data_cut: Decision | None


@dataclass(frozen=True, slots=True)
class LookaheadReport:
    """What ``check_lookahead`` found: ``findings`` is empty when no decision changed."""

    cuts: tuple[int, ...]
    decisions: int
    findings: tuple[LookaheadFinding, ...]

    @property
    def passed(self) -> bool:
        """Tell whether no decision depended on data after it was made."""
        return not self.findings


def _decisions(result: BacktestResult) -> list[Decision]:
    return [_decision(o) for o in result.orders if o.tag != "end of data"]


def _decision(order: Order) -> Decision:
    # The order as requested: a cash-sized order gets its quantity only when it fills,
    # which a cut-short run may never reach, and that is not a different decision.
    quantity = None if order.cash_fraction is not None else order.quantity
    return (
        order.ts_init, order.strategy_id, order.instrument_id, order.side.value,
        order.order_type.value, quantity, order.price, order.trigger_price,
        order.time_in_force.value, order.reduce_only, order.post_only,
    )  # fmt: skip


def _run(
    strategy: type[Strategy], params: Mapping[str, Any] | None, data: Sequence[BarSeries],
    config: BacktestConfig,
) -> BacktestResult:  # fmt: skip
    engine = BacktestEngine(config)
    engine.add_data(data)
    engine.add_strategy(strategy(params))
    return engine.run()


def check_lookahead(
    strategy: type[Strategy],
    data: Sequence[BarSeries],
    params: Mapping[str, Any] | None = None,
    config: BacktestConfig | None = None,
    points: int = 8,
) -> LookaheadReport:
    """Check that no decision of ``strategy`` depends on bars after it was made.

    The strategy runs once on all the data, then once per cut point on the data up to
    that point (``points`` cuts spread over the middle of the history). Every order it
    decided up to a cut must be the same in both runs; the first that differs at each
    cut is reported. A strategy that only reads bars through ``on_bar`` cannot fail;
    one that pre-computes in ``on_data`` with future values (a centred window, a
    full-sample normalisation, a shift the wrong way) does.
    """
    if points < 1:
        msg = f"points must be >= 1, got {points}"
        raise ValueError(msg)
    config = replace(config or BacktestConfig(), close_at_end=False)
    full = _decisions(_run(strategy, params, data, config))
    timeline = np.unique(np.concatenate([s.ts for s in data]))
    picks = np.linspace(0.2, 0.95, points) * (len(timeline) - 1)
    cuts = tuple(sorted({int(timeline[int(k)]) for k in picks}))
    findings = []
    for cut in cuts:
        parts = [s.slice(0, int(np.searchsorted(s.ts, cut, side="right"))) for s in data]
        parts = [p for p in parts if len(p)]
        cut_short = _decisions(_run(strategy, params, parts, config))
        before = [d for d in full if d[0] <= cut]
        after = [d for d in cut_short if d[0] <= cut]
        if before != after:
            k = next(
                (i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b),
                min(len(before), len(after)),
            )
            findings.append(
                LookaheadFinding(
                    cut,
                    before[k] if k < len(before) else None,
                    after[k] if k < len(after) else None,
                )
            )
    return LookaheadReport(cuts, len(full), tuple(findings))
