"""Feature drift: the population stability index of live features against training's.

PSI compares how a current sample spreads over bins drawn from a reference sample's
quantiles: ``sum((a - e) * ln(a / e))`` over the bins, with ``e`` and ``a`` the
reference's and the current sample's share of each bin. By convention a PSI under 0.1
is stable, under 0.25 a moderate shift, and above that a significant one (a reason to
retrain).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import Enum

import msgspec
import numpy as np
import numpy.typing as npt

from quantgrid.model import FloatArray

#: The share given to an empty bin, so it adds a finite amount rather than infinity.
DEFAULT_EPSILON = 1e-4
DEFAULT_MODERATE_PSI = 0.1
DEFAULT_SIGNIFICANT_PSI = 0.25


class DriftStatus(Enum):
    """How far a feature has moved, by the PSI thresholds."""

    STABLE = "stable"
    MODERATE = "moderate"
    SIGNIFICANT = "significant"


class FeatureDrift(msgspec.Struct, frozen=True, kw_only=True):
    """One feature's PSI, its status, and the values it was computed from.

    ``*_count`` are the values used and ``*_nan`` the NaN values left out.
    """

    name: str
    psi: float
    status: DriftStatus
    reference_count: int
    current_count: int
    reference_nan: int
    current_nan: int


class DriftReport(msgspec.Struct, frozen=True, kw_only=True):
    """PSI per feature, the largest, and the overall status (that of the largest).

    Attributes
    ----------
    features
        One entry per feature, in the order given.
    max_psi, max_feature
        The largest PSI and its feature.
    status
        The worst status of any feature.
    moderate, significant
        The thresholds the statuses were given by.
    """

    features: tuple[FeatureDrift, ...]
    max_psi: float
    max_feature: str
    status: DriftStatus
    moderate: float
    significant: float

    def drifted(self, at_least: DriftStatus = DriftStatus.SIGNIFICANT) -> tuple[str, ...]:
        """Return the names of the features whose status is ``at_least`` or worse."""
        order = list(DriftStatus)
        return tuple(
            f.name for f in self.features if order.index(f.status) >= order.index(at_least)
        )


def population_stability_index(
    expected: npt.ArrayLike,
    actual: npt.ArrayLike,
    bins: int = 10,
    *,
    epsilon: float = DEFAULT_EPSILON,
) -> float:
    """Return the PSI of ``actual`` against the reference sample ``expected``.

    Parameters
    ----------
    expected
        The reference sample (the training data's feature values), 1-D, no NaN.
    actual
        The current sample, 1-D, no NaN.
    bins
        How many quantile bins of ``expected`` to compare over.
    epsilon
        The share an empty bin counts as, in either sample.

    Raises
    ------
    ValueError
        If a sample is empty, not 1-D or holds NaN, or ``bins`` or ``epsilon`` is out
        of range.

    Notes
    -----
    The bins are ``(-inf, e_1], (e_1, e_2], ..., (e_{b-1}, inf)`` with ``e_k`` the
    ``ceil(k n / b)``-th smallest reference value, so each holds ``n / b`` reference
    values when they are distinct, and current values beyond the reference's range
    fall in the end bins. Tied edges merge (a feature with few values has fewer
    bins); a constant reference ``c`` gets the bins ``< c``, ``= c`` and ``> c``, so any
    move away from it shows. Only ranks matter: applying one strictly increasing
    function to both samples leaves the PSI unchanged. Every term ``(a - e) ln(a / e)``
    is non-negative, so the PSI is too, and it is 0 when ``actual`` spreads over the
    bins like ``expected`` (a sample against itself). An empty bin's share is
    ``epsilon``: a bin empty in the reference and holding a share ``a`` now adds
    ``(a - epsilon) ln(a / epsilon)`` instead of infinity.
    """
    reference = _sample("expected", expected)
    current = _sample("actual", actual)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins: must be an integer >= 2, got {bins!r}")
    if not isinstance(epsilon, int | float) or not 0.0 < epsilon < 1.0:
        raise ValueError(f"epsilon: must be a number in (0, 1), got {epsilon!r}")
    edges = _edges(np.sort(reference), bins)
    e = _shares(reference, edges, epsilon)
    a = _shares(current, edges, epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def feature_drift(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    names: Sequence[str],
    *,
    bins: int = 10,
    moderate: float = DEFAULT_MODERATE_PSI,
    significant: float = DEFAULT_SIGNIFICANT_PSI,
    epsilon: float = DEFAULT_EPSILON,
) -> DriftReport:
    """Return the PSI of each feature (a column) of ``current`` against ``reference``.

    Parameters
    ----------
    reference, current
        2-D samples, one row per observation and one column per feature; NaN values
        (a feature in its warm-up, say) are left out, feature by feature.
    names
        The features' names, one per column.
    bins, epsilon
        As for ``population_stability_index``.
    moderate, significant
        A PSI below ``moderate`` is STABLE, below ``significant`` MODERATE, else
        SIGNIFICANT.

    Raises
    ------
    ValueError
        If the arrays are not 2-D with one column per name, names repeat, a feature
        has no value (all NaN) in either sample, or a threshold is out of order.
    """
    ref = _matrix("reference", reference)
    cur = _matrix("current", current)
    names = tuple(names)
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"names: must be distinct non-empty strings, got {names!r}")
    for label, matrix in (("reference", ref), ("current", cur)):
        if matrix.shape[1] != len(names):
            msg = f"{label}: must have one column per name ({len(names)}), got {matrix.shape[1]}"
            raise ValueError(msg)
    if not 0.0 < moderate < significant < math.inf:
        msg = f"thresholds: must be 0 < moderate < significant, got {moderate!r}, {significant!r}"
        raise ValueError(msg)

    features = []
    for k, name in enumerate(names):
        ref_nan, cur_nan = np.isnan(ref[:, k]), np.isnan(cur[:, k])
        for label, column in (("reference", ref[:, k]), ("current", cur[:, k])):
            if np.isnan(column).all():
                raise ValueError(f"feature {name!r}: {label} has no value that is not NaN")
        psi = population_stability_index(ref[~ref_nan, k], cur[~cur_nan, k], bins, epsilon=epsilon)
        features.append(
            FeatureDrift(
                name=name,
                psi=psi,
                status=_status(psi, moderate, significant),
                reference_count=int((~ref_nan).sum()),
                current_count=int((~cur_nan).sum()),
                reference_nan=int(ref_nan.sum()),
                current_nan=int(cur_nan.sum()),
            )
        )
    worst = max(features, key=lambda f: f.psi)
    return DriftReport(
        features=tuple(features),
        max_psi=worst.psi,
        max_feature=worst.name,
        status=worst.status,
        moderate=float(moderate),
        significant=float(significant),
    )


def _sample(name: str, values: npt.ArrayLike) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name}: must be a non-empty 1-D sample, got shape {array.shape}")
    if np.isnan(array).any():
        raise ValueError(f"{name}: must not hold NaN (leave missing values out)")
    return array


def _matrix(name: str, values: npt.ArrayLike) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name}: must be a 2-D array with rows, got shape {array.shape}")
    return array


def _edges(ordered: FloatArray, bins: int) -> FloatArray:
    """Return the inner bin edges: the ``ceil(k n / bins)``-th values, k = 1..bins-1."""
    n = len(ordered)
    ranks = [-(-k * n // bins) - 1 for k in range(1, bins)]  # exact: integer arithmetic
    edges = np.unique(ordered[ranks])
    if ordered[0] == ordered[-1]:  # constant: split off the values below it too
        edges = np.array([np.nextafter(ordered[0], -np.inf), ordered[0]])
    return edges


def _shares(values: FloatArray, edges: FloatArray, epsilon: float) -> FloatArray:
    # side="left": a value equal to an edge belongs to the bin the edge closes.
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    shares = counts / len(values)
    return np.where(counts == 0, epsilon, shares)


def _status(psi: float, moderate: float, significant: float) -> DriftStatus:
    if psi < moderate:
        return DriftStatus.STABLE
    if psi < significant:
        return DriftStatus.MODERATE
    return DriftStatus.SIGNIFICANT
