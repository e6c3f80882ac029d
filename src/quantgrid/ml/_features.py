"""Feature definitions, feature sets and their point-in-time frames.

A `Feature` is written once and computed two ways: over a whole `BarSeries`
(`Feature.compute`, for training and backtests) and one bar at a time (`Feature.stream`,
for live trading). Both forms perform the same float operations in the same order, so a
model sees the same numbers in research and in production. A `FeatureSet` names an
ordered list of features and fingerprints their definitions for lineage.
"""

from __future__ import annotations

import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from quantgrid.model import Bar, BarSeries, FloatArray, IntArray

BoolArray = npt.NDArray[np.bool_]


class FeatureLookupError(LookupError, ValueError):
    """No feature row is known at the time asked for (it is before the first row)."""


class FeatureState(Protocol):
    """The streaming form of one feature: fed every bar in order, it returns the value."""

    def update(self, bar: Bar) -> float:
        """Add one bar and return the feature's value at its close (NaN in warm-up)."""
        ...


# -- input checks -------------------------------------------------------------------------
def check_bars(bars: BarSeries) -> None:
    """Raise ValueError unless the bars are strictly time-ordered with usable prices.

    Prices must be finite and positive (features take log returns and ratios), volumes
    finite and non-negative.
    """
    where = f"bars of {bars.instrument_id!r}"
    if len(bars) > 1:
        steps = np.diff(bars.ts)
        if not np.all(steps > 0):
            i = int(np.argmax(steps <= 0)) + 1
            msg = (
                f"{where}: ts must be strictly increasing, but bar {i} (ts={int(bars.ts[i])}) "
                f"does not come after bar {i - 1} (ts={int(bars.ts[i - 1])})"
            )
            raise ValueError(msg)
    for column in ("open", "high", "low", "close"):
        values = getattr(bars, column)
        bad = ~(np.isfinite(values) & (values > 0.0))
        if bad.any():
            i = int(np.argmax(bad))
            msg = (
                f"{where}: {column} must be finite and > 0, "
                f"but bar {i} (ts={int(bars.ts[i])}) has {float(values[i])!r}"
            )
            raise ValueError(msg)
    bad = ~(np.isfinite(bars.volume) & (bars.volume >= 0.0))
    if bad.any():
        i = int(np.argmax(bad))
        msg = (
            f"{where}: volume must be finite and >= 0, "
            f"but bar {i} (ts={int(bars.ts[i])}) has {float(bars.volume[i])!r}"
        )
        raise ValueError(msg)


def _check_bar(bar: Bar, where: str) -> None:
    at = f"at ts={bar.ts_event}"
    for column in ("open", "high", "low", "close"):
        value = getattr(bar, column)
        if not (math.isfinite(value) and value > 0.0):
            msg = f"{where}: bar {column} must be finite and > 0, got {value!r} {at}"
            raise ValueError(msg)
    if not (math.isfinite(bar.volume) and bar.volume >= 0.0):
        msg = f"{where}: bar volume must be finite and >= 0, got {bar.volume!r} {at}"
        raise ValueError(msg)


def _check_ts_array(name: str, ts: IntArray) -> IntArray:
    arr = np.asarray(ts)
    if arr.ndim != 1 or arr.dtype != np.int64:
        msg = f"{name} must be a one-dimensional int64 array of nanoseconds, got {arr.dtype} "
        msg += f"with shape {arr.shape}"
        raise ValueError(msg)
    if arr.shape[0] > 1 and not np.all(np.diff(arr) > 0):
        msg = f"{name} must be strictly increasing"
        raise ValueError(msg)
    return arr


def _format_param(value: int | float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


# -- one feature --------------------------------------------------------------------------
@dataclass(frozen=True)
class Feature(ABC):
    """A feature's definition: its parameters, its warm-up and both ways to compute it.

    Subclasses are frozen dataclasses whose fields are the parameters; they set ``kind``
    (a stable identifier such as ``"rsi"``), implement `warmup`, `_compute` and
    `stream`, and bump ``version`` whenever the formula changes, which changes the
    fingerprint of every feature set holding them.

    Notes
    -----
    Point in time: the value at bar ``i`` depends only on bars ``0 .. i``. The
    streaming state fed bars ``0 .. i`` returns exactly ``compute(bars)[i]``.
    """

    kind: ClassVar[str] = ""
    version: ClassVar[int] = 1

    @property
    def params(self) -> dict[str, int | float]:
        """Return the parameters by name, in definition order."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @property
    def name(self) -> str:
        """Return the column name: the kind followed by the parameters, e.g. ``rsi_14``."""
        return "_".join([self.kind, *(_format_param(v) for v in self.params.values())])

    @property
    @abstractmethod
    def warmup(self) -> int:
        """Return the number of bars before the first value that can be a number."""

    def compute(self, bars: BarSeries) -> FloatArray:
        """Return the feature at every bar's close; NaN during the warm-up.

        Raises
        ------
        ValueError
            If the bars are not strictly time-ordered or a price is not a positive
            finite number.
        """
        check_bars(bars)
        return self._compute(bars)

    @abstractmethod
    def _compute(self, bars: BarSeries) -> FloatArray:
        """Return the feature over bars that `check_bars` accepted."""

    @abstractmethod
    def stream(self) -> FeatureState:
        """Return a fresh streaming state; `FeatureStream` checks the bars it is fed."""

    def definition(self) -> dict[str, object]:
        """Return the definition as plain data: kind, version and parameters."""
        return {"kind": self.kind, "version": self.version, "params": self.params}


# -- frames and rows ----------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FeatureRow:
    """The features of one instrument known at one time.

    Attributes
    ----------
    instrument_id
        The instrument.
    ts
        The close of the bar the values were computed at, UTC nanoseconds.
    names
        The feature names, in column order.
    values
        One float per name; NaN where a feature is still warming up.
    """

    instrument_id: str
    ts: int
    names: tuple[str, ...]
    values: FloatArray

    def __post_init__(self) -> None:
        if self.values.ndim != 1 or self.values.shape[0] != len(self.names):
            msg = (
                f"FeatureRow: values must hold one float per name ({len(self.names)}), "
                f"got shape {self.values.shape}"
            )
            raise ValueError(msg)

    def as_dict(self) -> dict[str, float]:
        """Return the values by feature name."""
        return {name: float(v) for name, v in zip(self.names, self.values, strict=True)}


@dataclass(frozen=True, eq=False)
class FeatureFrame:
    """Features of one instrument at every bar: one row per bar, one column per feature.

    Attributes
    ----------
    instrument_id
        The instrument.
    ts
        Strictly increasing bar close times, UTC nanoseconds (int64).
    names
        The feature names, unique, in column order.
    values
        float64 array of shape ``(len(ts), len(names))``; NaN during warm-ups.

    Notes
    -----
    Row ``i`` uses only what was known at ``ts[i]``. Construction checks shapes, dtypes,
    ordering and name uniqueness.
    """

    instrument_id: str
    ts: IntArray
    names: tuple[str, ...]
    values: FloatArray

    def __post_init__(self) -> None:
        _check_ts_array("FeatureFrame: ts", self.ts)
        _check_names("FeatureFrame: names", self.names)
        if self.values.dtype != np.float64 or self.values.shape != (
            self.ts.shape[0],
            len(self.names),
        ):
            msg = (
                f"FeatureFrame: values must be float64 of shape "
                f"({self.ts.shape[0]}, {len(self.names)}), "
                f"got {self.values.dtype} of shape {self.values.shape}"
            )
            raise ValueError(msg)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @property
    def complete(self) -> BoolArray:
        """Return a mask of the rows where every feature has a value (no NaN)."""
        return np.logical_not(np.isnan(self.values).any(axis=1))

    def column(self, name: str) -> FloatArray:
        """Return one feature's values at every row."""
        try:
            j = self.names.index(name)
        except ValueError:
            msg = f"FeatureFrame: no feature named {name!r}; it holds {list(self.names)}"
            raise ValueError(msg) from None
        return self.values[:, j]

    def row(self, i: int) -> FeatureRow:
        """Return row ``i`` as a record."""
        return FeatureRow(self.instrument_id, int(self.ts[i]), self.names, self.values[i].copy())

    def between(self, start_ns: int | None = None, end_ns: int | None = None) -> FeatureFrame:
        """Return the rows with ``start_ns <= ts <= end_ns`` (either bound may be open)."""
        lo = 0 if start_ns is None else int(np.searchsorted(self.ts, start_ns, side="left"))
        hi = len(self) if end_ns is None else int(np.searchsorted(self.ts, end_ns, side="right"))
        hi = max(lo, hi)
        return FeatureFrame(self.instrument_id, self.ts[lo:hi], self.names, self.values[lo:hi])

    def as_of(self, ts_ns: int) -> FeatureRow:
        """Return the latest row with ``ts <= ts_ns``: what was known at ``ts_ns``.

        Raises
        ------
        FeatureLookupError
            If ``ts_ns`` is before the first row (nothing was known yet).
        """
        i = int(np.searchsorted(self.ts, ts_ns, side="right")) - 1
        if i < 0:
            first = "the frame is empty" if len(self) == 0 else f"the first row is at {self.ts[0]}"
            msg = f"no features of {self.instrument_id!r} are known as of ts={ts_ns}: {first}"
            raise FeatureLookupError(msg)
        return self.row(i)

    def as_of_join(self, query_ts: IntArray) -> FeatureFrame:
        """Return, for every query time, the latest row known at it.

        Parameters
        ----------
        query_ts
            Strictly increasing int64 times, e.g. the decision times of labels.

        Returns
        -------
        FeatureFrame
            Stamped with ``query_ts``; row ``q`` holds the row with the largest
            ``ts <= query_ts[q]``, or NaN where no row is that old.
        """
        queries = _check_ts_array("as_of_join: query_ts", query_ts)
        source = np.searchsorted(self.ts, queries, side="right") - 1
        out = np.full((queries.shape[0], len(self.names)), np.nan)
        known = source >= 0
        out[known] = self.values[source[known]]
        return FeatureFrame(self.instrument_id, queries, self.names, out)


def _check_names(where: str, names: tuple[str, ...]) -> None:
    if not isinstance(names, tuple) or not all(isinstance(n, str) and n for n in names):
        msg = f"{where} must be a tuple of non-empty strings, got {names!r}"
        raise ValueError(msg)
    if len(set(names)) != len(names):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        msg = f"{where} must be unique, but {duplicates} appear more than once"
        raise ValueError(msg)


# -- feature sets -------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FeatureSet:
    """A named, ordered list of features: the columns one model is trained and served on.

    Parameters
    ----------
    name
        What the set is called, e.g. ``"default"``.
    features
        The features, in column order; their names must be unique.

    Notes
    -----
    ``fingerprint`` hashes the features' definitions (kind, version, parameters) in
    order, not the set's name: two sets computing the same columns share it, and any
    change to a column changes it. The model registry records it as lineage.
    """

    name: str
    features: Sequence[Feature]  # stored as a tuple

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            msg = f"FeatureSet: name must be a non-empty string, got {self.name!r}"
            raise ValueError(msg)
        features = tuple(self.features) if isinstance(self.features, Sequence) else None
        if not features:
            msg = f"FeatureSet {self.name!r}: features must be a non-empty sequence"
            raise ValueError(msg)
        for feature in features:
            if not isinstance(feature, Feature) or not feature.kind:
                msg = (
                    f"FeatureSet {self.name!r}: every feature must be a Feature with a "
                    f"kind, got {feature!r}"
                )
                raise ValueError(msg)
        object.__setattr__(self, "features", features)
        _check_names(f"FeatureSet {self.name!r}: feature names", self.names)

    @property
    def names(self) -> tuple[str, ...]:
        """Return the column names, in order."""
        return tuple(feature.name for feature in self.features)

    @property
    def warmup(self) -> int:
        """Return the longest warm-up: bars before a row can be complete."""
        return max(feature.warmup for feature in self.features)

    @cached_property
    def fingerprint(self) -> str:
        """Return a stable 16-hex-digit hash of the features' definitions, in order."""
        text = json.dumps(
            [feature.definition() for feature in self.features],
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def definition(self) -> dict[str, object]:
        """Return the set as plain data (name, fingerprint, features), for lineage."""
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "features": [feature.definition() for feature in self.features],
        }

    def compute(self, bars: BarSeries) -> FeatureFrame:
        """Return every feature at every bar.

        Raises
        ------
        ValueError
            If the bars are not strictly time-ordered or a price is not a positive
            finite number.
        """
        check_bars(bars)
        values = np.empty((len(bars), len(self.features)))
        for j, feature in enumerate(self.features):
            values[:, j] = feature._compute(bars)
        return FeatureFrame(bars.instrument_id, bars.ts.copy(), self.names, values)

    def online(self) -> FeatureStream:
        """Return a fresh streaming computation of the set, for one instrument."""
        return FeatureStream(self)


class FeatureStream:
    """A feature set computed one bar at a time, for one instrument.

    Notes
    -----
    After bars ``0 .. i``, `update` returns exactly row ``i`` of
    ``feature_set.compute(bars)``. The first bar fixes the instrument. A bar that is
    refused (another instrument, not after the last bar, a bad price) leaves the state
    untouched.
    """

    __slots__ = ("_count", "_instrument_id", "_last_ts", "_states", "feature_set")

    def __init__(self, feature_set: FeatureSet) -> None:
        self.feature_set = feature_set
        self._states = [feature.stream() for feature in feature_set.features]
        self._instrument_id: str | None = None
        self._last_ts: int | None = None
        self._count = 0

    @property
    def names(self) -> tuple[str, ...]:
        """Return the column names, in order."""
        return self.feature_set.names

    @property
    def last_ts(self) -> int | None:
        """Return the ts of the last bar taken, or None before the first."""
        return self._last_ts

    @property
    def ready(self) -> bool:
        """Tell whether the warm-up of every feature is over."""
        return self._count > self.feature_set.warmup

    def update(self, bar: Bar) -> FloatArray:
        """Add one bar and return the feature row at its close (NaN in warm-ups).

        Raises
        ------
        ValueError
            If the bar is of another instrument, not later than the last one, or has
            a price that is not a positive finite number.
        """
        where = f"FeatureStream {self.feature_set.name!r}"
        if self._instrument_id is not None and bar.instrument_id != self._instrument_id:
            msg = (
                f"{where}: bar of {bar.instrument_id!r} fed to the stream of "
                f"{self._instrument_id!r}; use one stream per instrument"
            )
            raise ValueError(msg)
        if self._last_ts is not None and bar.ts_event <= self._last_ts:
            msg = (
                f"{where}: bar ts must be strictly increasing, got ts={bar.ts_event} "
                f"after ts={self._last_ts}"
            )
            raise ValueError(msg)
        _check_bar(bar, where)
        self._instrument_id = bar.instrument_id
        self._last_ts = bar.ts_event
        self._count += 1
        return np.array([state.update(bar) for state in self._states], dtype=np.float64)
