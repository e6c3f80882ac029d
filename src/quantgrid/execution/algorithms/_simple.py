"""The single-order algorithms: ``market``, ``post_only`` and ``iceberg``."""

from __future__ import annotations

import zlib

import numpy as np

from quantgrid.execution.algorithms._base import ChildOrder, ExecAlgorithm
from quantgrid.execution.algorithms._messages import ParentOrder
from quantgrid.execution.algorithms._params import (
    AlgorithmParams,
    IcebergParams,
    MarketParams,
    PostOnlyParams,
)
from quantgrid.execution.algorithms._passive import (
    PassiveWorker,
    deadline_action,
    finish_at_deadline,
)
from quantgrid.model import (
    Instrument,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    QuoteTick,
)


class MarketAlgorithm(ExecAlgorithm):
    """Take liquidity at once for the whole quantity.

    One market order (IOC), or with a parent limit price one IOC limit order at that
    price. What the displayed book cannot fill is cancelled by the venue, and the parent
    completes with what filled. A child refused by the venue or a risk check cancels
    the parent with the refusal's reason. No horizon.
    """

    name = "market"
    Params = MarketParams

    def on_start(self) -> None:
        """Send the one marketable child."""
        self.submit_marketable(self.parent.quantity)
        self.when_idle(lambda: self.complete("market order ended with the rest unfilled"))

    def on_child_closed(self, child: ChildOrder, event: OrderEvent) -> None:
        """Cancel the parent if the child was refused."""
        if isinstance(event, OrderRejected | OrderDenied):
            self.abort(f"market order refused: {event.reason}")


class PostOnlyAlgorithm(ExecAlgorithm):
    """Rest a post-only limit at the touch, follow the touch, and act at the deadline.

    The child works as described by ``PassiveWorker`` (own-side best, repriced when the
    touch moves away by ``reprice_ticks`` or every ``reprice_interval_ns``, retried at
    the new touch after a post-only rejection). At the deadline (start + horizon) the
    child is cancelled; once the cancel is confirmed the rest is crossed with one
    marketable child (``on_deadline="cross"``, the default for NORMAL and HIGH urgency)
    or left unfilled (``"cancel"``, the default for LOW).
    """

    name = "post_only"
    Params = PostOnlyParams

    def on_start(self) -> None:
        """Rest the first child and set the deadline."""
        assert isinstance(self.params, PostOnlyParams)
        self.worker = PassiveWorker(self, self.params)
        self.worker.work_until(self.parent.quantity)
        if self.deadline_ns is not None:
            self.set_timer(self.deadline_ns, self._on_deadline)

    def on_quote(self, quote: QuoteTick) -> None:
        """Follow the touch."""
        self.worker.on_quote(quote)

    def on_child_closed(self, child: ChildOrder, event: OrderEvent) -> None:
        """Send the next child after a fill or a replace."""
        self.worker.on_child_closed(child, event)

    def _on_deadline(self) -> None:
        assert isinstance(self.params, PostOnlyParams)
        action = deadline_action(self.params.on_deadline, self.parent.urgency)
        self.worker.stop()
        self.when_idle(lambda: finish_at_deadline(self, action))


class IcebergAlgorithm(ExecAlgorithm):
    """Show ``display_quantity`` at a time at one limit price; refill when it fills.

    The price is the parent's limit price, or without one the own-side best (the bid
    for a buy) when the parent starts; it does not move. A shown child that fills in
    full is followed at once by the next, for ``display_quantity`` (drawn within
    ``± display_jitter`` of it when set, from a generator seeded with ``seed``) or the
    rest if smaller. A child the venue refuses or ends unasked is shown again at the
    next quote. With a horizon on the parent, the deadline cancels the rest
    (``on_deadline="cancel"``) or crosses it (``"cross"``); without one the iceberg
    works until filled or cancelled.
    """

    name = "iceberg"
    Params = IcebergParams

    @classmethod
    def check(cls, parent: ParentOrder, params: AlgorithmParams, instrument: Instrument) -> str:
        """Refuse a display quantity that is not a whole number of lots."""
        assert isinstance(params, IcebergParams)
        if not instrument.is_valid_size(params.display_quantity):
            return (
                f"iceberg: parameter 'display_quantity': {params.display_quantity:g} is not a "
                f"whole number of lots of {instrument.id} (lot size "
                f"{instrument.size_increment:g})"
            )
        return ""

    def on_start(self) -> None:
        """Fix the price, show the first child and set the deadline if there is one."""
        assert isinstance(self.params, IcebergParams)
        params = self.params
        seed = params.seed
        if seed is None:
            seed = zlib.crc32(self.parent.parent_id.encode())
        self._rng = np.random.default_rng(seed)
        touch = self.touch()
        limit = self.limit_price
        price = limit if limit is not None else (touch[0] if touch is not None else None)
        if price is None:
            self.abort("iceberg: no limit price and no two-sided quote to take one from")
            return
        self.price = price
        self.expired = False
        self.shown: ChildOrder | None = None
        self.display_sizes: list[float] = []
        self._show()
        if self.parent.horizon_ns is not None and self.deadline_ns is not None:
            self.set_timer(self.deadline_ns, self._on_deadline)

    def on_quote(self, quote: QuoteTick) -> None:
        """Show a child again after a refusal."""
        if not self.expired and (self.shown is None or self.shown.closed):
            self._show()

    def on_child_closed(self, child: ChildOrder, event: OrderEvent) -> None:
        """Refill at once when the shown child filled in full."""
        if child is self.shown and type(event) is OrderFilled and not self.expired:
            self._show()

    def _draw(self) -> float:
        assert isinstance(self.params, IcebergParams)
        display = self.params.display_quantity
        jitter = self.params.display_jitter
        if jitter <= 0:
            return display
        drawn = display * float(self._rng.uniform(1.0 - jitter, 1.0 + jitter))
        return max(self.instrument.round_size_down(drawn), self.instrument.size_increment)

    def _show(self) -> None:
        assert isinstance(self.params, IcebergParams)
        size = self._draw()
        child = self.submit_limit(size, self.price, post_only=self.params.post_only)
        if child is not None:
            self.shown = child
            self.display_sizes.append(child.quantity)

    def _on_deadline(self) -> None:
        assert isinstance(self.params, IcebergParams)
        action = self.params.on_deadline
        self.expired = True
        self.cancel_children()
        self.when_idle(lambda: finish_at_deadline(self, action))
