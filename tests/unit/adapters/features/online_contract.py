"""What every OnlineFeatureStore must do, written once and run against each adapter.

A test class inherits ``OnlineStoreContract`` and provides the fixture ``store``: an
empty store of its own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from quantgrid.adapters.features import OnlineFeatureStore

T = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
NAMES = ("log_return_1", "rsi_14")


class OnlineStoreContract:
    """The behaviour shared by MemoryOnlineStore and RedisOnlineStore."""

    def test_nothing_is_stored_at_first(self, store: OnlineFeatureStore) -> None:
        assert store.get("fs", "AAPL") is None
        assert store.get_many("fs", ["AAPL", "MSFT"]) == {"AAPL": None, "MSFT": None}

    def test_a_row_comes_back_as_it_was_put(self, store: OnlineFeatureStore) -> None:
        assert store.put("fs", "AAPL", T, list(NAMES), np.array([0.0125, math.nan])) is True

        row = store.get("fs", "AAPL")

        assert row is not None
        assert (row.instrument_id, row.ts, row.names) == ("AAPL", T, NAMES)
        assert row.values[0] == 0.0125
        assert math.isnan(row.values[1])
        assert row.values.dtype == np.float64
        with pytest.raises(ValueError, match="read-only"):
            row.values[0] = 1.0

    def test_a_newer_row_replaces_and_an_older_one_is_ignored(
        self, store: OnlineFeatureStore
    ) -> None:
        assert store.put("fs", "AAPL", T, NAMES, [1.0, 1.0])
        assert store.put("fs", "AAPL", T + 60, NAMES, [2.0, 2.0])

        assert store.put("fs", "AAPL", T, NAMES, [3.0, 3.0]) is False
        row = store.get("fs", "AAPL")
        assert row is not None
        assert (row.ts, row.values.tolist()) == (T + 60, [2.0, 2.0])

    def test_a_row_at_the_same_ts_is_a_correction(self, store: OnlineFeatureStore) -> None:
        store.put("fs", "AAPL", T, NAMES, [1.0, 1.0])

        assert store.put("fs", "AAPL", T, NAMES, [1.5, 1.0]) is True
        row = store.get("fs", "AAPL")
        assert row is not None
        assert row.values.tolist() == [1.5, 1.0]

    def test_one_nanosecond_orders_rows_at_todays_timestamps(
        self, store: OnlineFeatureStore
    ) -> None:
        # 1.7e18 ns is far past 2**53: a float comparison would call these equal.
        store.put("fs", "AAPL", T + 1, NAMES, [1.0, 1.0])

        assert store.put("fs", "AAPL", T, NAMES, [2.0, 2.0]) is False
        assert store.put("fs", "AAPL", T + 2, NAMES, [3.0, 3.0]) is True
        assert store.put("fs", "AAPL", -(2**63), NAMES, [4.0, 4.0]) is False
        row = store.get("fs", "AAPL")
        assert row is not None
        assert row.ts == T + 2

    def test_timestamps_before_1970_order_too(self, store: OnlineFeatureStore) -> None:
        store.put("fs", "OLD", -5, NAMES, [1.0, 1.0])

        assert store.put("fs", "OLD", -6, NAMES, [2.0, 2.0]) is False
        assert store.put("fs", "OLD", 0, NAMES, [3.0, 3.0]) is True

    def test_get_many_answers_each_instrument(self, store: OnlineFeatureStore) -> None:
        store.put("fs", "AAPL", T, NAMES, [1.0, 1.0])
        store.put("fs", "BTC/USDT", T + 1, NAMES, [2.0, 2.0])

        rows = store.get_many("fs", iter(["BTC/USDT", "NONE", "AAPL"]))

        assert list(rows) == ["BTC/USDT", "NONE", "AAPL"]
        assert rows["NONE"] is None
        found = {k: (v.ts, v.values.tolist()) for k, v in rows.items() if v is not None}
        assert found == {"BTC/USDT": (T + 1, [2.0, 2.0]), "AAPL": (T, [1.0, 1.0])}

    def test_feature_sets_and_instruments_never_share_a_row(
        self, store: OnlineFeatureStore
    ) -> None:
        store.put("a:b", "c", T, NAMES, [1.0, 1.0])
        store.put("a", "b:c", T, NAMES, [2.0, 2.0])
        store.put("other", "c", T, NAMES, [3.0, 3.0])

        rows = [store.get("a:b", "c"), store.get("a", "b:c"), store.get("other", "c")]
        assert [row.values[0] for row in rows if row is not None] == [1.0, 2.0, 3.0]

    def test_the_caller_changing_its_array_changes_nothing_stored(
        self, store: OnlineFeatureStore
    ) -> None:
        values = np.array([1.0, 2.0])
        store.put("fs", "AAPL", T, NAMES, values)
        values[0] = 99.0

        row = store.get("fs", "AAPL")
        assert row is not None
        assert row.values.tolist() == [1.0, 2.0]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("fs", "AAPL", T, NAMES, [1.0]), r"one float per name \(2\), got shape \(1,\)"),
            (("fs", "AAPL", T, NAMES, [[1.0, 2.0]]), "one float per name"),
            (("fs", "", T, NAMES, [1.0, 2.0]), "instrument_id must be a non-empty string"),
            (("", "AAPL", T, NAMES, [1.0, 2.0]), "feature_set must be a non-empty string"),
            (("fs", "AAPL", 1.5e18, NAMES, [1.0, 2.0]), "ts_ns must be integer nanoseconds"),
            (("fs", "AAPL", T, "ab", [1.0, 2.0]), "names must be a sequence"),
        ],
    )
    def test_a_malformed_row_is_refused_and_nothing_stored(
        self, store: OnlineFeatureStore, args: tuple[Any, ...], message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            store.put(*args)
        assert store.get("fs", "AAPL") is None
