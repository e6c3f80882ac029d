"""The settings of a paper trading node."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NoReturn

from quantgrid.model import Instrument
from quantgrid.risk import RiskConfig
from quantgrid.venues import BookVenueConfig

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """What a paper trading node trades and how.

    Parameters
    ----------
    instruments
        The tradable instruments: a sequence of ``Instrument`` or a mapping from id to
        instrument, all in one currency. Kept as a read-only mapping.
    initial_cash
        The account's capital, deposited once when the store holds no cash movement
        of the account yet. On a restart the stored deposits must equal it.
    leverage
        Buying power is ``equity * leverage - gross exposure``.
    venue
        How the paper venue (an ``OrderBookVenue``) matches orders: fees, latency,
        queue model.
    risk
        Pre-trade limits. ``None`` runs the risk engine with no limits, so the trading
        states (halt, resume, kill switch) are always there.
    account_id
        The account's id in the store (positions, cash movements).
    venue_name
        Prefix of the paper venue's name. Each node run adds a session id to it, so
        venue order ids and trade ids never repeat across restarts.
    write_batch
        Most store writes handed to the store in one go (one transaction when the
        store supports ``transaction()``).
    equity_interval_ns
        Least time between two equity samples taken on market data (fills always
        take one).
    equity_history
        Equity samples kept in memory.

    Notes
    -----
    A node trades on the paper venue with the wall clock. ``TradingNode`` refuses a
    backtest config (``BacktestConfig``, ``ReplayConfig``), and ``ReplayEngine``
    refuses this one: backtest and paper differ only in the clock and the adapters.
    """

    instruments: Mapping[str, Instrument] | Sequence[Instrument]
    initial_cash: float = 100_000.0
    leverage: float = 1.0
    venue: BookVenueConfig = field(default_factory=BookVenueConfig)
    risk: RiskConfig | None = None
    account_id: str = "paper"
    venue_name: str = "PAPER"
    write_batch: int = 512
    equity_interval_ns: int = 1_000_000_000
    equity_history: int = 10_000

    def __post_init__(self) -> None:
        def fail(name: str, rule: str, value: object = None) -> NoReturn:
            shown = getattr(self, name) if value is None else value
            msg = f"NodeConfig.{name} {rule}, got {shown!r}"
            raise ValueError(msg)

        def number(value: object) -> bool:
            return isinstance(value, int | float) and not isinstance(value, bool)

        given = self.instruments
        pairs: list[tuple[object, object]] = []
        if isinstance(given, Mapping):
            pairs = list(given.items())
        elif isinstance(given, Sequence) and not isinstance(given, str):
            pairs = [(getattr(i, "id", None), i) for i in given]
        else:
            fail("instruments", "must be a sequence of Instrument or a mapping of them")
        if not pairs:
            fail("instruments", "must name at least one instrument")
        instruments: dict[str, Instrument] = {}
        for key, instrument in pairs:
            if not isinstance(instrument, Instrument):
                fail("instruments", "must hold Instrument objects", instrument)
            if key != instrument.id:
                fail("instruments", f"maps {key!r} to the instrument {instrument.id!r}", key)
            if instrument.id in instruments:
                fail("instruments", "names one instrument twice", key)
            instruments[instrument.id] = instrument
        currencies = sorted({i.currency for i in instruments.values()})
        if len(currencies) > 1:
            fail("instruments", "must all trade in one currency", currencies)
        object.__setattr__(self, "instruments", MappingProxyType(instruments))
        if not (number(self.initial_cash) and math.isfinite(self.initial_cash)):
            fail("initial_cash", "must be a number")
        if not self.initial_cash > 0:
            fail("initial_cash", "must be a positive number")
        if not (number(self.leverage) and math.isfinite(self.leverage) and self.leverage > 0):
            fail("leverage", "must be a positive number")
        if not isinstance(self.venue, BookVenueConfig):
            fail("venue", "must be a BookVenueConfig")
        if self.risk is not None and not isinstance(self.risk, RiskConfig):
            fail("risk", "must be a RiskConfig or None")
        if not (isinstance(self.account_id, str) and _ACCOUNT.fullmatch(self.account_id)):
            fail("account_id", "must be 1-64 letters, digits, '.', '_' or '-'")
        if not (isinstance(self.venue_name, str) and _NAME.fullmatch(self.venue_name)):
            fail("venue_name", "must be a letter then up to 31 letters, digits or '_'")
        for name, low in (("write_batch", 1), ("equity_interval_ns", 0), ("equity_history", 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                fail(name, f"must be a whole number >= {low}")

    def instrument_map(self) -> dict[str, Instrument]:
        """Return the instruments by id."""
        assert isinstance(self.instruments, Mapping)  # normalised in __post_init__
        return dict(self.instruments)

    @property
    def currency(self) -> str:
        """Return the account's currency: the instruments' one."""
        return next(iter(self.instrument_map().values())).currency
