"""The drift check: live features against the training sample, by PSI, on a schedule.

The body of the scheduler's "drift" job: each run computes every feature set over the
recent bars of the instruments, pools the rows, and compares each feature with its
reference sample (``quantgrid.ml.feature_drift``). The latest result per feature set is
kept for the evaluation service to show; a significant drift calls a hook (the
retraining trigger).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from quantgrid.adapters.market_data import MarketDataSource, Timeframe
from quantgrid.core import NANOS_PER_DAY
from quantgrid.ml import DriftReport, DriftStatus, FeatureFrame, FeatureSet, feature_drift
from quantgrid.ml._drift import DEFAULT_MODERATE_PSI, DEFAULT_SIGNIFICANT_PSI
from quantgrid.model import BarSeries, FloatArray
from quantgrid.services.evaluation._bars import fetch_bars

_log = logging.getLogger("quantgrid.services.evaluation")

#: Extra history fetched beyond the window and the warm-up, for market closures (a
#: weekend and a holiday) inside it.
DEFAULT_CLOSURE_ALLOWANCE_NS = 4 * NANOS_PER_DAY

Reference = FeatureFrame | Sequence[FeatureFrame] | npt.ArrayLike
"""A feature set's reference sample: frames (pooled), or rows of values by column."""

DriftHook = Callable[["DriftResult"], Awaitable[None] | None]
"""Called with a result whose status is SIGNIFICANT; sync or async."""


class DriftResults(Protocol):
    """Where ``GET /evaluation/drift`` reads the latest drift results from."""

    def latest(self) -> tuple[DriftResult, ...]:
        """Return the latest result of each feature set checked so far, by set name."""
        ...


class DriftCheckError(ValueError):
    """A drift check could not be made: no bars, or a feature with no value in the window."""


class DriftResult(msgspec.Struct, frozen=True, kw_only=True):
    """One feature set's drift as of one check.

    Attributes
    ----------
    feature_set, fingerprint
        The feature set checked, and its definitions' fingerprint.
    ts_checked
        The end of the window (the job's slot, UTC ns).
    instruments
        The instruments whose recent rows were pooled.
    failed_instruments
        Instruments whose bars could not be had; left out of the sample.
    rows
        Rows in the current sample (before NaN values are left out per feature).
    report
        The PSI of each feature against the reference, and the overall status.
    """

    feature_set: str
    fingerprint: str
    ts_checked: int
    instruments: tuple[str, ...]
    failed_instruments: tuple[str, ...]
    rows: int
    report: DriftReport

    def summary(self) -> str:
        """Return the result in one line, for the scheduler's job log."""
        report = self.report
        text = (
            f"{self.feature_set}: {report.status.value}, max PSI {report.max_psi:.3f} "
            f"({report.max_feature}) over {self.rows} rows of {len(self.instruments)} "
            f"instrument(s)"
        )
        drifted = report.drifted()
        if drifted:
            text += f"; significant: {', '.join(drifted)}"
        if self.failed_instruments:
            text += f"; no bars of {', '.join(self.failed_instruments)}"
        return text


class DriftCheck:
    """Compare recent features with the reference samples they were trained on.

    Parameters
    ----------
    references
        Each feature set's reference sample, by the set's name: a ``FeatureFrame`` of
        its features, several (pooled), or a 2-D array with one column per feature in
        the set's order. NaN values (warm-ups) are left out.
    feature_sets
        The feature sets checked, each with a reference.
    source
        Where recent bars come from.
    instruments
        Whose recent rows make the current sample (pooled).
    timeframe
        The bars the features are computed on.
    window_bars
        Rows per instrument in the current sample: the latest ones at the slot.
    moderate, significant
        The PSI thresholds of the MODERATE and SIGNIFICANT statuses.
    bins
        Quantile bins of the PSI.
    on_drift
        Called with each result whose status is SIGNIFICANT (the retraining trigger);
        may be set later through the attribute of that name.
    closure_allowance_ns
        History fetched beyond ``window_bars`` and the warm-up, for closures inside
        the window.
    fetch_chunk
        Bars asked of the source per request.

    Raises
    ------
    ValueError
        If a feature set has no reference, a reference names no set checked, does not
        have the set's columns, has no rows or a feature with no value, or another
        argument is out of range.

    Notes
    -----
    A run fetches each instrument's bars up to the slot, computes each set over them
    and keeps each instrument's last ``window_bars`` rows; an instrument whose bars
    fail is left out and named. It either succeeds for every feature set (then the
    results replace the latest ones, and the hook is called for the significant ones)
    or raises ``DriftCheckError`` and keeps the previous results.
    """

    def __init__(
        self,
        references: Mapping[str, Reference],
        feature_sets: FeatureSet | Sequence[FeatureSet],
        source: MarketDataSource,
        instruments: Sequence[str],
        *,
        timeframe: Timeframe,
        window_bars: int = 500,
        moderate: float = DEFAULT_MODERATE_PSI,
        significant: float = DEFAULT_SIGNIFICANT_PSI,
        bins: int = 10,
        on_drift: DriftHook | None = None,
        closure_allowance_ns: int = DEFAULT_CLOSURE_ALLOWANCE_NS,
        fetch_chunk: int = 1000,
    ) -> None:
        sets = (feature_sets,) if isinstance(feature_sets, FeatureSet) else tuple(feature_sets)
        if not sets or not all(isinstance(s, FeatureSet) for s in sets):
            raise ValueError(f"feature_sets: give one or more FeatureSets, got {feature_sets!r}")
        names = [s.name for s in sets]
        if len(set(names)) != len(names):
            raise ValueError(f"feature_sets: names must be distinct, got {names}")
        extra = sorted(set(references) - set(names))
        if extra:
            raise ValueError(f"references: {extra} name no feature set checked ({names})")
        instruments = tuple(instruments)
        if not instruments or len(set(instruments)) != len(instruments):
            raise ValueError(f"instruments: give distinct instruments, got {list(instruments)}")
        if not isinstance(timeframe, Timeframe):
            raise ValueError(f"timeframe: must be a Timeframe, got {timeframe!r}")
        for name, value, lowest in (
            ("window_bars", window_bars, 2),
            ("bins", bins, 2),
            ("closure_allowance_ns", closure_allowance_ns, 0),
            ("fetch_chunk", fetch_chunk, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
                raise ValueError(f"{name}: must be an integer >= {lowest}, got {value!r}")
        if not 0.0 < moderate < significant < float("inf"):
            got = f"got {moderate!r}, {significant!r}"
            msg = f"thresholds: must be 0 < moderate < significant, {got}"
            raise ValueError(msg)
        self.feature_sets = sets
        self._references = {s.name: _reference(s, references.get(s.name)) for s in sets}
        self.source = source
        self.instruments = instruments
        self.timeframe = timeframe
        self.window_bars = window_bars
        self.moderate, self.significant = float(moderate), float(significant)
        self.bins = bins
        self.on_drift = on_drift
        self.closure_allowance_ns = closure_allowance_ns
        self.fetch_chunk = fetch_chunk
        self._latest: dict[str, DriftResult] = {}
        self._lock = asyncio.Lock()

    def latest(self) -> tuple[DriftResult, ...]:
        """Return the latest result of each feature set checked so far, by set name."""
        return tuple(self._latest[name] for name in sorted(self._latest))

    async def run(self, slot_ns: int) -> str:
        """Check every feature set as of ``slot_ns``; return the results in a line.

        Raises
        ------
        DriftCheckError
            If no instrument gave bars, or a feature has no value in the window.
        """
        async with self._lock:
            results = await self._check(slot_ns)
            for result in results:
                self._latest[result.feature_set] = result
            for result in results:
                if result.report.status is not DriftStatus.SIGNIFICANT:
                    continue
                _log.warning("drift: %s", result.summary())
                if self.on_drift is not None:
                    called = self.on_drift(result)
                    if inspect.isawaitable(called):
                        await called
            return "; ".join(result.summary() for result in results)

    def _compute(self, bars: BarSeries) -> list[FeatureFrame]:
        return [feature_set.compute(bars) for feature_set in self.feature_sets]

    async def _check(self, slot_ns: int) -> list[DriftResult]:
        warmup = max(s.warmup for s in self.feature_sets)
        span = (self.window_bars + warmup) * self.timeframe.nanos + self.closure_allowance_ns
        start = max(0, slot_ns - span)
        current: dict[str, list[FloatArray]] = {s.name: [] for s in self.feature_sets}
        used: list[str] = []
        failed: list[str] = []
        for instrument in self.instruments:
            try:
                bars = await fetch_bars(
                    self.source, instrument, start, slot_ns, self.timeframe, chunk=self.fetch_chunk
                )
                if len(bars) == 0:
                    raise DriftCheckError(f"no bars up to {slot_ns}")
                frames = await asyncio.to_thread(self._compute, bars)
            except Exception as error:  # one instrument's failure must not stop the others
                failed.append(instrument)
                _log.warning(
                    "drift: no features of %s (%s: %s)",
                    instrument,
                    type(error).__name__,
                    error,
                    extra={"instrument_id": instrument},
                )
                continue
            used.append(instrument)
            for feature_set, frame in zip(self.feature_sets, frames, strict=True):
                current[feature_set.name].append(frame.values[-self.window_bars :])
        if not used:
            detail = f"no bars of any instrument ({', '.join(self.instruments)}) up to {slot_ns}"
            raise DriftCheckError(f"drift check: {detail}")
        results = []
        for feature_set in self.feature_sets:
            sample = np.vstack(current[feature_set.name])
            try:
                report = await asyncio.to_thread(
                    feature_drift,
                    self._references[feature_set.name],
                    sample,
                    feature_set.names,
                    bins=self.bins,
                    moderate=self.moderate,
                    significant=self.significant,
                )
            except ValueError as error:
                raise DriftCheckError(f"drift check of {feature_set.name}: {error}") from None
            results.append(
                DriftResult(
                    feature_set=feature_set.name,
                    fingerprint=feature_set.fingerprint,
                    ts_checked=slot_ns,
                    instruments=tuple(used),
                    failed_instruments=tuple(failed),
                    rows=len(sample),
                    report=report,
                )
            )
        return results


def _reference(feature_set: FeatureSet, reference: Reference | None) -> FloatArray:
    """Return the reference sample of ``feature_set`` as rows by its columns."""
    where = f"references[{feature_set.name!r}]"
    if reference is None:
        raise ValueError(f"{where}: feature set {feature_set.name!r} has no reference sample")
    frames: tuple[FeatureFrame, ...] | None = None
    if isinstance(reference, FeatureFrame):
        frames = (reference,)
    elif isinstance(reference, Sequence) and reference:
        found = tuple(f for f in reference if isinstance(f, FeatureFrame))
        frames = found if len(found) == len(reference) else None
    if frames is not None:
        for frame in frames:
            if frame.names != feature_set.names:
                got = f"got {list(frame.names)}"
                msg = f"must have the set's features {list(feature_set.names)}, {got}"
                raise ValueError(f"{where}: {msg}")
        values = np.vstack([frame.values for frame in frames])
    else:
        try:
            values = np.array(reference, dtype=np.float64)  # a copy: the caller's may change
        except (TypeError, ValueError):
            raise ValueError(f"{where}: must be FeatureFrames or a 2-D array of numbers") from None
    if values.ndim != 2 or values.shape[1] != len(feature_set.names) or values.shape[0] == 0:
        msg = (
            f"must have rows and one column per feature ({len(feature_set.names)}), "
            f"got shape {values.shape}"
        )
        raise ValueError(f"{where}: {msg}")
    columns = zip(feature_set.names, values.T, strict=True)
    empty = [name for name, column in columns if np.isnan(column).all()]
    if empty:
        raise ValueError(f"{where}: features {empty} have no value that is not NaN")
    return values
