"""Argument and column checks for the bar builders.

Each error names the function, the argument or column, the rule, and the value or row
that broke it, so a caller can fix the input without reading this package.
"""

from __future__ import annotations

import math

import numpy as np

from quantgrid.model import FloatArray, IntArray


def check_whole_number(function: str, name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise unless it is a whole number >= ``minimum``."""
    number = None
    if not isinstance(value, bool) and isinstance(value, int | np.integer):
        number = int(value)
    if number is None or number < minimum:
        msg = f"{function}: {name} must be a whole number >= {minimum}, got {value!r}"
        raise ValueError(msg)
    return number


def check_positive_number(function: str, name: str, value: object) -> float:
    """Return ``value`` as a float, or raise unless it is a finite number > 0."""
    number = None
    if not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
    if number is None or not math.isfinite(number) or number <= 0.0:
        msg = f"{function}: {name} must be a finite number > 0, got {value!r}"
        raise ValueError(msg)
    return number


def check_ordered(function: str, column: str, ts: IntArray) -> None:
    """Raise unless the timestamps never go backwards."""
    backwards = np.flatnonzero(ts[1:] < ts[:-1])
    if backwards.size:
        row = int(backwards[0]) + 1
        msg = (
            f"{function}: {column} must be non-decreasing, but row {row} ({int(ts[row])}) "
            f"is before row {row - 1} ({int(ts[row - 1])})"
        )
        raise ValueError(msg)


def check_finite(function: str, column: str, values: FloatArray) -> None:
    """Raise unless every value is finite (no NaN, no infinity)."""
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        msg = f"{function}: {column} must be finite, got {values[row]!r} at row {row}"
        raise ValueError(msg)


def check_non_negative(function: str, column: str, values: FloatArray) -> None:
    """Raise unless every value is finite and >= 0."""
    check_finite(function, column, values)
    bad = np.flatnonzero(values < 0.0)
    if bad.size:
        row = int(bad[0])
        msg = f"{function}: {column} must be >= 0, got {values[row]!r} at row {row}"
        raise ValueError(msg)


def check_positive(function: str, column: str, values: FloatArray) -> None:
    """Raise unless every value is finite and > 0."""
    check_finite(function, column, values)
    bad = np.flatnonzero(values <= 0.0)
    if bad.size:
        row = int(bad[0])
        msg = f"{function}: {column} must be > 0, got {values[row]!r} at row {row}"
        raise ValueError(msg)
