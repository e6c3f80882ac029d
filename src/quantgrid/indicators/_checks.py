"""Argument checks shared by the indicators: periods, multipliers and input arrays."""

from __future__ import annotations

import math

import numpy as np

from quantgrid.model import FloatArray


def check_period(indicator: str, period: int, *, name: str = "period", minimum: int = 1) -> None:
    """Raise ValueError unless ``period`` is a whole number no smaller than ``minimum``."""
    if isinstance(period, bool) or not isinstance(period, int) or period < minimum:
        msg = f"{indicator}: {name} must be a whole number >= {minimum}, got {period!r}"
        raise ValueError(msg)


def check_multiplier(indicator: str, name: str, value: float) -> None:
    """Raise ValueError unless ``value`` is a finite, non-negative real number."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        msg = f"{indicator}: {name} must be a finite number >= 0, got {value!r}"
        raise ValueError(msg)


def as_float_array(values: FloatArray) -> FloatArray:
    """Return ``values`` as a contiguous float64 array (no copy when it already is one)."""
    return np.ascontiguousarray(values, dtype=np.float64)


def as_float_arrays(indicator: str, names: str, *arrays: FloatArray) -> tuple[FloatArray, ...]:
    """Return the inputs as contiguous one-dimensional float64 arrays of one length.

    ``names`` lists the inputs for the error message, e.g. ``"high, low, close"``.
    """
    converted = tuple(as_float_array(array) for array in arrays)
    if any(array.ndim != 1 for array in converted):
        msg = f"{indicator}: {names} must be one-dimensional arrays"
        raise ValueError(msg)
    lengths = {array.shape[0] for array in converted}
    if len(lengths) > 1:
        shown = ", ".join(str(array.shape[0]) for array in converted)
        msg = f"{indicator}: {names} must have the same length, got {shown}"
        raise ValueError(msg)
    return converted


def as_series(indicator: str, values: FloatArray) -> FloatArray:
    """Return one input series as a contiguous one-dimensional float64 array."""
    return as_float_arrays(indicator, "values", values)[0]
