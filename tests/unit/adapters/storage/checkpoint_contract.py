"""The checkpoints of the storage port, run against every store (through ``StoreContract``).

A checkpoint is a named JSON object, replaced whole by each save: paper trading keeps
the last moment of its market replay under ``"paper.replay"`` and reads it on restart.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import pytest

from quantgrid.adapters.storage import Checkpoint, InvalidRecordError, Store

T0 = 1_704_067_200_000_000_000
REPLAY = {"last_ts_ns": T0, "bars": 390, "symbols": ["AAPL", "MSFT"]}

_DEEP: Any = {"x": 1}
for _ in range(50):
    _DEEP = {"x": [_DEEP]}
_CYCLE: dict[str, Any] = {"a": 1}
_CYCLE["self"] = _CYCLE


class CheckpointContract:
    """What every store does with checkpoints; subclasses provide the ``store`` fixture."""

    def test_a_saved_checkpoint_reads_back(self, store: Store):
        assert store.get_checkpoint("paper.replay") is None
        store.save_checkpoint("paper.replay", REPLAY, T0 + 5)
        assert store.get_checkpoint("paper.replay") == Checkpoint("paper.replay", REPLAY, T0 + 5)

    def test_a_save_replaces_the_whole_checkpoint(self, store: Store):
        store.save_checkpoint("paper.replay", REPLAY, T0)
        store.save_checkpoint("paper.replay", {"last_ts_ns": T0 + 60}, T0 + 1)
        got = store.get_checkpoint("paper.replay")
        assert got == Checkpoint("paper.replay", {"last_ts_ns": T0 + 60}, T0 + 1)
        # The caller's clock is kept as given, even when it goes back.
        store.save_checkpoint("paper.replay", {}, 0)
        assert store.get_checkpoint("paper.replay") == Checkpoint("paper.replay", {}, 0)

    def test_names_are_separate_and_exact(self, store: Store):
        store.save_checkpoint("paper.replay", {"n": 1}, T0)
        store.save_checkpoint("paper:replay", {"n": 2}, T0)
        store.save_checkpoint("Paper.Replay", {"n": 3}, T0)
        got = [store.get_checkpoint(n) for n in ("paper.replay", "paper:replay", "Paper.Replay")]
        assert [c.value["n"] for c in got if c is not None] == [1, 2, 3]
        assert store.get_checkpoint("paper") is None
        assert store.get_checkpoint("paper.replay.") is None

    def test_unicode_nested_lists_and_exact_numbers_read_back(self, store: Store):
        value = {
            "note": "reprise à 09:30 — 東京 🚀",
            "nested": [[1, [2.5, None]], [], [{"ü": True, "k": [False, "x"]}]],
            "float": 0.1 + 0.2,
            "tiny": 5e-324,
            "big": 2**63 + 1,
            "negative": -(2**70),
            "control": "tab\there\x00nul\nline",
            "empty": {},
            "keys with spaces and 'quotes'": '"',
        }
        store.save_checkpoint("state.unicode", value, T0)
        stored = store.get_checkpoint("state.unicode")
        assert stored is not None
        assert stored.value == value
        assert json.dumps(stored.value) == json.dumps(value)  # the order of keys too
        assert stored.value["float"] == 0.30000000000000004

    def test_a_tuple_reads_back_as_a_list_and_a_mapping_as_a_dict(self, store: Store):
        store.save_checkpoint("c", OrderedDict([("pair", (1, "a"))]), T0)
        got = store.get_checkpoint("c")
        assert got is not None
        assert type(got.value) is dict
        assert got.value == {"pair": [1, "a"]}

    def test_each_read_is_a_fresh_dict(self, store: Store):
        value: dict[str, Any] = {"symbols": ["AAPL"]}
        store.save_checkpoint("c", value, T0)
        value["symbols"].append("changed after the save")
        first = store.get_checkpoint("c")
        assert first is not None
        first.value["symbols"].append("changed after the read")  # type: ignore[index]
        again = store.get_checkpoint("c")
        assert again is not None
        assert again.value == {"symbols": ["AAPL"]}
        assert again.value is not first.value

    def test_a_value_at_the_size_limit_is_kept_and_one_byte_more_is_refused(self, store: Store):
        overhead = len(json.dumps({"s": ""}, separators=(",", ":")))
        fits = {"s": "é" * ((64 * 1024 - overhead) // 2)}  # two bytes each in UTF-8
        store.save_checkpoint("c", fits, T0)
        got = store.get_checkpoint("c")
        assert got is not None and got.value == fits
        too_big = {"s": "x" * (64 * 1024 - overhead + 1)}
        with pytest.raises(InvalidRecordError, match=r"checkpoint.value: must be at most 65536"):
            store.save_checkpoint("c", too_big, T0 + 1)
        assert store.get_checkpoint("c") == Checkpoint("c", fits, T0)

    @pytest.mark.parametrize(
        ("name", "pattern"),
        [
            ("", r"checkpoint.name: must be 1 to 128 ASCII letters, digits or \. _ : -, got ''"),
            ("a" * 129, r"checkpoint.name: must be 1 to 128 .*, got 'aaaa"),
            ("paper replay", r"checkpoint.name: .*got 'paper replay'"),
            ("paper/replay", r"checkpoint.name: .*got 'paper/replay'"),
            ("réplay", r"checkpoint.name: .*got 'réplay'"),
            ("replay\n", r"checkpoint.name: .*got 'replay\\n'"),
            (None, r"checkpoint.name: .*got None"),
            (b"replay", r"checkpoint.name: .*got b'replay'"),
        ],
    )
    def test_a_bad_name_is_refused_and_nothing_is_written(
        self, store: Store, name: Any, pattern: str
    ):
        store.save_checkpoint("kept", {"n": 1}, T0)
        with pytest.raises(InvalidRecordError, match=pattern):
            store.save_checkpoint(name, {"n": 2}, T0)
        with pytest.raises(InvalidRecordError, match=pattern):
            store.get_checkpoint(name)
        assert store.get_checkpoint("kept") == Checkpoint("kept", {"n": 1}, T0)

    def test_the_longest_name_and_every_allowed_character_are_taken(self, store: Store):
        longest = "A-z_0.9:" * 16
        assert len(longest) == 128
        store.save_checkpoint(longest, {"n": 1}, T0)
        assert store.get_checkpoint(longest) == Checkpoint(longest, {"n": 1}, T0)

    @pytest.mark.parametrize(
        ("value", "pattern"),
        [
            (["a"], r"checkpoint.value: must be a dict \(a JSON object\), got \['a'\]"),
            (None, r"checkpoint.value: must be a dict .*got None"),
            ('{"a": 1}', r"checkpoint.value: must be a dict .*got '\{\"a\": 1\}'"),
            ({1: "a"}, r"checkpoint.value: keys must be strings, got 1 in value"),
            ({"a": {"b": [{2: 0}]}}, r"keys must be strings, got 2 in value\['a'\]\['b'\]\[0\]"),
            ({"a": {(1, 2): 0}}, r"checkpoint.value: must be JSON-encodable"),
            ({"a": math.nan}, r"checkpoint.value: must be JSON-encodable \(finite numbers"),
            ({"a": [math.inf]}, r"checkpoint.value: must be JSON-encodable"),
            ({"a": Decimal("1.5")}, r"checkpoint.value: must be JSON-encodable.*Decimal"),
            ({"a": {1, 2}}, r"checkpoint.value: must be JSON-encodable.*set"),
            ({"a": b"bytes"}, r"checkpoint.value: must be JSON-encodable.*bytes"),
            ({"a": object()}, r"checkpoint.value: must be JSON-encodable"),
            (_CYCLE, r"checkpoint.value: must be JSON-encodable.*[Cc]ircular"),
            ({"a": "\ud800"}, r"checkpoint.value: must hold only encodable text"),
        ],
    )
    def test_a_bad_value_is_refused_and_nothing_is_written(
        self, store: Store, value: Any, pattern: str
    ):
        store.save_checkpoint("kept", {"n": 1}, T0)
        with pytest.raises(InvalidRecordError, match=pattern):
            store.save_checkpoint("kept", value, T0 + 1)
        with pytest.raises(InvalidRecordError, match=pattern):
            store.save_checkpoint("new", value, T0 + 1)
        assert store.get_checkpoint("kept") == Checkpoint("kept", {"n": 1}, T0)
        assert store.get_checkpoint("new") is None

    def test_a_deeply_nested_value_is_kept(self, store: Store):
        store.save_checkpoint("deep", _DEEP, T0)
        got = store.get_checkpoint("deep")
        assert got is not None and got.value == _DEEP

    @pytest.mark.parametrize(
        ("ts_ns", "pattern"),
        [
            (-1, r"checkpoint.ts_ns: must be integer nanoseconds since the epoch .*got -1"),
            (True, r"checkpoint.ts_ns: must be integer nanoseconds .*got True"),
            (1.5, r"checkpoint.ts_ns: .*got 1.5"),
            (None, r"checkpoint.ts_ns: .*got None"),
            (2**63, r"checkpoint.ts_ns: .*\(0 to 2\*\*63 - 1\), got 9223372036854775808"),
        ],
    )
    def test_a_bad_time_is_refused_and_nothing_is_written(
        self, store: Store, ts_ns: Any, pattern: str
    ):
        store.save_checkpoint("kept", {"n": 1}, T0)
        with pytest.raises(InvalidRecordError, match=pattern):
            store.save_checkpoint("kept", {"n": 2}, ts_ns)
        assert store.get_checkpoint("kept") == Checkpoint("kept", {"n": 1}, T0)

    def test_concurrent_saves_of_one_name_all_succeed_and_one_wins(self, store: Store):
        saved_by = [{"writer": k, "last_ts_ns": T0 + k} for k in range(4)]
        barrier = threading.Barrier(len(saved_by))
        errors: list[BaseException] = []

        def save(value: dict[str, int]) -> None:
            try:
                for n in range(5):
                    barrier.wait(timeout=60)
                    store.save_checkpoint("paper.replay", value, T0 + n)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=save, args=(v,)) for v in saved_by]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
        assert errors == []
        got = store.get_checkpoint("paper.replay")
        assert got is not None
        assert got.value in saved_by
        assert got.ts_ns == T0 + 4
