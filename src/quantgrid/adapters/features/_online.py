"""The online feature store: the latest feature row of each instrument, for serving."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from quantgrid.adapters.features._keys import encode_key
from quantgrid.ml import FeatureRow


class OnlineFeatureStore(Protocol):
    """Latest features per (feature set, instrument): written live, read when serving.

    Notes
    -----
    An older row never replaces a newer one: a ``put`` whose ``ts_ns`` is before the
    stored row's is ignored (a row at the same ts replaces it, as a correction), so
    late or replayed writers cannot roll the features back.
    """

    def put(
        self,
        feature_set: str,
        instrument_id: str,
        ts_ns: int,
        names: Sequence[str],
        values: npt.ArrayLike,
    ) -> bool:
        """Store a row unless a newer one is stored; return whether it was stored."""
        ...

    def get(self, feature_set: str, instrument_id: str) -> FeatureRow | None:
        """Return the latest row, or None if there is none."""
        ...

    def get_many(
        self, feature_set: str, instrument_ids: Iterable[str]
    ) -> dict[str, FeatureRow | None]:
        """Return the latest row of each instrument (None where there is none)."""
        ...


def make_row(
    feature_set: str,
    instrument_id: str,
    ts_ns: int,
    names: Sequence[str],
    values: npt.ArrayLike,
) -> FeatureRow:
    """Return a read-only `FeatureRow` after checking the arguments of a ``put``.

    Raises
    ------
    ValueError
        If a key is empty, ``ts_ns`` is not an integer, or the names and values do not
        pair up one to one.
    """
    encode_key("feature_set", feature_set)
    encode_key("instrument_id", instrument_id)
    if isinstance(ts_ns, bool) or not isinstance(ts_ns, int | np.integer):
        msg = f"ts_ns must be integer nanoseconds, got {ts_ns!r}"
        raise ValueError(msg)
    row_values = np.array(values, dtype=np.float64)
    if isinstance(names, str):
        msg = f"names must be a sequence of feature names, got the string {names!r}"
        raise ValueError(msg)
    row_names = tuple(names)
    if row_values.ndim != 1 or row_values.shape[0] != len(row_names):
        msg = (
            f"values must hold one float per name ({len(row_names)}), got shape {row_values.shape}"
        )
        raise ValueError(msg)
    row_values.flags.writeable = False
    return FeatureRow(instrument_id, int(ts_ns), row_names, row_values)


class MemoryOnlineStore:
    """An online feature store in this process's memory; safe to share between threads."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], FeatureRow] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def put(
        self,
        feature_set: str,
        instrument_id: str,
        ts_ns: int,
        names: Sequence[str],
        values: npt.ArrayLike,
    ) -> bool:
        """Store a row unless a newer one is stored; return whether it was stored.

        Raises
        ------
        ValueError
            If a key is empty, or the names and values do not pair up.
        """
        row = make_row(feature_set, instrument_id, ts_ns, names, values)
        key = (feature_set, instrument_id)
        with self._lock:
            stored = self._rows.get(key)
            if stored is not None and stored.ts > row.ts:
                return False
            self._rows[key] = row
            return True

    def get(self, feature_set: str, instrument_id: str) -> FeatureRow | None:
        """Return the latest row, or None if there is none."""
        return self._rows.get((feature_set, instrument_id))

    def get_many(
        self, feature_set: str, instrument_ids: Iterable[str]
    ) -> dict[str, FeatureRow | None]:
        """Return the latest row of each instrument (None where there is none)."""
        return {i: self._rows.get((feature_set, i)) for i in instrument_ids}
