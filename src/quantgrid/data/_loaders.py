"""Load and write OHLCV bar files (CSV, Parquet), checking every value on the way in."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from quantgrid.data._validation import DataValidationError, check_bar_values, first_true
from quantgrid.model import BarSeries, FloatArray, IntArray

BoolArray = npt.NDArray[np.bool_]

_FORMATS: Final = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_PRICES: Final = ("open", "high", "low", "close")
# Header names of the timestamp column, in order of preference.
_TIME_NAMES: Final = ("timestamp", "datetime", "date", "time", "ts")
# How an index without a name comes out of pandas: first in to_csv (read back by
# read_csv as "Unnamed: 0"), anywhere in to_parquet.
_INDEX_NAMES: Final = frozenset({"", "unnamed: 0"})
_PARQUET_INDEX: Final = "__index_level_0__"
_USED: Final = frozenset({*_PRICES, "volume", *_TIME_NAMES})
# Polars renames a repeated header "open" to "open_duplicated_0".
_DUPLICATED: Final = re.compile(r"(.*)_duplicated_\d+", re.DOTALL)
_EPOCH: Final = re.compile(r"\s*[+-]?\d+\s*")
# Tried in this order after the format the first value matches; the plain fixed-width
# formats come first because polars parses them several times faster.
_ISO_FORMATS: Final = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%d %H:%M%#z",
)
# Upper bounds of |epoch| per unit: 1e11 s is the year 5138, 1e11 ms is 1973.
_EPOCH_UNITS: Final = ((1e11, 1_000_000_000), (1e14, 1_000_000), (1e17, 1_000), (np.inf, 1))
_CSV_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.fZ"


def load_bars(path: str | os.PathLike[str], instrument_id: str | None = None) -> BarSeries:
    """Load OHLCV bars of one instrument from a CSV or Parquet file and check them.

    Parameters
    ----------
    path
        A ``.csv``, ``.parquet`` or ``.pq`` file (the suffix is matched case-insensitively).
    instrument_id
        The id of the returned series; defaults to the file name without its suffix.

    Returns
    -------
    BarSeries
        The bars, with ``ts`` in UTC nanoseconds and ``volume`` zero when the file has none.

    Raises
    ------
    DataValidationError
        When the file cannot be read or a value breaks a rule; ``rule`` and ``row`` say
        which and where (see Notes).
    FileNotFoundError
        When there is no file at ``path``.

    Notes
    -----
    Column names are matched case-insensitively with surrounding spaces stripped.
    ``open``, ``high``, ``low`` and ``close`` are required, ``volume`` is optional, other
    columns (``adj close``, ...) are ignored. The timestamp column is the first of
    ``timestamp``, ``datetime``, ``date``, ``time``, ``ts`` that is present (``date``
    and ``time`` together are joined), else an unnamed first column (a pandas index).

    Timestamps may be ISO dates or datetimes, with a ``Z`` or a UTC offset (converted to
    UTC) or naive (taken as UTC), integer epochs (the unit, s/ms/us/ns, is inferred from
    the largest magnitude), or Parquet dates and datetimes of any unit and time zone.

    Rules are checked in this order, each reported at its lowest row: ``empty``,
    ``duplicate_column``, ``missing_column``, ``nan`` (an empty, null, NaN, infinite or
    non-numeric value in a used column), ``bad_timestamp``, ``duplicate_timestamp`` /
    ``unordered_timestamp``, ``non_positive_price``, ``high_below_low``,
    ``open_outside_range``, ``close_outside_range``, ``negative_volume``.
    """
    source = os.fspath(path)
    fmt = _format_of(source)
    frame = _read(source, fmt)
    columns = _find_columns(source, frame)

    time_column, time_raw = _time_series(frame, columns)
    used: list[tuple[str, pl.Series]] = [("timestamp", time_raw)]
    used += [(name, frame.get_column(columns[name])) for name in _PRICES]
    if "volume" in columns:
        used.append(("volume", frame.get_column(columns["volume"])))

    floats = {name: _to_float(raw) for name, raw in used[1:]}
    _check_missing_values(source, used, floats, time_column)
    ts = _parse_timestamps(source, time_raw, time_column)

    volume = floats.get("volume")
    if volume is None:
        volume = np.zeros(frame.height)
    check_bar_values(
        source,
        ts,
        open=floats["open"],
        high=floats["high"],
        low=floats["low"],
        close=floats["close"],
        volume=volume,
    )
    name = Path(source).stem if instrument_id is None else instrument_id
    return BarSeries.from_arrays(
        name, ts, floats["open"], floats["high"], floats["low"], floats["close"], volume
    )


def write_bars(series: BarSeries, path: str | os.PathLike[str]) -> None:
    """Write bars to a CSV or Parquet file that `load_bars` reads back exactly.

    Parameters
    ----------
    series
        The bars to write; the instrument id is not stored (`load_bars` takes it from
        the file name unless given).
    path
        A ``.csv``, ``.parquet`` or ``.pq`` file; an existing file is replaced.

    Raises
    ------
    DataValidationError
        With rule ``unsupported_format`` for any other suffix.

    Notes
    -----
    CSV has the header ``timestamp,open,high,low,close,volume``, ISO-8601 UTC timestamps
    (``2024-01-02T09:30:00Z``, with a fraction only when the time has one) and floats in
    their shortest exact form. Parquet stores ``timestamp`` as ``datetime[ns, UTC]``.
    """
    source = os.fspath(path)
    fmt = _format_of(source)
    frame = pl.DataFrame(
        {
            "timestamp": pl.Series(series.ts, dtype=pl.Int64).cast(pl.Datetime("ns", "UTC")),
            "open": series.open,
            "high": series.high,
            "low": series.low,
            "close": series.close,
            "volume": series.volume,
        }
    )
    if fmt == "csv":
        text_time = pl.col("timestamp").dt.to_string(_CSV_TIME_FORMAT)
        frame.with_columns(text_time).write_csv(source)
    else:
        frame.write_parquet(source)


def _format_of(source: str) -> str:
    suffix = Path(source).suffix.lower()
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        detail = f"suffix {suffix!r} is not one of .csv, .parquet, .pq"
        raise DataValidationError(source, "unsupported_format", detail)
    return fmt


def _read(source: str, fmt: str) -> pl.DataFrame:
    if Path(source).stat().st_size == 0:  # raises FileNotFoundError for a missing file
        raise DataValidationError(source, "empty", "the file is empty")
    try:
        if fmt == "csv":
            # Everything as text: values are converted afterwards so that a bad one can be
            # reported with its row instead of failing the whole read.
            frame = pl.read_csv(source, infer_schema=False, encoding="utf8-lossy")
        else:
            frame = pl.read_parquet(source)
    except pl.exceptions.NoDataError as exc:
        raise DataValidationError(source, "empty", "the file has no header") from exc
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataValidationError(source, "unreadable", reason) from exc
    if frame.height == 0:
        raise DataValidationError(source, "empty", "no data rows")
    return frame


def _find_columns(source: str, frame: pl.DataFrame) -> dict[str, str]:
    """Map canonical names (open, date, ...) and ``"<index>"`` to the frame's columns."""
    names = frame.columns
    present = set(names)
    found: dict[str, str] = {}
    shown: dict[str, str] = {}
    for name in names:
        match = _DUPLICATED.fullmatch(name)
        header = match.group(1) if match and match.group(1) in present else name
        key = header.strip().lower()
        if key in _USED:
            if key in found:
                detail = f"columns {shown[key]!r} and {header!r} both mean {key!r}"
                raise DataValidationError(source, "duplicate_column", detail, column=key)
            found[key] = name
            shown[key] = header
    if names[0].strip().lower() in _INDEX_NAMES:
        found["<index>"] = names[0]
    elif _PARQUET_INDEX in present:
        found["<index>"] = _PARQUET_INDEX

    listing = ", ".join(repr(_DUPLICATED.sub(r"\1", name)) for name in names)
    if not any(key in found for key in (*_TIME_NAMES, "<index>")):
        detail = (
            "no timestamp column (timestamp, datetime, date, time, ts, or an unnamed "
            f"first column); found: {listing}"
        )
        raise DataValidationError(source, "missing_column", detail, column="timestamp")
    for key in _PRICES:
        if key not in found:
            detail = f"no {key!r} column; found: {listing}"
            raise DataValidationError(source, "missing_column", detail, column=key)
    return found


def _time_series(frame: pl.DataFrame, columns: dict[str, str]) -> tuple[str, pl.Series]:
    """Return the timestamp column's header and its values."""
    # A date column and a time-of-day column together make one timestamp.
    if {"date", "time"} <= columns.keys() and not {"timestamp", "datetime"} & columns.keys():
        date = frame.get_column(columns["date"]).cast(pl.String)
        time = frame.get_column(columns["time"]).cast(pl.String)
        joined = (date + " " + time).alias(f"{columns['date']} {columns['time']}")
        return joined.name, joined
    for key in (*_TIME_NAMES, "<index>"):
        if key in columns:
            series = frame.get_column(columns[key])
            return series.name, series
    raise AssertionError("unreachable: _find_columns checked for a timestamp column")


def _to_float(raw: pl.Series) -> FloatArray:
    """Convert a column to float64, with NaN wherever a value is null or not a number."""
    if raw.dtype == pl.String:
        parsed = raw.cast(pl.Float64, strict=False)
        if parsed.null_count() > raw.null_count():
            parsed = raw.str.strip_chars().cast(pl.Float64, strict=False)
    else:
        try:
            parsed = raw.cast(pl.Float64, strict=False)
        except pl.exceptions.PolarsError:  # e.g. a list or struct column
            parsed = pl.Series(raw.name, [None] * len(raw), dtype=pl.Float64)
    return np.asarray(parsed.to_numpy(), dtype=np.float64)


def _check_missing_values(
    source: str,
    used: list[tuple[str, pl.Series]],
    floats: dict[str, FloatArray],
    time_column: str,
) -> None:
    """Raise ``nan`` at the lowest row where a used column has no usable value."""
    first: tuple[int, str, pl.Series] | None = None
    for name, raw in used:
        bad = raw.is_null().to_numpy() if name == "timestamp" else ~np.isfinite(floats[name])
        i = first_true(bad)
        if i is not None and (first is None or i < first[0]):
            first = (i, name, raw)
    if first is None:
        return
    i, name, raw = first
    value = raw[i]
    header = time_column if name == "timestamp" else raw.name
    header = _DUPLICATED.sub(r"\1", header).strip() or name
    if value is None or (isinstance(value, str) and not value.strip()):
        detail = f"{header} is empty"
    elif isinstance(value, str):
        detail = f"{header} is {value!r}, not a finite number"
    else:
        detail = f"{header} is {value!r}"
    raise DataValidationError(source, "nan", detail, row=i + 1, column=name)


def _parse_timestamps(source: str, raw: pl.Series, header: str) -> IntArray:
    """Convert a timestamp column (no nulls) to UTC nanoseconds or raise ``bad_timestamp``."""
    label = _DUPLICATED.sub(r"\1", header).strip() or "the unnamed first column"
    try:
        return _parse_timestamp_values(source, raw, label)
    except _MixedEpochUnitsError as exc:
        detail = (
            f"{label} {raw[exc.row]!r} is an epoch in {exc.unit}, but the column's largest "
            f"values are in {exc.column_unit}: one column must use one unit"
        )
        raise DataValidationError(
            source, "bad_timestamp", detail, row=exc.row + 1, column="timestamp"
        ) from None


def _parse_timestamp_values(source: str, raw: pl.Series, label: str) -> IntArray:
    dtype = raw.dtype
    if dtype == pl.String:
        ts, ok = _parse_text(raw)
    elif isinstance(dtype, pl.Datetime):
        # Aware datetimes are stored as UTC instants already; naive ones are taken as UTC.
        physical = raw.dt.cast_time_unit("ns").to_physical()
        ts, ok = physical.to_numpy().astype(np.int64), np.ones(len(raw), dtype=np.bool_)
    elif dtype == pl.Date:
        physical = raw.cast(pl.Datetime("ns")).to_physical()
        ts, ok = physical.to_numpy().astype(np.int64), np.ones(len(raw), dtype=np.bool_)
    elif dtype.is_integer():
        ts, ok = _epoch_to_ns(raw.cast(pl.Int64).to_numpy(), np.ones(len(raw), dtype=np.bool_))
    elif dtype.is_float():
        values = np.asarray(raw.to_numpy(), dtype=np.float64)
        whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2.0**63)
        ts, ok = _epoch_to_ns(np.where(whole, values, 0.0).astype(np.int64), whole)
    else:
        detail = f"{label} has type {dtype}, not text, a date, a datetime or an integer epoch"
        raise DataValidationError(source, "bad_timestamp", detail, column="timestamp")
    i = first_true(~ok)
    if i is not None:
        detail = f"{label} {raw[i]!r} is not an ISO date, datetime or integer epoch"
        raise DataValidationError(source, "bad_timestamp", detail, row=i + 1, column="timestamp")
    return ts


def _parse_text(raw: pl.Series) -> tuple[IntArray, BoolArray]:
    """Parse ISO text or integer epochs; return nanoseconds and which rows parsed."""
    n = len(raw)
    ts = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=np.bool_)
    first_value = str(raw[0]).strip()
    if _EPOCH.fullmatch(first_value):
        epochs = raw.str.strip_chars().cast(pl.Int64, strict=False)
        return _epoch_to_ns(epochs.fill_null(0).to_numpy(), epochs.is_not_null().to_numpy())

    probe = pl.Series([first_value])
    fits = [fmt for fmt in _ISO_FORMATS if _to_datetime(probe, fmt).null_count() == 0]
    todo, rows = raw, None
    for fmt in (*fits, *(fmt for fmt in _ISO_FORMATS if fmt not in fits)):
        parsed = _to_datetime(todo, fmt)
        good = parsed.is_not_null().to_numpy()
        values = parsed.to_physical().fill_null(0).to_numpy()
        target = np.flatnonzero(good) if rows is None else rows[good]
        ts[target] = values[good]
        ok[target] = True
        if ok.all():
            break
        rows = np.flatnonzero(~ok)
        # Later passes see only the rows still unparsed, with stray spaces removed.
        todo = raw.gather(rows).str.strip_chars()
    return ts, ok


def _to_datetime(text: pl.Series, fmt: str) -> pl.Series:
    return text.str.to_datetime(fmt, time_unit="ns", time_zone="UTC", strict=False)


class _MixedEpochUnitsError(Exception):
    """Epochs of one column fall in different units' ranges (seconds beside millis)."""

    def __init__(self, row: int, unit: str, column_unit: str) -> None:
        super().__init__(row, unit, column_unit)
        self.row, self.unit, self.column_unit = row, unit, column_unit


_UNIT_NAMES: Final = ("seconds", "milliseconds", "microseconds", "nanoseconds")


def _epoch_to_ns(values: IntArray, valid: BoolArray) -> tuple[IntArray, BoolArray]:
    """Scale integer epochs to nanoseconds, inferring the unit from the largest magnitude.

    Every value must fall in that unit's range: a column that mixes seconds and
    milliseconds would otherwise put some rows in 1970.
    """
    magnitude = float(np.abs(values[valid]).max()) if valid.any() else 0.0
    unit = next(k for k, (bound, _) in enumerate(_EPOCH_UNITS) if magnitude < bound)
    factor = _EPOCH_UNITS[unit][1]
    if unit > 0:
        floor = _EPOCH_UNITS[unit - 1][0]
        # Zero and tiny values are legitimate only near the epoch; ignore them.
        smaller = valid & (np.abs(values) < floor) & (np.abs(values) >= floor / 10_000)
        if smaller.any():
            row = int(np.flatnonzero(smaller)[0])
            below = next(k for k, (b, _) in enumerate(_EPOCH_UNITS) if abs(values[row]) < b)
            raise _MixedEpochUnitsError(row, _UNIT_NAMES[below], _UNIT_NAMES[unit])
    limit = np.iinfo(np.int64).max // factor
    ok = valid & (values <= limit) & (values >= -limit)
    return np.where(ok, values, 0) * np.int64(factor), ok
