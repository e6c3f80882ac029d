"""Data file names: relative, inside the data directory, bar files only."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantgrid.services.backtest import DataPathError, check_data_name, resolve_data_file


@pytest.mark.parametrize("name", ["a.csv", "daily/AAPL.parquet", "x/y/z.PQ", "./a.csv", "a..b.csv"])
def test_relative_bar_file_names_pass(name: str):
    assert not check_data_name(name).is_absolute()


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("/etc/passwd.csv", "not an absolute path"),
        ("//server/share.csv", "not an absolute path"),
        ("~root/a.csv", "not an absolute path"),
        ("../a.csv", "'..'"),
        ("a/../../b.csv", "'..'"),
        ("a/..", "'..'"),
        ("a\\..\\b.csv", "backslashes"),
        ("a\x00.csv", "control characters"),
        ("a.csv\n", "control characters"),
        ("a.txt", "ends in .csv, .parquet, .pq"),
        ("a", "ends in"),
    ],
)
def test_names_that_could_leave_the_folder_are_refused(name: str, rule: str):
    with pytest.raises(DataPathError, match=rule.replace(".", r"\.").replace("(", r"\(")):
        check_data_name(name)


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path: Path):
    data, outside = tmp_path / "data", tmp_path / "outside"
    data.mkdir()
    outside.mkdir()
    (outside / "a.csv").write_text("x")
    (data / "inside.csv").write_text("x")
    (data / "out.csv").symlink_to(outside / "a.csv")
    assert resolve_data_file(data, "inside.csv") == (data / "inside.csv").resolve()
    with pytest.raises(DataPathError, match="inside the data directory"):
        resolve_data_file(data, "out.csv")
    with pytest.raises(DataPathError, match=r"no data file 'missing\.csv'"):
        resolve_data_file(data, "missing.csv")
    (data / "folder.csv").mkdir()
    with pytest.raises(DataPathError, match="no data file"):
        resolve_data_file(data, "folder.csv")
