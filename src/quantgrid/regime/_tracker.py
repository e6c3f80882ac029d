"""`RegimeTracker`: the latest regime of each instrument, from the bars on the bus."""

from __future__ import annotations

from collections.abc import Iterable

from quantgrid.core import MessageBus
from quantgrid.model import Bar
from quantgrid.regime._detector import RegimeDetector, RegimeReading
from quantgrid.regime._model import UNKNOWN_REGIME

TRACKER_PRIORITY = 20
"""Bus priority of the tracker's bar handler: above the risk engine's bar handler (10)
and strategies (0), so both see the regime that includes the bar."""


class RegimeTracker:
    """Stream the bars published on the bus through a `RegimeDetector`; keep each regime.

    ``regime_of`` is what a ``RiskEngine`` takes to block new entries while an
    instrument is in one of its ``blocked_regimes``.

    Parameters
    ----------
    detector
        The detector to stream through; its state is reset, so a new warm-up starts.
    bus
        The node's message bus; the tracker subscribes to ``data.bars.>``.
    instrument_ids
        The instruments the detector classifies together: a timestamp is classified
        once every one of them has a bar at it. Bars of other instruments are ignored.
    priority
        Bus priority of the bar handler (``TRACKER_PRIORITY`` = 20 by default).

    Notes
    -----
    The detector needs every instrument's bar of a timestamp (the cross-asset
    correlation), so bars are buffered and the timestamp is classified when its last
    instrument's bar arrives; until then every instrument keeps the regime of the last
    complete timestamp. With several instruments published one after another, handlers
    of the earlier ones' bars therefore see the previous timestamp's regime, and those
    of the last one's bar the new one; nothing ever sees a later bar. A timestamp some
    instrument has no bar for is dropped, never half classified.
    """

    def __init__(
        self,
        detector: RegimeDetector,
        bus: MessageBus,
        instrument_ids: Iterable[str],
        *,
        priority: int = TRACKER_PRIORITY,
    ) -> None:
        if not isinstance(detector, RegimeDetector):
            msg = f"RegimeTracker: detector must be a RegimeDetector, got {type(detector).__name__}"
            raise TypeError(msg)
        ids = tuple(dict.fromkeys(instrument_ids))
        if not ids:
            raise ValueError("RegimeTracker: need at least one instrument id")
        detector.reset()
        self.detector = detector
        self._ids = frozenset(ids)
        self._pending: dict[str, Bar] = {}
        self._pending_ts: int | None = None
        self._regimes: dict[str, int | None] = dict.fromkeys(ids)
        self._readings: dict[str, RegimeReading] = {}
        bus.subscribe("data.bars.>", self.on_bar, priority=priority)

    def on_bar(self, bar: Bar) -> None:
        """Buffer the bar; classify its timestamp once every instrument has a bar at it."""
        iid = bar.instrument_id
        if iid not in self._ids:
            return
        if bar.ts_event != self._pending_ts:
            self._pending = {}
            self._pending_ts = bar.ts_event
        pending = self._pending
        pending[iid] = bar
        if len(pending) < len(self._ids):
            return
        self._pending = {}
        for instrument_id, reading in self.detector.update(pending).items():
            self._readings[instrument_id] = reading
            regime = reading.regime
            self._regimes[instrument_id] = None if regime == UNKNOWN_REGIME else regime

    def regime_of(self, instrument_id: str) -> int | None:
        """Return the instrument's latest `Regime` value, or None before the warm-up ends.

        None also for an instrument the tracker does not follow and for a reading with
        a NaN feature.
        """
        return self._regimes.get(instrument_id)

    def reading(self, instrument_id: str) -> RegimeReading | None:
        """Return the instrument's latest reading (regime, confidence, features), if any."""
        return self._readings.get(instrument_id)
