"""Built-in strategies: moving-average crosses and RSI mean reversion."""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field, model_validator

from quantgrid.indicators import EMA, RSI, SMA
from quantgrid.model import Bar, OrderSide
from quantgrid.strategy._base import Strategy, StrategyParams


class CrossParams(StrategyParams):
    """Parameters of the moving-average cross strategies."""

    fast: int = Field(10, ge=1, description="bars in the fast average")
    slow: int = Field(20, ge=2, description="bars in the slow average")
    size: float | None = Field(
        None, gt=0, description="units per entry; omitted: all available cash"
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> CrossParams:
        if self.fast >= self.slow:
            msg = f"fast ({self.fast}) must be smaller than slow ({self.slow})"
            raise ValueError(msg)
        return self


class _CrossState:
    __slots__ = ("fast", "prev_fast", "prev_slow", "slow")

    def __init__(self, fast: SMA | EMA, slow: SMA | EMA) -> None:
        self.fast = fast
        self.slow = slow
        self.prev_fast = float("nan")
        self.prev_slow = float("nan")


class _MovingAverageCross(Strategy):
    """Long when the fast average crosses above the slow one, short when it crosses below.

    A cross closes the open position and reverses it; a cross to the side already held
    (the averages touched and parted again) changes nothing. A cross is ``fast <= slow``
    on the previous bar and ``fast > slow`` on this one (or the mirror); warm-up bars,
    where an average is still NaN, never count as a cross.
    """

    Params: ClassVar[type[StrategyParams]] = CrossParams
    _average: ClassVar[type[SMA] | type[EMA]] = SMA

    def on_start(self) -> None:
        """Create one pair of averages per instrument."""
        params = self.params
        assert isinstance(params, CrossParams)
        self._size = params.size
        self.check_size(params.size)
        self._fraction = 1.0 / len(self.instruments)
        self._state = {
            iid: _CrossState(self._average(params.fast), self._average(params.slow))
            for iid in self.instruments
        }

    def on_bar(self, bar: Bar) -> None:
        """Update the averages and reverse on a cross."""
        state = self._state[bar.instrument_id]
        fast = state.fast.update(bar.close)
        slow = state.slow.update(bar.close)
        prev_fast = state.prev_fast
        prev_slow = state.prev_slow
        state.prev_fast = fast
        state.prev_slow = slow
        # Comparisons with NaN are false, so warm-up bars fall through both branches.
        if fast > slow and prev_fast <= prev_slow:
            self._reverse(OrderSide.BUY, bar.instrument_id)
        elif fast < slow and prev_fast >= prev_slow:
            self._reverse(OrderSide.SELL, bar.instrument_id)

    def _reverse(self, side: OrderSide, instrument_id: str) -> None:
        if self.open_orders(instrument_id):
            # Orders still working (the volume cap spreads fills over bars) are stale
            # once the averages cross back: cancel them and size from the position held.
            self.cancel_all(instrument_id)
        position = self.position(instrument_id)
        size = self._size
        if size is None:
            if (position > 0) if side is OrderSide.BUY else (position < 0):
                return  # already on this side: the averages touched and parted again
            # Sized from cash at the fill, after the close has freed it: two orders.
            self.close(instrument_id)
            if side is OrderSide.BUY:
                self.buy(None, instrument_id, cash_fraction=self._fraction)
            else:
                self.sell(None, instrument_id, cash_fraction=self._fraction)
            return
        # A fixed size moves to the target in one order (a flip is one order, as a desk
        # would do it); already at the target, nothing is sent.
        delta = side.sign * size - position
        if delta > 0:
            self.buy(delta, instrument_id)
        elif delta < 0:
            self.sell(-delta, instrument_id)


class SmaCross(_MovingAverageCross):
    """Simple-moving-average cross, always in the market after the first cross."""

    name: ClassVar[str] = "sma_cross"
    _average: ClassVar[type[SMA] | type[EMA]] = SMA


class EmaCross(_MovingAverageCross):
    """Exponential-moving-average cross, always in the market after the first cross."""

    name: ClassVar[str] = "ema_cross"
    _average: ClassVar[type[SMA] | type[EMA]] = EMA


class RsiParams(StrategyParams):
    """Parameters of RSI mean reversion."""

    period: int = Field(14, ge=2, description="RSI look-back in bars")
    lower: float = Field(30.0, gt=0, lt=100, description="buy below this RSI")
    upper: float = Field(70.0, gt=0, lt=100, description="sell short above this RSI")
    exit: float = Field(50.0, gt=0, lt=100, description="close when RSI crosses back here")
    size: float | None = Field(None, gt=0, description="units per entry; omitted: all cash")
    allow_short: bool = Field(True, description="take short entries above `upper`")

    @model_validator(mode="after")
    def _ordered_levels(self) -> RsiParams:
        if not self.lower < self.exit < self.upper:
            msg = (
                f"levels must satisfy lower < exit < upper, got lower={self.lower}, "
                f"exit={self.exit}, upper={self.upper}"
            )
            raise ValueError(msg)
        return self


class RsiMeanReversion(Strategy):
    """Buy oversold, short overbought, close when the RSI returns to the exit level."""

    name: ClassVar[str] = "rsi_mean_reversion"
    Params: ClassVar[type[StrategyParams]] = RsiParams

    def on_start(self) -> None:
        """Create one RSI per instrument."""
        params = self.params
        assert isinstance(params, RsiParams)
        self._p = params
        self.check_size(params.size)
        self._fraction = 1.0 / len(self.instruments)
        self._rsi = {iid: RSI(params.period) for iid in self.instruments}

    def on_bar(self, bar: Bar) -> None:
        """Enter at the extremes, exit at the middle."""
        iid = bar.instrument_id
        value = self._rsi[iid].update(bar.close)
        if math.isnan(value):  # still warming up
            return
        p = self._p
        if self.open_orders(iid):
            return  # an entry or exit is still being filled: wait for it
        position = self.position(iid)
        if position == 0:
            if value < p.lower:
                self.buy(p.size, iid, cash_fraction=self._fraction)
            elif value > p.upper and p.allow_short:
                self.sell(p.size, iid, cash_fraction=self._fraction)
        elif (position > 0 and value >= p.exit) or (position < 0 and value <= p.exit):
            self.close(iid)
