"""The evaluator: resolve the predictions whose horizon has passed, against market data.

The body of the scheduler's "evaluate" job (``evaluation_job``) and of
``POST /evaluation/runs``: due predictions are read from the store, their instrument's
bars fetched once through the market-data port, each resolved by
``quantgrid.ml.resolve_prediction`` and the outcomes stored.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Sequence

import msgspec

from quantgrid.adapters.market_data import MarketDataError, MarketDataSource, Timeframe
from quantgrid.adapters.storage import ConflictError, PredictionStore
from quantgrid.core import NANOS_PER_DAY, Clock
from quantgrid.ml import (
    HorizonKind,
    OutcomeStatus,
    Prediction,
    PredictionOutcome,
    resolve_prediction,
)
from quantgrid.ml._evaluation import DEFAULT_DATA_LAG_NS, DEFAULT_MAX_GAP_NS
from quantgrid.model import BarSeries
from quantgrid.scheduler import JobAction
from quantgrid.services.evaluation._bars import fetch_bars

_log = logging.getLogger("quantgrid.services.evaluation")

#: The store's largest page: a batch of outcomes is saved, and due predictions read,
#: at most this many at a time.
MAX_BATCH = 1000
#: How far back the prior return of a session horizon may reach, per session: five
#: sessions a week, so two calendar days each covers weekends (``max_gap_ns`` more is
#: fetched for a holiday).
_SESSION_LOOKBACK_NS = 2 * NANOS_PER_DAY


class EvaluationRun(msgspec.Struct, frozen=True, kw_only=True):
    """What one ``Evaluator.resolve_due`` did.

    Attributes
    ----------
    ts_started, ts_finished
        The evaluator's clock when the run began (every outcome's ``ts_resolved``)
        and when it ended (UTC ns).
    due
        Predictions without an outcome that were due at ``ts_started``.
    instruments
        Instruments those predictions are on.
    resolved, unresolvable
        Outcomes found: RESOLVED, and UNRESOLVABLE with a reason.
    unresolvable_by_reason
        Unresolvable outcomes per ``UnresolvableReason`` value.
    pending
        Due predictions whose horizon the data has not reached yet.
    failed_instruments
        Instruments whose bars could not be had (a source error); their predictions
        stay due for the next run.
    failed_predictions
        Predictions of those instruments.
    saved
        Outcomes newly stored.
    already_resolved
        Outcomes another run stored first (a run racing this one); theirs is kept.

    Notes
    -----
    ``due == resolved + unresolvable + pending + failed_predictions``, and
    ``resolved + unresolvable == saved + already_resolved``.
    """

    ts_started: int
    ts_finished: int
    due: int
    instruments: int
    resolved: int
    unresolvable: int
    unresolvable_by_reason: dict[str, int]
    pending: int
    failed_instruments: tuple[str, ...]
    failed_predictions: int
    saved: int
    already_resolved: int

    def summary(self) -> str:
        """Return the run in one line, for the scheduler's job log."""
        text = (
            f"{self.due} due over {self.instruments} instrument(s): "
            f"{self.resolved} resolved, {self.unresolvable} unresolvable"
        )
        if self.unresolvable_by_reason:
            reasons = ", ".join(f"{r} {n}" for r, n in self.unresolvable_by_reason.items())
            text += f" ({reasons})"
        text += f", {self.pending} pending"
        if self.failed_instruments:
            shown = ", ".join(self.failed_instruments[:5])
            more = len(self.failed_instruments) - 5
            shown += f" and {more} more" if more > 0 else ""
            text += (
                f"; bars failed for {len(self.failed_instruments)} instrument(s) ({shown}), "
                f"{self.failed_predictions} prediction(s) left due"
            )
        if self.already_resolved:
            text += f"; {self.already_resolved} resolved by another run first"
        return text


class Evaluator:
    """Resolve the stored predictions whose horizon has passed.

    Parameters
    ----------
    store
        Where predictions are logged and outcomes kept.
    source
        The market data the outcomes are found in (the market-data service's guarded
        source, the synthetic market, bar files).
    clock
        The evaluator's now: bars after it are not known, and it stamps outcomes.
    timeframe
        The bars resolved against: those of the models' features, since a ``BARS``
        horizon counts them.
    hold_band
        A HOLD is right when ``|realized_return| <= hold_band`` (the labels' threshold).
    batch
        Due predictions read, and outcomes saved, this many at a time (1 to 1000).
    data_lag_ns, max_gap_ns
        As for ``resolve_prediction``: how late bars may arrive, and the longest gap
        between bars that is a market closure rather than data that ended.
    fetch_chunk
        Bars asked of the source per request; keep it within the source's page size.

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    Each run reads every due prediction, groups them by instrument and fetches each
    instrument's bars once, from the earliest prediction less its horizon (for the
    prior return) and ``max_gap_ns`` (for the entry bar) up to now. A source error on
    one instrument is counted and logged and leaves its predictions due; the other
    instruments go on. Runs of one evaluator do not overlap (a second waits); a run
    is idempotent, since a stored outcome makes its prediction no longer due.
    """

    def __init__(
        self,
        store: PredictionStore,
        source: MarketDataSource,
        clock: Clock,
        *,
        timeframe: Timeframe,
        hold_band: float = 0.0,
        batch: int = 500,
        data_lag_ns: int = DEFAULT_DATA_LAG_NS,
        max_gap_ns: int = DEFAULT_MAX_GAP_NS,
        fetch_chunk: int = 1000,
    ) -> None:
        if not isinstance(timeframe, Timeframe):
            allowed = ", ".join(t.value for t in Timeframe)
            raise ValueError(f"timeframe: must be a Timeframe ({allowed}), got {timeframe!r}")
        if (
            isinstance(hold_band, bool)
            or not isinstance(hold_band, int | float)
            or not (math.isfinite(hold_band) and hold_band >= 0.0)
        ):
            raise ValueError(f"hold_band: must be a finite number >= 0, got {hold_band!r}")
        _check_int("batch", batch, 1, MAX_BATCH)
        _check_int("data_lag_ns", data_lag_ns, 0)
        _check_int("max_gap_ns", max_gap_ns, 1)
        _check_int("fetch_chunk", fetch_chunk, 1)
        self.store = store
        self.source = source
        self.clock = clock
        self.timeframe = timeframe
        self.hold_band = float(hold_band)
        self.batch = batch
        self.data_lag_ns = data_lag_ns
        self.max_gap_ns = max_gap_ns
        self.fetch_chunk = fetch_chunk
        self._lock = asyncio.Lock()

    async def resolve_due(self) -> EvaluationRun:
        """Resolve every due prediction the data allows, and store the outcomes.

        Returns
        -------
        EvaluationRun
            The counts of the run; ``summary()`` gives them in a line.

        Raises
        ------
        StoreError
            If the store fails (``StoreUnavailableError`` when it is down); outcomes
            saved before it stay saved.
        """
        async with self._lock:
            now = self.clock.timestamp_ns()
            due = await self._due(now)
            by_instrument: dict[str, list[Prediction]] = {}
            for prediction in due:
                by_instrument.setdefault(prediction.instrument_id, []).append(prediction)
            tally = _Tally()
            for instrument, predictions in sorted(by_instrument.items()):
                outcomes = await self._resolve_instrument(instrument, predictions, now, tally)
                tally.add(outcomes, len(predictions))
                while len(tally.unsaved) >= self.batch:
                    await self._save(tally, tally.unsaved[: self.batch])
                    tally.unsaved = tally.unsaved[self.batch :]
            if tally.unsaved:
                await self._save(tally, tally.unsaved)
            return tally.run(now, self.clock.timestamp_ns(), len(due), len(by_instrument))

    async def _due(self, now: int) -> list[Prediction]:
        due: list[Prediction] = []
        after: str | None = None
        while True:
            page = await asyncio.to_thread(
                self.store.due_predictions, now, limit=self.batch, after=after
            )
            due.extend(page.items)
            if page.next_cursor is None:
                return due
            after = page.next_cursor

    async def _resolve_instrument(
        self, instrument: str, predictions: Sequence[Prediction], now: int, tally: _Tally
    ) -> list[PredictionOutcome | None] | None:
        """Return each prediction's outcome (None: pending), or None if the bars failed."""
        start = max(0, min(p.ts_event - self._lookback(p) for p in predictions) - self.max_gap_ns)
        try:
            bars = await fetch_bars(
                self.source, instrument, start, now, self.timeframe, chunk=self.fetch_chunk
            )
            return await asyncio.to_thread(self._resolve_all, predictions, bars, now)
        except Exception as error:  # one instrument's failure must not stop the others
            tally.failed.append(instrument)
            unexpected = not isinstance(error, MarketDataError | ValueError)
            _log.warning(
                "evaluation: no bars of %s from %s (%s: %s); its %d prediction(s) stay due",
                instrument,
                self.source.name,
                type(error).__name__,
                error,
                len(predictions),
                exc_info=unexpected,
                extra={"instrument_id": instrument},
            )
            return None

    def _resolve_all(
        self, predictions: Sequence[Prediction], bars: BarSeries, now: int
    ) -> list[PredictionOutcome | None]:
        return [
            resolve_prediction(
                p,
                bars,
                now,
                hold_band=self.hold_band,
                data_lag_ns=self.data_lag_ns,
                max_gap_ns=self.max_gap_ns,
            )
            for p in predictions
        ]

    def _lookback(self, prediction: Prediction) -> int:
        horizon = prediction.horizon
        if horizon.kind is HorizonKind.BARS:
            return horizon.value * self.timeframe.nanos
        if horizon.kind is HorizonKind.DURATION:
            return horizon.value
        return horizon.value * _SESSION_LOOKBACK_NS

    async def _save(self, tally: _Tally, outcomes: list[PredictionOutcome]) -> None:
        try:
            tally.saved += await asyncio.to_thread(self.store.save_outcomes, outcomes)
        except ConflictError:
            # Another run stored some of these first (with its own ts_resolved): the
            # batch is refused whole, so save one by one and keep theirs.
            for outcome in outcomes:
                try:
                    tally.saved += await asyncio.to_thread(self.store.save_outcomes, [outcome])
                except ConflictError:
                    tally.already_resolved += 1


class _Tally:
    """The counts of a run as it goes, and the outcomes not saved yet."""

    def __init__(self) -> None:
        self.unsaved: list[PredictionOutcome] = []
        self.failed: list[str] = []
        self.failed_predictions = self.pending = self.resolved = 0
        self.saved = self.already_resolved = 0
        self.reasons: dict[str, int] = {}

    def add(self, outcomes: Iterable[PredictionOutcome | None] | None, count: int) -> None:
        if outcomes is None:
            self.failed_predictions += count
            return
        for outcome in outcomes:
            if outcome is None:
                self.pending += 1
                continue
            self.unsaved.append(outcome)
            if outcome.status is OutcomeStatus.RESOLVED:
                self.resolved += 1
            else:
                assert outcome.reason is not None
                reason = outcome.reason.value
                self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def run(self, started: int, finished: int, due: int, instruments: int) -> EvaluationRun:
        return EvaluationRun(
            ts_started=started,
            ts_finished=finished,
            due=due,
            instruments=instruments,
            resolved=self.resolved,
            unresolvable=sum(self.reasons.values()),
            unresolvable_by_reason=dict(sorted(self.reasons.items())),
            pending=self.pending,
            failed_instruments=tuple(self.failed),
            failed_predictions=self.failed_predictions,
            saved=self.saved,
            already_resolved=self.already_resolved,
        )


def evaluation_job(evaluator: Evaluator) -> JobAction:
    """Return the scheduler's "evaluate" job body: a run of ``evaluator``, summarised.

    The slot is not the run's now: the evaluator's clock is, so a late run (a
    catch-up) sees the data that has come since. The job fails when the store does,
    or when every instrument with due predictions failed to give bars (the source is
    down): an error the job log should show as one.
    """

    async def evaluate(slot_ns: int) -> str:
        run = await evaluator.resolve_due()
        if run.failed_instruments and len(run.failed_instruments) == run.instruments:
            raise EvaluationFailedError(f"no instrument's bars could be had: {run.summary()}")
        return run.summary()

    return evaluate


class EvaluationFailedError(RuntimeError):
    """An evaluation run resolved nothing because no instrument's bars could be had."""


def _check_int(name: str, value: object, lowest: int, highest: int | None = None) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < lowest
        or (highest is not None and value > highest)
    ):
        bound = f"from {lowest} to {highest}" if highest is not None else f">= {lowest}"
        raise ValueError(f"{name}: must be an integer {bound}, got {value!r}")
