"""Resolve predictions against market data, and score them against naive baselines.

``resolve_prediction`` turns a ``Prediction`` and the instrument's bars into a
``PredictionOutcome`` once its horizon has passed; ``evaluate_predictions`` turns many
of them into an ``EvaluationReport``: hit rate, Brier score, calibration, accuracy per
instrument, per confidence bucket and per model version, beside the always-up and
last-direction baselines on the same calls.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import numpy.typing as npt

from quantgrid.core import NANOS_PER_DAY, NANOS_PER_SECOND, dt_to_ns
from quantgrid.ml._predictions import (
    Direction,
    HorizonKind,
    OutcomeStatus,
    Prediction,
    PredictionOutcome,
    UnresolvableReason,
)
from quantgrid.model import BarSeries, FloatArray

#: Bars reach the store at most this long after their close (a session is complete
#: once its local midnight is this far in the past).
DEFAULT_DATA_LAG_NS = 3600 * NANOS_PER_SECOND
#: The longest stretch without bars that is still a market closure rather than missing
#: data: longer than any exchange holiday (a week at the Lunar New Year).
DEFAULT_MAX_GAP_NS = 10 * NANOS_PER_DAY
#: Confidence buckets of the report: [0, 0.5), [0.5, 0.6), ..., [0.9, 1].
DEFAULT_CONFIDENCE_EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def due_time_ns(prediction: Prediction) -> int:
    """Return the earliest time (UTC ns) at which ``prediction`` could be resolved.

    A lower bound, for a store to pick the predictions worth trying: a duration
    horizon ends at ``ts_event + duration``; a session horizon cannot end before the
    local midnight that starts the ``k``-th day after the prediction's local date
    (its exit session's last bar is known only once that session's date is over); a
    bar horizon has no clock length, so it is due as soon as a later bar could exist.
    """
    horizon = prediction.horizon
    if horizon.kind is HorizonKind.DURATION:
        return prediction.ts_event + horizon.value
    if horizon.kind is HorizonKind.SESSIONS:
        tz = ZoneInfo(prediction.exchange_tz)
        day = _local_date(prediction.ts_event, tz)
        return _local_midnight(day + timedelta(days=horizon.value), tz)
    return prediction.ts_event + 1


def resolve_prediction(
    prediction: Prediction,
    bars: BarSeries,
    now_ns: int,
    *,
    hold_band: float = 0.0,
    data_lag_ns: int = DEFAULT_DATA_LAG_NS,
    max_gap_ns: int = DEFAULT_MAX_GAP_NS,
) -> PredictionOutcome | None:
    """Resolve ``prediction`` against ``bars`` as known at ``now_ns``.

    Parameters
    ----------
    prediction
        The prediction to resolve.
    bars
        The instrument's bars (``ts`` the bar's close time, strictly increasing), from
        at least one horizon before the prediction (for the prior return) to now.
        Bars after ``now_ns`` are ignored: they were not known yet.
    now_ns
        The evaluator's clock (UTC ns); it becomes ``ts_resolved``.
    hold_band
        A HOLD is right when ``|realized_return| <= hold_band``; pass the threshold
        the model's labels used (``fixed_horizon_labels(threshold=...)``).
    data_lag_ns
        How late a bar may reach the data after its close: a session date is complete
        once its local midnight is this far in the past.
    max_gap_ns
        The longest gap between bars that is a market closure, not missing data.

    Returns
    -------
    PredictionOutcome or None
        None while the horizon has not passed in the data (nor, for a session horizon,
        by the clock); otherwise the outcome, RESOLVED or UNRESOLVABLE with a reason.

    Raises
    ------
    ValueError
        If the bars are of another instrument or not strictly increasing in time, or
        an argument is out of range.

    Notes
    -----
    The entry is the close of the last bar at or before ``ts_event``. The exit, per
    horizon kind: ``BARS`` the ``k``-th bar after the entry bar; ``DURATION`` the last
    bar at or before ``ts_event + d``, known once a bar at or after that time exists
    (no bar between entry and that time is UNRESOLVABLE); ``SESSIONS`` the last bar of
    the ``k``-th local trading date after the entry bar's local date, known once a bar
    of a later date exists or that date's local midnight is ``data_lag_ns`` past.
    Trading dates come from the bars in the exchange's time zone, so a 15:55 New York
    prediction with one session resolves at the next New York trading day's close.
    A horizon the data has not reached stays pending (None) unless no bar has come
    for ``max_gap_ns``: then it is UNRESOLVABLE (the data ended). ``prior_return`` is
    the log return over the same horizon up to the entry, counted the same way
    backwards (``k`` bars; the last bar at or before ``ts_event - d``; the last bar
    of the ``k``-th trading date before the entry's), None if the data starts later.
    """
    _check_resolve_args(prediction, bars, now_ns, hold_band, data_lag_ns, max_gap_ns)
    if now_ns < due_time_ns(prediction):
        return None
    resolution = _Resolution(prediction, bars, now_ns, data_lag_ns, max_gap_ns)
    return resolution.run(hold_band)


class _Resolution:
    """One prediction against the bars known at ``now``."""

    def __init__(
        self,
        prediction: Prediction,
        bars: BarSeries,
        now_ns: int,
        data_lag_ns: int,
        max_gap_ns: int,
    ) -> None:
        self.p = prediction
        self.ts = bars.ts
        self.close = bars.close
        self.n = int(np.searchsorted(bars.ts, now_ns, side="right"))  # bars known now
        self.now = now_ns
        self.lag = data_lag_ns
        self.max_gap = max_gap_ns
        self.tz = ZoneInfo(prediction.exchange_tz)

    def run(self, hold_band: float) -> PredictionOutcome | None:
        p, ts, n = self.p, self.ts, self.n
        i = int(np.searchsorted(ts[:n], p.ts_event, side="right")) - 1
        if i < 0:
            if n > 0:
                first = int(ts[0])
                detail = f"no bar at or before the prediction time: the first bar is at {first}"
                return self._unresolvable(UnresolvableReason.NO_ENTRY_BAR, detail)
            if self.now - p.ts_event > self.max_gap:
                detail = "no bar at or before the prediction time: no bars up to now"
                return self._unresolvable(UnresolvableReason.NO_ENTRY_BAR, detail)
            return None
        ts_entry = int(ts[i])
        if p.ts_event - ts_entry > self.max_gap:
            days = (p.ts_event - ts_entry) / NANOS_PER_DAY
            detail = f"the last bar before the prediction is {days:.1f} days older than it"
            return self._unresolvable(UnresolvableReason.STALE_ENTRY, detail)
        entry = float(self.close[i])
        if not _is_price(entry):
            detail = f"the entry bar's close at {ts_entry} is {entry!r}"
            return self._unresolvable(UnresolvableReason.BAD_PRICE, detail)

        exit_index = self._exit(i)
        if isinstance(exit_index, str):
            return self._unresolvable(UnresolvableReason.NO_BAR_IN_HORIZON, exit_index, i)
        if exit_index is None:
            last = int(ts[n - 1])
            if self.now - last <= self.max_gap:
                return None
            days = (self.now - last) / NANOS_PER_DAY
            detail = f"data ends before the horizon: no bar for {days:.1f} days"
            return self._unresolvable(UnresolvableReason.DATA_ENDS, detail, i)
        exit_price = float(self.close[exit_index])
        if not _is_price(exit_price):
            detail = f"the exit bar's close at {int(ts[exit_index])} is {exit_price!r}"
            return self._unresolvable(UnresolvableReason.BAD_PRICE, detail, i)

        realized = math.log(exit_price / entry)
        return PredictionOutcome(
            prediction_id=p.prediction_id,
            status=OutcomeStatus.RESOLVED,
            ts_resolved=self.now,
            ts_entry=ts_entry,
            entry_price=entry,
            ts_exit=int(ts[exit_index]),
            exit_price=exit_price,
            realized_return=realized,
            prior_return=self._prior_return(i, entry),
            hit=_is_hit(p.direction, realized, hold_band),
        )

    def _unresolvable(
        self, reason: UnresolvableReason, detail: str, entry: int | None = None
    ) -> PredictionOutcome:
        return PredictionOutcome(
            prediction_id=self.p.prediction_id,
            status=OutcomeStatus.UNRESOLVABLE,
            ts_resolved=self.now,
            reason=reason,
            detail=detail,
            ts_entry=None if entry is None else int(self.ts[entry]),
            entry_price=None if entry is None else float(self.close[entry]),
        )

    def _exit(self, i: int) -> int | str | None:
        """Return the exit bar's index, None (not known yet), or why there is none."""
        horizon = self.p.horizon
        if horizon.kind is HorizonKind.BARS:
            j = i + horizon.value
            return j if j < self.n else None
        if horizon.kind is HorizonKind.DURATION:
            end = self.p.ts_event + horizon.value
            j = int(np.searchsorted(self.ts[: self.n], end, side="left"))  # first ts >= end
            if j == self.n:
                return None  # a later bar may still come at or before the end
            exit_index = j if int(self.ts[j]) == end else j - 1
            if exit_index == i:
                return f"no bar between the entry at {int(self.ts[i])} and the horizon end {end}"
            return exit_index
        return self._session_exit(i, horizon.value)

    def _session_exit(self, i: int, sessions: int) -> int | None:
        seen, current = 0, _local_date(int(self.ts[i]), self.tz)
        for j in range(i + 1, self.n):
            day = _local_date(int(self.ts[j]), self.tz)
            if day > current:  # a new trading date (local dates only move forward)
                if seen == sessions:
                    return j - 1  # the last bar of the k-th date: a later date has begun
                seen, current = seen + 1, day
        complete = _local_midnight(current + timedelta(days=1), self.tz) + self.lag
        if seen == sessions and self.now >= complete:
            return self.n - 1
        return None

    def _prior_return(self, i: int, entry: float) -> float | None:
        horizon = self.p.horizon
        p_index: int | None
        if horizon.kind is HorizonKind.BARS:
            p_index = i - horizon.value if i >= horizon.value else None
        elif horizon.kind is HorizonKind.DURATION:
            start = self.p.ts_event - horizon.value
            j = int(np.searchsorted(self.ts, start, side="right")) - 1
            p_index = j if 0 <= j < i else None
        else:
            p_index = self._session_start(i, horizon.value)
        if p_index is None:
            return None
        price = float(self.close[p_index])
        return math.log(entry / price) if _is_price(price) else None

    def _session_start(self, i: int, sessions: int) -> int | None:
        seen, current = 0, _local_date(int(self.ts[i]), self.tz)
        for j in range(i - 1, -1, -1):
            day = _local_date(int(self.ts[j]), self.tz)
            if day < current:  # walking back, the first bar of a date is its last
                seen, current = seen + 1, day
                if seen == sessions:
                    return j
        return None


def _check_resolve_args(
    prediction: Prediction,
    bars: BarSeries,
    now_ns: int,
    hold_band: float,
    data_lag_ns: int,
    max_gap_ns: int,
) -> None:
    if not isinstance(prediction, Prediction):
        raise TypeError(f"prediction must be a Prediction, got {type(prediction).__name__}")
    if bars.instrument_id != prediction.instrument_id:
        msg = (
            f"bars: must be of the prediction's instrument {prediction.instrument_id!r}, "
            f"got {bars.instrument_id!r}"
        )
        raise ValueError(msg)
    if len(bars) > 1 and not bool(np.all(np.diff(bars.ts) > 0)):
        bad = int(np.argmax(np.diff(bars.ts) <= 0)) + 1
        msg = f"bars: ts must be strictly increasing, but bar {bad} is not after bar {bad - 1}"
        raise ValueError(msg)
    for name, value in (("now_ns", now_ns), ("data_lag_ns", data_lag_ns)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(
                f"{name}: must be a non-negative integer of nanoseconds, got {value!r}"
            )
    if isinstance(max_gap_ns, bool) or not isinstance(max_gap_ns, int) or max_gap_ns <= 0:
        raise ValueError(
            f"max_gap_ns: must be a positive integer of nanoseconds, got {max_gap_ns!r}"
        )
    if not isinstance(hold_band, int | float) or not 0.0 <= hold_band < math.inf:
        raise ValueError(f"hold_band: must be a finite number >= 0, got {hold_band!r}")


def _is_price(value: float) -> bool:
    return math.isfinite(value) and value > 0.0


def _is_hit(direction: Direction, realized: float, hold_band: float) -> bool:
    if direction is Direction.BUY:
        return realized > 0.0
    if direction is Direction.SELL:
        return realized < 0.0
    return abs(realized) <= hold_band


def _local_date(ts_ns: int, tz: ZoneInfo) -> date:
    # Whole seconds decide the date: UTC offsets are whole seconds.
    return datetime.fromtimestamp(ts_ns // NANOS_PER_SECOND, tz).date()


def _local_midnight(day: date, tz: ZoneInfo) -> int:
    """Return the first instant (UTC ns) of ``day`` in ``tz``."""
    return dt_to_ns(datetime.combine(day, time(0), tzinfo=tz))


# -- the report ----------------------------------------------------------------------------
class HitRate(msgspec.Struct, frozen=True, kw_only=True):
    """How many calls there were and how many were right (``hit_rate`` None if none)."""

    count: int
    hits: int
    hit_rate: float | None


class ConfidenceBin(msgspec.Struct, frozen=True, kw_only=True):
    """Calls whose confidence is in ``[lower, upper)`` (the last bin includes 1).

    ``mean_confidence`` beside ``hit_rate`` is one point of a calibration curve.
    """

    lower: float
    upper: float
    count: int
    hits: int
    hit_rate: float
    mean_confidence: float


class GroupScore(msgspec.Struct, frozen=True, kw_only=True):
    """The calls of one instrument or one model version, and how they did.

    ``mean_directional_return`` is the mean log return taken in the call's direction
    (the return for a BUY, minus it for a SELL).
    """

    key: str
    count: int
    hits: int
    hit_rate: float
    mean_confidence: float
    mean_directional_return: float


class ModelScore(msgspec.Struct, frozen=True, kw_only=True):
    """The calls of one model version, and how they did (see ``GroupScore``)."""

    model_name: str
    model_version: int
    count: int
    hits: int
    hit_rate: float
    mean_confidence: float
    mean_directional_return: float


class EvaluationReport(msgspec.Struct, frozen=True, kw_only=True):
    """How a set of predictions did, beside naive baselines on the same calls.

    Attributes
    ----------
    total, resolved, unresolvable, pending
        Predictions given; those resolved, unresolvable, and not resolved yet.
    unresolvable_by_reason
        Unresolvable predictions per ``UnresolvableReason`` value.
    calls
        Resolved BUY and SELL predictions and how many were right: the hit rate.
    holds
        Resolved HOLD predictions, right when the move stayed within the hold band.
    brier_score
        Mean of ``(confidence - hit)**2`` over the calls (0 is perfect; a constant 0.5
        scores 0.25); None without calls.
    calibration
        Calls in ``n_bins`` equal confidence bins, empty bins left out: a calibrated
        model's ``hit_rate`` is near its ``mean_confidence`` in every bin.
    by_confidence
        Calls per confidence bucket (``confidence_edges``), empty ones left out.
    by_instrument, by_model
        Calls per instrument, and per model name and version.
    always_up
        The baseline that always says BUY, on the same calls: right when the return
        is positive.
    last_direction
        The baseline that calls the direction of the prior return (BUY if positive,
        SELL if negative), judged like the model, on the calls whose prior return is
        known and non-zero (its ``count`` says how many).
    mean_directional_return
        Mean log return of the calls taken in their direction; None without calls.
    """

    total: int
    resolved: int
    unresolvable: int
    pending: int
    unresolvable_by_reason: dict[str, int]
    calls: HitRate
    holds: HitRate
    brier_score: float | None
    calibration: tuple[ConfidenceBin, ...]
    by_confidence: tuple[ConfidenceBin, ...]
    by_instrument: tuple[GroupScore, ...]
    by_model: tuple[ModelScore, ...]
    always_up: HitRate
    last_direction: HitRate
    mean_directional_return: float | None


def evaluate_predictions(
    pairs: Iterable[tuple[Prediction, PredictionOutcome | None]],
    *,
    n_bins: int = 10,
    confidence_edges: Sequence[float] = DEFAULT_CONFIDENCE_EDGES,
) -> EvaluationReport:
    """Score predictions by their outcomes (None for one not resolved yet).

    Parameters
    ----------
    pairs
        Each prediction with its outcome, or None while it is pending.
    n_bins
        Equal-width confidence bins of the calibration curve, on [0, 1].
    confidence_edges
        Increasing edges of the confidence buckets, from 0 to 1.

    Raises
    ------
    ValueError
        If an outcome is not its prediction's, a prediction id repeats, or a
        parameter is out of range.

    Notes
    -----
    Scores cover the calls: resolved BUY and SELL predictions. A call is right when
    the realized return has its sign (zero is a miss for both); HOLDs are scored
    apart. The Brier score takes the confidence as the probability that the call is
    right; it equals ``sklearn.metrics.brier_score_loss(hits, confidences)``, and the
    calibration bins ``sklearn.calibration.calibration_curve`` with uniform bins
    (except that a confidence exactly on an edge goes to the bin above it here).
    """
    edges = _check_report_args(n_bins, confidence_edges)
    seen: set[str] = set()
    calls: list[tuple[Prediction, PredictionOutcome]] = []
    holds = hold_hits = pending = unresolvable = 0
    reasons: dict[str, int] = {}
    for prediction, outcome in pairs:
        _check_pair(prediction, outcome, seen)
        if outcome is None:
            pending += 1
        elif outcome.status is OutcomeStatus.UNRESOLVABLE:
            unresolvable += 1
            assert outcome.reason is not None
            reasons[outcome.reason.value] = reasons.get(outcome.reason.value, 0) + 1
        elif prediction.direction is Direction.HOLD:
            holds += 1
            hold_hits += bool(outcome.hit)
        else:
            calls.append((prediction, outcome))

    confidence = np.array([p.confidence for p, _ in calls], dtype=np.float64)
    hit = np.array([bool(o.hit) for _, o in calls], dtype=bool)
    realized = np.array([o.realized_return for _, o in calls], dtype=np.float64)
    sign = np.array([1.0 if p.direction is Direction.BUY else -1.0 for p, _ in calls])
    directional = sign * realized
    prior = np.array(
        [np.nan if o.prior_return is None else o.prior_return for _, o in calls],
        dtype=np.float64,
    )
    with_prior = np.isfinite(prior) & (prior != 0.0)
    last_direction_hits = np.sign(prior[with_prior]) * realized[with_prior] > 0.0

    by_instrument: dict[str, list[int]] = {}
    by_model: dict[tuple[str, int], list[int]] = {}
    for k, (prediction, _) in enumerate(calls):
        by_instrument.setdefault(prediction.instrument_id, []).append(k)
        by_model.setdefault((prediction.model_name, prediction.model_version), []).append(k)
    scores = _Scores(confidence, hit, directional)
    return EvaluationReport(
        total=len(seen),
        resolved=len(calls) + holds,
        unresolvable=unresolvable,
        pending=pending,
        unresolvable_by_reason=dict(sorted(reasons.items())),
        calls=_hit_rate(len(calls), int(hit.sum())),
        holds=_hit_rate(holds, hold_hits),
        brier_score=float(np.mean((confidence - hit) ** 2)) if calls else None,
        calibration=_bins(confidence, hit, np.arange(n_bins + 1) / n_bins),
        by_confidence=_bins(confidence, hit, edges),
        by_instrument=tuple(
            scores.group(key, np.array(rows)) for key, rows in sorted(by_instrument.items())
        ),
        by_model=tuple(
            scores.model(name, version, np.array(rows))
            for (name, version), rows in sorted(by_model.items())
        ),
        always_up=_hit_rate(len(calls), int(np.sum(realized > 0.0))),
        last_direction=_hit_rate(int(with_prior.sum()), int(last_direction_hits.sum())),
        mean_directional_return=float(directional.mean()) if calls else None,
    )


def _check_report_args(n_bins: int, confidence_edges: Sequence[float]) -> FloatArray:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins: must be a positive integer, got {n_bins!r}")
    edges = np.asarray(confidence_edges, dtype=np.float64)
    if (
        edges.ndim != 1
        or len(edges) < 2
        or edges[0] != 0.0
        or edges[-1] != 1.0
        or not bool(np.all(np.diff(edges) > 0))
    ):
        msg = f"confidence_edges: must increase from 0 to 1, got {tuple(confidence_edges)!r}"
        raise ValueError(msg)
    return edges


def _check_pair(prediction: Prediction, outcome: PredictionOutcome | None, seen: set[str]) -> None:
    if not isinstance(prediction, Prediction):
        raise TypeError(f"pairs: expected (Prediction, outcome) pairs, got {prediction!r}")
    pid = prediction.prediction_id
    if pid in seen:
        raise ValueError(f"pairs: prediction {pid} is given more than once")
    seen.add(pid)
    if outcome is not None and outcome.prediction_id != pid:
        msg = f"pairs: prediction {pid} is paired with the outcome of {outcome.prediction_id}"
        raise ValueError(msg)


def _hit_rate(count: int, hits: int) -> HitRate:
    return HitRate(count=count, hits=hits, hit_rate=hits / count if count else None)


def _bins(
    confidence: FloatArray, hit: npt.NDArray[np.bool_], edges: FloatArray
) -> tuple[ConfidenceBin, ...]:
    # [lower, upper), the last bin closed: a confidence of exactly 1 is in it.
    index = np.searchsorted(edges[1:-1], confidence, side="right")
    bins = []
    for k in range(len(edges) - 1):
        mask = index == k
        count = int(mask.sum())
        if count:
            bins.append(
                ConfidenceBin(
                    lower=float(edges[k]),
                    upper=float(edges[k + 1]),
                    count=count,
                    hits=int(hit[mask].sum()),
                    hit_rate=float(hit[mask].mean()),
                    mean_confidence=float(confidence[mask].mean()),
                )
            )
    return tuple(bins)


class _Scores:
    """The calls' confidences, hits and directional returns, scored by group."""

    def __init__(
        self, confidence: FloatArray, hit: npt.NDArray[np.bool_], directional: FloatArray
    ) -> None:
        self.confidence, self.hit, self.directional = confidence, hit, directional

    def group(self, key: str, rows: npt.NDArray[np.intp]) -> GroupScore:
        return GroupScore(
            key=key,
            count=len(rows),
            hits=int(self.hit[rows].sum()),
            hit_rate=float(self.hit[rows].mean()),
            mean_confidence=float(self.confidence[rows].mean()),
            mean_directional_return=float(self.directional[rows].mean()),
        )

    def model(self, name: str, version: int, rows: npt.NDArray[np.intp]) -> ModelScore:
        group = self.group(name, rows)
        return ModelScore(
            model_name=name,
            model_version=version,
            count=group.count,
            hits=group.hits,
            hit_rate=group.hit_rate,
            mean_confidence=group.mean_confidence,
            mean_directional_return=group.mean_directional_return,
        )
