"""A seeded synthetic market: correlated instruments that switch between known regimes."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from numba import njit

from quantgrid.core import NANOS_PER_SECOND, dt_to_ns
from quantgrid.data._loaders import write_bars
from quantgrid.model import BarSeries, FloatArray, Regime

RegimeArray = npt.NDArray[np.int8]

_TRENDING = int(Regime.TRENDING)
_RANGING = int(Regime.RANGING)
_CHOPPY = int(Regime.CHOPPY)
_CRISIS = int(Regime.CRISIS)
# How hard a new trend leans back toward the initial price: P(up) = 1 / (1 + e^(k * d)),
# d the log distance from it. Weak enough to leave each direction random, strong enough
# that a million bars of trends and crashes do not walk the price to zero.
_HOME_PULL = 2.0


@dataclass(frozen=True, slots=True)
class SyntheticConfig:
    """Parameters of a synthetic market; `generate_market` documents the model.

    Volatilities are standard deviations of log returns per bar; drifts are per bar in
    units of their regime's volatility.

    Attributes
    ----------
    instruments
        Instrument ids, one bar series each.
    bars
        Bars per instrument.
    start
        ISO-8601 open time of the first bar; each bar is stamped at its close time, like
        ``Bar.ts_event``. Naive times are taken as UTC.
    bar_seconds
        Bar length in seconds.
    initial_price
        Price level every instrument starts from.
    tick
        Price increment every price is rounded to.
    mean_regime_bars, min_regime_bars
        Mean and minimum length of an instrument's trending, ranging or choppy episode.
    mean_crisis_bars, crisis_share
        Mean length of a market-wide crisis and the long-run share of bars in one.
    trend_vol, trend_drift
        TRENDING: volatility and the size of the drift (its sign is drawn per episode).
    range_vol, range_reversion
        RANGING: volatility and the share of the distance to the anchor closed per bar.
    chop_vol, chop_reversal
        CHOPPY: volatility of the shocks and the share of each shock taken back on the
        next bar (an MA(1) coefficient; lag-1 autocorrelation is ``-θ / (1 + θ²)``).
    crisis_vol, crisis_drift
        CRISIS: volatility and drift (negative: markets fall).
    correlation, crisis_correlation
        Pairwise correlation of the return shocks outside and inside a crisis.
    jump_rate, jump_vol
        Per-bar probability and size (standard deviation) of an instrument's own jumps.
    crisis_jump_rate
        Per-bar probability of a market-wide jump during a crisis; its size has mean
        ``-jump_vol`` and standard deviation ``2 * jump_vol``.
    gap_vol
        Standard deviation of the gap from the previous close to the open, in units of
        the bar's volatility.
    volume_base, volume_sigma, crisis_volume_factor
        Median volume of a quiet bar, the log-normal spread of volume, and how much a
        crisis multiplies it.
    """

    instruments: tuple[str, ...] = ("SYN0", "SYN1", "SYN2", "SYN3")
    bars: int = 20_000
    start: str = "2024-01-01T00:00:00Z"
    bar_seconds: int = 60
    initial_price: float = 100.0
    tick: float = 0.01
    mean_regime_bars: int = 400
    min_regime_bars: int = 20
    mean_crisis_bars: int = 150
    crisis_share: float = 0.06
    trend_vol: float = 0.0010
    trend_drift: float = 0.30
    range_vol: float = 0.0004
    range_reversion: float = 0.05
    chop_vol: float = 0.0012
    chop_reversal: float = 0.75
    crisis_vol: float = 0.0045
    crisis_drift: float = -0.05
    correlation: float = 0.3
    crisis_correlation: float = 0.9
    jump_rate: float = 0.001
    jump_vol: float = 0.004
    crisis_jump_rate: float = 0.02
    gap_vol: float = 0.1
    volume_base: float = 1_000.0
    volume_sigma: float = 0.4
    crisis_volume_factor: float = 3.0

    def __post_init__(self) -> None:
        if not self.instruments:
            _reject("instruments", "must name at least one instrument")
        if len(set(self.instruments)) != len(self.instruments):
            _reject("instruments", f"must be distinct, got {self.instruments}")
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                _reject(field.name, f"must be finite, got {value}")
        for name in ("bars", "bar_seconds", "min_regime_bars"):
            if getattr(self, name) < 1:
                _reject(name, f"must be at least 1, got {getattr(self, name)}")
        for name in ("mean_regime_bars", "mean_crisis_bars"):
            if getattr(self, name) < self.min_regime_bars:
                msg = f"must be at least min_regime_bars ({self.min_regime_bars})"
                _reject(name, f"{msg}, got {getattr(self, name)}")
        for name in ("initial_price", "tick", "volume_base"):
            if getattr(self, name) <= 0:
                _reject(name, f"must be positive, got {getattr(self, name)}")
        if self.tick > self.initial_price:
            _reject("tick", f"must not exceed initial_price, got {self.tick}")
        for name in ("trend_vol", "range_vol", "chop_vol", "crisis_vol"):
            if getattr(self, name) <= 0:
                _reject(name, f"must be positive, got {getattr(self, name)}")
        for name in ("jump_vol", "gap_vol", "volume_sigma", "trend_drift"):
            if getattr(self, name) < 0:
                _reject(name, f"must not be negative, got {getattr(self, name)}")
        if not 0 < self.crisis_share < 1:
            _reject("crisis_share", f"must be in (0, 1), got {self.crisis_share}")
        for name in ("range_reversion", "chop_reversal", "jump_rate", "crisis_jump_rate"):
            if not 0 <= getattr(self, name) <= 1:
                _reject(name, f"must be in [0, 1], got {getattr(self, name)}")
        for name in ("correlation", "crisis_correlation"):
            if not 0 <= getattr(self, name) < 1:
                _reject(name, f"must be in [0, 1), got {getattr(self, name)}")
        if self.crisis_volume_factor < 1:
            _reject("crisis_volume_factor", f"must be at least 1, got {self.crisis_volume_factor}")
        try:
            _start_ns(self.start)
        except ValueError:
            _reject("start", f"must be an ISO-8601 date or datetime, got {self.start!r}")


def _reject(field: str, rule: str) -> None:
    msg = f"SyntheticConfig.{field} {rule}"
    raise ValueError(msg)


def _start_ns(start: str) -> int:
    return dt_to_ns(datetime.fromisoformat(start))


@dataclass(frozen=True, slots=True, eq=False)
class SyntheticMarket:
    """Bars of every instrument of a synthetic market with the regime behind each bar.

    Attributes
    ----------
    bars
        Bar series by instrument id, in the order of ``config.instruments``.
    regimes
        The ground-truth `Regime` value (int8) of every bar, by instrument id.
    config, seed
        What generated the market; the same pair gives bit-identical arrays.
    """

    bars: dict[str, BarSeries]
    regimes: dict[str, RegimeArray]
    config: SyntheticConfig
    seed: int


def generate_market(config: SyntheticConfig, seed: int) -> SyntheticMarket:
    """Generate a synthetic market whose regimes are known bar by bar.

    Parameters
    ----------
    config
        The market's shape and regime parameters.
    seed
        Non-negative seed; the same seed and config give bit-identical arrays.

    Returns
    -------
    SyntheticMarket
        One `BarSeries` and one regime array per instrument.

    Notes
    -----
    Each instrument's log close follows ``x[t] = x[t-1] + r[t]``, where the shock
    ``e[t] = ρ f[t] + sqrt(1 - ρ²) z[t]`` mixes a market factor ``f`` shared by all
    instruments with the instrument's own noise ``z`` (both standard normal), so shocks
    of two instruments correlate by ``ρ² = correlation`` (``crisis_correlation`` in a
    crisis). Every instrument switches between three regimes on its own; episodes last
    ``min_regime_bars`` plus a geometric number of bars (mean ``mean_regime_bars``) and
    the next regime is one of the other two, at random:

    - TRENDING: ``r = trend_vol (±trend_drift + e)``. The sign is drawn per episode,
      leaning back toward the initial price. Defaults 0.10 % vol and 0.3 vol of drift:
      directional movement dominates, ADX is high, the Choppiness Index low.
    - RANGING: ``r = -range_reversion (x - anchor) + range_vol e`` around the price at
      the start of the episode. Defaults 0.04 % vol, 5 % reversion per bar: a tight
      range with low normalised ATR.
    - CHOPPY: ``r = chop_vol (e[t] - chop_reversal e[t-1])``, no drift. Defaults 0.12 %
      vol and θ 0.75 (lag-1 autocorrelation -0.48): wide bars that go nowhere, so the
      Choppiness Index is high and ADX low.

    A market-wide CRISIS overrides all instruments at once (spells of mean
    ``mean_crisis_bars``, ``crisis_share`` of the bars): ``r = crisis_vol (crisis_drift
    + e)`` with shocks correlated by ``crisis_correlation``, plus market-wide jumps at
    ``crisis_jump_rate`` with a negative mean. Defaults 0.45 % vol (about 4x the calm
    average), correlation 0.9, drift -0.05 vol, a jump every 50 bars.

    In every regime an instrument jumps on its own with probability ``jump_rate`` per
    bar (a level shift: a range's anchor moves with it). The open is the previous close
    plus a small gap; high and low are the extremes of a Brownian bridge from open to
    close with the regime's volatility. Volume is log-normal around ``volume_base``,
    grows with ``|r| / trend_vol`` and by ``crisis_volume_factor`` in a crisis, and is
    rounded to whole units. Prices are rounded to ``tick`` and never fall below it, so
    ``low <= open, close <= high`` and every price is positive.
    """
    n = config.bars
    children = np.random.SeedSequence(seed).spawn(2 + len(config.instruments))
    crisis = _crisis_spells(np.random.default_rng(children[0]), config)
    factor_rng = np.random.default_rng(children[1])
    factor = factor_rng.standard_normal(n)
    market_jumps = np.zeros(n)
    hits = np.flatnonzero(crisis & (factor_rng.random(n) < config.crisis_jump_rate))
    market_jumps[hits] = factor_rng.normal(-config.jump_vol, 2.0 * config.jump_vol, hits.size)

    step = config.bar_seconds * NANOS_PER_SECOND
    ts = _start_ns(config.start) + step * np.arange(1, n + 1, dtype=np.int64)
    bars: dict[str, BarSeries] = {}
    regimes: dict[str, RegimeArray] = {}
    for instrument, child in zip(config.instruments, children[2:], strict=True):
        rng = np.random.default_rng(child)
        labels = _episodes(rng, config)
        labels[crisis] = _CRISIS
        bars[instrument] = _instrument_bars(
            rng,
            config,
            instrument=instrument,
            ts=ts,
            labels=labels,
            factor=factor,
            market_jumps=market_jumps,
        )
        regimes[instrument] = labels
    return SyntheticMarket(bars=bars, regimes=regimes, config=config, seed=seed)


def save_market(
    market: SyntheticMarket,
    directory: str | Path,
    fmt: Literal["csv", "parquet"] = "csv",
) -> list[Path]:
    """Write each instrument's bars to ``<id>.<fmt>`` and the regimes to ``regimes.csv``.

    Parameters
    ----------
    market
        The market to save.
    directory
        Where to write; created if missing.
    fmt
        ``"csv"`` or ``"parquet"`` for the bar files (see `write_bars`).

    Returns
    -------
    list of Path
        The bar files in instrument order, then ``regimes.csv`` (columns
        ``timestamp,instrument,regime``, one row per bar and instrument in time order,
        regimes by name).
    """
    if fmt not in ("csv", "parquet"):
        msg = f"fmt must be 'csv' or 'parquet', got {fmt!r}"
        raise ValueError(msg)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for instrument, series in market.bars.items():
        path = out / f"{instrument}.{fmt}"
        write_bars(series, path)
        paths.append(path)

    instruments = list(market.bars)
    first = market.bars[instruments[0]]
    names = np.array([regime.name for regime in Regime])
    labels = np.stack([market.regimes[i] for i in instruments], axis=1).ravel()
    table = pl.DataFrame(
        {
            "timestamp": pl.Series(np.repeat(first.ts, len(instruments))).cast(
                pl.Datetime("ns", "UTC")
            ),
            "instrument": np.tile(np.array(instruments), len(first)),
            "regime": names[labels],
        }
    )
    path = out / "regimes.csv"
    table.with_columns(pl.col("timestamp").dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ")).write_csv(path)
    paths.append(path)
    return paths


def _crisis_spells(rng: np.random.Generator, config: SyntheticConfig) -> npt.NDArray[np.bool_]:
    """Return which bars are in a market-wide crisis: alternating calm and crisis spells."""
    n = config.bars
    share = config.crisis_share
    calm_mean = config.mean_crisis_bars * (1.0 - share) / share
    # Each crisis lasts at least min_regime_bars, so this many pairs always cover n bars.
    pairs = n // config.min_regime_bars + 1
    calm = rng.geometric(1.0 / max(calm_mean, 1.0), pairs)
    stormy = _durations(rng, config.mean_crisis_bars, config.min_regime_bars, pairs)
    start_in_crisis = rng.random() < share
    spells = np.empty(2 * pairs, dtype=np.int64)
    flags = np.empty(2 * pairs, dtype=np.bool_)
    spells[0::2], spells[1::2] = (stormy, calm) if start_in_crisis else (calm, stormy)
    flags[0::2], flags[1::2] = start_in_crisis, not start_in_crisis
    return np.repeat(flags, _cover(spells, n))


def _episodes(rng: np.random.Generator, config: SyntheticConfig) -> RegimeArray:
    """Return an instrument's own regime per bar: trending, ranging or choppy episodes."""
    count = config.bars // config.min_regime_bars + 1
    lengths = _durations(rng, config.mean_regime_bars, config.min_regime_bars, count)
    # Each episode moves one or two places on the cycle of three: always a new regime.
    moves = rng.integers(1, 3, count)
    moves[0] = rng.integers(0, 3)
    labels = (np.cumsum(moves) % 3).astype(np.int8)
    return np.repeat(labels, _cover(lengths, config.bars))


def _durations(
    rng: np.random.Generator, mean: int, minimum: int, count: int
) -> npt.NDArray[np.int64]:
    """Draw ``count`` lengths of ``minimum`` plus a geometric number, averaging ``mean``."""
    return minimum - 1 + rng.geometric(1.0 / (mean - minimum + 1), count)


def _cover(lengths: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int64]:
    """Cut the run lengths to sum to exactly ``n`` bars, so that repeating them stays small."""
    ends = np.cumsum(lengths)
    last = int(np.searchsorted(ends, n))  # the run in which bar n - 1 falls
    lengths[last] -= ends[last] - n
    lengths[last + 1 :] = 0
    return lengths


def _instrument_bars(
    rng: np.random.Generator,
    config: SyntheticConfig,
    *,
    instrument: str,
    ts: npt.NDArray[np.int64],
    labels: RegimeArray,
    factor: FloatArray,
    market_jumps: FloatArray,
) -> BarSeries:
    """Simulate one instrument's bars given its regimes and the market's shocks."""
    n = config.bars
    in_crisis = labels == _CRISIS
    loading = np.where(
        in_crisis, math.sqrt(config.crisis_correlation), math.sqrt(config.correlation)
    )
    shocks = rng.standard_normal(n)
    shocks *= np.sqrt(1.0 - loading**2)
    loading *= factor
    shocks += loading
    del loading
    jumps = market_jumps.copy()
    hits = np.flatnonzero(rng.random(n) < config.jump_rate)
    jumps[hits] += rng.normal(0.0, config.jump_vol, hits.size)
    log_close = _log_closes(
        labels,
        shocks,
        jumps,
        rng.random(n),
        math.log(config.initial_price),
        config.trend_vol,
        config.trend_drift,
        config.range_vol,
        config.range_reversion,
        config.chop_vol,
        config.chop_reversal,
        config.crisis_vol,
        config.crisis_drift,
    )
    del shocks, jumps

    bar_vol = np.array([config.trend_vol, config.range_vol, config.chop_vol, config.crisis_vol])
    bar_vol = bar_vol[labels]
    log_open = rng.standard_normal(n)
    log_open *= config.gap_vol * bar_vol
    log_open[0] += math.log(config.initial_price)
    log_open[1:] += log_close[:-1]
    body = log_close - log_open
    up = _bridge_extreme(rng, body, bar_vol, 1.0)
    down = _bridge_extreme(rng, body, bar_vol, -1.0)
    del body, bar_vol
    up += log_open
    down += log_open

    tick = config.tick
    open_, high, low, close = (_to_tick(x, tick) for x in (log_open, up, down, log_close))
    del up, down
    # Rounding is monotone, so this only mends float error of the order of 1e-16.
    np.maximum(high, np.maximum(open_, close), out=high)
    np.minimum(low, np.minimum(open_, close), out=low)

    volume = rng.standard_normal(n)
    volume *= config.volume_sigma
    np.exp(volume, out=volume)
    volume *= config.volume_base
    size = np.diff(log_close, prepend=math.log(config.initial_price))
    np.abs(size, out=size)
    size *= 1.0 / config.trend_vol
    size += 1.0
    volume *= size
    volume[in_crisis] *= config.crisis_volume_factor
    np.rint(volume, out=volume)
    np.maximum(volume, 1.0, out=volume)
    return BarSeries(instrument, ts, open_, high, low, close, volume)


def _bridge_extreme(
    rng: np.random.Generator, body: FloatArray, vol: FloatArray, side: float
) -> FloatArray:
    """Draw the high (side 1) or low (side -1) of a Brownian bridge, in log units.

    For a bridge from 0 to ``b`` with variance ``s^2`` and U uniform on (0, 1], the
    maximum is ``(b + sqrt(b^2 - 2 s^2 ln U)) / 2``; the minimum mirrors it.
    """
    extreme = rng.random(len(body))
    np.log1p(-extreme, out=extreme)
    extreme *= -2.0 * vol**2
    extreme += body**2
    np.sqrt(extreme, out=extreme)
    extreme *= side
    extreme += body
    extreme *= 0.5
    return extreme


def _to_tick(log_price: FloatArray, tick: float) -> FloatArray:
    """Turn log prices into prices rounded to the tick, never below one tick."""
    price = log_price.copy()
    np.exp(price, out=price)
    per_unit = 1.0 / tick
    whole = round(per_unit)
    if abs(per_unit - whole) < 1e-9:
        # Dividing by a whole number of ticks per unit gives the correctly rounded
        # decimal (100.01, not 100.01000000000001).
        price *= per_unit
        np.rint(price, out=price)
        np.maximum(price, 1.0, out=price)
        price /= whole
        return price
    price /= tick
    np.rint(price, out=price)
    np.maximum(price, 1.0, out=price)
    price *= tick
    return price


@njit(cache=True)
def _log_closes(
    labels: RegimeArray,
    shocks: FloatArray,
    jumps: FloatArray,
    coin: FloatArray,
    x0: float,
    trend_vol: float,
    trend_drift: float,
    range_vol: float,
    range_reversion: float,
    chop_vol: float,
    chop_reversal: float,
    crisis_vol: float,
    crisis_drift: float,
) -> FloatArray:  # pragma: no cover - numba
    n = labels.shape[0]
    out = np.empty(n)
    x = x0
    anchor = x0
    direction = 1.0
    last_shock = 0.0
    previous = -1
    for t in range(n):
        label = labels[t]
        shock = shocks[t]
        if label != previous:
            # A new episode: a range anchors at the current price, a chop starts fresh,
            # and a trend picks its direction, leaning back toward the initial price.
            anchor = x
            last_shock = 0.0
            up = 1.0 / (1.0 + math.exp(_HOME_PULL * (x - x0)))
            direction = 1.0 if coin[t] < up else -1.0
            previous = label
        if label == _TRENDING:
            r = trend_vol * (direction * trend_drift + shock)
        elif label == _RANGING:
            r = range_reversion * (anchor - x) + range_vol * shock
        elif label == _CHOPPY:
            r = chop_vol * (shock - chop_reversal * last_shock)
        else:
            r = crisis_vol * (crisis_drift + shock)
        x += r + jumps[t]
        anchor += jumps[t]
        last_shock = shock
        out[t] = x
    return out
