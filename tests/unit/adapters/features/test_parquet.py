"""ParquetFeatureStore: upserts, schema guard, point-in-time reads and crash-safe writes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest

from quantgrid.adapters.features import (
    FeatureSchemaError,
    FeaturesNotFoundError,
    ParquetFeatureStore,
)
from quantgrid.adapters.features import _parquet as parquet_module
from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.ml import FeatureFrame, FeatureLookupError, default_feature_set

NAMES = ("a", "b")


def frame(ts: list[int], a: list[float], instrument: str = "BTC/USDT") -> FeatureFrame:
    values = np.column_stack([a, [10.0 * x for x in a]]).reshape(len(ts), 2)
    return FeatureFrame(instrument, np.array(ts, dtype=np.int64), NAMES, values)


@pytest.fixture
def store(tmp_path: Path) -> ParquetFeatureStore:
    return ParquetFeatureStore(tmp_path / "features")


def test_a_frame_comes_back_as_written_nan_included(store: ParquetFeatureStore) -> None:
    written = frame([10, 20, 30], [math.nan, 2.0, 3.0])

    store.write("fp1", written)
    read = store.read("fp1", "BTC/USDT")

    assert read.instrument_id == "BTC/USDT"
    assert read.names == NAMES
    assert np.array_equal(read.ts, written.ts)
    assert np.array_equal(read.values, written.values, equal_nan=True)


def test_writes_upsert_by_ts(store: ParquetFeatureStore) -> None:
    store.write("fp1", frame([10, 20, 30], [1.0, 2.0, 3.0]))

    store.write("fp1", frame([5, 20, 40], [0.5, 2.5, 4.0]))

    read = store.read("fp1", "BTC/USDT")
    assert read.ts.tolist() == [5, 10, 20, 30, 40]
    assert read.column("a").tolist() == [0.5, 1.0, 2.5, 3.0, 4.0]
    assert read.column("b").tolist() == [5.0, 10.0, 25.0, 30.0, 40.0]


def test_reads_are_bounded_inclusively(store: ParquetFeatureStore) -> None:
    store.write("fp1", frame([10, 20, 30, 40], [1.0, 2.0, 3.0, 4.0]))

    assert store.read("fp1", "BTC/USDT", start_ns=20).ts.tolist() == [20, 30, 40]
    assert store.read("fp1", "BTC/USDT", end_ns=30).ts.tolist() == [10, 20, 30]
    assert store.read("fp1", "BTC/USDT", 15, 35).ts.tolist() == [20, 30]
    assert len(store.read("fp1", "BTC/USDT", 41)) == 0


def test_reads_as_of_a_time_see_only_what_was_known(store: ParquetFeatureStore) -> None:
    store.write("fp1", frame([10, 20, 30], [1.0, 2.0, 3.0]))

    assert store.read_as_of("fp1", "BTC/USDT", 20).values.tolist() == [2.0, 20.0]
    assert store.read_as_of("fp1", "BTC/USDT", 29).ts == 20
    assert store.read_as_of("fp1", "BTC/USDT", 10**18).ts == 30
    with pytest.raises(FeatureLookupError, match="ts=9: the first row is at 10"):
        store.read_as_of("fp1", "BTC/USDT", 9)


def test_the_as_of_join_gives_each_query_the_latest_known_row(
    store: ParquetFeatureStore,
) -> None:
    store.write("fp1", frame([10, 20, 30], [1.0, 2.0, 3.0]))
    queries = np.array([5, 10, 25, 31], dtype=np.int64)

    joined = store.as_of_join("fp1", "BTC/USDT", queries)

    assert joined.ts.tolist() == queries.tolist()
    assert np.isnan(joined.values[0]).all()
    assert joined.column("a")[1:].tolist() == [1.0, 2.0, 3.0]


def test_changed_features_are_refused_and_nothing_is_written(
    store: ParquetFeatureStore, tmp_path: Path
) -> None:
    store.write("fp1", frame([10], [1.0]))
    path = next((tmp_path / "features").rglob("*.parquet"))
    before = path.read_bytes()
    renamed = FeatureFrame("BTC/USDT", np.array([20], dtype=np.int64), ("a", "c"), np.ones((1, 2)))
    reordered = FeatureFrame(
        "BTC/USDT", np.array([20], dtype=np.int64), ("b", "a"), np.ones((1, 2))
    )

    for changed in (renamed, reordered):
        with pytest.raises(FeatureSchemaError, match=r"holds features \['a', 'b'\], the frame"):
            store.write("fp1", changed)

    assert path.read_bytes() == before
    assert isinstance(FeatureSchemaError("x"), ValueError)


def test_a_feature_named_like_the_time_column_is_refused(store: ParquetFeatureStore) -> None:
    bad = FeatureFrame("X", np.array([1], dtype=np.int64), ("ts",), np.ones((1, 1)))

    with pytest.raises(FeatureSchemaError, match="no feature may be named 'ts'"):
        store.write("fp1", bad)
    assert store.feature_sets() == ()


def test_reading_what_was_never_written_names_it(store: ParquetFeatureStore) -> None:
    store.write("fp1", frame([10], [1.0]))

    with pytest.raises(FeaturesNotFoundError, match="feature set 'fp1' and instrument 'ETH'"):
        store.read("fp1", "ETH")
    with pytest.raises(LookupError, match="feature set 'fp2'"):
        store.read_as_of("fp2", "BTC/USDT", 10)


def test_empty_keys_are_refused(store: ParquetFeatureStore) -> None:
    with pytest.raises(ValueError, match="feature_set must be a non-empty string"):
        store.write("", frame([1], [1.0]))
    with pytest.raises(ValueError, match="instrument_id must be a non-empty string"):
        store.read("fp", "")


def test_partitions_are_listed_and_readable_as_a_hive_dataset(
    store: ParquetFeatureStore, tmp_path: Path
) -> None:
    store.write("default", frame([10, 20], [1.0, 2.0], instrument="BTC/USDT"))
    store.write("default", frame([10], [5.0], instrument=".."))
    store.write("other:set", frame([10], [7.0], instrument="AAPL"))

    assert store.feature_sets() == ("default", "other:set")
    assert store.instruments("default") == ("..", "BTC/USDT")
    assert store.instruments("missing") == ()
    assert store.read("default", "..").column("a").tolist() == [5.0]
    # Polars, DuckDB or pyarrow can scan a whole feature set, instrument decoded.
    table = ds.dataset(
        tmp_path / "features" / "feature_set=default", partitioning="hive", format="parquet"
    ).to_table()
    assert sorted(table.column("instrument").to_pylist()) == ["..", "BTC/USDT", "BTC/USDT"]


def test_a_crash_while_writing_leaves_the_old_data_and_no_debris(
    store: ParquetFeatureStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write("fp1", frame([10, 20], [1.0, 2.0]))
    real_write = parquet_module.pq.write_table

    def crash_halfway(table: object, sink: object) -> None:
        real_write(table, sink)
        raise OSError("disk full")

    monkeypatch.setattr(parquet_module.pq, "write_table", crash_halfway)
    with pytest.raises(OSError, match="disk full"):
        store.write("fp1", frame([30], [3.0]))
    monkeypatch.undo()

    assert store.read("fp1", "BTC/USDT").ts.tolist() == [10, 20]
    files = [p.name for p in (tmp_path / "features").rglob("*") if p.is_file()]
    assert files == ["features.parquet"]


def test_features_written_in_overlapping_chunks_equal_one_computation(
    store: ParquetFeatureStore,
) -> None:
    config = SyntheticConfig(instruments=("SYN",), bars=600)
    bars = generate_market(config, seed=2).bars["SYN"]
    feature_set = default_feature_set()
    full = feature_set.compute(bars)

    store.write(feature_set.fingerprint, feature_set.compute(bars.slice(0, 400)))
    store.write(feature_set.fingerprint, feature_set.compute(bars).between(int(bars.ts[300])))

    read = store.read(feature_set.fingerprint, "SYN")
    assert read.names == feature_set.names
    assert np.array_equal(read.ts, full.ts)
    assert np.array_equal(read.values, full.values, equal_nan=True)
