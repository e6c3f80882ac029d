"""Cross-validation for labels that span time: purged and embargoed k-fold, walk-forward.

A sample ``i`` is a feature row observed at ``ts[i]`` whose label is only known at
``t1[i]`` (the end of its horizon: the next bar for a one-bar direction label, the first
barrier touched for a triple-barrier label). Its information spans ``[ts[i], t1[i]]``.
Ordinary k-fold leaks across that span: a training label that ends inside a test fold
has seen the test fold's prices. Both splitters here therefore *purge* from training
every sample whose span overlaps the test fold's span ``[ts of its first sample, latest
t1 of its samples]`` (closed intervals: touching counts as overlapping). The k-fold
splitter also *embargoes* the samples just after the test fold's span, since features
built from trailing windows stay correlated with it for a while (López de Prado,
*Advances in Financial Machine Learning*, ch. 7).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

IndexArray = npt.NDArray[np.int64]
Fold = tuple[IndexArray, IndexArray]


#: Share of the rows, the latest, held out of tuning by default.
HOLDOUT_FRACTION = 0.2
#: Rows left out just before the held-out block by default: 1 % of all rows; also the
#: purged k-fold embargo the training commands use.
HOLDOUT_EMBARGO = 0.01


class CrossValidator(Protocol):
    """Anything that splits time-stamped samples into (train, test) index pairs."""

    def split(self, ts: npt.ArrayLike, t1: npt.ArrayLike) -> Iterator[Fold]:
        """Yield ``(train_idx, test_idx)`` pairs of positions into ``ts``."""
        ...

    def get_n_splits(self) -> int:
        """Return how many pairs `split` yields."""
        ...


@dataclass(frozen=True, slots=True)
class PurgedKFold:
    """K-fold cross-validation with contiguous test folds, purging and an embargo.

    Parameters
    ----------
    n_splits
        Number of folds, at least 2.
    embargo
        How many samples after each test fold's span to drop from training: an ``int``
        is a number of bars (samples), a ``float`` in ``[0, 1)`` a fraction of all
        samples, rounded up.

    Notes
    -----
    For each test fold (the folds are consecutive runs of samples of near-equal size,
    in time order), training keeps every other sample ``i`` with ``t1[i] < start`` or
    ``ts[i] > end``, where ``start`` is the fold's first ``ts`` and ``end`` its latest
    ``t1``, except the ``embargo`` samples from the first one with ``ts > end`` on.
    So every sample is tested exactly once, no training span touches a test span, and
    nothing else is dropped. Training samples come both before and after the test fold:
    that is the point of k-fold, and the purge is what makes it honest.
    """

    n_splits: int = 5
    embargo: int | float = 0

    def __post_init__(self) -> None:
        _check_count("n_splits", self.n_splits, minimum=2)
        _check_embargo(self.embargo)

    def get_n_splits(self) -> int:
        """Return the number of folds."""
        return self.n_splits

    def split(self, ts: npt.ArrayLike, t1: npt.ArrayLike) -> Iterator[Fold]:
        """Yield ``(train_idx, test_idx)`` for each test fold, in time order.

        Parameters
        ----------
        ts
            Each sample's observation time (label start), integer ns, non-decreasing.
        t1
            Each sample's label end: when its outcome is known, ``t1[i] >= ts[i]``.

        Yields
        ------
        tuple of ndarray
            Sorted int64 positions of the training and the test samples.

        Raises
        ------
        ValueError
            If ``ts`` or ``t1`` break the rules above, there are fewer samples than
            folds, or purging and the embargo leave a fold with no training sample.
        """
        start, end = _check_spans(ts, t1)
        n = start.size
        if n < self.n_splits:
            msg = f"PurgedKFold needs at least n_splits={self.n_splits} samples, got {n}"
            raise ValueError(msg)
        gap = _embargo_bars(self.embargo, n)
        bounds = np.linspace(0, n, self.n_splits + 1).round().astype(np.int64)
        for fold, (first, stop) in enumerate(itertools.pairwise(bounds)):
            test_start = start[first]
            test_end = end[first:stop].max()
            keep = (end < test_start) | (start > test_end)
            keep[first:stop] = False
            after = int(np.searchsorted(start, test_end, side="right"))
            keep[after : after + gap] = False
            train = np.flatnonzero(keep).astype(np.int64)
            if train.size == 0:
                msg = (
                    f"PurgedKFold fold {fold} has no training sample left after purging "
                    f"and an embargo of {gap} bars: the labels span too much of the data"
                )
                raise ValueError(msg)
            yield train, np.arange(first, stop, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class WalkForward:
    """Walk-forward validation: train strictly before each test block, then move on.

    Parameters
    ----------
    n_splits
        Number of test blocks, at least 1; they are consecutive and end at the last
        sample.
    train_size
        ``None`` for an expanding (anchored) window: train on everything before the
        block. An ``int`` for a rolling window of exactly that many samples, the ones
        closest to the block.
    test_size
        Samples per test block; ``None`` gives ``n // (n_splits + 1)``, so the first
        training window is about as long as a block.
    embargo
        How many of the (purged) training samples closest to the block to drop, like
        scikit-learn's ``TimeSeriesSplit(gap=...)``: an ``int`` is a number of bars, a
        ``float`` in ``[0, 1)`` a fraction of all samples, rounded up.

    Notes
    -----
    Training keeps only samples before the block whose label ends before the block's
    first ``ts`` (``t1[i] < ts[first]``): the purge of `PurgedKFold` with nothing after
    the block to purge. Every training label is therefore known before any test sample
    is observed, which is what a model retrained on a schedule would have had.
    """

    n_splits: int = 5
    train_size: int | None = None
    test_size: int | None = None
    embargo: int | float = 0

    def __post_init__(self) -> None:
        _check_count("n_splits", self.n_splits, minimum=1)
        if self.test_size is not None:
            _check_count("test_size", self.test_size, minimum=1)
        if self.train_size is not None:
            _check_count("train_size", self.train_size, minimum=1)
        _check_embargo(self.embargo)

    def get_n_splits(self) -> int:
        """Return the number of test blocks."""
        return self.n_splits

    def split(self, ts: npt.ArrayLike, t1: npt.ArrayLike) -> Iterator[Fold]:
        """Yield ``(train_idx, test_idx)`` for each test block, in time order.

        Parameters
        ----------
        ts
            Each sample's observation time (label start), integer ns, non-decreasing.
        t1
            Each sample's label end: when its outcome is known, ``t1[i] >= ts[i]``.

        Yields
        ------
        tuple of ndarray
            Sorted int64 positions of the training and the test samples; every
            training position is before every test position.

        Raises
        ------
        ValueError
            If ``ts`` or ``t1`` break the rules above, the blocks do not fit in the
            data with at least one sample before the first, or a block is left with no
            training sample (or fewer than ``train_size``) after purging and the
            embargo.
        """
        start, end = _check_spans(ts, t1)
        n = start.size
        test_size = self.test_size if self.test_size is not None else n // (self.n_splits + 1)
        first_test = n - self.n_splits * test_size
        if test_size < 1 or first_test < 1:
            msg = (
                f"WalkForward with n_splits={self.n_splits} and test_size={self.test_size} "
                f"needs more than n_splits * test_size samples (and at least n_splits + 1), "
                f"got {n}"
            )
            raise ValueError(msg)
        gap = _embargo_bars(self.embargo, n)
        for block in range(self.n_splits):
            first = first_test + block * test_size
            train = np.flatnonzero(end[:first] < start[first]).astype(np.int64)
            train = train[: max(train.size - gap, 0)]
            if self.train_size is not None:
                if train.size < self.train_size:
                    msg = (
                        f"WalkForward block {block} has {train.size} training samples after "
                        f"purging and the embargo, fewer than train_size={self.train_size}"
                    )
                    raise ValueError(msg)
                train = train[-self.train_size :]
            if train.size == 0:
                msg = (
                    f"WalkForward block {block} has no training sample left after purging "
                    f"and an embargo of {gap} bars: start the blocks later"
                )
                raise ValueError(msg)
            yield train, np.arange(first, first + test_size, dtype=np.int64)


def walk_forward_splits(
    ts: npt.ArrayLike,
    t1: npt.ArrayLike,
    n_splits: int,
    train_size: int | None = None,
    test_size: int | None = None,
    embargo: int | float = 0,
) -> list[Fold]:
    """Return the ``(train_idx, test_idx)`` pairs of a walk-forward validation.

    A shortcut for ``list(WalkForward(n_splits, train_size, test_size, embargo).split(ts,
    t1))``; see `WalkForward` for the parameters and the purge rule.
    """
    splitter = WalkForward(
        n_splits=n_splits, test_size=test_size, train_size=train_size, embargo=embargo
    )
    return list(splitter.split(ts, t1))


def check_label_spans(ts: npt.ArrayLike, t1: npt.ArrayLike) -> tuple[IndexArray, IndexArray]:
    """Return ``ts`` and ``t1`` as int64 arrays after checking the rules of a label span.

    Raises
    ------
    ValueError
        If they are not 1-D integer arrays of one length, ``ts`` decreases anywhere, or
        some ``t1[i] < ts[i]``; the message names the first offending position.
    """
    return _check_spans(ts, t1)


def _check_spans(ts: npt.ArrayLike, t1: npt.ArrayLike) -> tuple[IndexArray, IndexArray]:
    start = _as_ns("ts", ts)
    end = _as_ns("t1", t1)
    if start.shape != end.shape:
        msg = f"ts and t1 must have one length, got {start.size} and {end.size}"
        raise ValueError(msg)
    backwards = np.flatnonzero(np.diff(start) < 0)
    if backwards.size:
        i = int(backwards[0]) + 1
        msg = (
            f"ts must be sorted (non-decreasing), but ts[{i}]={start[i]} < "
            f"ts[{i - 1}]={start[i - 1]}"
        )
        raise ValueError(msg)
    early = np.flatnonzero(end < start)
    if early.size:
        i = int(early[0])
        msg = (
            f"t1 must not precede ts (a label is known at or after it starts), but "
            f"t1[{i}]={end[i]} < ts[{i}]={start[i]}"
        )
        raise ValueError(msg)
    return start, end


def _as_ns(name: str, values: npt.ArrayLike) -> IndexArray:
    array = np.asarray(values)
    if array.ndim != 1:
        msg = f"{name} must be one-dimensional, got shape {array.shape}"
        raise ValueError(msg)
    if array.dtype.kind not in "iu":
        msg = f"{name} must hold integer nanoseconds, got dtype {array.dtype}"
        raise ValueError(msg)
    return array.astype(np.int64, copy=False)


def _check_count(name: str, value: int, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        msg = f"{name} must be an integer of at least {minimum}, got {value!r}"
        raise ValueError(msg)


def _check_embargo(embargo: int | float) -> None:
    if isinstance(embargo, bool) or not isinstance(embargo, int | float | np.number):
        msg = f"embargo must be an int (bars) or a float (fraction), got {embargo!r}"
        raise ValueError(msg)
    if isinstance(embargo, int | np.integer):
        if embargo < 0:
            msg = f"embargo must not be negative, got {embargo}"
            raise ValueError(msg)
    elif not 0.0 <= embargo < 1.0:
        msg = (
            f"embargo as a float is a fraction of the samples and must be in [0, 1), got "
            f"{embargo}; pass an int for a number of bars"
        )
        raise ValueError(msg)


def _embargo_bars(embargo: int | float, n: int) -> int:
    if isinstance(embargo, int | np.integer):
        return int(embargo)
    return math.ceil(float(embargo) * n)
