"""The lookahead check catches a strategy that peeks one bar ahead, and passes honest ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pytest

from quantgrid.backtest import BacktestConfig, check_lookahead, run_backtest
from quantgrid.model import Bar, BarSeries
from quantgrid.strategy import RsiMeanReversion, SmaCross, Strategy
from tests.conftest import make_bars, random_walk

BARS = make_bars(random_walk(600, 8, vol=0.01))


class PeeksOneBarAhead(Strategy):
    """Buys when tomorrow's close is higher: a classic shift the wrong way."""

    name: ClassVar[str] = "peeker"

    def on_data(self, bars: Mapping[str, BarSeries]) -> None:
        close = bars["X"].close
        up_next = np.zeros(len(close), dtype=bool)
        up_next[:-1] = close[1:] > close[:-1]  # looks at i + 1
        self.up_next = up_next

    def on_start(self) -> None:
        self.i = -1

    def on_bar(self, bar: Bar) -> None:
        self.i += 1
        wanted = 1.0 if self.up_next[self.i] else -1.0
        if np.sign(self.position()) != wanted:
            self.close()
            (self.buy if wanted > 0 else self.sell)(1)


class HonestPrecompute(PeeksOneBarAhead):
    name: ClassVar[str] = "honest"

    def on_data(self, bars: Mapping[str, BarSeries]) -> None:
        close = bars["X"].close
        up_now = np.zeros(len(close), dtype=bool)
        up_now[1:] = close[1:] > close[:-1]  # looks at i and i - 1 only
        self.up_next = up_now


def test_a_strategy_peeking_one_bar_ahead_is_caught() -> None:
    report = check_lookahead(PeeksOneBarAhead, [BARS], points=8)
    assert not report.passed
    # A cut shows the peek whenever the next bar's move is not what the cut-short run
    # assumes: about half the cuts.
    assert 2 <= len(report.findings) <= 8
    finding = report.findings[0]
    assert finding.with_all_data != finding.with_data_cut
    # The changed decision is the one made on the cut bar itself.
    assert finding.with_all_data is not None and finding.with_all_data[0] == finding.cut_ts


@pytest.mark.parametrize(
    ("strategy", "params"),
    [(HonestPrecompute, None), (SmaCross, {"fast": 5, "slow": 20}), (RsiMeanReversion, None)],
)
def test_honest_strategies_pass(strategy: type[Strategy], params: dict[str, int] | None) -> None:
    report = check_lookahead(strategy, [BARS], params, points=5)
    assert report.passed, report.findings
    assert report.decisions > 10
    assert len(report.cuts) == 5


def test_the_history_given_to_on_data_is_read_only() -> None:
    class Scribbler(Strategy):
        name: ClassVar[str] = "scribbler"

        def on_data(self, bars: Mapping[str, BarSeries]) -> None:
            bars["X"].close[0] = 0.0

    with pytest.raises(Exception, match="read-only"):
        run_backtest(Scribbler(), BARS, config=BacktestConfig())


def test_points_must_be_positive() -> None:
    with pytest.raises(ValueError, match="points must be >= 1"):
        check_lookahead(SmaCross, [BARS], points=0)


class AllInEveryOtherBar(Strategy):
    """Decides on every bar, all-cash entries included, so every cut lands on one."""

    name: ClassVar[str] = "all_in_flip"

    def on_bar(self, bar: Bar) -> None:
        if self.position() == 0:
            self.buy()  # sized from cash when it fills: after the cut in a cut-short run
        else:
            self.close()


def test_cash_sized_orders_are_compared_as_requested() -> None:
    report = check_lookahead(AllInEveryOtherBar, [BARS], points=8)
    assert report.passed, report.findings
