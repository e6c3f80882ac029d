"""RegimeDetector: streaming equals vectorised, warm-up, crisis, accuracy, bad input."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from quantgrid.data import SyntheticConfig, SyntheticMarket, generate_market
from quantgrid.model import Bar, BarSeries, Regime
from quantgrid.regime import (
    UNKNOWN_REGIME,
    FeatureSettings,
    RegimeDetector,
    RegimeFrame,
)

COLUMNS = tuple(f.name for f in fields(RegimeFrame) if f.name not in ("instrument_id", "ts"))
HELD_OUT_SEED = 1000  # the benchmark's first held-out seed; the model never saw it


@pytest.fixture(scope="module")
def market() -> SyntheticMarket:
    return generate_market(SyntheticConfig(bars=2_000), 7_001)


@pytest.fixture(scope="module")
def held_out() -> SyntheticMarket:
    return generate_market(SyntheticConfig(bars=8_000), HELD_OUT_SEED)


def stream(detector: RegimeDetector, bars: dict[str, BarSeries]) -> dict[str, dict[str, list]]:
    out: dict[str, dict[str, list]] = {iid: {c: [] for c in COLUMNS} for iid in bars}
    n = len(next(iter(bars.values())))
    for t in range(n):
        readings = detector.update({iid: s.bar(t) for iid, s in bars.items()})
        for iid, reading in readings.items():
            assert reading.ts_event == bars[iid].ts[t]
            for c in COLUMNS:
                out[iid][c].append(getattr(reading, c))
    return out


def test_streaming_equals_vectorised_bit_for_bit(market: SyntheticMarket) -> None:
    detector = RegimeDetector()
    frames = detector.detect(market.bars)
    streamed = stream(detector, market.bars)
    for iid, frame in frames.items():
        assert frame.instrument_id == iid
        assert np.array_equal(frame.ts, market.bars[iid].ts)
        for c in COLUMNS:
            got = np.array(streamed[iid][c], dtype=getattr(frame, c).dtype)
            # Bitwise: NaN where NaN, and every other value identical to the last bit.
            assert np.array_equal(getattr(frame, c), got, equal_nan=True), (iid, c)
    assert {r for f in frames.values() for r in np.unique(f.regime)} >= {-1, 0, 1, 2, 3}


def test_streaming_equals_vectorised_for_a_single_instrument(market: SyntheticMarket) -> None:
    one = {"SYN1": market.bars["SYN1"].slice(0, 600)}
    detector = RegimeDetector()
    frame = detector.detect(one)["SYN1"]
    streamed = stream(detector, one)["SYN1"]
    for c in COLUMNS:
        assert np.array_equal(getattr(frame, c), np.array(streamed[c]), equal_nan=True), c
    assert np.all(np.isnan(frame.correlation))
    # Crisis needs a cross-asset correlation spike: one instrument is never in crisis.
    assert not np.any(frame.regime == Regime.CRISIS)
    assert np.all(frame.regime[100:] >= 0)


def test_confidence_is_a_probability_and_zero_when_unknown(market: SyntheticMarket) -> None:
    for frame in RegimeDetector().detect(market.bars).values():
        assert np.all((frame.confidence >= 0.0) & (frame.confidence <= 1.0))
        unknown = frame.regime == UNKNOWN_REGIME
        assert np.all(frame.confidence[unknown] == 0.0)
        # Four classes: the most probable has at least a quarter of the mass.
        assert np.all(frame.confidence[~unknown] >= 0.25)


def test_warm_up_bars_are_unknown_never_a_label(market: SyntheticMarket) -> None:
    detector = RegimeDetector()
    warmup = detector.settings.warmup_bars
    frames = detector.detect({k: s.slice(0, warmup + 5) for k, s in market.bars.items()})
    for frame in frames.values():
        assert np.all(frame.regime[:warmup] == UNKNOWN_REGIME)
        assert np.all(frame.confidence[:warmup] == 0.0)
        assert np.all(frame.regime[warmup:] >= 0)
    first = {k: s.bar(0) for k, s in market.bars.items()}
    reading = detector.update(first)["SYN0"]
    assert (reading.regime, reading.confidence) == (UNKNOWN_REGIME, 0.0)


def _constructed_market(crisis_from: int, n: int, seed: int = 3) -> dict[str, BarSeries]:
    """Four instruments of calm, weakly correlated noise, then a correlated storm."""
    rng = np.random.default_rng(seed)
    k = 4
    factor = rng.standard_normal(n)
    own = rng.standard_normal((n, k))
    calm = 0.0010 * (np.sqrt(0.3) * factor[:, None] + np.sqrt(0.7) * own)
    storm = 0.0045 * (np.sqrt(0.9) * factor[:, None] + np.sqrt(0.1) * own)
    returns = np.where(np.arange(n)[:, None] < crisis_from, calm, storm)
    close = 100.0 * np.exp(np.cumsum(returns, axis=0))
    ts = 1_704_067_260_000_000_000 + 60_000_000_000 * np.arange(n, dtype=np.int64)
    bars = {}
    for i in range(k):
        c = close[:, i]
        o = np.concatenate([[100.0], c[:-1]])
        spread = np.abs(returns[:, i]) * 0.5 + np.where(np.arange(n) < crisis_from, 4e-4, 2e-3)
        high = np.maximum(o, c) * (1 + spread)
        low = np.minimum(o, c) * (1 - spread)
        bars[f"X{i}"] = BarSeries.from_arrays(f"X{i}", ts, o, high, low, c, np.ones(n))
    return bars


def test_crisis_detected_when_correlation_and_volatility_spike() -> None:
    bars = _constructed_market(crisis_from=1_500, n=1_700)
    frames = RegimeDetector().detect(bars)
    for frame in frames.values():
        assert np.mean(frame.regime[200:1_500] == Regime.CRISIS) < 0.02
        late = slice(1_540, 1_700)  # after a detection lag of 40 bars
        assert np.mean(frame.regime[late] == Regime.CRISIS) > 0.9
        assert np.nanmean(frame.correlation[late]) > 0.7
        assert np.nanmean(frame.volatility_ratio[late]) > 2.0
        assert np.nanmean(frame.correlation[200:1_500]) < 0.5


def test_volatility_without_correlation_is_not_a_crisis() -> None:
    bars = _constructed_market(crisis_from=1_500, n=1_700)
    # Shuffle each instrument's storm in time: volatility jumps, correlation does not.
    rng = np.random.default_rng(0)
    mixed = {}
    for iid, s in bars.items():
        r = np.diff(np.log(s.close), prepend=np.log(100.0))
        r[1_500:] = rng.permutation(r[1_500:])
        c = 100.0 * np.exp(np.cumsum(r))
        o = np.concatenate([[100.0], c[:-1]])
        w = (s.high - s.low) / s.close
        mixed[iid] = BarSeries.from_arrays(
            iid, s.ts, o, np.maximum(o, c) * (1 + w), np.minimum(o, c) * (1 - w), c
        )
    for frame in RegimeDetector().detect(mixed).values():
        assert np.nanmean(frame.volatility_ratio[1_540:]) > 1.3
        assert np.mean(frame.regime[1_540:] == Regime.CRISIS) < 0.1


def test_recall_well_above_chance_on_a_held_out_seed(held_out: SyntheticMarket) -> None:
    frames = RegimeDetector().detect(held_out.bars)
    warmup = FeatureSettings().warmup_bars
    truth = np.concatenate([held_out.regimes[i][warmup:] for i in frames])
    predicted = np.concatenate([f.regime[warmup:] for f in frames.values()])
    recalls = [np.mean(predicted[truth == r] == r) for r in Regime]
    assert min(recalls) > 0.7, recalls  # chance is 0.25


def test_fit_recovers_a_working_model() -> None:
    training = [generate_market(SyntheticConfig(bars=6_000), seed) for seed in (21, 22)]
    detector = RegimeDetector.fit(training)
    assert detector.model.correlation_gate > 0.5
    assert detector.model.vol_ratio_gate > 1.0
    check = generate_market(SyntheticConfig(bars=4_000), 13)
    frames = detector.detect(check.bars)
    truth = np.concatenate([check.regimes[i][100:] for i in frames])
    predicted = np.concatenate([f.regime[100:] for f in frames.values()])
    assert np.mean(predicted == truth) > 0.8


def test_fit_refuses_bad_training_data(market: SyntheticMarket) -> None:
    with pytest.raises(ValueError, match="at least one market"):
        RegimeDetector.fit([])
    single = SyntheticMarket(
        {"SYN0": market.bars["SYN0"]}, {"SYN0": market.regimes["SYN0"]}, market.config, 0
    )
    with pytest.raises(ValueError, match="fewer than two instruments"):
        RegimeDetector.fit([single])
    calm = generate_market(SyntheticConfig(bars=400, crisis_share=0.001), 5)
    with pytest.raises(ValueError, match="usable bars of"):
        RegimeDetector.fit([calm])


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="adx_period must be a whole number >= 2"):
        FeatureSettings(adx_period=1)
    with pytest.raises(ValueError, match="short_vol_span"):
        FeatureSettings(short_vol_span=50, long_vol_span=40)
    with pytest.raises(ValueError, match="warmup_bars must be at least 28"):
        FeatureSettings(warmup_bars=10)
    with pytest.raises(TypeError, match="RegimeModel"):
        RegimeDetector("default")  # type: ignore[arg-type]


def test_detect_refuses_bad_input(market: SyntheticMarket) -> None:
    detector = RegimeDetector()
    a, b = market.bars["SYN0"], market.bars["SYN1"]
    with pytest.raises(ValueError, match="non-empty mapping"):
        detector.detect({})
    with pytest.raises(ValueError, match="different timestamps"):
        detector.detect({"a": a, "b": b.slice(1, len(b))})
    with pytest.raises(TypeError, match="not BarSeries"):
        detector.detect({"a": a.close})  # type: ignore[dict-item]
    backwards = BarSeries.from_arrays("a", a.ts[::-1], a.open, a.high, a.low, a.close)
    with pytest.raises(ValueError, match="strictly increase"):
        detector.detect({"a": backwards})
    close = a.close.copy()
    close[5] = np.nan
    broken = BarSeries.from_arrays("a", a.ts, a.open, a.high, a.low, close)
    with pytest.raises(ValueError, match="close that is not positive finite"):
        detector.detect({"a": broken})


def test_update_refuses_bad_input(market: SyntheticMarket) -> None:
    detector = RegimeDetector()
    bar0 = {k: s.bar(0) for k, s in market.bars.items()}
    bar1 = {k: s.bar(1) for k, s in market.bars.items()}
    with pytest.raises(ValueError, match="no bars"):
        detector.update({})
    with pytest.raises(ValueError, match="holds a bar of"):
        detector.update({"SYN0": bar0["SYN1"]})
    skewed = dict(bar0, SYN1=bar1["SYN1"])
    with pytest.raises(ValueError, match="share ts_event"):
        detector.update(skewed)
    bad = dict(bar0, SYN2=bar0["SYN2"]._replace(close=-1.0))
    with pytest.raises(ValueError, match="not positive finite"):
        detector.update(bad)
    detector.update(bar0)
    with pytest.raises(ValueError, match="is not after"):
        detector.update(bar0)
    with pytest.raises(ValueError, match="expected bars of"):
        detector.update({"SYN0": bar1["SYN0"]})
    inverted = dict(bar1, SYN3=bar1["SYN3"]._replace(high=1.0, low=2.0))
    with pytest.raises(ValueError, match="below low"):
        detector.update(inverted)
    # Every refusal left the state alone: the next good timestamp is accepted.
    assert detector.update(bar1)["SYN0"].ts_event == bar1["SYN0"].ts_event
    detector.reset()
    assert detector.update({"X": Bar("X", 1, 1.0, 1.0, 1.0, 1.0, 0.0)})["X"].regime == -1
