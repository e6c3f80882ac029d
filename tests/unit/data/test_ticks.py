"""The synthetic tick stream: seeded, well formed, and as volatile as asked."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from quantgrid.backtest import ReplayConfig, ReplayEngine
from quantgrid.data import TickConfig, TickStream, generate_ticks
from quantgrid.model import OrderBookDepth, OrderSide, QuoteTick, TradeTick

SHORT = TickConfig(duration_s=300.0)


@pytest.fixture(scope="module")
def stream() -> TickStream:
    return generate_ticks(SHORT, 11)


def _books(stream: TickStream) -> list[OrderBookDepth]:
    return [i for i in stream.items if isinstance(i, OrderBookDepth)]


def test_same_seed_same_stream_other_seed_other_stream(stream: TickStream) -> None:
    again = generate_ticks(SHORT, 11)
    other = generate_ticks(SHORT, 12)

    assert again.items == stream.items
    assert other.items != stream.items
    assert (stream.config, stream.seed) == (SHORT, 11)


def test_items_are_in_time_order_within_the_duration(stream: TickStream) -> None:
    ts = [i.ts_event for i in stream.items]
    start = stream.items[0].ts_event

    assert ts == sorted(ts)
    assert ts[-1] < start + 300 * 1_000_000_000
    assert isinstance(stream.items[0], OrderBookDepth)


def test_every_book_is_valid_on_the_tick_with_the_configured_spread(stream: TickStream) -> None:
    instrument = stream.instrument
    for book in _books(stream):
        book.validate()
        assert len(book.bids) == len(book.asks) == 5
        assert round((book.asks[0][0] - book.bids[0][0]) / 0.01) == 1
        for price, size in book.bids + book.asks:
            assert instrument.round_price(price) == price
            assert size >= 1 and size == math.floor(size)
        for side in (book.bids, book.asks):
            gaps = {round(abs(a[0] - b[0]) / 0.01) for a, b in itertools.pairwise(side)}
            assert gaps == {1}


def test_prints_hit_the_best_level_of_the_side_they_take_and_move_the_price(
    stream: TickStream,
) -> None:
    book: OrderBookDepth | None = None
    level_used_up = moved = 0
    buy = True
    taken: dict[float, float] = {}
    for item in stream.items:
        if isinstance(item, OrderBookDepth):
            if taken and book is not None:
                best = book.asks[0] if buy else book.bids[0]
                if taken.get(best[0], 0.0) >= best[1]:
                    level_used_up += 1
                    new_best = item.asks[0][0] if buy else item.bids[0][0]
                    moved += new_best != best[0]
            book, taken = item, {}
        else:
            assert isinstance(item, TradeTick) and book is not None
            assert item.aggressor_side in (OrderSide.BUY, OrderSide.SELL)
            buy = item.aggressor_side is OrderSide.BUY
            levels = dict(book.asks if buy else book.bids)
            assert item.price in levels  # at a displayed price of the side it takes
            taken[item.price] = taken.get(item.price, 0.0) + item.size
    assert level_used_up > 10
    assert moved == level_used_up


def test_trade_columns_match_the_prints(stream: TickStream) -> None:
    prints = [i for i in stream.items if isinstance(i, TradeTick)]
    ts, price, size = stream.market_trades

    assert len(prints) == len(ts) > 300  # about two a second
    assert list(ts) == [p.ts_event for p in prints]
    assert list(price) == [p.price for p in prints]
    assert list(size) == [p.size for p in prints]
    assert np.median(size) == pytest.approx(100, rel=0.3)


def test_mid_at_follows_the_books(stream: TickStream) -> None:
    books = _books(stream)
    middle = books[len(books) // 2]

    assert stream.mid_at(middle.ts_event) == pytest.approx(
        (middle.bids[0][0] + middle.asks[0][0]) / 2
    )
    assert stream.mid_at(0) == 100.0


def test_one_level_gives_quotes() -> None:
    quotes = generate_ticks(TickConfig(duration_s=30.0, levels=1, spread_ticks=3), 1)

    books = [i for i in quotes.items if not isinstance(i, TradeTick)]
    assert books and all(isinstance(q, QuoteTick) for q in books)
    assert all(round((q.ask - q.bid) / 0.01) == 3 for q in books)  # type: ignore[union-attr]


@pytest.mark.parametrize("volatility", [0.01, 0.04])
def test_realised_volatility_is_close_to_the_configured_one(volatility: float) -> None:
    config = TickConfig(duration_s=1_800.0, daily_volatility=volatility)
    realised = generate_ticks(config, 5).realized_volatility()

    # The walk gives the configured volatility; used-up levels add a little.
    assert volatility * 0.85 < realised < volatility * 1.35
    assert config.move_rate == pytest.approx((volatility * 100 / 0.01) ** 2 / 23_400)


def test_the_stream_replays_through_the_book_venue(stream: TickStream) -> None:
    engine = ReplayEngine(ReplayConfig([stream.instrument]), start_ns=stream.items[0].ts_event)

    result = engine.run(stream.items)

    assert len(result.ts) == len(stream.items)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"duration_s": 0.0}, "TickConfig.duration_s must be positive, got 0.0"),
        ({"tick": -0.01}, "TickConfig.tick must be positive"),
        ({"daily_volatility": math.nan}, "TickConfig.daily_volatility must be finite, got nan"),
        ({"trade_rate": -1.0}, "TickConfig.trade_rate must not be negative, got -1.0"),
        ({"spread_ticks": 0}, "TickConfig.spread_ticks must be a whole number >= 1, got 0"),
        ({"levels": 1.5}, "TickConfig.levels must be a whole number >= 1, got 1.5"),
        ({"buy_probability": 2.0}, r"TickConfig.buy_probability must be in \[0, 1\], got 2.0"),
        ({"initial_price": 0.05}, "TickConfig.initial_price must be at least ten spreads"),
        ({"start": "yesterday"}, "TickConfig.start must be an ISO-8601 date or datetime"),
        ({"instrument_id": " "}, "TickConfig.instrument_id must be a non-empty string"),
    ],
)
def test_config_errors_name_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TickConfig(**fields)  # type: ignore[arg-type]


def test_drift_moves_the_mid_by_the_requested_trend() -> None:
    config = TickConfig(duration_s=4 * 3_600.0, drift_per_hour=0.01, trade_rate=0.0)

    ends = [float(generate_ticks(config, seed).mid[-1]) for seed in range(6)]

    # 4 hours at +1 %/h from 100: about 104, give or take the walk's noise (~1.5).
    assert 103.0 < sum(ends) / len(ends) < 105.0
    assert config.up_probability > 0.5


def test_drift_that_needs_more_than_every_move_is_refused() -> None:
    with pytest.raises(ValueError, match=r"TickConfig.drift_per_hour 5.0 needs more than"):
        TickConfig(drift_per_hour=5.0)
