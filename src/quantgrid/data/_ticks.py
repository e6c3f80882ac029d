"""A seeded synthetic quote and trade stream: one instrument's book, level by level.

For tick replays (``quantgrid.backtest.ReplayEngine``) and execution benchmarks, where
what matters is the spread, the displayed sizes, how often the touch moves and how
much trades at the touch against a resting order.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, fields
from datetime import datetime

import numpy as np

from quantgrid.core import NANOS_PER_SECOND, dt_to_ns
from quantgrid.model import (
    FloatArray,
    Instrument,
    IntArray,
    OrderBookDepth,
    OrderSide,
    QuoteTick,
    TradeTick,
)

TickItem = QuoteTick | TradeTick | OrderBookDepth

# Kinds of events, drawn by their share of the total rate.
_MOVE, _TRADE, _UPDATE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class TickConfig:
    """Parameters of a synthetic tick stream; ``generate_ticks`` documents the model.

    The defaults describe a liquid large-cap share on one lit venue: $100, one-cent
    tick (1 bp), a one-tick spread, 2 % daily volatility, about 500 shares displayed at
    the touch, two prints a second of median 100 shares, and ten changes of displayed
    size a second.

    Attributes
    ----------
    instrument_id
        Id of the instrument (``TickStream.instrument`` has the tick and lot below).
    start
        ISO-8601 time of the stream's start; naive times are UTC.
    duration_s
        Length of the stream in seconds.
    initial_price
        Mid price at the start.
    tick, lot
        Price and size increments.
    daily_volatility
        Volatility of the mid's random walk over one session of ``session_seconds``,
        as a fraction of the initial price (0.02 = 2 %). Trades that use up a level
        move the price further (see the model).
    session_seconds
        Length of the trading session the daily volatility refers to (6.5 h).
    spread_ticks
        Distance from best bid to best ask, in ticks, restored after every move.
    levels
        Displayed levels per side. With 1 the stream holds ``QuoteTick``s, with more
        ``OrderBookDepth`` snapshots.
    level_size, level_size_growth, level_size_sigma
        Median displayed size of the best level, the factor from one level's median to
        the next deeper one's, and the log-normal spread of displayed sizes.
    trade_rate
        Prints per second (a Poisson process).
    trade_size, trade_size_sigma
        Median and log-normal spread of an aggressive order's size.
    buy_probability
        Probability that an aggressive order buys (lifts the offer).
    update_rate
        Changes of displayed size without a trade (orders added or cancelled), per
        second.
    drift_per_hour
        Trend of the mid, as a fraction of the initial price per hour (0.005 = +0.5 %
        an hour); moves of the walk go up more often than down to make it.
    """

    instrument_id: str = "SYN"
    start: str = "2024-01-02T14:30:00Z"
    duration_s: float = 3_600.0
    initial_price: float = 100.0
    tick: float = 0.01
    lot: float = 1.0
    daily_volatility: float = 0.02
    session_seconds: float = 23_400.0
    spread_ticks: int = 1
    levels: int = 5
    level_size: float = 500.0
    level_size_growth: float = 1.2
    level_size_sigma: float = 0.5
    trade_rate: float = 2.0
    trade_size: float = 100.0
    trade_size_sigma: float = 0.8
    buy_probability: float = 0.5
    update_rate: float = 10.0
    drift_per_hour: float = 0.0

    def __post_init__(self) -> None:
        if not self.instrument_id or not self.instrument_id.strip():
            _reject("instrument_id", "must be a non-empty string")
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                _reject(field.name, f"must be finite, got {value}")
        for name in (
            "duration_s",
            "initial_price",
            "tick",
            "lot",
            "session_seconds",
            "level_size",
            "level_size_growth",
            "trade_size",
        ):
            if not getattr(self, name) > 0:
                _reject(name, f"must be positive, got {getattr(self, name)}")
        for name in ("daily_volatility", "level_size_sigma", "trade_size_sigma"):
            if getattr(self, name) < 0:
                _reject(name, f"must not be negative, got {getattr(self, name)}")
        for name in ("trade_rate", "update_rate"):
            if getattr(self, name) < 0:
                _reject(name, f"must not be negative, got {getattr(self, name)}")
        if isinstance(self.spread_ticks, bool) or not (
            isinstance(self.spread_ticks, int) and self.spread_ticks >= 1
        ):
            _reject("spread_ticks", f"must be a whole number >= 1, got {self.spread_ticks!r}")
        if isinstance(self.levels, bool) or not (isinstance(self.levels, int) and self.levels >= 1):
            _reject("levels", f"must be a whole number >= 1, got {self.levels!r}")
        if not 0 <= self.buy_probability <= 1:
            _reject("buy_probability", f"must be in [0, 1], got {self.buy_probability}")
        if self.drift_per_hour and not 0 <= self.up_probability <= 1:
            _reject(
                "drift_per_hour",
                f"{self.drift_per_hour} needs more than every one-tick move of the mid "
                "to go one way; lower it or raise daily_volatility",
            )
        if self.initial_price < 10 * self.spread_ticks * self.tick:
            _reject("initial_price", "must be at least ten spreads")
        try:
            _start_ns(self.start)
        except ValueError:
            _reject("start", f"must be an ISO-8601 date or datetime, got {self.start!r}")

    @property
    def move_rate(self) -> float:
        """Return the rate (per second) of the mid's one-tick random-walk steps.

        A walk of one-tick steps at rate ``r`` has variance ``r * tick^2`` per second,
        so ``r = (daily_volatility * initial_price / tick)^2 / session_seconds``.
        """
        ticks_per_session = self.daily_volatility * self.initial_price / self.tick
        return ticks_per_session**2 / self.session_seconds

    @property
    def up_probability(self) -> float:
        """Return the chance that a move of the mid is up (0.5 without drift).

        Moves at rate ``r`` that go up with probability ``q`` drift the mid by
        ``(2q - 1) * r * tick`` per second, so ``drift_per_hour`` (a fraction of the
        initial price) needs ``q = 1/2 + drift * price / (2 * 3600 * r * tick)``.
        """
        if not self.drift_per_hour:
            return 0.5
        rate = self.move_rate
        if rate <= 0:
            return math.inf
        return 0.5 + self.drift_per_hour * self.initial_price / (2 * 3_600 * rate * self.tick)


def _reject(field: str, rule: str) -> None:
    msg = f"TickConfig.{field} {rule}"
    raise ValueError(msg)


def _start_ns(start: str) -> int:
    return dt_to_ns(datetime.fromisoformat(start))


@dataclass(frozen=True, slots=True, eq=False)
class TickStream:
    """A generated stream and what a benchmark needs to measure against it.

    Attributes
    ----------
    instrument
        The instrument, with the config's tick and lot.
    items
        Quotes (or book snapshots) and trades in time order, ready for a replay.
    trade_ts, trade_price, trade_size
        Every print, as columns (the VWAP benchmark of execution analytics).
    mid_ts, mid
        The mid after every change of the book.
    config, seed
        What generated the stream; the same pair gives the same stream.
    """

    instrument: Instrument
    items: tuple[TickItem, ...]
    trade_ts: IntArray
    trade_price: FloatArray
    trade_size: FloatArray
    mid_ts: IntArray
    mid: FloatArray
    config: TickConfig
    seed: int

    @property
    def market_trades(self) -> tuple[IntArray, FloatArray, FloatArray]:
        """Return the prints as ``(ts, price, size)``, as ``execution_report`` takes them."""
        return self.trade_ts, self.trade_price, self.trade_size

    def mid_at(self, ts_ns: int) -> float:
        """Return the mid in force at ``ts_ns`` (the initial mid before the first update)."""
        i = bisect_right(self.mid_ts, ts_ns)
        return float(self.mid[i - 1]) if i else self.config.initial_price

    def realized_volatility(self, session_seconds: float | None = None) -> float:
        """Return the mid's realised volatility, scaled to one session (a fraction).

        From one-second-sampled log changes of the mid: ``sqrt(sum(r^2))`` over the
        stream, scaled by ``sqrt(session / duration)``.
        """
        session = session_seconds or self.config.session_seconds
        start = int(self.mid_ts[0]) if len(self.mid_ts) else 0
        grid = start + NANOS_PER_SECOND * np.arange(int(self.config.duration_s) + 1)
        idx = np.searchsorted(self.mid_ts, grid, side="right") - 1
        sampled = self.mid[np.clip(idx, 0, None)]
        returns = np.diff(np.log(sampled))
        return float(np.sqrt(np.sum(returns**2) * session / self.config.duration_s))


def generate_ticks(config: TickConfig, seed: int) -> TickStream:
    """Generate a seeded stream of book updates and trades for one instrument.

    Parameters
    ----------
    config
        The market's parameters.
    seed
        Non-negative seed; the same seed and config give the same stream.

    Returns
    -------
    TickStream

    Notes
    -----
    The book holds ``levels`` price levels per side, one tick apart, the best ask
    ``spread_ticks`` above the best bid; displayed sizes are log-normal with median
    ``level_size * level_size_growth**k`` at depth ``k`` (whole lots, at least one).
    Events arrive as a Poisson process of three independent kinds:

    - **moves** (rate ``move_rate``): the mid's random walk. The whole book shifts one
      tick up or down with equal probability; the level given up leaves without a
      trade, a fresh level appears on the other side. The rate makes the walk's
      volatility ``daily_volatility`` per session.
    - **trades** (rate ``trade_rate``): an aggressive order, a buy with probability
      ``buy_probability``, of log-normal size (median ``trade_size``, whole lots), walks
      the opposite side from the best level: one print per level it reaches, at that
      level's price and with the aggressor's side. Each level it uses up moves the
      price: the next level becomes the best, and the other side follows by one tick
      (a fresh level), so the spread is restored. A trade that empties the whole side
      is cut at what was displayed.
    - **updates** (rate ``update_rate``): one level of one side, chosen uniformly,
      gets a fresh displayed size (orders added or cancelled).

    After every event the new book is emitted (an ``OrderBookDepth``, or a
    ``QuoteTick`` with ``levels=1``), after the event's prints. Timestamps are whole
    nanoseconds and never decrease. Prices are whole ticks and never reach zero.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    iid = config.instrument_id
    instrument = Instrument(iid, price_increment=config.tick, size_increment=config.lot)
    tick = config.tick
    spread = config.spread_ticks
    n_levels = config.levels
    lot = config.lot
    medians = [config.level_size * config.level_size_growth**k for k in range(n_levels)]

    def fresh_size(depth: int) -> float:
        drawn = medians[depth] * math.exp(config.level_size_sigma * rng.standard_normal())
        return max(lot, math.floor(drawn / lot) * lot)

    def price(ticks: int) -> float:
        return instrument.round_price(ticks * tick)

    start = _start_ns(config.start)
    end = start + round(config.duration_s * NANOS_PER_SECOND)
    rates = np.array([config.move_rate, config.trade_rate, config.update_rate])
    total_rate = float(rates.sum())
    shares = rates / total_rate if total_rate > 0 else rates
    up_probability = config.up_probability

    bid = round(config.initial_price / tick - spread / 2)  # best bid, in ticks
    bids = [fresh_size(k) for k in range(n_levels)]  # sizes, best first
    asks = [fresh_size(k) for k in range(n_levels)]

    items: list[TickItem] = []
    trade_ts: list[int] = []
    trade_px: list[float] = []
    trade_sz: list[float] = []
    mid_ts: list[int] = []
    mids: list[float] = []

    def emit_book(ts: int) -> None:
        ask = bid + spread
        if n_levels == 1:
            items.append(QuoteTick(iid, ts, price(bid), price(ask), bids[0], asks[0]))
        else:
            items.append(
                OrderBookDepth(
                    iid,
                    ts,
                    tuple((price(bid - k), bids[k]) for k in range(n_levels)),
                    tuple((price(ask + k), asks[k]) for k in range(n_levels)),
                )
            )
        mid_ts.append(ts)
        mids.append(price(bid) + spread * tick / 2)

    def shift(up: bool) -> bool:
        """Move the whole book one tick; return False if it would leave positive prices."""
        nonlocal bid
        if up:
            bid += 1
            asks.pop(0)
            asks.append(fresh_size(n_levels - 1))
            bids.insert(0, fresh_size(0))
            bids.pop()
            return True
        if bid <= n_levels:  # the deepest bid would reach zero
            return False
        bid -= 1
        bids.pop(0)
        bids.append(fresh_size(n_levels - 1))
        asks.insert(0, fresh_size(0))
        asks.pop()
        return True

    emit_book(start)
    ts = start
    batch = 4096
    while total_rate > 0:
        gaps = rng.exponential(1.0 / total_rate, batch)
        kinds = rng.choice(3, size=batch, p=shares)
        uniforms = rng.random(batch)
        normals = rng.standard_normal(batch)
        done = False
        for gap, kind, u, z in zip(gaps, kinds, uniforms, normals, strict=True):
            ts += max(1, round(float(gap) * NANOS_PER_SECOND))
            if ts >= end:
                done = True
                break
            if kind == _MOVE:
                shift(up=bool(u < up_probability))
            elif kind == _TRADE:
                buy = bool(u < config.buy_probability)
                size = config.trade_size * math.exp(config.trade_size_sigma * float(z))
                remaining = max(lot, math.floor(size / lot) * lot)
                side = asks if buy else bids
                aggressor = OrderSide.BUY if buy else OrderSide.SELL
                for _ in range(n_levels):
                    px = price(bid + spread) if buy else price(bid)
                    at = side[0]
                    taken = min(remaining, at)
                    items.append(TradeTick(iid, ts, px, taken, aggressor))
                    trade_ts.append(ts)
                    trade_px.append(px)
                    trade_sz.append(taken)
                    remaining -= taken
                    if taken < at:
                        side[0] = at - taken
                        break
                    # The level is used up: the next one is the best, the price moves.
                    if not shift(up=buy) or remaining <= 0:
                        break
            else:
                depth = int(u * n_levels) % n_levels
                (bids if z < 0 else asks)[depth] = fresh_size(depth)
            emit_book(ts)
        if done:
            break

    return TickStream(
        instrument=instrument,
        items=tuple(items),
        trade_ts=np.asarray(trade_ts, dtype=np.int64),
        trade_price=np.asarray(trade_px, dtype=np.float64),
        trade_size=np.asarray(trade_sz, dtype=np.float64),
        mid_ts=np.asarray(mid_ts, dtype=np.int64),
        mid=np.asarray(mids, dtype=np.float64),
        config=config,
        seed=seed,
    )
