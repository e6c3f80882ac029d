"""Working a post-only child at the touch, and what happens at a deadline.

Shared by ``post_only`` (one target: the whole parent) and the schedules (``twap``,
``vwap``: one target per slice).
"""

from __future__ import annotations

from quantgrid.execution.algorithms._base import ChildOrder, ExecAlgorithm
from quantgrid.execution.algorithms._messages import Urgency
from quantgrid.execution.algorithms._params import OnDeadline, PassiveParams
from quantgrid.model import OrderEvent, OrderFilled, QuoteTick


class PassiveWorker:
    """Rests one post-only child at the touch until the parent's fills reach a target.

    Rules
    -----
    - The child rests at the own-side best (the bid for a buy), ``improve_ticks``
      inside the spread when it is wide enough, never crossing, never beyond the
      parent's limit price. Its quantity is what the target still needs, less what
      other children of the parent may still fill.
    - When the touch moves away (up for a buy) by ``reprice_ticks`` or more, the child
      follows it; every ``reprice_interval_ns`` it is also brought back to the touch if
      it is elsewhere (either way). ``reprice_method`` says whether by amend or by
      cancel and replace.
    - A child that fills in full is followed at once by the next one. A child the venue
      refuses (a post-only that would cross because the touch moved while it travelled)
      or ends unasked is retried at the next quote, or at the next interval.
    - ``stop`` cancels the child; nothing more is sent until ``work_until`` again.
    """

    def __init__(self, algo: ExecAlgorithm, params: PassiveParams) -> None:
        self.algo = algo
        self.params = params
        self.target = 0.0
        self.active = False
        self.child: ChildOrder | None = None
        self.reprices = 0
        self._generation = 0

    def work_until(self, target: float) -> None:
        """Work passively until the parent's filled quantity reaches ``target``."""
        self.target = target
        self.active = True
        self._place()

    def stop(self) -> None:
        """Stop working and cancel the resting child, if any."""
        self.active = False
        self._generation += 1
        if self.child is not None:
            self.algo.cancel_child(self.child)

    def passive_price(self) -> float | None:
        """Return where the child should rest now (``None`` without a two-sided quote)."""
        algo = self.algo
        touch = algo.touch()
        if touch is None:
            return None
        own, opposite = touch
        price = own
        if self.params.improve_ticks:
            improved = algo.ticks_better(own, self.params.improve_ticks)
            inside = algo.ticks_better(opposite, -1)  # one tick short of crossing
            price = min(improved, inside) if algo.buy else max(improved, inside)
            price = max(price, own) if algo.buy else min(price, own)
        return algo.within_limit(price)

    def on_quote(self, quote: QuoteTick) -> None:
        """Place a child if one is due, or follow the touch if it moved away."""
        if not self.active:
            return
        child = self.child
        if child is None or child.closed:
            self._place()
            return
        if not child.accepted or child.cancel_requested or child.amend_pending:
            return
        price = self.passive_price()
        if price is None or child.price is None:
            return
        away = price - child.price if self.algo.buy else child.price - price
        step = self.algo.instrument.price_increment
        if away >= (self.params.reprice_ticks - 1e-9) * step:
            self._reprice(child, price)

    def on_child_closed(self, child: ChildOrder, event: OrderEvent) -> None:
        """Send the next child when the resting one filled or was replaced."""
        if child is not self.child:
            return
        self.child = None
        if self.active and (type(event) is OrderFilled or child.cancel_requested):
            self._place()

    def _place(self) -> None:
        algo = self.algo
        if not self.active or (self.child is not None and not self.child.closed):
            return
        wanted = self.target - algo.filled_qty - algo.open_qty
        quantity = algo.instrument.round_size_down(max(0.0, wanted))
        if quantity <= 0:
            return
        price = self.passive_price()
        if price is None:
            return
        child = algo.submit_limit(quantity, price, post_only=True)
        if child is not None:
            self.child = child
            self._arm_interval()

    def _reprice(self, child: ChildOrder, price: float) -> None:
        if self.params.reprice_method == "amend":
            if self.algo.amend_price(child, price):
                self.reprices += 1
                self._arm_interval()
        else:
            self.reprices += 1
            self.algo.cancel_child(child)

    def _arm_interval(self) -> None:
        interval = self.params.reprice_interval_ns
        self._generation += 1
        if interval is None:
            return
        generation = self._generation
        self.algo.set_timer(
            self.algo.context.now() + interval, lambda: self._on_interval(generation)
        )

    def _on_interval(self, generation: int) -> None:
        if generation != self._generation or not self.active:
            return
        child = self.child
        if child is None or child.closed:
            self._place()
            return
        price = self.passive_price()
        if (
            price is not None
            and price != child.price
            and child.accepted
            and not (child.cancel_requested or child.amend_pending)
        ):
            self._reprice(child, price)
        else:
            self._arm_interval()


def deadline_action(configured: OnDeadline | None, urgency: Urgency) -> OnDeadline:
    """Return what to do at a deadline: as configured, else cancel for LOW urgency."""
    if configured is not None:
        return configured
    return "cancel" if urgency is Urgency.LOW else "cross"


def finish_at_deadline(algo: ExecAlgorithm, action: OnDeadline) -> None:
    """End ``algo`` at its deadline once no child is open: cross the rest, or not.

    ``"cross"`` sends one marketable child for the rest and completes when it has
    ended; ``"cancel"`` completes at once with the rest unfilled.
    """
    rest = algo.remaining_qty
    if action == "cross" and rest > 0:
        algo.submit_marketable(rest)
        algo.when_idle(lambda: algo.complete("deadline: rest crossed"))
    else:
        algo.complete("deadline: rest not worked" if rest > 0 else "filled")
