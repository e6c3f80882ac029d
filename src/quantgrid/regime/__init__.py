"""Market regimes: detect TRENDING, RANGING, CHOPPY and CRISIS bars, and trade by regime.

`RegimeDetector` labels each instrument at each bar, vectorised (`detect`) or one
timestamp at a time (`update`), bit for bit alike; `RegimeSwitch` is the built-in
strategy ``regime_switch`` that trades a trend in TRENDING, mean reversion in RANGING and
stays flat in CHOPPY and CRISIS; `RegimeTracker` streams the bars on a message bus through
a detector and answers ``regime_of(instrument_id)`` for the risk engine's regime block.
"""

from quantgrid.regime._defaults import DEFAULT_MODEL, TRAINING_SEEDS
from quantgrid.regime._detector import (
    LabelledMarket,
    RegimeDetector,
    RegimeFrame,
    RegimeReading,
)
from quantgrid.regime._model import UNKNOWN_REGIME, FeatureSettings, RegimeModel
from quantgrid.regime._strategy import RegimeSwitch, RegimeSwitchParams
from quantgrid.regime._tracker import RegimeTracker

__all__ = [
    "DEFAULT_MODEL",
    "TRAINING_SEEDS",
    "UNKNOWN_REGIME",
    "FeatureSettings",
    "LabelledMarket",
    "RegimeDetector",
    "RegimeFrame",
    "RegimeModel",
    "RegimeReading",
    "RegimeSwitch",
    "RegimeSwitchParams",
    "RegimeTracker",
]
