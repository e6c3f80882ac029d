"""`RegimeSwitch`: trend-follow in TRENDING, mean-revert in RANGING, stay flat otherwise."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, model_validator

from quantgrid.indicators import EMA, RSI
from quantgrid.model import Bar, Regime
from quantgrid.regime._detector import RegimeDetector
from quantgrid.strategy import Strategy, StrategyParams, register_strategy

_TRENDING = int(Regime.TRENDING)
_RANGING = int(Regime.RANGING)


class RegimeSwitchParams(StrategyParams):
    """Parameters of the regime-switching strategy."""

    fast: int = Field(10, ge=1, description="bars in the fast EMA (TRENDING)")
    slow: int = Field(30, ge=2, description="bars in the slow EMA (TRENDING)")
    rsi_period: int = Field(14, ge=2, description="RSI look-back in bars (RANGING)")
    lower: float = Field(30.0, gt=0, lt=100, description="buy below this RSI (RANGING)")
    upper: float = Field(70.0, gt=0, lt=100, description="sell short above this RSI (RANGING)")
    exit: float = Field(50.0, gt=0, lt=100, description="close when RSI crosses back here")
    min_confidence: float = Field(
        0.5, ge=0, le=1, description="below this regime confidence, stay flat"
    )
    size: float | None = Field(None, gt=0, description="units per entry; omitted: cash share")
    allow_short: bool = Field(True, description="take short entries")

    @model_validator(mode="after")
    def _ordered(self) -> RegimeSwitchParams:
        if self.fast >= self.slow:
            msg = f"fast ({self.fast}) must be smaller than slow ({self.slow})"
            raise ValueError(msg)
        if not self.lower < self.exit < self.upper:
            msg = (
                f"levels must satisfy lower < exit < upper, got lower={self.lower}, "
                f"exit={self.exit}, upper={self.upper}"
            )
            raise ValueError(msg)
        return self


@register_strategy
class RegimeSwitch(Strategy):
    """Trade each instrument by its regime, as `RegimeDetector` reads it bar by bar.

    TRENDING: hold the side of the EMA cross (long while fast > slow, short below).
    RANGING: RSI mean reversion (long below ``lower``, short above ``upper``, out at
    ``exit``). CHOPPY, CRISIS, unknown (warm-up) or a confidence below
    ``min_confidence``: flat. Whenever the target side changes, the position is
    closed first and the new side, if any, entered with a second order.

    Notes
    -----
    The detector needs every instrument's bar of a timestamp (the cross-asset
    correlation), so bars are buffered and the timestamp is classified when its last
    instrument's bar arrives; orders for all instruments are sent then, and fill on
    each instrument's next bar at the earliest, so nothing uses a later bar. A
    timestamp some instrument has no bar for is never classified: the detector is
    meant for instruments that share timestamps. Averages and the RSI update on every
    bar as it arrives.
    """

    name: ClassVar[str] = "regime_switch"
    Params: ClassVar[type[StrategyParams]] = RegimeSwitchParams

    def __init__(
        self,
        params: StrategyParams | Mapping[str, Any] | None = None,
        strategy_id: str = "",
        detector: RegimeDetector | None = None,
    ) -> None:
        super().__init__(params, strategy_id)
        self._detector_model = (detector or RegimeDetector()).model

    def on_start(self) -> None:
        """Create the detector and each instrument's averages and RSI."""
        params = self.params
        assert isinstance(params, RegimeSwitchParams)
        self._p = params
        self.check_size(params.size)
        self._fraction = 1.0 / len(self.instruments)
        self.detector = RegimeDetector(self._detector_model)
        self._fast = {iid: EMA(params.fast) for iid in self.instruments}
        self._slow = {iid: EMA(params.slow) for iid in self.instruments}
        self._rsi = {iid: RSI(params.rsi_period) for iid in self.instruments}
        self._pending: dict[str, Bar] = {}
        self._pending_ts: int | None = None
        self.regimes: dict[str, int] = dict.fromkeys(self.instruments, -1)
        self._target: dict[str, int] = dict.fromkeys(self.instruments, 0)

    def on_bar(self, bar: Bar) -> None:
        """Update the instrument's indicators; classify and trade once the timestamp is whole."""
        iid = bar.instrument_id
        self._fast[iid].update(bar.close)
        self._slow[iid].update(bar.close)
        self._rsi[iid].update(bar.close)
        if bar.ts_event != self._pending_ts:
            self._pending = {}  # an unfinished timestamp is dropped, never half classified
            self._pending_ts = bar.ts_event
        self._pending[iid] = bar
        if len(self._pending) < len(self._instruments):
            return
        readings = self.detector.update(self._pending)
        self._pending = {}
        for instrument_id, reading in readings.items():
            regime = reading.regime if reading.confidence >= self._p.min_confidence else -1
            # A new regime starts its own logic from flat (a RANGING entry is not held
            # over from a trend); the position itself only changes if the target does.
            held = self._target[instrument_id] if regime == self.regimes[instrument_id] else 0
            self.regimes[instrument_id] = regime
            self._move_to(instrument_id, self._desired(instrument_id, regime, held))

    def _desired(self, iid: str, regime: int, target: int) -> int:
        if regime == _TRENDING:
            fast = self._fast[iid].value
            slow = self._slow[iid].value
            if math.isnan(slow):
                return 0
            if fast > slow:
                return 1
            return -1 if fast < slow and self._p.allow_short else 0
        if regime == _RANGING:
            value = self._rsi[iid].value
            p = self._p
            if math.isnan(value):
                return 0
            if target == 0:
                if value < p.lower:
                    return 1
                if value > p.upper and p.allow_short:
                    return -1
                return 0
            if (target > 0 and value >= p.exit) or (target < 0 and value <= p.exit):
                return 0
            return target
        return 0

    def _move_to(self, iid: str, target: int) -> None:
        if target == self._target[iid]:
            return
        self._target[iid] = target
        if self.open_orders(iid):
            self.cancel_all(iid)
        self.close(iid)
        if target > 0:
            self.buy(self._p.size, iid, cash_fraction=self._fraction)
        elif target < 0:
            self.sell(self._p.size, iid, cash_fraction=self._fraction)
