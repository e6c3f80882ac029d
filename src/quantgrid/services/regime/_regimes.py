"""Regimes of the covered symbols: bars from the source, classified together, cached."""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import reduce
from typing import Any, Final

import numpy as np

from quantgrid.adapters.market_data import (
    MarketDataSource,
    UnknownSymbolError,
    UnsupportedTimeframeError,
)
from quantgrid.core import NANOS_PER_DAY, dt_to_ns, ns_to_iso
from quantgrid.model import BarSeries, Regime
from quantgrid.regime import UNKNOWN_REGIME, RegimeDetector, RegimeFrame
from quantgrid.services.market_data import CachedAnswers, InvalidQueryError, SymbolNotFoundError
from quantgrid.services.regime._models import RegimeName
from quantgrid.services.regime._settings import RegimeSettings

_log = logging.getLogger("quantgrid.services.regime")

UNKNOWN: Final = "UNKNOWN"
_INDICATORS: Final = (
    "natr",
    "adx",
    "choppiness",
    "efficiency",
    "autocorrelation",
    "volatility",
    "volatility_ratio",
    "correlation",
)
# Ties for the market label go to the more defensive regime.
_DEFENSIVE_FIRST: Final = ("CRISIS", "CHOPPY", "RANGING", "TRENDING")
_CRISIS_QUORUM: Final = 1 / 3


def regime_name(value: int) -> RegimeName:
    """Return the name of a `Regime` value, or UNKNOWN for `UNKNOWN_REGIME`."""
    if value == UNKNOWN_REGIME:
        return "UNKNOWN"
    name: RegimeName = Regime(value).name  # type: ignore[assignment]
    return name


def market_regime(regimes: Sequence[str]) -> RegimeName:
    """Return one label for a market whose symbols are in ``regimes``.

    CRISIS when at least a third of the classified symbols are in crisis (a crisis is
    market-wide: correlations spike together), else the most common regime, ties going
    to the more defensive one; UNKNOWN when no symbol is classified.
    """
    known = [r for r in regimes if r != UNKNOWN]
    if not known:
        return "UNKNOWN"
    counts = Counter(known)
    if counts["CRISIS"] >= _CRISIS_QUORUM * len(known):
        return "CRISIS"
    best: RegimeName = max(
        ("CHOPPY", "RANGING", "TRENDING"),
        key=lambda r: (counts[r], -_DEFENSIVE_FIRST.index(r)),
    )
    return best


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _align(series: Mapping[str, BarSeries]) -> dict[str, BarSeries]:
    """Keep the timestamps every series has a bar at: the detector needs them all.

    A series whose last bar is older than the newest last bar (a symbol that stopped
    trading, a file not updated) is left out, rather than holding every other symbol
    back to its last bar.
    """
    present = {s: b for s, b in series.items() if len(b)}
    if not present:
        return {}
    newest = max(int(b.ts[-1]) for b in present.values())
    present = {s: b for s, b in present.items() if int(b.ts[-1]) == newest}
    common = reduce(np.intersect1d, [b.ts for b in present.values()])
    aligned = {}
    for symbol, bars in present.items():
        at = np.searchsorted(bars.ts, common)
        aligned[symbol] = BarSeries(
            symbol,
            np.ascontiguousarray(common, dtype=np.int64),
            bars.open[at],
            bars.high[at],
            bars.low[at],
            bars.close[at],
            bars.volume[at],
        )
    return aligned


def _reading(frame: RegimeFrame, i: int) -> dict[str, Any]:
    return {
        "regime": regime_name(int(frame.regime[i])),
        "confidence": float(frame.confidence[i]),
        "ts_event": int(frame.ts[i]),
        "as_of": ns_to_iso(int(frame.ts[i])),
        "indicators": {name: _finite(getattr(frame, name)[i]) for name in _INDICATORS},
    }


def _segments(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for point in points:
        if runs and runs[-1]["regime"] == point["regime"]:
            runs[-1]["end_ts"] = point["ts_event"]
            runs[-1]["bars"] += 1
        else:
            runs.append(
                {
                    "regime": point["regime"],
                    "start_ts": point["ts_event"],
                    "end_ts": point["ts_event"],
                    "bars": 1,
                }
            )
    return runs


class MarketRegimes:
    """Detect the regimes of the covered symbols from the source's bars.

    Parameters
    ----------
    source
        The upstream, already guarded.
    detector
        Classifies the symbols together (the crisis test needs their correlation).
    answers
        The cache: symbol lists, bars, current regimes and histories, each its own kind.
    settings
        Timeframe, look-back, covered symbols, TTLs and bounds.

    Notes
    -----
    The covered symbols are ``settings.regime_symbols``, or the source's first
    ``regime_max_symbols``. Their bars over the look-back are read (each through the
    cache), cut to the timestamps all of them have, and classified in a worker thread
    by `RegimeDetector.detect`. A symbol is UNKNOWN when the source has no bars of it
    up to the newest bar of any symbol (stale, delisted), or only bars coarser than the
    regime timeframe.
    """

    def __init__(
        self,
        source: MarketDataSource,
        detector: RegimeDetector,
        answers: CachedAnswers,
        settings: RegimeSettings,
    ) -> None:
        if settings.regime_lookback_bars <= detector.settings.warmup_bars:
            msg = (
                f"regime_lookback_bars ({settings.regime_lookback_bars}) must exceed the "
                f"detector's warm-up ({detector.settings.warmup_bars} bars)"
            )
            raise ValueError(msg)
        self.source = source
        self.detector = detector
        self.answers = answers
        self.settings = settings
        self.timeframe = settings.regime_timeframe

    # -- the covered symbols -------------------------------------------------------------
    async def universe(self) -> dict[str, Any]:
        """Return ``{"symbols": covered, "available": how many the source has}``."""
        settings = self.settings

        async def load() -> Any:
            if settings.regime_symbols:
                symbols = list(settings.regime_symbols)
                return {"symbols": symbols, "available": len(symbols)}
            available = await self.source.symbols()
            return {
                "symbols": available[: settings.regime_max_symbols],
                "available": len(available),
            }

        return dict(await self.answers.get("universe", "all", settings.symbols_ttl_s, load))

    async def require(self, symbol: str) -> None:
        """Raise a 404 problem unless ``symbol`` is covered."""
        universe = await self.universe()
        if symbol not in universe["symbols"]:
            covered = len(universe["symbols"])
            detail = f"the regime service covers {covered} symbols and {symbol!r} is not one"
            if covered < universe["available"]:
                detail += " (QUANTGRID_REGIME_SYMBOLS or QUANTGRID_REGIME_MAX_SYMBOLS choose them)"
            raise SymbolNotFoundError(symbol, detail)

    # -- bars ----------------------------------------------------------------------------
    async def _bars(self, symbol: str, start: int, end: int, limit: int, ttl_s: float) -> Any:
        async def load() -> Any:
            try:
                bars = await self.source.ohlcv(symbol, start, end, self.timeframe, limit=limit)
            except UnknownSymbolError:
                return {"ts": []}  # listed but gone (delisted): no bars, UNKNOWN
            except UnsupportedTimeframeError as exc:
                # Bars too coarse for the regime timeframe (a daily file among minute
                # ones): this symbol is UNKNOWN, the others still classified.
                _log.warning("regime: %s; it is UNKNOWN", exc)
                return {"ts": []}
            columns = ("open", "high", "low", "close", "volume")
            data: dict[str, Any] = {"ts": bars.ts.tolist()}
            data.update({name: getattr(bars, name).tolist() for name in columns})
            return data

        key = f"{symbol}:{self.timeframe.value}:{start}:{end}:{limit}"
        return await self.answers.get("bars", key, ttl_s, load)

    async def _market(
        self, windows: Mapping[str, tuple[int, int]], limit: int, ttl_s: float
    ) -> dict[str, RegimeFrame]:
        """Classify together the bars of each symbol within its ``(start, end)`` window."""
        symbols = list(windows)
        loaded = await asyncio.gather(*(self._bars(s, *windows[s], limit, ttl_s) for s in symbols))
        series = {
            symbol: BarSeries.from_arrays(
                symbol,
                data["ts"],
                data.get("open", []),
                data.get("high", []),
                data.get("low", []),
                data.get("close", []),
                data.get("volume", []),
            )
            for symbol, data in zip(symbols, loaded, strict=True)
        }
        aligned = _align(series)
        if not aligned or len(next(iter(aligned.values()))) == 0:
            return {}
        return await asyncio.to_thread(self.detector.detect, aligned)

    async def _latest_ends(self, symbols: Sequence[str]) -> dict[str, int]:
        """Return, by symbol, the close of the bar forming at its latest price."""

        async def latest(symbol: str) -> int | None:
            try:
                return (await self.source.latest_price(symbol)).ts_event
            except UnknownSymbolError:
                return None

        found = await asyncio.gather(*(latest(s) for s in symbols))
        step = self.timeframe.nanos
        return {
            symbol: -((-ts) // step) * step
            for symbol, ts in zip(symbols, found, strict=True)
            if ts is not None
        }

    # -- answers -------------------------------------------------------------------------
    async def current(self) -> dict[str, Any]:
        """Return the current regime of every covered symbol (cached ``regime_ttl_s``).

        ``{"as_of", "ts_event", "readings": {symbol: reading}}``, a reading being
        ``{"regime", "confidence", "ts_event", "as_of", "indicators"}``.
        """
        settings = self.settings

        async def load() -> Any:
            symbols = (await self.universe())["symbols"]
            ends = await self._latest_ends(symbols)
            readings: dict[str, Any] = {s: None for s in symbols}
            lookback = settings.regime_lookback_bars
            span = lookback * self.timeframe.nanos
            windows = {symbol: (end - span, end) for symbol, end in ends.items()}
            frames = await self._market(windows, lookback, settings.regime_ttl_s)
            for symbol, frame in frames.items():
                readings[symbol] = _reading(frame, len(frame) - 1)
            stamps = [r["ts_event"] for r in readings.values() if r is not None]
            latest = max(stamps) if stamps else None
            return {
                "ts_event": latest,
                "as_of": None if latest is None else ns_to_iso(latest),
                "readings": readings,
            }

        return dict(await self.answers.get("current", "all", settings.regime_ttl_s, load))

    async def history(
        self, symbol: str, start: datetime | None, end: datetime | None
    ) -> dict[str, Any]:
        """Return the regime of each bar of ``symbol`` within ``[start, end]``.

        Without ``end``, up to the bar forming at the symbol's latest price; without
        ``start``, the 24 hours before ``end``.

        Raises
        ------
        InvalidQueryError
            If ``start`` is not before ``end``, or the window holds more than
            ``regime_max_history_bars`` bars.
        """
        if start is not None and end is not None and start >= end:
            raise InvalidQueryError("query.start", "before_end", "start must be before end")
        await self.require(symbol)
        settings = self.settings
        step = self.timeframe.nanos
        symbols = (await self.universe())["symbols"]
        if end is not None:
            end_ns = dt_to_ns(end)
        else:
            end_ns = (await self._latest_ends([symbol])).get(symbol, 0)
        start_ns = dt_to_ns(start) if start is not None else end_ns - NANOS_PER_DAY
        window = max(0, -((-(end_ns - start_ns)) // step))
        if window > settings.regime_max_history_bars:
            message = (
                f"the window holds {window} bars of {self.timeframe.value}; "
                f"at most {settings.regime_max_history_bars} may be asked for"
            )
            raise InvalidQueryError("query.start", "max_window", message)
        key = f"{symbol}:{start_ns}:{end_ns}"

        async def load() -> Any:
            lookback = settings.regime_lookback_bars
            frames: dict[str, RegimeFrame] = {}
            if window:
                span = (start_ns - lookback * step, end_ns)
                frames = await self._market(
                    dict.fromkeys(symbols, span),
                    lookback + window + 1,
                    settings.regime_history_ttl_s,
                )
            points: list[dict[str, Any]] = []
            frame = frames.get(symbol) if window else None
            if frame is not None:
                inside = np.flatnonzero((frame.ts >= start_ns + step) & (frame.ts <= end_ns))
                points = [
                    {
                        "ts_event": int(frame.ts[i]),
                        "regime": regime_name(int(frame.regime[i])),
                        "confidence": float(frame.confidence[i]),
                    }
                    for i in inside
                ]
            return {
                "symbol": symbol,
                "timeframe": self.timeframe.value,
                "start": ns_to_iso(start_ns),
                "end": ns_to_iso(end_ns),
                "points": points,
                "segments": _segments(points),
            }

        return dict(await self.answers.get("history", key, settings.regime_history_ttl_s, load))
