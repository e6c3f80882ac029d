"""The node's risk engine: the core ``RiskEngine`` plus what a long-running node needs.

A backtest builds its risk engine once with fixed limits; a node also changes limits
while it runs, re-counts the orders it recovered from the store as working, and reports
the numbers behind a denial to the client. ``RiskEngine`` has no public way to do the
first two yet, so this subclass does them against its internals; they belong in
``quantgrid.risk`` (``RiskEngine.reconfigure`` and ``RiskEngine.track``), and this
class goes away when they are there.
"""

from __future__ import annotations

from quantgrid.model import Order
from quantgrid.risk import BAR_PRIORITY, RiskConfig, RiskEngine, RiskRejection

_MARKET_DATA = ("data.quotes.>", "data.trades.>", "data.book.>")


class NodeRiskEngine(RiskEngine):
    """A ``RiskEngine`` whose limits can change, and which remembers its last verdict.

    Attributes
    ----------
    last_rejection
        What the last ``check`` found (``None``: it passed). Read right after a
        submission, on the same loop turn, to answer the client with the numbers.
    """

    last_rejection: RiskRejection | None = None
    denied = 0

    def check(self, order: Order) -> RiskRejection | None:
        """Run the pre-trade checks (see ``RiskEngine.check``) and remember the verdict."""
        rejection = super().check(order)
        self.last_rejection = rejection
        return rejection

    def execute(self, command: object) -> None:
        """Check and forward a command (see ``RiskEngine.execute``), counting denials."""
        self.last_rejection = None
        super().execute(command)
        if self.last_rejection is not None:
            self.denied += 1

    def track(self, order: Order) -> None:
        """Count ``order`` among the working orders the limits see, without checking it.

        For orders recovered from the store: they passed the checks when they were
        submitted, and must count against the position limits again.
        """
        self._accept(order)

    def reconfigure(self, config: RiskConfig) -> None:
        """Apply new limits from the next check on; the trading state is kept."""
        if not isinstance(config, RiskConfig):
            msg = f"limits must be a RiskConfig, got {type(config).__name__}"
            raise TypeError(msg)
        breaker = config.reduce_at_drawdown is not None or config.halt_at_drawdown is not None
        if breaker and not self._breaker:
            self._bus.subscribe("data.bars.>", self.on_bar, priority=BAR_PRIORITY)
            for pattern in _MARKET_DATA:
                self._bus.subscribe(pattern, self.on_market_data, priority=BAR_PRIORITY)
        elif self._breaker and not breaker:
            self._bus.unsubscribe("data.bars.>", self.on_bar)
            for pattern in _MARKET_DATA:
                self._bus.unsubscribe(pattern, self.on_market_data)
        self.config = config
        self._limits.clear()
        self._breaker = breaker
        self._account_exposure = (
            config.max_gross_exposure is not None or config.max_net_exposure is not None
        )

    @property
    def state_reason(self) -> str:
        """Return why the trading state is what it is (empty at start)."""
        return self._state_reason
