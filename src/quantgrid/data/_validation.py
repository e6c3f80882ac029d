"""The error a loader raises for bad market data, and the value checks on loaded bars."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from quantgrid.core import NANOS_PER_SECOND
from quantgrid.model import FloatArray, IntArray

RULES: Final = frozenset(
    {
        "empty",
        "missing_column",
        "duplicate_column",
        "bad_timestamp",
        "nan",
        "duplicate_timestamp",
        "unordered_timestamp",
        "high_below_low",
        "open_outside_range",
        "close_outside_range",
        "non_positive_price",
        "negative_volume",
        "unsupported_format",
        "unreadable",
    }
)


class DataValidationError(ValueError):
    """Market data that cannot be loaded, naming the file, the row and the broken rule.

    Parameters
    ----------
    source
        The file path as the caller gave it.
    rule
        A stable machine id of the broken rule, e.g. ``"high_below_low"``.
    detail
        What was found, with the offending values.
    row
        The 1-based data row (the header is not counted), or None when the problem
        is not in one row (a missing column, an unreadable file).
    column
        The canonical column involved (``timestamp``, ``open``, ``high``, ``low``,
        ``close`` or ``volume``), or None.

    Notes
    -----
    The message reads ``<source>: row <row>: <rule>: <detail>``, e.g.
    ``data/AAPL.csv: row 17: high_below_low: high 101.2 < low 101.9``.
    """

    def __init__(
        self,
        source: str,
        rule: str,
        detail: str,
        *,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        if rule not in RULES:
            msg = f"unknown data validation rule {rule!r}"
            raise ValueError(msg)
        self.source = source
        self.rule = rule
        self.detail = detail
        self.row = row
        self.column = column
        where = f"{source}: " if row is None else f"{source}: row {row}: "
        super().__init__(f"{where}{rule}: {detail}")

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments need an explicit recipe to survive pickling
        # (multiprocessing, pytest-xdist).
        return (_rebuild, (self.source, self.rule, self.detail, self.row, self.column))


def _rebuild(
    source: str, rule: str, detail: str, row: int | None, column: str | None
) -> DataValidationError:
    return DataValidationError(source, rule, detail, row=row, column=column)


def _num(value: np.float64) -> str:
    # repr of a NumPy scalar reads "np.float64(1.5)"; a Python float reads "1.5".
    return repr(float(value))


def first_true(mask: npt.NDArray[np.bool_]) -> int | None:
    """Return the index of the first True in ``mask``, or None if there is none."""
    if mask.size == 0:
        return None
    i = int(mask.argmax())
    return i if mask[i] else None


def format_ts(ts: int) -> str:
    """Format integer UTC nanoseconds as ISO-8601 with a ``Z``, keeping nanoseconds."""
    seconds, nanos = divmod(int(ts), NANOS_PER_SECOND)
    text = str(np.datetime64(seconds, "s"))
    if nanos:
        text += f".{nanos:09d}".rstrip("0")
    return text + "Z"


def check_bar_values(
    source: str,
    ts: IntArray,
    *,
    open: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    volume: FloatArray,
) -> None:
    """Check timestamp order and price sanity of finite, parsed bar columns.

    Parameters
    ----------
    source
        The file named in any error.
    ts, open, high, low, close, volume
        Equal-length columns, free of NaN (the loader checks that first).

    Raises
    ------
    DataValidationError
        On the first broken rule, in this order: ``duplicate_timestamp`` or
        ``unordered_timestamp`` (the first row not after its predecessor),
        ``non_positive_price``, ``high_below_low``, ``open_outside_range``,
        ``close_outside_range``, ``negative_volume``; each at its lowest row.
    """
    # Timestamps must strictly increase: the first row that does not is reported
    # under the rule that describes it, whichever of the two comes first.
    step = np.diff(ts)
    i = first_true(step <= 0)
    if i is not None:
        row, prev = i + 2, i + 1
        if step[i] == 0:
            detail = f"{format_ts(ts[i + 1])} repeats row {prev}"
            raise DataValidationError(
                source, "duplicate_timestamp", detail, row=row, column="timestamp"
            )
        detail = f"{format_ts(ts[i + 1])} is before row {prev}'s {format_ts(ts[i])}"
        raise DataValidationError(
            source, "unordered_timestamp", detail, row=row, column="timestamp"
        )

    prices = (("open", open), ("high", high), ("low", low), ("close", close))
    hits = [(first_true(values <= 0.0), name, values) for name, values in prices]
    found = [(i, name, values) for i, name, values in hits if i is not None]
    if found:
        i, name, values = min(found, key=lambda hit: hit[0])
        raise DataValidationError(
            source,
            "non_positive_price",
            f"{name} {_num(values[i])} <= 0",
            row=i + 1,
            column=name,
        )

    i = first_true(high < low)
    if i is not None:
        detail = f"high {_num(high[i])} < low {_num(low[i])}"
        raise DataValidationError(source, "high_below_low", detail, row=i + 1, column="high")

    for name, values in (("open", open), ("close", close)):
        i = first_true((values < low) | (values > high))
        if i is not None:
            detail = f"{name} {_num(values[i])} outside [low {_num(low[i])}, high {_num(high[i])}]"
            raise DataValidationError(
                source, f"{name}_outside_range", detail, row=i + 1, column=name
            )

    i = first_true(volume < 0.0)
    if i is not None:
        detail = f"volume {_num(volume[i])} < 0"
        raise DataValidationError(source, "negative_volume", detail, row=i + 1, column="volume")
