"""Settings of the regime service."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from quantgrid.adapters.market_data import Timeframe, is_symbol
from quantgrid.services.market_data import UpstreamSettings


class RegimeSettings(UpstreamSettings):
    """The regime service's settings: the upstream's (as market-data's), and its own.

    Each field ``name`` comes from ``QUANTGRID_<NAME>`` (``QUANTGRID_REGIME_SYMBOLS``).

    Attributes
    ----------
    regime_timeframe
        The bars regimes are detected on. The shipped model knows one-minute bars of
        the synthetic market.
    regime_lookback_bars
        Bars read before the first one classified, so the features have settled (the
        long volatility's span is 1000 bars); at least the detector's warm-up + 1.
    regime_symbols
        The symbols classified together (comma-separated in the environment); every
        symbol of the source if empty, up to ``regime_max_symbols``.
    regime_max_symbols
        The most symbols classified together.
    regime_ttl_s
        Seconds the current regimes (and the bars behind them) are cached.
    regime_history_ttl_s
        Seconds a history is cached.
    regime_max_history_bars
        The most bars one history answer covers.
    symbols_ttl_s
        Seconds the source's symbol list is cached.
    """

    regime_timeframe: Timeframe = Timeframe.M1
    regime_lookback_bars: int = Field(default=1500, ge=2, le=20_000)
    regime_symbols: tuple[str, ...] = ()
    regime_max_symbols: int = Field(default=50, ge=1, le=500)
    regime_ttl_s: float = Field(default=30.0, gt=0, le=86_400)
    regime_history_ttl_s: float = Field(default=300.0, gt=0, le=86_400)
    regime_max_history_bars: int = Field(default=5_000, ge=1, le=50_000)
    symbols_ttl_s: float = Field(default=300.0, gt=0, le=86_400)

    @field_validator("regime_symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("regime_symbols")
    @classmethod
    def _check_symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [s for s in value if not is_symbol(s)]
        if bad:
            msg = f"{len(bad)} entries are not symbols (letters, digits, '.', '_', '-')"
            raise ValueError(msg)
        return tuple(dict.fromkeys(value))
