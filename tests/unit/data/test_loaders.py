"""Loading bar files: formats, column and timestamp conventions, and every validation rule."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

import quantgrid.data
from quantgrid.core import dt_to_ns
from quantgrid.data import DataValidationError, load_bars, write_bars
from quantgrid.model import BarSeries

HEADER = "date,open,high,low,close,volume\n"
GOOD = [
    "2024-01-01,100,101,99,100.5,10",
    "2024-01-02,100.5,102,100,101,20",
    "2024-01-03,101,103,100.5,102,30",
    "2024-01-04,102,104,101,103,40",
]
DAY = 86_400 * 10**9
JAN1 = dt_to_ns(pd.Timestamp("2024-01-01").to_pydatetime())


def write_text(tmp_path: Path, text: str, name: str = "AAPL.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def with_row(row: int, line: str) -> str:
    """The good file with data row ``row`` (1-based) replaced by ``line``."""
    lines = list(GOOD)
    lines[row - 1] = line
    return HEADER + "\n".join(lines) + "\n"


def test_public_api() -> None:
    assert quantgrid.data.__all__ == sorted(quantgrid.data.__all__)
    assert set(quantgrid.data.__all__) == {
        "DataValidationError",
        "SyntheticConfig",
        "SyntheticMarket",
        "TickConfig",
        "TickStream",
        "generate_ticks",
        "generate_market",
        "load_bars",
        "save_market",
        "write_bars",
    }


def test_load_good_csv(tmp_path: Path) -> None:
    bars = load_bars(write_text(tmp_path, HEADER + "\n".join(GOOD) + "\n"))
    assert bars.instrument_id == "AAPL"
    assert len(bars) == 4
    assert bars.ts.tolist() == [JAN1 + i * DAY for i in range(4)]
    assert bars.open.tolist() == [100.0, 100.5, 101.0, 102.0]
    assert bars.volume.tolist() == [10.0, 20.0, 30.0, 40.0]
    assert bars.ts.dtype == np.int64
    assert bars.close.dtype == np.float64


def test_instrument_id_override(tmp_path: Path) -> None:
    path = write_text(tmp_path, HEADER + "\n".join(GOOD) + "\n")
    assert load_bars(path, instrument_id="AAPL.XNAS").instrument_id == "AAPL.XNAS"


@pytest.mark.parametrize(
    ("text", "rule", "row", "column"),
    [
        pytest.param("", "empty", None, None, id="empty-file"),
        pytest.param(HEADER, "empty", None, None, id="header-only"),
        pytest.param(
            "date,open,high,low,volume\n2024-01-01,1,2,0.5,3\n",
            "missing_column",
            None,
            "close",
            id="missing-close",
        ),
        pytest.param(
            "open,high,low,close\n1,2,0.5,1\n",
            "missing_column",
            None,
            "timestamp",
            id="missing-timestamp",
        ),
        pytest.param(
            "date,Close,open,high,low,close \n2024-01-01,1,1,2,0.5,1\n",
            "duplicate_column",
            None,
            "close",
            id="duplicate-close",
        ),
        pytest.param(
            "date,open,open,high,low,close\n2024-01-01,1,1,2,0.5,1\n",
            "duplicate_column",
            None,
            "open",
            id="duplicate-exact",
        ),
        pytest.param(
            with_row(3, "2024-02-30,101,103,100.5,102,30"),
            "bad_timestamp",
            3,
            "timestamp",
            id="bad-date",
        ),
        pytest.param(
            with_row(2, "yesterday,100.5,102,100,101,20"),
            "bad_timestamp",
            2,
            "timestamp",
            id="bad-text",
        ),
        pytest.param(with_row(3, ",101,103,100.5,102,30"), "nan", 3, "timestamp", id="nan-ts"),
        pytest.param(with_row(2, "2024-01-02,,102,100,101,20"), "nan", 2, "open", id="nan-empty"),
        pytest.param(
            with_row(4, "2024-01-04,102,104,101,NaN,40"), "nan", 4, "close", id="nan-text"
        ),
        pytest.param(
            with_row(3, "2024-01-03,101,abc,100.5,102,30"), "nan", 3, "high", id="nan-garbage"
        ),
        pytest.param(
            with_row(2, "2024-01-02,100.5,102,100,101,inf"), "nan", 2, "volume", id="nan-inf"
        ),
        pytest.param(
            with_row(3, "2024-01-02,101,103,100.5,102,30"),
            "duplicate_timestamp",
            3,
            "timestamp",
            id="duplicate-ts",
        ),
        pytest.param(
            with_row(3, "2023-12-31,101,103,100.5,102,30"),
            "unordered_timestamp",
            3,
            "timestamp",
            id="unordered-ts",
        ),
        pytest.param(
            with_row(2, "2024-01-02,100.5,101.2,101.9,101,20"),
            "high_below_low",
            2,
            "high",
            id="high-below-low",
        ),
        pytest.param(
            with_row(3, "2024-01-03,104,103,100.5,102,30"),
            "open_outside_range",
            3,
            "open",
            id="open-above-high",
        ),
        pytest.param(
            with_row(4, "2024-01-04,102,104,101,100,40"),
            "close_outside_range",
            4,
            "close",
            id="close-below-low",
        ),
        pytest.param(
            with_row(2, "2024-01-02,0,102,-1,101,20"),
            "non_positive_price",
            2,
            "open",
            id="zero-open",
        ),
        pytest.param(
            with_row(3, "2024-01-03,101,103,100.5,102,-5"),
            "negative_volume",
            3,
            "volume",
            id="negative-volume",
        ),
        pytest.param(
            "date,open,high,low,close\n2024-01-01,1,2,0.5,1\n2024-01-02,1,2,0.5,1,9,9\n",
            "unreadable",
            None,
            None,
            id="ragged",
        ),
    ],
)
def test_rule(tmp_path: Path, text: str, rule: str, row: int | None, column: str | None) -> None:
    path = write_text(tmp_path, text)
    with pytest.raises(DataValidationError) as caught:
        load_bars(path)
    error = caught.value
    assert (error.rule, error.row, error.column) == (rule, row, column)
    assert error.source == str(path)
    message = str(error)
    assert message.startswith(f"{path}: ")
    assert f": {rule}: " in message
    if row is not None:
        assert f": row {row}: " in message


def test_message_names_file_row_rule_and_values(tmp_path: Path) -> None:
    path = write_text(tmp_path, with_row(2, "2024-01-02,101.5,101.2,101.9,101.5,20"))
    with pytest.raises(DataValidationError) as caught:
        load_bars(str(path))
    assert str(caught.value) == f"{path}: row 2: high_below_low: high 101.2 < low 101.9"


def test_missing_column_lists_what_was_found(tmp_path: Path) -> None:
    path = write_text(tmp_path, "Date,Open,High,Low\n2024-01-01,1,2,0.5\n")
    with pytest.raises(DataValidationError, match=r"'close'.*found: 'Date', 'Open', 'High', 'Low'"):
        load_bars(path)


def test_first_offending_row_is_reported(tmp_path: Path) -> None:
    lines = [*GOOD]
    lines[1] = "2024-01-02,100.5,99,100,101,20"
    lines[3] = "2024-01-04,102,100,101,103,40"
    path = write_text(tmp_path, HEADER + "\n".join(lines) + "\n")
    with pytest.raises(DataValidationError) as caught:
        load_bars(path)
    assert (caught.value.rule, caught.value.row) == ("high_below_low", 2)


def test_nan_is_checked_before_prices_and_reported_at_lowest_row(tmp_path: Path) -> None:
    lines = [*GOOD]
    lines[1] = "2024-01-02,100.5,99,100,101,20"  # high below low, row 2
    lines[2] = "2024-01-03,101,103,100.5,,30"  # empty close, row 3
    lines[3] = "2024-01-04,,104,101,103,40"  # empty open, row 4
    path = write_text(tmp_path, HEADER + "\n".join(lines) + "\n")
    with pytest.raises(DataValidationError) as caught:
        load_bars(path)
    assert (caught.value.rule, caught.value.row, caught.value.column) == ("nan", 3, "close")


@pytest.mark.parametrize("name", ["AAPL.txt", "AAPL.json", "AAPL"])
def test_unsupported_format(tmp_path: Path, name: str) -> None:
    path = write_text(tmp_path, HEADER + "\n".join(GOOD) + "\n", name=name)
    with pytest.raises(DataValidationError) as caught:
        load_bars(path)
    assert caught.value.rule == "unsupported_format"
    bars = load_bars(write_text(tmp_path, HEADER + GOOD[0] + "\n"))
    with pytest.raises(DataValidationError, match="unsupported_format"):
        write_bars(bars, path)


def test_unreadable_parquet(tmp_path: Path) -> None:
    path = write_text(tmp_path, "this is not parquet at all", name="AAPL.parquet")
    with pytest.raises(DataValidationError) as caught:
        load_bars(path)
    assert caught.value.rule == "unreadable"
    assert isinstance(caught.value.__cause__, pl.exceptions.PolarsError)


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_bars(tmp_path / "nope.csv")


def test_error_pickles() -> None:
    error = DataValidationError("a.csv", "nan", "close is empty", row=3, column="close")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.source, copy.rule, copy.row, copy.column, str(copy)) == (
        "a.csv",
        "nan",
        3,
        "close",
        "a.csv: row 3: nan: close is empty",
    )


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        DataValidationError("a.csv", "bad_vibes", "no")


@pytest.mark.parametrize(
    "header",
    [
        "Date,Open,High,Low,Close,Volume",
        "DATE,OPEN,HIGH,LOW,CLOSE,VOLUME",
        " date , open ,High , LOW,close,  Volume ",
        "Timestamp,Open,High,Low,Close,Volume",
        "Datetime,Open,High,Low,Close,Volume",
        "ts,Open,High,Low,Close,Volume",
        "time,open,high,low,close,volume",
    ],
)
def test_column_names_are_case_and_space_insensitive(tmp_path: Path, header: str) -> None:
    bars = load_bars(write_text(tmp_path, header + "\n" + "\n".join(GOOD) + "\n"))
    assert bars.close.tolist() == [100.5, 101.0, 102.0, 103.0]
    assert bars.volume.tolist() == [10.0, 20.0, 30.0, 40.0]


def test_extra_columns_ignored_and_volume_optional(tmp_path: Path) -> None:
    text = "Symbol,Date,Open,High,Low,Close,Adj Close\nX,2024-01-01,1,2,0.5,1.5,1.4\n"
    bars = load_bars(write_text(tmp_path, text))
    assert bars.close.tolist() == [1.5]
    assert bars.volume.tolist() == [0.0]


def test_separate_date_and_time_columns_are_joined(tmp_path: Path) -> None:
    text = (
        "Date,Time,Open,High,Low,Close\n2024-01-02,09:30:00,1,2,0.5,1\n2024-01-02,09:31,1,2,0.5,1\n"
    )
    bars = load_bars(write_text(tmp_path, text))
    start = JAN1 + DAY + (9 * 3600 + 30 * 60) * 10**9
    assert bars.ts.tolist() == [start, start + 60 * 10**9]


@pytest.mark.parametrize("index_name", [None, "Date"])
def test_date_as_index_or_column(tmp_path: Path, index_name: str | None) -> None:
    frame = pd.DataFrame(
        {"Open": [1.0, 2.0], "High": [2.0, 3.0], "Low": [0.5, 1.5], "Close": [1.5, 2.5]},
        index=pd.to_datetime(["2024-01-01", "2024-01-02"]),
    )
    frame.index.name = index_name
    frame.to_csv(tmp_path / "X.csv")
    frame.to_parquet(tmp_path / "X.parquet")
    for name in ("X.csv", "X.parquet"):
        bars = load_bars(tmp_path / name)
        assert bars.ts.tolist() == [JAN1, JAN1 + DAY]
        assert bars.close.tolist() == [1.5, 2.5]
    frame.reset_index(names="when").rename(columns={"when": "date"}).to_csv(
        tmp_path / "Y.csv", index=False
    )
    assert load_bars(tmp_path / "Y.csv").ts.tolist() == [JAN1, JAN1 + DAY]


def test_backtesting_goog_csv_loads_cleanly() -> None:
    import backtesting

    path = Path(backtesting.__file__).parent / "test" / "GOOG.csv"
    bars = load_bars(path)
    assert bars.instrument_id == "GOOG"
    assert len(bars) == 2148
    assert bars.open[0] == 100.0
    assert bars.ts[0] == dt_to_ns(pd.Timestamp("2004-08-19").to_pydatetime())
    assert np.all(np.diff(bars.ts) > 0)
    from backtesting.test import GOOG

    np.testing.assert_array_equal(bars.close, GOOG["Close"].to_numpy(dtype=np.float64))


@pytest.mark.parametrize(
    ("scale", "unit"), [(1, "s"), (1_000, "ms"), (1_000_000, "us"), (1_000_000_000, "ns")]
)
def test_integer_epoch_unit_is_inferred(tmp_path: Path, scale: int, unit: str) -> None:
    seconds = [1_704_067_200, 1_704_067_260]
    rows = "\n".join(f"{s * scale},1,2,0.5,1" for s in seconds)
    bars = load_bars(write_text(tmp_path, f"timestamp,open,high,low,close\n{rows}\n"))
    assert bars.ts.tolist() == [s * 10**9 for s in seconds], unit

    frame = pl.DataFrame(
        {"ts": [s * scale for s in seconds], "o": [1.0, 1.0], "h": [2.0, 2.0]}
    ).rename({"o": "open", "h": "high"})
    frame = frame.with_columns(low=pl.lit(0.5), close=pl.lit(1.0))
    frame.write_parquet(tmp_path / "E.parquet")
    assert load_bars(tmp_path / "E.parquet").ts.tolist() == [s * 10**9 for s in seconds]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02", "2024-01-02T00:00:00"),
        ("2024-01-02 09:30:00", "2024-01-02T09:30:00"),
        ("2024-01-02T09:30:00", "2024-01-02T09:30:00"),
        ("2024-01-02T09:30:00Z", "2024-01-02T09:30:00"),
        ("2024-01-02T09:30:00-05:00", "2024-01-02T14:30:00"),
        ("2024-01-02 09:30:00+01:00", "2024-01-02T08:30:00"),
        ("2024-01-02T09:30:00.123456789+00:00", "2024-01-02T09:30:00.123456789"),
        ("2024-01-02T09:30:00.5", "2024-01-02T09:30:00.5"),
        ("2024-01-02 09:30", "2024-01-02T09:30:00"),
        (" 2024-01-02T09:30:00Z ", "2024-01-02T09:30:00"),
    ],
)
def test_iso_timestamps_and_offsets(tmp_path: Path, text: str, expected: str) -> None:
    bars = load_bars(write_text(tmp_path, f"timestamp,open,high,low,close\n{text},1,2,0.5,1\n"))
    assert bars.ts[0] == np.datetime64(expected, "ns").astype(np.int64)


def test_mixed_timestamp_formats_in_one_column(tmp_path: Path) -> None:
    text = (
        "timestamp,open,high,low,close\n"
        "2024-01-02T09:30:00Z,1,2,0.5,1\n"
        "2024-01-02T04:31:00-05:00,1,2,0.5,1\n"
        "2024-01-02 09:32:00.250,1,2,0.5,1\n"
    )
    bars = load_bars(write_text(tmp_path, text))
    base = np.datetime64("2024-01-02T09:30:00", "ns").astype(np.int64)
    assert bars.ts.tolist() == [base, base + 60 * 10**9, base + 120_250_000_000]


@pytest.mark.parametrize("unit", ["ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "America/New_York", "Asia/Tokyo"])
def test_parquet_datetime_of_any_unit_and_zone(tmp_path: Path, unit: str, tz: str | None) -> None:
    index = pd.DatetimeIndex(["2024-01-02 09:30", "2024-01-02 09:31"]).as_unit(unit)
    if tz is not None:
        index = index.tz_localize(tz)
    frame = pd.DataFrame({"open": [1.0, 1.0], "high": 2.0, "low": 0.5, "close": 1.0})
    frame.insert(0, "Datetime", index)
    frame.to_parquet(tmp_path / "Z.pq", index=False)
    expected = [int(t.value) for t in (index if tz is not None else index.tz_localize("UTC"))]
    bars = load_bars(tmp_path / "Z.pq")
    assert bars.ts.tolist() == expected


def test_parquet_date_column(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "Date": pl.Series(["2024-01-01", "2024-01-02"]).str.to_date(),
            "Open": [1.0, 1.0],
            "High": [2.0, 2.0],
            "Low": [0.5, 0.5],
            "Close": [1.0, 1.0],
            "Volume": [1, 2],
        }
    )
    frame.write_parquet(tmp_path / "D.parquet")
    bars = load_bars(tmp_path / "D.parquet")
    assert bars.ts.tolist() == [JAN1, JAN1 + DAY]
    assert bars.volume.tolist() == [1.0, 2.0]


def test_parquet_null_price_is_nan_rule(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "timestamp": [1, 2, 3],
            "open": [1.0, 1.0, 1.0],
            "high": [2.0, 2.0, 2.0],
            "low": [0.5, None, 0.5],
            "close": [1.0, 1.0, float("nan")],
        }
    )
    frame.write_parquet(tmp_path / "N.parquet")
    with pytest.raises(DataValidationError) as caught:
        load_bars(tmp_path / "N.parquet")
    assert (caught.value.rule, caught.value.row, caught.value.column) == ("nan", 2, "low")


def awkward_series(n: int = 500) -> BarSeries:
    """Bars with floats that only survive a round trip written at full precision."""
    rng = np.random.default_rng(5)
    low = rng.uniform(1.0, 1000.0, n)
    awkward = [0.1 + 0.2, 1 / 3, 2 / 3, np.pi, 1e-7, 123456789.123456789]
    low[: min(n, len(awkward))] = awkward[:n]
    high = low * (1.0 + rng.uniform(0.0, 0.01, n))
    open_ = low + (high - low) * rng.random(n)
    close = low + (high - low) * rng.random(n)
    ts = 1_704_067_200 * 10**9 + np.cumsum(rng.integers(1, 10**12, n))
    return BarSeries.from_arrays("RT", ts, open_, high, low, close, rng.random(n) * 1e6)


@pytest.mark.parametrize("name", ["RT.csv", "RT.parquet", "RT.pq"])
def test_write_then_load_round_trips_exactly(tmp_path: Path, name: str) -> None:
    series = awkward_series()
    write_bars(series, tmp_path / name)
    back = load_bars(tmp_path / name)
    assert back.instrument_id == "RT"
    for column in ("ts", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(back, column), getattr(series, column))


def test_written_csv_layout(tmp_path: Path) -> None:
    series = BarSeries.from_arrays(
        "X",
        [JAN1 + 9 * 3600 * 10**9, JAN1 + DAY + 1],
        [1.5, 1.5],
        [2.0, 2.0],
        [1.0, 1.0],
        [1.25, 0.1 + 0.2],
        [7.0, 0.0],
    )
    write_bars(series, tmp_path / "X.csv")
    lines = (tmp_path / "X.csv").read_text().splitlines()
    assert lines[0] == "timestamp,open,high,low,close,volume"
    assert lines[1] == "2024-01-01T09:00:00Z,1.5,2.0,1.0,1.25,7.0"
    assert lines[2].startswith("2024-01-02T00:00:00.000000001Z,")
    assert lines[2].endswith(",0.30000000000000004,0.0")


def test_written_parquet_schema(tmp_path: Path) -> None:
    write_bars(awkward_series(3), tmp_path / "S.parquet")
    schema = pl.read_parquet_schema(tmp_path / "S.parquet")
    assert schema["timestamp"] == pl.Datetime("ns", "UTC")
    assert list(schema) == ["timestamp", "open", "high", "low", "close", "volume"]


def test_epochs_in_two_units_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "timestamp,open,high,low,close\n"
        "1704067200000,10,11,9,10\n"  # milliseconds
        "1704067260,10,11,9,10\n"  # seconds
    )
    with pytest.raises(DataValidationError) as info:
        load_bars(path)
    assert (info.value.rule, info.value.row) == ("bad_timestamp", 2)
    assert "is an epoch in seconds, but the column's largest values are in milliseconds" in str(
        info.value
    )
