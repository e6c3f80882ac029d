"""The node's risk engine: the core ``RiskEngine`` plus what answering clients needs.

Changing limits while running (``reconfigure``) and re-counting recovered orders as
working (``track``) are the core engine's; this subclass adds the last verdict, so
the service can answer a denied submission with the check's numbers, a count of
denials and the reason of the trading state.
"""

from __future__ import annotations

from quantgrid.model import Order
from quantgrid.risk import RiskEngine, RiskRejection


class NodeRiskEngine(RiskEngine):
    """A ``RiskEngine`` that remembers its last verdict and counts its denials.

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

    @property
    def state_reason(self) -> str:
        """Return why the trading state is what it is (empty at start)."""
        return self._state_reason
