"""Data files a request may name: inside the data directory, never anywhere else."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

#: Suffixes ``load_bars`` reads.
DATA_SUFFIXES = (".csv", ".parquet", ".pq")


class DataPathError(ValueError):
    """A data file name is refused; the message is the rule it broke."""


def check_data_name(name: str) -> PurePosixPath:
    """Return ``name`` as a relative path if it may name a data file.

    Raises
    ------
    DataPathError
        If it is absolute, climbs with ``..``, uses backslashes or control
        characters, or has no bar-file suffix.
    """
    if any(ord(c) < 32 or c == "\x7f" for c in name) or "\\" in name:
        msg = "a data file name has no backslashes or control characters"
        raise DataPathError(msg)
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("~"):
        msg = "a data file name is relative to the data directory, not an absolute path"
        raise DataPathError(msg)
    if any(part == ".." for part in path.parts):
        msg = "a data file name may not climb out of the data directory with '..'"
        raise DataPathError(msg)
    if path.suffix.lower() not in DATA_SUFFIXES:
        msg = f"a data file name ends in {', '.join(DATA_SUFFIXES)}"
        raise DataPathError(msg)
    return path


def resolve_data_file(data_dir: Path, name: str) -> Path:
    """Return the file ``name`` names inside ``data_dir``.

    Raises
    ------
    DataPathError
        If the name breaks a rule of ``check_data_name``, resolves outside
        ``data_dir`` (through a symbolic link), or names no file.
    """
    relative = check_data_name(name)
    try:
        base = data_dir.resolve()
        path = (base / relative).resolve()
        inside = path.is_relative_to(base)
        found = inside and path.is_file()
    except (OSError, ValueError):  # a name too long, or not encodable for the file system
        msg = "a data file name the file system cannot look up"
        raise DataPathError(msg) from None
    if not inside:
        msg = "a data file must lie inside the data directory"
        raise DataPathError(msg)
    if not found:
        msg = f"there is no data file {str(relative)!r} in the data directory"
        raise DataPathError(msg)
    return path


def instrument_of(name: str, instrument_id: str | None) -> str:
    """Return the instrument a data file gives: ``instrument_id``, or the file's stem."""
    return instrument_id or PurePosixPath(name).stem
