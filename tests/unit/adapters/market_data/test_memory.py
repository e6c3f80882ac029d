"""InMemorySource (the port's fake) and SyntheticSource: windows, timeframes, tickers."""

from __future__ import annotations

import numpy as np
import pytest

from quantgrid.adapters.market_data import (
    InMemorySource,
    SyntheticSource,
    Timeframe,
    UnknownSymbolError,
    UnsupportedTimeframeError,
)
from quantgrid.core import NANOS_PER_DAY
from quantgrid.data import SyntheticConfig
from quantgrid.model import BarSeries
from tests.conftest import make_bars, random_walk

pytestmark = pytest.mark.anyio

START = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000_000_000


def minute_bars(n: int, symbol: str = "X") -> BarSeries:
    """``n`` one-minute bars, the first closing at 00:01."""
    return make_bars(random_walk(n, seed=7), symbol, start_ns=START + MINUTE, step_ns=MINUTE)


async def test_a_window_holds_the_bars_lying_within_it() -> None:
    source = InMemorySource({"X": minute_bars(30)})

    bars = await source.ohlcv("X", START + 5 * MINUTE, START + 10 * MINUTE, Timeframe.M1)

    # Bars closing 00:06 to 00:10: the bar closing at 00:05 opened before the start.
    assert bars.ts.tolist() == [START + k * MINUTE for k in range(6, 11)]


async def test_an_unaligned_window_keeps_only_whole_bars() -> None:
    source = InMemorySource({"X": minute_bars(30)})

    bars = await source.ohlcv("X", START + 5 * MINUTE + 1, START + 10 * MINUTE - 1, Timeframe.M1)

    assert bars.ts.tolist() == [START + k * MINUTE for k in range(7, 10)]


async def test_bars_are_aggregated_to_the_timeframe() -> None:
    series = minute_bars(60)
    source = InMemorySource({"X": series})

    bars = await source.ohlcv("X", START, START + 60 * MINUTE, Timeframe.M15)

    assert bars.ts.tolist() == [START + k * 15 * MINUTE for k in range(1, 5)]
    assert bars.open[0] == series.open[0]
    assert bars.close[0] == series.close[14]
    assert bars.high[1] == series.high[15:30].max()
    assert bars.low[3] == series.low[45:60].min()
    assert bars.volume[2] == series.volume[30:45].sum()


async def test_limit_keeps_the_first_bars() -> None:
    source = InMemorySource({"X": minute_bars(300)})

    bars = await source.ohlcv("X", START, START + 300 * MINUTE, Timeframe.M5, limit=3)
    whole = await source.ohlcv("X", START, START + 300 * MINUTE, Timeframe.M5)

    assert len(whole) == 60
    assert bars.ts.tolist() == whole.ts[:3].tolist()
    assert bars.close.tolist() == whole.close[:3].tolist()


async def test_an_empty_or_reversed_window_has_no_bars() -> None:
    source = InMemorySource({"X": minute_bars(30)})

    assert len(await source.ohlcv("X", START + 10 * MINUTE, START, Timeframe.M1)) == 0
    assert len(await source.ohlcv("X", START, START + 30_000_000_000, Timeframe.M1)) == 0


async def test_a_timeframe_finer_than_the_bars_is_refused() -> None:
    daily = make_bars(random_walk(10, seed=1), "D", start_ns=START, step_ns=NANOS_PER_DAY)
    source = InMemorySource({"D": daily})

    with pytest.raises(UnsupportedTimeframeError, match="86400 s apart"):
        await source.ohlcv("D", START, START + 5 * NANOS_PER_DAY, Timeframe.H1)
    assert len(await source.ohlcv("D", START, START + 5 * NANOS_PER_DAY, Timeframe.D1)) == 5


async def test_latest_price_and_ticker_come_from_the_last_bars() -> None:
    series = minute_bars(2 * 1440)
    source = InMemorySource({"X": series}, half_spread=0.05)

    price = await source.latest_price("X")
    ticker = await source.ticker("X")

    assert (price.price, price.ts_event) == (series.close[-1], series.ts[-1])
    assert ticker.last == series.close[-1]
    assert ticker.bid == pytest.approx(series.close[-1] - 0.05)
    assert ticker.ask == pytest.approx(series.close[-1] + 0.05)
    day_ago = series.ts[-1] - NANOS_PER_DAY
    before = int(np.searchsorted(series.ts, day_ago, side="right")) - 1
    assert series.ts[before] == day_ago
    assert ticker.volume_24h == series.volume[before + 1 :].sum()
    assert ticker.change_24h == pytest.approx(series.close[-1] - series.close[before])
    assert ticker.change_24h_pct == pytest.approx(
        100 * (series.close[-1] / series.close[before] - 1)
    )


async def test_a_ticker_without_a_spread_has_no_quotes() -> None:
    source = InMemorySource({"X": minute_bars(5)})

    ticker = await source.ticker("X")

    assert ticker.bid is None
    assert ticker.ask is None
    assert ticker.change_24h == pytest.approx(ticker.last - source._bars["X"].open[0])


async def test_an_unknown_symbol_raises() -> None:
    source = InMemorySource({"X": minute_bars(5)})

    with pytest.raises(UnknownSymbolError, match="memory has no symbol 'Y'"):
        await source.latest_price("Y")


def test_bad_bars_are_refused() -> None:
    with pytest.raises(ValueError, match="not a symbol"):
        InMemorySource({"BTC/USD": minute_bars(5)})
    with pytest.raises(ValueError, match="no bars"):
        InMemorySource({"X": minute_bars(5).slice(0, 0)})
    shuffled = minute_bars(5)
    backwards = BarSeries.from_arrays(
        "X", shuffled.ts[::-1], shuffled.open, shuffled.high, shuffled.low, shuffled.close
    )
    with pytest.raises(ValueError, match="strictly increasing"):
        InMemorySource({"X": backwards})


async def test_the_synthetic_source_is_deterministic() -> None:
    config = SyntheticConfig(bars=500)
    a, b = SyntheticSource(config, seed=3), SyntheticSource(config, seed=3)

    assert await a.symbols() == list(config.instruments)
    for symbol in config.instruments:
        assert await a.latest_price(symbol) == await b.latest_price(symbol)
        assert await a.ticker(symbol) == await b.ticker(symbol)
    ticker = await a.ticker("SYN0")
    assert ticker.ask is not None and ticker.bid is not None
    assert ticker.ask - ticker.bid == pytest.approx(2 * config.tick)
    other = SyntheticSource(config, seed=4)
    assert await other.latest_price("SYN0") != await a.latest_price("SYN0")
