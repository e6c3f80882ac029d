"""The market-data adapters' public API is deliberate: this test changes with it."""

from __future__ import annotations

from quantgrid.adapters import market_data

PUBLIC_API = (
    "BINANCE_REQUEST_RATE",
    "MAX_KLINES_PER_REQUEST",
    "SYMBOL_PATTERN",
    "BinanceRestSource",
    "CircuitOpenError",
    "CsvSource",
    "InMemorySource",
    "MalformedPayloadError",
    "MarketDataError",
    "MarketDataSource",
    "ParquetSource",
    "Price",
    "RateLimitedError",
    "RequestRate",
    "SyntheticSource",
    "Ticker",
    "Timeframe",
    "TokenBucket",
    "UnknownSymbolError",
    "UnsupportedTimeframeError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "UpstreamUnavailableError",
    "is_symbol",
)


def test_public_api_is_exactly_what_is_listed() -> None:
    assert tuple(market_data.__all__) == PUBLIC_API
    for name in PUBLIC_API:
        assert hasattr(market_data, name), name


def test_every_source_satisfies_the_port() -> None:
    # Structural: a source missing a method would not type-check where the port is asked.
    for source in (
        market_data.InMemorySource,
        market_data.SyntheticSource,
        market_data.CsvSource,
        market_data.ParquetSource,
        market_data.BinanceRestSource,
    ):
        for method in (
            "name", "request_rate", "symbols", "latest_price", "ohlcv", "ticker", "close",
        ):  # fmt: skip
            assert hasattr(source, method), (source.__name__, method)


def test_symbols() -> None:
    assert market_data.is_symbol("BTCUSDT")
    assert market_data.is_symbol("BRK.B")
    assert market_data.is_symbol("ES_F-2024")
    for text in ("", "-X", "A B", "BTC/USDT", "X\n", "A" * 33, "ÄPFEL"):
        assert not market_data.is_symbol(text), text


def test_a_request_rate_is_positive() -> None:
    import pytest

    assert market_data.RequestRate(2.5, 5).burst == 5
    for rate, burst in ((0.0, 1), (float("inf"), 1), (1.0, 0)):
        with pytest.raises(ValueError, match="request rate"):
            market_data.RequestRate(rate, burst)
