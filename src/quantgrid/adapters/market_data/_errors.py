"""What market-data sources raise."""

from __future__ import annotations

import math


class MarketDataError(Exception):
    """Base of every error a market-data source raises."""


class UnknownSymbolError(MarketDataError):
    """The source has no such symbol.

    Attributes
    ----------
    symbol, upstream
        The symbol asked for, and the source that does not have it.
    """

    def __init__(self, symbol: str, upstream: str) -> None:
        super().__init__(f"{upstream} has no symbol {symbol!r}")
        self.symbol = symbol
        self.upstream = upstream


class UnsupportedTimeframeError(MarketDataError):
    """The source cannot make bars of that timeframe for that symbol.

    Raised when the stored bars are coarser than the timeframe asked for, or do not
    divide it (daily files asked for hourly bars).
    """

    def __init__(self, symbol: str, timeframe: str, detail: str) -> None:
        super().__init__(f"no {timeframe} bars of {symbol}: {detail}")
        self.symbol = symbol
        self.timeframe = timeframe
        self.detail = detail


class RateLimitedError(MarketDataError):
    """A call was refused to keep within the upstream's request rate.

    Raised by a `TokenBucket` that would make the call wait longer than it may, and by
    a source whose upstream answered "too many requests".

    Attributes
    ----------
    upstream
        Whose rate limit it is.
    retry_after_s
        Seconds after which a call may go through.
    """

    def __init__(self, upstream: str, retry_after_s: float, detail: str = "") -> None:
        self.upstream = upstream
        self.retry_after_s = max(0.0, retry_after_s) if math.isfinite(retry_after_s) else 60.0
        reason = detail or "request rate limit reached"
        super().__init__(f"{upstream}: {reason}; retry in {self.retry_after_s:.1f} s")


class UpstreamError(MarketDataError):
    """The upstream failed to give a usable answer.

    Attributes
    ----------
    upstream
        The source's name.
    detail
        What went wrong, without the upstream's address or credentials.
    """

    def __init__(self, upstream: str, detail: str) -> None:
        super().__init__(f"{upstream}: {detail}")
        self.upstream = upstream
        self.detail = detail


class UpstreamUnavailableError(UpstreamError):
    """The upstream could not be reached, or answered that it is failing (5xx)."""


class UpstreamTimeoutError(UpstreamUnavailableError):
    """The upstream did not answer in time."""

    def __init__(self, upstream: str, timeout_s: float) -> None:
        super().__init__(upstream, f"no answer within {timeout_s:g} s")
        self.timeout_s = timeout_s


class CircuitOpenError(UpstreamUnavailableError):
    """Calls to the upstream are suspended after repeated failures; none was made.

    Attributes
    ----------
    retry_after_s
        Seconds until a probe call is let through.
    """

    def __init__(self, upstream: str, retry_after_s: float, failures: int) -> None:
        super().__init__(
            upstream,
            f"calls suspended after {failures} failures in a row; "
            f"next attempt in {retry_after_s:.1f} s",
        )
        self.retry_after_s = retry_after_s


class MalformedPayloadError(UpstreamError):
    """The upstream answered, but not in the shape expected.

    Attributes
    ----------
    endpoint
        What was called (``GET /api/v3/klines``, or a file name).
    field
        Where in the answer (``[3][2] (high)``, ``price``, ``row 17``).
    rule
        The rule it broke, as a stable id (``decimal_string``, ``json``, ``high_below_low``).
    """

    def __init__(self, upstream: str, endpoint: str, field: str, rule: str, detail: str) -> None:
        super().__init__(upstream, f"{endpoint}: {field}: {detail}")
        self.endpoint = endpoint
        self.field = field
        self.rule = rule
