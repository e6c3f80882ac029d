"""The seeded synthetic market: determinism, bar invariants and regime signatures."""

from __future__ import annotations

import dataclasses
import hashlib
from itertools import combinations, pairwise
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantgrid.data import (
    SyntheticConfig,
    SyntheticMarket,
    generate_market,
    load_bars,
    save_market,
)
from quantgrid.data._validation import check_bar_values
from quantgrid.model import Regime

SMALL = SyntheticConfig(instruments=("A", "B", "C"), bars=400, mean_regime_bars=60)
COLUMNS = ("ts", "open", "high", "low", "close", "volume")
# sha256 of SMALL with seed 7: every column of every instrument, then the regimes. Prices
# are rounded to the tick and volumes to whole units, so an ulp of libm difference
# between machines does not move it. Update it only for an intended change of the model.
GOLDEN = "4b02f3153b492b55fd1d0cf82f6b6f74989aa757f699c19318b5f7281d31a987"


@pytest.fixture(scope="module")
def market() -> SyntheticMarket:
    """The default market: 4 instruments, 20,000 one-minute bars."""
    return generate_market(SyntheticConfig(), seed=11)


def digest(market: SyntheticMarket) -> str:
    sha = hashlib.sha256()
    for instrument in market.config.instruments:
        for column in COLUMNS:
            sha.update(np.ascontiguousarray(getattr(market.bars[instrument], column)).tobytes())
        sha.update(market.regimes[instrument].tobytes())
    return sha.hexdigest()


def log_returns(market: SyntheticMarket, instrument: str) -> np.ndarray:
    close = market.bars[instrument].close
    return np.diff(np.log(close), prepend=np.log(market.config.initial_price))


def test_same_seed_gives_identical_arrays() -> None:
    first, second = generate_market(SMALL, 3), generate_market(SMALL, 3)
    assert digest(first) == digest(second)
    for instrument in SMALL.instruments:
        for column in COLUMNS:
            a = getattr(first.bars[instrument], column)
            b = getattr(second.bars[instrument], column)
            assert a.tobytes() == b.tobytes()


def test_different_seeds_differ() -> None:
    first, second = generate_market(SMALL, 3), generate_market(SMALL, 4)
    assert not np.array_equal(first.bars["A"].close, second.bars["A"].close)
    assert digest(first) != digest(second)


def test_golden_checksum() -> None:
    assert digest(generate_market(SMALL, 7)) == GOLDEN


def test_shape_time_and_types(market: SyntheticMarket) -> None:
    config = market.config
    assert list(market.bars) == list(config.instruments)
    assert market.seed == 11
    first_close = np.datetime64("2024-01-01T00:01:00", "ns").astype(np.int64)
    for instrument, bars in market.bars.items():
        assert bars.instrument_id == instrument
        assert len(bars) == config.bars
        assert bars.ts[0] == first_close
        assert np.all(np.diff(bars.ts) == 60 * 10**9)
        assert market.regimes[instrument].dtype == np.int8
        assert len(market.regimes[instrument]) == config.bars


def assert_valid_bars(market: SyntheticMarket) -> None:
    tick = market.config.tick
    for instrument, bars in market.bars.items():
        check_bar_values(
            instrument,
            bars.ts,
            open=bars.open,
            high=bars.high,
            low=bars.low,
            close=bars.close,
            volume=bars.volume,
        )
        for column in ("open", "high", "low", "close"):
            prices = getattr(bars, column)
            assert np.all(np.isfinite(prices))
            assert prices.min() >= tick
            np.testing.assert_allclose(prices / tick, np.rint(prices / tick), atol=1e-6)
        assert np.all(bars.volume >= 1.0)
        assert np.all(bars.volume == np.rint(bars.volume))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_bars_are_consistent_and_positive(seed: int) -> None:
    assert_valid_bars(generate_market(dataclasses.replace(SMALL, bars=1_500), seed))


def test_prices_stay_positive_under_violent_parameters() -> None:
    config = SyntheticConfig(
        instruments=("A", "B"),
        bars=5_000,
        initial_price=0.05,
        tick=0.01,
        trend_vol=0.02,
        chop_vol=0.03,
        crisis_vol=0.08,
        crisis_drift=-0.5,
        crisis_share=0.5,
        jump_rate=0.05,
        jump_vol=0.2,
    )
    assert_valid_bars(generate_market(config, 0))


def test_open_is_near_previous_close(market: SyntheticMarket) -> None:
    bars = market.bars["SYN0"]
    gap = np.abs(np.log(bars.open[1:] / bars.close[:-1]))
    body = np.abs(np.log(bars.close / bars.open))
    assert np.median(gap) < 0.2 * np.median(body)


def test_every_regime_appears(market: SyntheticMarket) -> None:
    for labels in market.regimes.values():
        assert set(np.unique(labels)) == {int(regime) for regime in Regime}


def test_crisis_is_market_wide(market: SyntheticMarket) -> None:
    crisis = [labels == Regime.CRISIS for labels in market.regimes.values()]
    for other in crisis[1:]:
        np.testing.assert_array_equal(crisis[0], other)
    share = crisis[0].mean()
    assert 0.01 < share < 0.15


def test_episode_lengths_follow_the_config() -> None:
    config = SyntheticConfig(instruments=("A",), bars=100_000, crisis_share=1e-9)
    labels = generate_market(config, 1).regimes["A"]
    assert not np.any(labels == Regime.CRISIS)
    starts = np.flatnonzero(np.diff(labels)) + 1
    lengths = np.diff(starts)  # complete episodes only
    assert lengths.min() >= config.min_regime_bars
    assert 0.85 * config.mean_regime_bars < lengths.mean() < 1.15 * config.mean_regime_bars


def pairwise_correlation(market: SyntheticMarket, mask: np.ndarray) -> float:
    returns = [log_returns(market, i)[mask] for i in market.config.instruments]
    return float(np.mean([np.corrcoef(a, b)[0, 1] for a, b in combinations(returns, 2)]))


def test_correlation_spikes_in_crisis(market: SyntheticMarket) -> None:
    crisis = market.regimes["SYN0"] == Regime.CRISIS
    inside = pairwise_correlation(market, crisis)
    outside = pairwise_correlation(market, ~crisis)
    assert inside > 0.8
    assert outside < 0.4
    assert inside > outside + 0.4


def test_volatility_and_volume_jump_in_crisis(market: SyntheticMarket) -> None:
    for instrument, labels in market.regimes.items():
        crisis = labels == Regime.CRISIS
        returns = log_returns(market, instrument)
        ratio = returns[crisis].std() / returns[~crisis].std()
        assert 3.0 <= ratio <= 6.0
        volume = market.bars[instrument].volume
        assert np.median(volume[crisis]) > 2.0 * np.median(volume[~crisis])
        assert returns[crisis].mean() < 0


def test_regime_signatures() -> None:
    config = SyntheticConfig(instruments=("A", "B"), bars=60_000)
    market = generate_market(config, 5)
    vol: dict[Regime, float] = {}
    lag1: dict[Regime, float] = {}
    for regime in Regime:
        moves, lagged = [], []
        for instrument, labels in market.regimes.items():
            returns = log_returns(market, instrument)
            # Bars whose predecessor is in the same regime, so transitions do not blur it.
            same = (labels == regime) & np.r_[False, labels[1:] == labels[:-1]]
            moves.append(returns[same])
            both = same[1:] & same[:-1]
            lagged.append(np.c_[returns[1:][both], returns[:-1][both]])
        vol[regime] = float(np.concatenate(moves).std())
        pairs = np.concatenate(lagged)
        lag1[regime] = float(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1])
    assert vol[Regime.RANGING] < vol[Regime.TRENDING] < vol[Regime.CHOPPY] < vol[Regime.CRISIS]
    assert vol[Regime.RANGING] < 0.6 * vol[Regime.TRENDING]
    assert lag1[Regime.CHOPPY] < -0.35
    assert abs(lag1[Regime.RANGING]) < 0.15


def test_trends_move_further_than_chop() -> None:
    market = generate_market(SyntheticConfig(instruments=("A",), bars=60_000), 9)
    labels = market.regimes["A"]
    log_close = np.log(market.bars["A"].close)
    starts = np.r_[0, np.flatnonzero(np.diff(labels)) + 1, len(labels)]
    efficiency: dict[int, list[float]] = {int(r): [] for r in Regime}
    for begin, end in pairwise(starts):
        if end - begin >= 100:
            path = log_close[begin:end]
            travelled = np.abs(np.diff(path)).sum()
            efficiency[int(labels[begin])].append(abs(path[-1] - path[0]) / travelled)
    # Kaufman's efficiency ratio: net move over path length.
    assert np.median(efficiency[Regime.TRENDING]) > 0.15
    assert np.median(efficiency[Regime.CHOPPY]) < 0.05


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_save_and_load_round_trip(tmp_path: Path, fmt: str) -> None:
    market = generate_market(SMALL, 2)
    paths = save_market(market, tmp_path / "market", fmt=fmt)  # type: ignore[arg-type]
    assert [p.name for p in paths] == [f"A.{fmt}", f"B.{fmt}", f"C.{fmt}", "regimes.csv"]
    for instrument, path in zip(SMALL.instruments, paths, strict=False):
        back = load_bars(path)
        assert back.instrument_id == instrument
        for column in COLUMNS:
            np.testing.assert_array_equal(
                getattr(back, column), getattr(market.bars[instrument], column)
            )
    regimes = pl.read_csv(paths[-1])
    assert regimes.columns == ["timestamp", "instrument", "regime"]
    assert regimes.height == 3 * SMALL.bars
    assert regimes["instrument"].head(3).to_list() == ["A", "B", "C"]
    for instrument in SMALL.instruments:
        names = regimes.filter(pl.col("instrument") == instrument)["regime"].to_list()
        assert names == [Regime(v).name for v in market.regimes[instrument]]
    assert regimes["timestamp"][0] == "2024-01-01T00:01:00Z"


def test_save_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fmt"):
        save_market(generate_market(SMALL, 2), tmp_path, fmt="xlsx")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"instruments": ()}, "instruments"),
        ({"instruments": ("A", "A")}, "instruments"),
        ({"bars": 0}, "bars"),
        ({"bar_seconds": 0}, "bar_seconds"),
        ({"initial_price": 0.0}, "initial_price"),
        ({"tick": -0.01}, "tick"),
        ({"tick": 500.0}, "tick"),
        ({"mean_regime_bars": 10}, "mean_regime_bars"),
        ({"mean_crisis_bars": 5}, "mean_crisis_bars"),
        ({"crisis_share": 0.0}, "crisis_share"),
        ({"trend_vol": 0.0}, "trend_vol"),
        ({"range_reversion": 1.5}, "range_reversion"),
        ({"chop_reversal": -0.1}, "chop_reversal"),
        ({"correlation": 1.0}, "correlation"),
        ({"crisis_correlation": -0.2}, "crisis_correlation"),
        ({"jump_rate": 2.0}, "jump_rate"),
        ({"crisis_vol": float("nan")}, "crisis_vol"),
        ({"crisis_volume_factor": 0.5}, "crisis_volume_factor"),
        ({"start": "last tuesday"}, "start"),
    ],
)
def test_config_is_validated(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=rf"SyntheticConfig\.{field} "):
        SyntheticConfig(**changes)  # type: ignore[arg-type]


def test_start_and_bar_length_set_timestamps() -> None:
    config = SyntheticConfig(instruments=("A",), bars=3, start="2024-03-01", bar_seconds=3600)
    bars = generate_market(config, 0).bars["A"]
    first = np.datetime64("2024-03-01T01:00:00", "ns").astype(np.int64)
    assert bars.ts.tolist() == [first, first + 3600 * 10**9, first + 7200 * 10**9]
