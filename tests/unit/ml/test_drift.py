"""Population stability index: hand-computed values, properties, and the drift report."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantgrid.ml._drift import (
    DriftReport,
    DriftStatus,
    FeatureDrift,
    feature_drift,
    population_stability_index,
)

samples = st.lists(st.integers(-50, 50), min_size=1, max_size=60)


def test_psi_by_hand_on_quintiles():
    expected = np.arange(1.0, 11.0)  # edges 2, 4, 6, 8: two values per bin, 0.2 each
    actual = [1, 1, 1, 1, 3, 3, 5, 7, 9, 9]  # shares 0.4, 0.2, 0.1, 0.1, 0.2
    by_hand = (0.4 - 0.2) * math.log(2) + 2 * (0.1 - 0.2) * math.log(0.5)  # = 0.4 ln 2
    assert population_stability_index(expected, actual, bins=5) == pytest.approx(by_hand)
    assert by_hand == pytest.approx(0.4 * math.log(2))


def test_an_empty_bin_counts_as_epsilon():
    expected = [1.0, 2.0, 3.0, 4.0]  # bins=2: edge 2; shares 0.5, 0.5
    actual = [3.0, 4.0, 3.5, 10.0]  # everything above the edge: shares 0, 1
    eps = 1e-4
    by_hand = (eps - 0.5) * math.log(eps / 0.5) + (1.0 - 0.5) * math.log(1.0 / 0.5)
    assert population_stability_index(expected, actual, bins=2, epsilon=eps) == pytest.approx(
        by_hand
    )


def test_a_constant_reference_notices_any_move_either_way():
    reference = np.full(100, 3.0)
    assert population_stability_index(reference, np.full(50, 3.0)) == 0.0
    below = population_stability_index(reference, np.full(50, 2.0))
    above = population_stability_index(reference, np.full(50, 4.0))
    assert below == pytest.approx(above)
    # All the mass moved from one bin to an empty one: 2 (1 - eps) ln(1 / eps).
    assert below == pytest.approx(2 * (1 - 1e-4) * math.log(1e4))


def test_the_same_distribution_is_stable_and_a_shift_is_significant():
    rng = np.random.default_rng(11)
    reference = rng.normal(0.0, 1.0, 20_000)
    same = rng.normal(0.0, 1.0, 20_000)
    assert population_stability_index(reference, same) < 0.01
    shifted = rng.normal(1.0, 1.0, 20_000)
    assert population_stability_index(reference, shifted) > 0.25
    wider = rng.normal(0.0, 2.0, 20_000)
    assert population_stability_index(reference, wider) > 0.25


@given(samples, samples)
def test_psi_is_never_negative(expected: list[int], actual: list[int]):
    assert population_stability_index(expected, actual, bins=5) >= 0.0


@given(samples)
def test_a_sample_against_itself_is_zero(values: list[int]):
    assert population_stability_index(values, values) == 0.0
    assert population_stability_index(values, values[::-1]) == 0.0


@given(samples, samples)
def test_only_ranks_matter(expected: list[int], actual: list[int]):
    # x -> x**3 + 7 is strictly increasing and exact on these integers.
    def warp(values: list[int]) -> list[int]:
        return [v**3 + 7 for v in values]

    assert population_stability_index(warp(expected), warp(actual), bins=4) == pytest.approx(
        population_stability_index(expected, actual, bins=4), abs=1e-12
    )


@given(samples, samples, st.integers(1, 4), st.integers(1, 4))
def test_repeating_the_samples_changes_nothing(
    expected: list[int], actual: list[int], r: int, s: int
):
    # Shares do not change, and the edges do not either: the ceil(k r n / b)-th value of
    # the reference repeated r times is its ceil(k n / b)-th value.
    assert population_stability_index(expected * r, actual * s, bins=4) == pytest.approx(
        population_stability_index(expected, actual, bins=4), abs=1e-12
    )


@pytest.mark.parametrize(
    ("expected", "actual", "kwargs", "pattern"),
    [
        ([], [1.0], {}, "expected: must be a non-empty 1-D sample"),
        ([1.0], [[1.0]], {}, r"actual: must be a non-empty 1-D sample, got shape \(1, 1\)"),
        ([1.0, math.nan], [1.0], {}, "expected: must not hold NaN"),
        ([1.0], [1.0], {"bins": 1}, "bins: must be an integer >= 2"),
        ([1.0], [1.0], {"epsilon": 0.0}, r"epsilon: must be a number in \(0, 1\)"),
    ],
)
def test_bad_psi_input_is_refused(expected: Any, actual: Any, kwargs: dict[str, Any], pattern: str):
    with pytest.raises(ValueError, match=pattern):
        population_stability_index(expected, actual, **kwargs)


# -- the drift report ----------------------------------------------------------------------
def test_feature_drift_reports_each_feature_the_worst_and_the_nans():
    rng = np.random.default_rng(3)
    n = 5_000
    reference = np.column_stack([rng.normal(0, 1, n), rng.normal(0, 1, n), rng.normal(0, 1, n)])
    current = np.column_stack([rng.normal(0, 1, n), rng.normal(0.4, 1, n), rng.normal(1.5, 1, n)])
    reference[:7, 0] = np.nan  # warm-up rows
    current[:3, 2] = np.nan

    report = feature_drift(reference, current, ["stable", "moderate", "shifted"])

    assert isinstance(report, DriftReport)
    assert [f.status for f in report.features] == [
        DriftStatus.STABLE,
        DriftStatus.MODERATE,
        DriftStatus.SIGNIFICANT,
    ]
    assert report.max_feature == "shifted"
    assert report.status is DriftStatus.SIGNIFICANT
    assert report.max_psi == max(f.psi for f in report.features)
    first = report.features[0]
    assert (first.reference_count, first.reference_nan, first.current_nan) == (n - 7, 7, 0)
    assert report.features[2].current_nan == 3
    assert first.psi == population_stability_index(reference[7:, 0], current[:, 0])
    assert report.drifted() == ("shifted",)
    assert report.drifted(DriftStatus.MODERATE) == ("moderate", "shifted")
    assert report.drifted(DriftStatus.STABLE) == ("stable", "moderate", "shifted")


def test_the_thresholds_are_parameters():
    rng = np.random.default_rng(5)
    reference = rng.normal(0, 1, (4_000, 1))
    current = rng.normal(0.3, 1, (4_000, 1))
    psi = feature_drift(reference, current, ["x"]).max_psi
    assert feature_drift(reference, current, ["x"], moderate=psi / 2, significant=psi).status is (
        DriftStatus.SIGNIFICANT
    )
    strict = feature_drift(reference, current, ["x"], moderate=psi * 2, significant=psi * 3)
    assert strict.features == (
        FeatureDrift(
            name="x",
            psi=psi,
            status=DriftStatus.STABLE,
            reference_count=4_000,
            current_count=4_000,
            reference_nan=0,
            current_nan=0,
        ),
    )
    assert (strict.moderate, strict.significant) == (psi * 2, psi * 3)


@pytest.mark.parametrize(
    ("reference", "current", "names", "kwargs", "pattern"),
    [
        (np.zeros(5), np.zeros((5, 1)), ["x"], {}, "reference: must be a 2-D array with rows"),
        (
            np.zeros((5, 2)),
            np.zeros((5, 1)),
            ["x"],
            {},
            r"reference: must have one column per name \(1\), got 2",
        ),
        (
            np.zeros((5, 2)),
            np.zeros((5, 2)),
            ["x", "x"],
            {},
            "names: must be distinct non-empty strings",
        ),
        (
            np.full((5, 1), np.nan),
            np.zeros((5, 1)),
            ["x"],
            {},
            "feature 'x': reference has no value that is not NaN",
        ),
        (
            np.zeros((5, 1)),
            np.zeros((5, 1)),
            ["x"],
            {"moderate": 0.3, "significant": 0.2},
            "thresholds: must be 0 < moderate < significant",
        ),
    ],
)
def test_bad_drift_input_is_refused(
    reference: Any, current: Any, names: list[str], kwargs: dict[str, Any], pattern: str
):
    with pytest.raises(ValueError, match=pattern):
        feature_drift(reference, current, names, **kwargs)
