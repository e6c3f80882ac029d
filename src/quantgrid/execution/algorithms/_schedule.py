"""Scheduled algorithms: ``twap`` (equal slices) and ``vwap`` (slices by volume profile)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

from quantgrid.execution.algorithms._base import ChildOrder, ExecAlgorithm
from quantgrid.execution.algorithms._messages import Urgency
from quantgrid.execution.algorithms._params import (
    OnSliceEnd,
    PassiveParams,
    TwapParams,
    VwapParams,
)
from quantgrid.execution.algorithms._passive import (
    PassiveWorker,
    deadline_action,
    finish_at_deadline,
)
from quantgrid.model import OrderEvent, QuoteTick


def u_shaped_profile(slices: int) -> tuple[float, ...]:
    """Return a stylised U-shaped intraday volume profile over ``slices`` equal slices.

    Weight ``1 + 2 (2x - 1)^2`` at each slice's midpoint ``x`` in (0, 1): the first and
    last slices trade about three times the middle ones, as equity volume does around
    the open and the close. Normalised to sum to 1.

    Raises
    ------
    ValueError
        If ``slices`` is not a positive whole number.
    """
    if isinstance(slices, bool) or not isinstance(slices, int) or slices < 1:
        msg = f"slices must be a whole number >= 1, got {slices!r}"
        raise ValueError(msg)
    raw = [1.0 + 2.0 * (2.0 * (i + 0.5) / slices - 1.0) ** 2 for i in range(slices)]
    total = sum(raw)
    return tuple(w / total for w in raw)


def cumulative_lots(total_lots: int, weights: Sequence[float]) -> list[int]:
    """Split ``total_lots`` whole lots over slices in proportion to ``weights``.

    Returns the cumulative targets ``[0, c1, ..., total_lots]``: ``c_k`` is the nearest
    whole lot to ``total_lots * (w_1 + ... + w_k) / sum(w)``. Rounding the running sum
    (not each slice) keeps the targets non-decreasing, exact at the end, and every
    slice within one lot of its share: equal weights give sizes that differ by at most
    one lot, the larger ones spread evenly.
    """
    total_weight = math.fsum(weights)
    targets = [0]
    running = 0.0
    for weight in weights[:-1]:
        running += weight
        targets.append(min(total_lots, math.floor(total_lots * running / total_weight + 0.5)))
    targets.append(total_lots)
    return targets


class ScheduleAlgorithm(ExecAlgorithm):
    """Work the quantity over the horizon in time slices with cumulative targets.

    Slice ``k`` (0-based) of ``n`` runs from ``start + horizon * k // n`` to
    ``start + horizon * (k + 1) // n``; by its end the parent should have filled its
    cumulative target (whole lots, see ``cumulative_lots``). Within a slice a post-only
    child rests at the touch for the slice's quantity (``PassiveWorker``: repriced as
    the touch moves). At a slice's end the resting child is cancelled and, once no child
    is open:

    - ``on_slice_end="cross"`` (default for NORMAL and HIGH urgency): what the parent is
      behind its cumulative target is crossed with one marketable child, and the next
      slice rests its own quantity passively (plus, once that fills, whatever the
      crossing child could not fill from the displayed book);
    - ``"carry"`` (default for LOW): nothing is crossed; the next slice rests its own
      quantity plus what is behind.

    The last slice ends at the horizon: the rest is then crossed or left unfilled as
    ``on_deadline`` says (default: cancel for LOW, cross otherwise), and the parent
    completes. Slices of zero lots (more slices than lots) rest nothing.
    """

    def weights(self) -> Sequence[float]:
        """Return the relative size of each slice."""
        raise NotImplementedError

    def on_start(self) -> None:
        """Compute the slices, rest the first one and set the slice timers."""
        assert isinstance(self.params, PassiveParams)
        if self.horizon_ns is None:
            self.abort(f"{self.name}: a schedule needs a horizon")
            return
        weights = self.weights()
        lots = round(self.parent.quantity / self.instrument.size_increment)
        self.slice_targets = tuple(
            self.instrument.lots_to_size(c) for c in cumulative_lots(lots, weights)
        )
        n = len(weights)
        self.slice_bounds = tuple(self.ts_start + self.horizon_ns * k // n for k in range(n + 1))
        on_slice_end: OnSliceEnd | None = getattr(self.params, "on_slice_end", None)
        if on_slice_end is None:
            on_slice_end = "carry" if self.parent.urgency is Urgency.LOW else "cross"
        self.on_slice_end: OnSliceEnd = on_slice_end
        self.current_slice = 0
        self._between_slices = False
        self.worker = PassiveWorker(self, self.params)
        self.worker.work_until(self.slice_targets[1])
        for k in range(1, n + 1):
            self.set_timer(self.slice_bounds[k], partial(self._on_slice_end, k))

    def on_quote(self, quote: QuoteTick) -> None:
        """Follow the touch."""
        self.worker.on_quote(quote)

    def on_child_closed(self, child: ChildOrder, event: OrderEvent) -> None:
        """Send the next child after a fill or a replace."""
        self.worker.on_child_closed(child, event)

    def _on_slice_end(self, k: int) -> None:
        self.current_slice = k
        self.worker.stop()
        if not self._between_slices:
            self._between_slices = True
            self.when_idle(self._next_slice)

    def _next_slice(self) -> None:
        self._between_slices = False
        k = self.current_slice
        n = len(self.slice_targets) - 1
        if k >= n:
            configured = getattr(self.params, "on_deadline", None)
            finish_at_deadline(self, deadline_action(configured, self.parent.urgency))
            return
        if self.on_slice_end == "cross":
            behind = self.slice_targets[k] - self.filled_qty
            if self.instrument.round_size_down(max(0.0, behind)) > 0:
                self.submit_marketable(behind)
        self.worker.work_until(self.slice_targets[k + 1])


class TwapAlgorithm(ScheduleAlgorithm):
    """Time-weighted: ``slices`` equal whole-lot slices over the horizon.

    See ``ScheduleAlgorithm`` for how each slice is worked and what happens at its end.
    """

    name = "twap"
    Params = TwapParams

    def weights(self) -> Sequence[float]:
        """Return equal weights, one per slice."""
        assert isinstance(self.params, TwapParams)
        return (1.0,) * self.params.slices


class VwapAlgorithm(ScheduleAlgorithm):
    """Volume-weighted: slice sizes follow a volume profile over the horizon.

    ``profile`` gives the expected share of volume in each equal time slice; without
    one, ``u_shaped_profile(slices)`` (10 slices by default). The profile is laid over
    the parent's horizon, whatever the time of day: give the part of the day's profile
    that the horizon covers. See ``ScheduleAlgorithm`` for how each slice is worked.
    """

    name = "vwap"
    Params = VwapParams

    def weights(self) -> Sequence[float]:
        """Return the profile's weights, or the U-shaped default."""
        assert isinstance(self.params, VwapParams)
        if self.params.profile is not None:
            return self.params.profile
        return u_shaped_profile(self.params.slices or 10)
