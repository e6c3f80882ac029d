"""Checks and conversions of the inputs shared by the portfolio-risk functions."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from quantgrid.model import FloatArray


def _check_confidence(confidence: float) -> float:
    if not (isinstance(confidence, int | float) and 0.0 < confidence < 1.0):
        msg = f"confidence must be a number strictly between 0 and 1, got {confidence!r}"
        raise ValueError(msg)
    return float(confidence)


def _check_positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        msg = f"{name} must be a whole number >= 1, got {value!r}"
        raise ValueError(msg)
    return int(value)


def _check_positive_float(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        msg = f"{name} must be a finite number > 0, got {value!r}"
        raise ValueError(msg)
    if not (math.isfinite(value) and value > 0):
        msg = f"{name} must be a finite number > 0, got {value!r}"
        raise ValueError(msg)
    return float(value)


def _returns_1d(returns: npt.ArrayLike, *, min_length: int = 1) -> FloatArray:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        msg = f"returns must be one-dimensional, got shape {r.shape}"
        raise ValueError(msg)
    if len(r) < min_length:
        msg = f"returns must hold at least {min_length} values, got {len(r)}"
        raise ValueError(msg)
    if not np.isfinite(r).all():
        msg = "returns must be finite (no NaN or inf)"
        raise ValueError(msg)
    return r


def _returns_2d(returns_matrix: npt.ArrayLike, *, min_rows: int = 1) -> FloatArray:
    m = np.asarray(returns_matrix, dtype=np.float64)
    if m.ndim != 2:
        msg = f"returns_matrix must be two-dimensional (T x N), got shape {m.shape}"
        raise ValueError(msg)
    if m.shape[0] < min_rows or m.shape[1] < 1:
        msg = f"returns_matrix must have at least {min_rows} rows and 1 column, got {m.shape}"
        raise ValueError(msg)
    if not np.isfinite(m).all():
        msg = "returns_matrix must be finite (no NaN or inf)"
        raise ValueError(msg)
    return m


def _weights(weights: npt.ArrayLike, n_assets: int) -> FloatArray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n_assets,):
        msg = f"weights must have shape ({n_assets},) to match returns_matrix, got {w.shape}"
        raise ValueError(msg)
    if not np.isfinite(w).all():
        msg = "weights must be finite (no NaN or inf)"
        raise ValueError(msg)
    return w


# ----------------------------------------------------------------------- historical
