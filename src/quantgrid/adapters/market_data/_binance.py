"""A vendor source over HTTP: the Binance spot REST API's public market-data endpoints."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import httpx
import numpy as np

from quantgrid.adapters.market_data._errors import (
    MalformedPayloadError,
    RateLimitedError,
    UnknownSymbolError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from quantgrid.adapters.market_data._port import (
    Price,
    RequestRate,
    Ticker,
    Timeframe,
    is_symbol,
)
from quantgrid.model import BarSeries

#: The most klines Binance returns to one request.
MAX_KLINES_PER_REQUEST: Final = 1000
#: The default rate: a fifth of Binance's published 6000 request weight a minute (each
#: call here weighs 2, ``exchangeInfo`` 20), leaving room for other clients of the IP.
BINANCE_REQUEST_RATE: Final = RequestRate(per_second=10.0, burst=20)
_NANOS_PER_MS: Final = 1_000_000
# Binance's error code for an unknown symbol ({"code": -1121, "msg": "Invalid symbol."}).
_INVALID_SYMBOL: Final = -1121
_KLINE_FIELDS: Final = ("open time", "open", "high", "low", "close", "volume", "close time")
_DETAIL_CHARS: Final = 200

_Kline = tuple[int, float, float, float, float, float]
"""Open time in ms, open, high, low, close, volume."""


class BinanceRestSource:
    """Prices, klines and 24-hour tickers from a server speaking Binance's spot REST API.

    Modelled on the public market-data endpoints of the Binance spot REST API v3, the
    shape many crypto exchanges and mock servers copy:

    ========================================  ===============================
    ``GET /api/v3/exchangeInfo``              ``symbols`` (status TRADING)
    ``GET /api/v3/ticker/price?symbol=``      ``latest_price``
    ``GET /api/v3/klines?symbol=&interval=``  ``ohlcv`` (paged, 1000 a page)
    ``GET /api/v3/ticker/24hr?symbol=``       ``ticker``
    ========================================  ===============================

    Parameters
    ----------
    base_url
        The server (``https://api.binance.com``, or a compatible one).
    name
        The upstream's name in errors and metrics.
    symbols
        Serve only these symbols, without asking ``exchangeInfo`` (which lists
        thousands); all trading symbols if None.
    timeout_s
        Limit on each HTTP request.
    max_pages, page_size
        The most kline requests one `ohlcv` call makes, and the klines each asks for
        (at most 1000, Binance's limit).
    request_rate
        The rate this upstream may be called at (`BINANCE_REQUEST_RATE`), applied by
        the service's token bucket unless its settings say otherwise.
    transport, now_ns
        For tests: the httpx transport, and the clock that stamps prices (the
        ``ticker/price`` answer carries no time).

    Notes
    -----
    Tested only against payloads written by hand in the documented shape
    (``tests/fixtures/market_data/binance/``) and served on 127.0.0.1; this code has not
    been run against the exchange itself. Answers are decoded strictly: a payload of
    the wrong shape raises `MalformedPayloadError` naming the endpoint, the field and
    the rule, never a bare ``KeyError``. HTTP 429 and 418 (Binance's "slow down" and
    "banned") raise `RateLimitedError` with the server's ``Retry-After``; 400 with code
    -1121 raises `UnknownSymbolError`; 5xx, connection failures and timeouts raise
    `UpstreamUnavailableError`; other answers `UpstreamError`. A kline is stamped at
    its close, its open time plus the interval (Binance's own ``closeTime`` is 1 ms
    earlier).
    """

    def __init__(
        self,
        base_url: str = "https://api.binance.com",
        *,
        name: str = "binance",
        symbols: Sequence[str] | None = None,
        timeout_s: float = 5.0,
        max_pages: int = 20,
        page_size: int = MAX_KLINES_PER_REQUEST,
        request_rate: RequestRate | None = BINANCE_REQUEST_RATE,
        transport: httpx.AsyncBaseTransport | None = None,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        if symbols is not None:
            bad = [s for s in symbols if not is_symbol(s)]
            if bad:
                msg = f"{name}: not symbols: {bad!r}"
                raise ValueError(msg)
        if max_pages < 1:
            msg = f"max_pages is at least 1, not {max_pages}"
            raise ValueError(msg)
        if not 1 <= page_size <= MAX_KLINES_PER_REQUEST:
            msg = f"page_size is 1 to {MAX_KLINES_PER_REQUEST}, not {page_size}"
            raise ValueError(msg)
        self._name = name
        self._only = None if symbols is None else list(dict.fromkeys(symbols))
        self.max_pages = max_pages
        self.page_size = page_size
        self._request_rate = request_rate
        self._now_ns = now_ns
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout_s, transport=transport, follow_redirects=False
        )
        self._timeout_s = timeout_s

    @property
    def name(self) -> str:
        """Return the upstream's name."""
        return self._name

    @property
    def request_rate(self) -> RequestRate | None:
        """Return the rate this upstream may be called at."""
        return self._request_rate

    # -- HTTP ----------------------------------------------------------------------------
    async def _get(self, path: str, params: Mapping[str, str | int]) -> Any:
        endpoint = f"GET {path}"
        try:
            response = await self._http.get(path, params=dict(params))
        except httpx.TimeoutException:
            raise UpstreamTimeoutError(self._name, self._timeout_s) from None
        except httpx.TransportError as exc:
            detail = f"{endpoint}: cannot connect ({type(exc).__name__})"
            raise UpstreamUnavailableError(self._name, detail) from None
        status = response.status_code
        if status in (418, 429):
            retry = _retry_after_s(response.headers.get("Retry-After"))
            detail = f"{endpoint} answered {status}: request rate limit exceeded"
            raise RateLimitedError(self._name, retry, detail)
        if status >= 500:
            raise UpstreamUnavailableError(self._name, f"{endpoint} answered {status}")
        body = _json(self._name, endpoint, response)
        if status >= 400:
            code, message = _binance_error(body)
            if code == _INVALID_SYMBOL and "symbol" in params:
                raise UnknownSymbolError(str(params["symbol"]), self._name)
            raise UpstreamError(self._name, f"{endpoint} answered {status}: {message}")
        if status != 200:
            raise UpstreamError(self._name, f"{endpoint} answered {status}, not 200")
        return body

    # -- the port ------------------------------------------------------------------------
    async def symbols(self) -> list[str]:
        """Return the configured symbols, or every symbol ``exchangeInfo`` lists as trading."""
        if self._only is not None:
            return list(self._only)
        path = "/api/v3/exchangeInfo"
        body = await self._get(path, {})
        decode = _Decoder(self._name, f"GET {path}")
        listed = decode.field(body, "symbols", list, "list")
        found: list[str] = []
        for i, item in enumerate(listed):
            entry = decode.of_type(item, f"symbols[{i}]", dict, "object")
            symbol = decode.field(entry, "symbol", str, "string", where=f"symbols[{i}].")
            status = entry.get("status", "TRADING")
            if status == "TRADING" and is_symbol(symbol):
                found.append(symbol)
        return found

    def _check_symbol(self, symbol: str) -> None:
        # Asked only for a configured symbol: others are unknown without a call.
        if not is_symbol(symbol) or (self._only is not None and symbol not in self._only):
            raise UnknownSymbolError(symbol, self._name)

    async def latest_price(self, symbol: str) -> Price:
        """Return the last trade price (``ticker/price``), stamped when it arrived."""
        self._check_symbol(symbol)
        path = "/api/v3/ticker/price"
        body = await self._get(path, {"symbol": symbol})
        decode = _Decoder(self._name, f"GET {path}")
        decode.of_type(body, "body", dict, "object")
        decode.same_symbol(body, symbol)
        price = decode.decimal(body, "price", positive=True)
        return Price(symbol, price, self._now_ns())

    async def ticker(self, symbol: str) -> Ticker:
        """Return the rolling 24-hour ticker (``ticker/24hr``)."""
        self._check_symbol(symbol)
        path = "/api/v3/ticker/24hr"
        body = await self._get(path, {"symbol": symbol})
        decode = _Decoder(self._name, f"GET {path}")
        decode.of_type(body, "body", dict, "object")
        decode.same_symbol(body, symbol)
        last = decode.decimal(body, "lastPrice", positive=True)
        bid = decode.decimal(body, "bidPrice", positive=False)
        ask = decode.decimal(body, "askPrice", positive=False)
        volume = decode.decimal(body, "volume", positive=False)
        change = decode.decimal(body, "priceChange", signed=True)
        pct = decode.decimal(body, "priceChangePercent", signed=True)
        close_ms = decode.millis(body, "closeTime")
        return Ticker(
            symbol,
            bid or None,  # Binance sends "0.00000000" when the book side is empty
            ask or None,
            last,
            volume,
            change,
            pct,
            (close_ms + 1) * _NANOS_PER_MS,
        )

    async def ohlcv(
        self,
        symbol: str,
        start: int,
        end: int,
        timeframe: Timeframe,
        *,
        limit: int | None = None,
    ) -> BarSeries:
        """Return the klines of ``symbol`` within ``[start, end]``; see `MarketDataSource`.

        Pages through ``klines`` (``page_size`` a request, at most ``max_pages`` requests).
        """
        self._check_symbol(symbol)
        step_ms = timeframe.nanos // _NANOS_PER_MS
        # Klines open at multiples of the interval: the first opening at or after start,
        # the last opening early enough to close by end.
        first_open = -((-start) // timeframe.nanos) * step_ms
        last_open = (end // timeframe.nanos) * step_ms - step_ms
        wanted = limit if limit is not None else self.max_pages * self.page_size
        rows: list[_Kline] = []
        cursor = first_open
        for _ in range(self.max_pages):
            if cursor > last_open or len(rows) >= wanted:
                break
            page = min(self.page_size, wanted - len(rows))
            params: dict[str, str | int] = {
                "symbol": symbol,
                "interval": timeframe.value,
                "startTime": cursor,
                "endTime": last_open,
                "limit": page,
            }
            got = self._klines(await self._get("/api/v3/klines", params), step_ms)
            got = [row for row in got if cursor <= row[0] <= last_open]
            if rows and got and got[0][0] <= rows[-1][0]:
                detail = "klines of a later page do not come after the earlier page's"
                raise MalformedPayloadError(
                    self._name, "GET /api/v3/klines", "[0][0] (open time)", "ordered", detail
                )
            rows.extend(got)
            if len(got) < page:
                break
            cursor = rows[-1][0] + step_ms
        rows = rows[:wanted]
        data = np.array(rows, dtype=np.float64).reshape(-1, 6)
        ts = (np.array([r[0] for r in rows], dtype=np.int64) + step_ms) * _NANOS_PER_MS
        return BarSeries.from_arrays(
            symbol, ts, data[:, 1], data[:, 2], data[:, 3], data[:, 4], data[:, 5]
        )

    def _klines(self, body: Any, step_ms: int) -> list[_Kline]:
        decode = _Decoder(self._name, "GET /api/v3/klines")
        decode.of_type(body, "body", list, "list")
        rows: list[_Kline] = []
        previous: int | None = None
        for i, item in enumerate(body):
            kline = decode.of_type(item, f"[{i}]", list, "list")
            if len(kline) < len(_KLINE_FIELDS):
                detail = f"a kline has at least {len(_KLINE_FIELDS)} fields, this one {len(kline)}"
                raise MalformedPayloadError(self._name, decode.endpoint, f"[{i}]", "length", detail)
            opened = decode.millis_at(kline, i, 0)
            o, h, low, c = (decode.decimal_at(kline, i, k, positive=True) for k in range(1, 5))
            v = decode.decimal_at(kline, i, 5, positive=False)
            closed = decode.millis_at(kline, i, 6)
            where = f"[{i}]"
            if closed != opened + step_ms - 1:
                detail = f"close time {closed} is not open time {opened} + interval - 1 ms"
                raise MalformedPayloadError(self._name, decode.endpoint, where, "interval", detail)
            if previous is not None and opened <= previous:
                detail = f"open time {opened} is not after the previous kline's {previous}"
                raise MalformedPayloadError(self._name, decode.endpoint, where, "ordered", detail)
            if h < low or not (low <= o <= h and low <= c <= h):
                detail = f"high {h}, low {low}, open {o}, close {c} are inconsistent"
                raise MalformedPayloadError(self._name, decode.endpoint, where, "ohlc", detail)
            previous = opened
            rows.append((opened, o, h, low, c, v))
        return rows

    async def close(self) -> None:
        """Close the HTTP connections; idempotent."""
        await self._http.aclose()


class _Decoder:
    """Typed reads from a decoded JSON answer; each failure names the field and rule."""

    def __init__(self, upstream: str, endpoint: str) -> None:
        self.upstream = upstream
        self.endpoint = endpoint

    def fail(self, field: str, rule: str, detail: str) -> MalformedPayloadError:
        return MalformedPayloadError(self.upstream, self.endpoint, field, rule, detail)

    def of_type(self, value: Any, field: str, kind: type, rule: str) -> Any:
        if not isinstance(value, kind):
            raise self.fail(field, rule, f"expected a JSON {rule}, got {_kind(value)}")
        return value

    def field(self, body: Any, key: str, kind: type, rule: str, *, where: str = "") -> Any:
        if not isinstance(body, dict):
            raise self.fail("body", "object", f"expected a JSON object, got {_kind(body)}")
        if key not in body:
            raise self.fail(where + key, "required", "missing")
        return self.of_type(body[key], where + key, kind, rule)

    def same_symbol(self, body: dict[str, Any], symbol: str) -> None:
        got = self.field(body, "symbol", str, "string")
        if got != symbol:
            raise self.fail("symbol", "same_symbol", f"asked for {symbol}, answered for {got!r}")

    def _number(self, value: Any, field: str, *, positive: bool, signed: bool) -> float:
        # Binance sends prices and quantities as decimal strings, to keep their digits.
        if not isinstance(value, str):
            detail = f"expected a decimal string, got {_kind(value)}"
            raise self.fail(field, "decimal_string", detail)
        try:
            number = float(value)
        except ValueError:
            raise self.fail(field, "decimal_string", "not a decimal number") from None
        if not math.isfinite(number):
            raise self.fail(field, "finite", "not a finite number")
        if positive and number <= 0:
            raise self.fail(field, "positive", f"must be positive, got {number:g}")
        if not signed and number < 0:
            raise self.fail(field, "non_negative", f"must not be negative, got {number:g}")
        return number

    def decimal(
        self, body: dict[str, Any], key: str, *, positive: bool = False, signed: bool = False
    ) -> float:
        if key not in body:
            raise self.fail(key, "required", "missing")
        return self._number(body[key], key, positive=positive, signed=signed)

    def decimal_at(self, row: list[Any], i: int, k: int, *, positive: bool) -> float:
        field = f"[{i}][{k}] ({_KLINE_FIELDS[k]})"
        return self._number(row[k], field, positive=positive, signed=False)

    def _ms(self, value: Any, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            detail = f"expected integer milliseconds, got {_kind(value)}"
            raise self.fail(field, "integer_ms", detail)
        if not 0 <= value < 2**63 // _NANOS_PER_MS:
            raise self.fail(field, "epoch_ms", f"{value} is not a time since 1970 in ms")
        return value

    def millis(self, body: dict[str, Any], key: str) -> int:
        if key not in body:
            raise self.fail(key, "required", "missing")
        return self._ms(body[key], key)

    def millis_at(self, row: list[Any], i: int, k: int) -> int:
        return self._ms(row[k], f"[{i}][{k}] ({_KLINE_FIELDS[k]})")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "an object"})
    return names.get(type(value), type(value).__name__)


def _json(upstream: str, endpoint: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        detail = f"the {response.status_code} answer is not JSON"
        raise MalformedPayloadError(upstream, endpoint, "body", "json", detail) from None


def _binance_error(body: Any) -> tuple[int | None, str]:
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("msg")
        text = message[:_DETAIL_CHARS] if isinstance(message, str) else "no message"
        return (code if isinstance(code, int) else None), text
    return None, "no message"


def _retry_after_s(header: str | None) -> float:
    if header is None:
        return 60.0
    try:
        seconds = float(header)
    except ValueError:
        return 60.0
    return seconds if math.isfinite(seconds) and seconds >= 0 else 60.0
