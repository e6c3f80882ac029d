"""The port to whatever runs strategies live: the paper-trading node, later a live one."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal, Protocol

from quantgrid.services import ServiceError, problem_type
from quantgrid.services.strategy._configs import StrategyConfig

#: Signals the fake host keeps per configuration.
FAKE_SIGNALS_KEPT = 1000


@dataclass(frozen=True, slots=True)
class StrategySignal:
    """An order a running strategy decided on: what it wanted, before risk and venue.

    Attributes
    ----------
    config_id
        The configuration whose strategy decided.
    instrument_id, side, order_type
        What, which way, how (``MARKET``, ``LIMIT``, ...).
    quantity
        Units, or ``None`` for "all available cash".
    price
        The limit or stop price, if any.
    ts_event
        When it decided, nanoseconds since the epoch, UTC.
    reason
        Why, in the strategy's words, if it says.
    """

    config_id: str
    instrument_id: str
    side: Literal["BUY", "SELL"]
    order_type: str
    quantity: float | None
    price: float | None
    ts_event: int
    reason: str = ""


#: Where a market replay is: ``finished`` has no bar left; ``failed`` says why.
ReplayState = Literal["starting", "playing", "finished", "failed"]


class StrategyStartError(ServiceError):
    """The host could not start the configuration's strategy (its model is not in
    production, it failed while warming up...): the message says why."""

    status = 409
    title = "Strategy could not start"
    type_uri = problem_type("strategy-not-started")


@dataclass(frozen=True, slots=True)
class ReplayProgress:
    """How far the market replay that paper trading runs on has got.

    Attributes
    ----------
    state
        ``starting``, ``playing``, ``finished`` (no bar left) or ``failed``.
    last_ts
        The time of the last moment played (or resumed from), nanoseconds since the
        epoch, UTC: the trading node's clock.
    played, total
        Moments played since this process started, and moments in the data.
    speed
        Times the data's own pace.
    error
        Why it failed, if it did.
    """

    state: ReplayState
    last_ts: int | None
    played: int
    total: int
    speed: float
    error: str | None = None


class StrategyHost(Protocol):
    """Starts and stops configured strategies and reports what they decide.

    The paper-trading node implements it (in process, or over HTTP through a
    ``ServiceClient``); ``InMemoryStrategyHost`` is its fake. A host that cannot be
    reached raises ``DependencyUnavailableError``, which the service answers with 503.
    """

    async def start_strategy(self, config: StrategyConfig) -> bool:
        """Run ``config``'s strategy; return ``False`` if it was already running.

        Raises ``StrategyStartError`` (409) if it cannot run, saying why.
        """
        ...

    async def stop_strategy(self, config_id: str) -> bool:
        """Stop the strategy of ``config_id``; return ``False`` if it was not running."""
        ...

    async def running_strategies(self) -> frozenset[str]:
        """Return the ids of the configurations whose strategies run."""
        ...

    async def recent_signals(self, config_id: str, limit: int) -> list[StrategySignal]:
        """Return the latest ``limit`` signals of ``config_id``, newest first."""
        ...


@dataclass
class InMemoryStrategyHost:
    """A ``StrategyHost`` that runs nothing: it remembers what runs and the signals given.

    Tests (and demos without a node) add signals with ``record_signal``.
    """

    _running: dict[str, StrategyConfig] = field(default_factory=dict)
    _signals: dict[str, deque[StrategySignal]] = field(default_factory=dict)

    async def start_strategy(self, config: StrategyConfig) -> bool:
        """Mark ``config`` running; return ``False`` if it already was."""
        if config.config_id in self._running:
            return False
        self._running[config.config_id] = config
        return True

    async def stop_strategy(self, config_id: str) -> bool:
        """Mark ``config_id`` stopped; return ``False`` if it was not running."""
        return self._running.pop(config_id, None) is not None

    async def running_strategies(self) -> frozenset[str]:
        """Return the ids of the configurations marked running."""
        return frozenset(self._running)

    async def recent_signals(self, config_id: str, limit: int) -> list[StrategySignal]:
        """Return the latest ``limit`` recorded signals of ``config_id``, newest first."""
        kept = self._signals.get(config_id, deque())
        return list(reversed(kept))[:limit]

    def record_signal(self, signal: StrategySignal) -> None:
        """Remember a signal, as if the configuration's strategy had decided it."""
        kept = self._signals.setdefault(signal.config_id, deque(maxlen=FAKE_SIGNALS_KEPT))
        kept.append(signal)
