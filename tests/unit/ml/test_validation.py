"""Purged k-fold and walk-forward: hand-checked splits, leak-free properties, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantgrid.ml._validation import PurgedKFold, WalkForward, walk_forward_splits

STEP = 60_000_000_000  # one-minute bars, in ns
T0 = 1_704_067_200_000_000_000


def next_bar_spans(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``ts, t1`` of ``n`` next-bar labels: each is known at the following bar."""
    ts = T0 + STEP * np.arange(n, dtype=np.int64)
    return ts, ts + STEP


def as_lists(folds: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[list[int], list[int]]]:
    return [(train.tolist(), test.tolist()) for train, test in folds]


# -- hand-checked cases -------------------------------------------------------------------


def test_next_bar_labels_lose_one_neighbour_each_side_of_the_test_fold() -> None:
    # Ten samples, five folds of two. Test fold [2, 3] spans [ts2, t1_3 = ts4]: sample 1
    # ends at ts2 (touching) and sample 4 starts at ts4 (touching), so both are purged.
    ts, t1 = next_bar_spans(10)

    folds = as_lists(list(PurgedKFold(n_splits=5).split(ts, t1)))

    assert folds == [
        ([3, 4, 5, 6, 7, 8, 9], [0, 1]),
        ([0, 5, 6, 7, 8, 9], [2, 3]),
        ([0, 1, 2, 7, 8, 9], [4, 5]),
        ([0, 1, 2, 3, 4, 9], [6, 7]),
        ([0, 1, 2, 3, 4, 5, 6], [8, 9]),
    ]


def test_embargo_drops_the_bars_after_the_test_labels_end() -> None:
    # Test fold [2, 3] ends its labels at ts4; sample 4 is purged, and an embargo of two
    # bars drops the first two samples starting after ts4: 5 and 6.
    ts, t1 = next_bar_spans(10)

    folds = as_lists(list(PurgedKFold(n_splits=5, embargo=2).split(ts, t1)))

    assert folds[1] == ([0, 7, 8, 9], [2, 3])
    assert folds[4] == ([0, 1, 2, 3, 4, 5, 6], [8, 9])  # nothing after the last fold


def test_embargo_as_a_fraction_rounds_up_to_whole_bars() -> None:
    ts, t1 = next_bar_spans(10)

    by_fraction = as_lists(list(PurgedKFold(n_splits=5, embargo=0.15).split(ts, t1)))
    by_bars = as_lists(list(PurgedKFold(n_splits=5, embargo=2).split(ts, t1)))

    assert by_fraction == by_bars  # ceil(0.15 * 10) = 2


def test_a_long_label_is_purged_even_far_from_the_test_fold() -> None:
    # Sample 0's label runs to ts8: it overlaps the fold [6, 7] although it starts far
    # before it. Sample 5's label ends exactly at ts6 and is purged as touching.
    ts, t1 = next_bar_spans(10)
    t1 = t1.copy()
    t1[0] = ts[8]

    folds = as_lists(list(PurgedKFold(n_splits=5).split(ts, t1)))

    assert folds[3] == ([1, 2, 3, 4, 9], [6, 7])
    assert folds[4] == ([1, 2, 3, 4, 5, 6], [8, 9])  # sample 0 ends at ts8: touching


def test_uneven_folds_differ_by_at_most_one_sample() -> None:
    ts, t1 = next_bar_spans(11)

    sizes = [test.size for _, test in PurgedKFold(n_splits=3).split(ts, t1)]

    assert sorted(sizes) == [3, 4, 4]
    assert sum(sizes) == 11


def test_walk_forward_expanding_trains_on_everything_before_the_purge() -> None:
    # Twelve samples, three blocks of three: blocks start at 3, 6, 9. The sample just
    # before a block ends its label at the block's first ts, so it is purged.
    ts, t1 = next_bar_spans(12)

    folds = as_lists(walk_forward_splits(ts, t1, n_splits=3, test_size=3))

    assert folds == [
        ([0, 1], [3, 4, 5]),
        ([0, 1, 2, 3, 4], [6, 7, 8]),
        ([0, 1, 2, 3, 4, 5, 6, 7], [9, 10, 11]),
    ]


def test_walk_forward_rolling_keeps_the_latest_train_size_samples() -> None:
    ts, t1 = next_bar_spans(12)

    folds = as_lists(walk_forward_splits(ts, t1, n_splits=3, test_size=3, train_size=2))

    assert folds == [([0, 1], [3, 4, 5]), ([3, 4], [6, 7, 8]), ([6, 7], [9, 10, 11])]


def test_walk_forward_embargo_is_a_gap_before_each_block() -> None:
    ts, t1 = next_bar_spans(12)

    folds = as_lists(walk_forward_splits(ts, t1, n_splits=3, test_size=3, embargo=1))

    assert folds == [
        ([0], [3, 4, 5]),
        ([0, 1, 2, 3], [6, 7, 8]),
        ([0, 1, 2, 3, 4, 5, 6], [9, 10, 11]),
    ]


def test_walk_forward_default_test_size_leaves_one_block_to_start_with() -> None:
    ts, t1 = next_bar_spans(20)

    folds = walk_forward_splits(ts, t1, n_splits=4)

    assert [test.tolist()[0] for _, test in folds] == [4, 8, 12, 16]  # 20 // 5 = 4
    assert folds[-1][1][-1] == 19


# -- properties ---------------------------------------------------------------------------


@st.composite
def label_spans(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``ts`` with ties, and ``t1`` at a random horizon (not monotone)."""
    n = draw(st.integers(20, 120))
    steps = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    horizons = draw(st.lists(st.integers(0, 8), min_size=n, max_size=n))
    ts = T0 + STEP * np.cumsum(steps, dtype=np.int64)
    return ts, ts + STEP * np.asarray(horizons, dtype=np.int64)


def overlaps(ts: np.ndarray, t1: np.ndarray, i: int, start: int, end: int) -> bool:
    return bool(ts[i] <= end and t1[i] >= start)


@given(label_spans(), st.integers(2, 6), st.integers(0, 5))
def test_kfold_tests_each_sample_once_and_trains_only_on_disjoint_spans(
    spans: tuple[np.ndarray, np.ndarray], n_splits: int, embargo: int
) -> None:
    ts, t1 = spans
    try:
        folds = list(PurgedKFold(n_splits=n_splits, embargo=embargo).split(ts, t1))
    except ValueError as exc:  # long labels can leave a fold nothing to train on
        assert "no training sample" in str(exc)
        return

    tested = np.concatenate([test for _, test in folds])
    assert tested.tolist() == list(range(ts.size))  # each once, contiguous, in order
    for train, test in folds:
        start, end = int(ts[test[0]]), int(t1[test].max())
        assert np.intersect1d(train, test).size == 0
        assert not any(overlaps(ts, t1, i, start, end) for i in train)
        after = int(np.searchsorted(ts, end, side="right"))
        embargoed = set(range(after, min(after + embargo, ts.size)))
        assert embargoed.isdisjoint(train.tolist())
        # Nothing else is thrown away: every clean, non-embargoed sample trains.
        clean = {
            i
            for i in range(ts.size)
            if i not in set(test.tolist())
            and not overlaps(ts, t1, i, start, end)
            and i not in embargoed
        }
        assert set(train.tolist()) == clean


@given(
    label_spans(),
    st.integers(1, 4),
    st.integers(1, 10),
    st.none() | st.integers(1, 15),
    st.integers(0, 3),
)
def test_walk_forward_trains_only_on_labels_known_before_the_block(
    spans: tuple[np.ndarray, np.ndarray],
    n_splits: int,
    test_size: int,
    train_size: int | None,
    embargo: int,
) -> None:
    ts, t1 = spans
    try:
        folds = walk_forward_splits(ts, t1, n_splits, train_size, test_size, embargo)
    except ValueError as exc:
        assert "training sample" in str(exc) or "needs more than" in str(exc)
        return

    assert len(folds) == n_splits
    tests = np.concatenate([test for _, test in folds])
    assert tests.tolist() == list(range(ts.size - n_splits * test_size, ts.size))
    for train, test in folds:
        assert train.max() < test.min()
        assert t1[train].max() < ts[test[0]]  # every training label known in time
        # Exactly the purged samples before the block, less the embargo's gap, less
        # (rolling) all but the latest train_size.
        eligible = np.flatnonzero(t1[: test[0]] < ts[test[0]])
        expected = eligible[: max(eligible.size - embargo, 0)]
        if train_size is not None:
            assert train.size == train_size
            expected = expected[-train_size:]
        assert train.tolist() == expected.tolist()


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_splits": 1}, "n_splits must be an integer of at least 2"),
        ({"n_splits": 2.5}, "n_splits must be an integer"),
        ({"n_splits": True}, "n_splits must be an integer"),
        ({"embargo": -1}, "embargo must not be negative"),
        ({"embargo": 1.0}, r"embargo as a float is a fraction .* \[0, 1\)"),
        ({"embargo": -0.1}, "embargo as a float"),
        ({"embargo": "3"}, "embargo must be an int"),
    ],
)
def test_kfold_rejects_bad_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PurgedKFold(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_splits": 0}, "n_splits must be an integer of at least 1"),
        ({"test_size": 0}, "test_size must be an integer of at least 1"),
        ({"train_size": 0}, "train_size must be an integer of at least 1"),
        ({"embargo": 2.0}, "embargo as a float"),
    ],
)
def test_walk_forward_rejects_bad_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WalkForward(**kwargs)  # type: ignore[arg-type]


def test_unsorted_ts_is_named_with_its_position() -> None:
    ts, t1 = next_bar_spans(10)
    ts = ts.copy()
    ts[[4, 5]] = ts[[5, 4]]

    with pytest.raises(ValueError, match=r"ts must be sorted .* ts\[5\]=.* < ts\[4\]"):
        list(PurgedKFold(2).split(ts, np.maximum(t1, ts)))


def test_a_label_ending_before_it_starts_is_named() -> None:
    ts, t1 = next_bar_spans(10)
    t1 = t1.copy()
    t1[3] = ts[3] - 1

    with pytest.raises(ValueError, match=r"t1 must not precede ts .* t1\[3\]"):
        list(PurgedKFold(2).split(ts, t1))
    with pytest.raises(ValueError, match=r"t1\[3\]"):
        walk_forward_splits(ts, t1, n_splits=2)


@pytest.mark.parametrize(
    ("ts", "t1", "message"),
    [
        (np.arange(5.0), np.arange(5.0), "ts must hold integer nanoseconds"),
        (np.arange(5), np.arange(6), "ts and t1 must have one length"),
        (np.zeros((2, 3), dtype=np.int64), np.zeros((2, 3), dtype=np.int64), "one-dimensional"),
    ],
)
def test_spans_must_be_one_length_of_integer_ns(
    ts: np.ndarray, t1: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        list(PurgedKFold(2).split(ts, t1))


def test_too_few_samples_for_the_folds() -> None:
    ts, t1 = next_bar_spans(4)

    with pytest.raises(ValueError, match="needs at least n_splits=5 samples, got 4"):
        list(PurgedKFold(5).split(ts, t1))
    with pytest.raises(ValueError, match="needs more than n_splits"):
        walk_forward_splits(ts, t1, n_splits=2, test_size=2)


def test_labels_spanning_everything_leave_nothing_to_train_on() -> None:
    ts, _ = next_bar_spans(10)
    t1 = np.full(10, ts[-1])

    with pytest.raises(ValueError, match="fold 0 has no training sample left"):
        list(PurgedKFold(2).split(ts, t1))
    with pytest.raises(ValueError, match="block 0 has no training sample left"):
        walk_forward_splits(ts, t1, n_splits=2)


def test_rolling_window_longer_than_the_history_is_refused() -> None:
    ts, t1 = next_bar_spans(12)

    with pytest.raises(ValueError, match=r"block 0 has 2 training samples .* train_size=3"):
        walk_forward_splits(ts, t1, n_splits=3, test_size=3, train_size=3)


def test_get_n_splits_reports_the_number_of_folds() -> None:
    assert PurgedKFold(4).get_n_splits() == 4
    assert WalkForward(3).get_n_splits() == 3
