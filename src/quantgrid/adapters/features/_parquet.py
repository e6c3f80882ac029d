"""The offline feature store: one Parquet file per feature set and instrument."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from quantgrid.adapters.features._errors import FeatureSchemaError, FeaturesNotFoundError
from quantgrid.adapters.features._keys import encode_key
from quantgrid.ml import FeatureFrame, FeatureRow
from quantgrid.model import IntArray

_TS = "ts"
_FILE = "features.parquet"
_SET_DIR = "feature_set="
_INSTRUMENT_DIR = "instrument="
_META_SET = b"quantgrid.feature_set"
_META_INSTRUMENT = b"quantgrid.instrument_id"


class ParquetFeatureStore:
    """Feature frames on disk, partitioned by feature set and instrument.

    Parameters
    ----------
    root
        The store's directory; created on the first write.

    Notes
    -----
    Layout: ``root/feature_set=<key>/instrument=<id>/features.parquet``, the key and id
    percent-encoded (hive-style, so Polars, DuckDB or pyarrow can scan a whole feature
    set). Columns: ``ts`` (int64 ns), then one float64 column per feature, NaN kept.

    A write replaces the file atomically (a temporary file in the same directory,
    flushed, then renamed over it), so a crash leaves either the old or the new data.
    Writers of one partition must not run at once: the second would drop the first's
    rows. Writes rewrite the partition, which suits features of bars (thousands to
    millions of rows per instrument), not of ticks.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, feature_set: str, instrument_id: str) -> Path:
        return (
            self.root
            / (_SET_DIR + encode_key("feature_set", feature_set))
            / (_INSTRUMENT_DIR + encode_key("instrument_id", instrument_id))
            / _FILE
        )

    # -- writes ---------------------------------------------------------------------------
    def write(self, feature_set: str, frame: FeatureFrame) -> None:
        """Upsert a frame's rows: rows at a stored ts are replaced, the others added.

        Parameters
        ----------
        feature_set
            The key it is stored under: the feature set's fingerprint (lineage-exact)
            or its name.
        frame
            The features of one instrument.

        Raises
        ------
        FeatureSchemaError
            If the frame's feature names (or their order) differ from the stored ones,
            or a feature is named ``ts``; nothing is written.
        """
        path = self._path(feature_set, frame.instrument_id)
        if _TS in frame.names:
            msg = f"feature set {feature_set!r}: no feature may be named {_TS!r}, the time column"
            raise FeatureSchemaError(msg)
        ts, values = frame.ts, frame.values
        if path.exists():
            stored = self._load(path, feature_set, frame.instrument_id)
            if stored.names != frame.names:
                msg = (
                    f"feature set {feature_set!r}, instrument {frame.instrument_id!r}: "
                    f"the store holds features {list(stored.names)}, the frame "
                    f"{list(frame.names)}; store changed features under a new key "
                    f"(e.g. the feature set's new fingerprint)"
                )
                raise FeatureSchemaError(msg)
            kept = ~np.isin(stored.ts, frame.ts)
            ts = np.concatenate([stored.ts[kept], frame.ts])
            values = np.concatenate([stored.values[kept], frame.values])
            order = np.argsort(ts, kind="stable")
            ts, values = ts[order], values[order]
        columns = {_TS: pa.array(ts, type=pa.int64())}
        for j, name in enumerate(frame.names):
            columns[name] = pa.array(values[:, j], type=pa.float64())
        table = pa.table(columns).replace_schema_metadata(
            {_META_SET: feature_set.encode(), _META_INSTRUMENT: frame.instrument_id.encode()}
        )
        _write_atomically(table, path)

    # -- reads ----------------------------------------------------------------------------
    def read(
        self,
        feature_set: str,
        instrument_id: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> FeatureFrame:
        """Return the stored rows with ``start_ns <= ts <= end_ns`` (open bounds if None).

        Raises
        ------
        FeaturesNotFoundError
            If nothing is stored for the feature set and instrument.
        """
        frame = self._load(self._path(feature_set, instrument_id), feature_set, instrument_id)
        return frame.between(start_ns, end_ns)

    def read_as_of(self, feature_set: str, instrument_id: str, ts_ns: int) -> FeatureRow:
        """Return the latest stored row with ``ts <= ts_ns``.

        Raises
        ------
        FeaturesNotFoundError
            If nothing is stored for the feature set and instrument.
        FeatureLookupError
            If ``ts_ns`` is before the first stored row.
        """
        return self.read(feature_set, instrument_id).as_of(ts_ns)

    def as_of_join(self, feature_set: str, instrument_id: str, query_ts: IntArray) -> FeatureFrame:
        """Return, for each query time, the latest stored row known at it.

        Parameters
        ----------
        feature_set, instrument_id
            What to read.
        query_ts
            Strictly increasing int64 times, e.g. the ``ts`` of labels.

        Returns
        -------
        FeatureFrame
            Stamped with ``query_ts``; NaN rows for queries before the first stored row.

        Raises
        ------
        FeaturesNotFoundError
            If nothing is stored for the feature set and instrument.
        """
        return self.read(feature_set, instrument_id).as_of_join(query_ts)

    def feature_sets(self) -> tuple[str, ...]:
        """Return the keys of the stored feature sets, sorted."""
        return _decoded_children(self.root, _SET_DIR)

    def instruments(self, feature_set: str) -> tuple[str, ...]:
        """Return the instruments stored under a feature set, sorted."""
        folder = self.root / (_SET_DIR + encode_key("feature_set", feature_set))
        return _decoded_children(folder, _INSTRUMENT_DIR)

    def _load(self, path: Path, feature_set: str, instrument_id: str) -> FeatureFrame:
        try:
            table = pq.read_table(path)
        except FileNotFoundError:
            msg = (
                f"no features stored for feature set {feature_set!r} and instrument "
                f"{instrument_id!r} under {self.root}"
            )
            raise FeaturesNotFoundError(msg) from None
        names = tuple(table.column_names[1:])
        ts = np.ascontiguousarray(table.column(_TS).to_numpy(), dtype=np.int64)
        values = np.empty((ts.shape[0], len(names)))
        for j, name in enumerate(names):
            values[:, j] = table.column(name).to_numpy(zero_copy_only=False)
        return FeatureFrame(instrument_id, ts, names, values)


def _write_atomically(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".parquet.tmp")
    try:
        with os.fdopen(handle, "wb") as sink:
            pq.write_table(table, sink)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def _sync_directory(folder: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory.
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _decoded_children(folder: Path, prefix: str) -> tuple[str, ...]:
    if not folder.is_dir():
        return ()
    return tuple(
        sorted(
            unquote(child.name.removeprefix(prefix))
            for child in folder.iterdir()
            if child.is_dir() and child.name.startswith(prefix)
        )
    )
