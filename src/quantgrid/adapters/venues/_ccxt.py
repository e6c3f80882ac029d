"""``CcxtClient``: a crypto exchange through ccxt's async API (Binance spot by default).

ccxt is imported when a client is made, so ``quantgrid.adapters.venues`` imports without
it (``pip install 'quantgrid[venues]'`` brings it). One client speaks to one exchange,
by default Binance spot on its testnet (``sandbox=True``). ``base_url`` points every
URL of the exchange's API at another host: the tests' loopback server.

ccxt's exceptions map onto the bridge's three kinds:

- ``DuplicateOrderId`` (and Binance's ``Duplicate order sent.``, which ccxt raises as
  ``InvalidOrder``): ``DuplicateClientOrderIdError``; the bridge follows that order.
- Every other ``ExchangeError`` (``InsufficientFunds``, ``InvalidOrder``,
  ``OrderNotFound``, ``BadRequest``, ``AuthenticationError``, ...):
  ``VenueRejectedError`` with the exchange's own message; the bridge rejects.
- ``RateLimitExceeded``, ``DDoSProtection``: ``VenueBusyError``; sent again after a pause.
- ``RequestTimeout``, ``ExchangeNotAvailable``, other ``NetworkError``s, ``BadResponse``:
  ``VenueUnreachableError``; the order is looked up, never sent again.

The keys come from ``<EXCHANGE>_API_KEY`` and ``<EXCHANGE>_API_SECRET`` (``BINANCE_...``)
or the arguments, and go only to ccxt: never into a message, a log line or ``repr``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from quantgrid.adapters.venues._port import (
    DuplicateClientOrderIdError,
    OrderRef,
    VenueBusyError,
    VenueCapabilities,
    VenueFill,
    VenueOrder,
    VenueOrderRequest,
    VenueOrderStatus,
    VenuePosition,
    VenueRejectedError,
    VenueUnreachableError,
)
from quantgrid.model import LiquiditySide, OrderSide, OrderType, TimeInForce

_log = logging.getLogger("quantgrid.adapters.venues")
T = TypeVar("T")

BINANCE_SPOT_CAPABILITIES = VenueCapabilities(
    # STOP is Binance's STOP_LOSS, STOP_LIMIT its STOP_LOSS_LIMIT.
    order_types=frozenset(OrderType),
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
    post_only=True,  # LIMIT_MAKER
    reduce_only=False,  # spot has no positions to reduce
    fractional_time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
    client_order_id=re.compile(r"[.A-Z:/a-z0-9_-]{1,36}"),
)
_DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    # Spot only: no futures markets loaded, no private currency listing at start.
    "binance": {
        "defaultType": "spot",
        "fetchMarkets": {"types": ["spot"]},
        "fetchCurrencies": False,
    },
}
_STATUS = {
    "open": VenueOrderStatus.OPEN,
    "canceling": VenueOrderStatus.PENDING_CANCEL,
    "closed": VenueOrderStatus.FILLED,
    "canceled": VenueOrderStatus.CANCELED,
    "expired": VenueOrderStatus.EXPIRED,
    "rejected": VenueOrderStatus.REJECTED,
}
_DUPLICATE = "Duplicate order sent"


class CcxtClient:
    """One exchange through ccxt's async API, for ``LiveVenue``.

    Parameters
    ----------
    exchange_id
        The ccxt id of the exchange (``"binance"``).
    api_key, secret
        The API keys; by default from ``<EXCHANGE_ID>_API_KEY`` and
        ``<EXCHANGE_ID>_API_SECRET``.
    sandbox
        Use the exchange's test network (Binance's spot testnet); ``False`` trades money.
    base_url
        Send every API request to this host instead (scheme and host of each URL of
        ``urls['api']`` replaced, paths kept): a loopback server in tests.
    timeout_s
        Longest wait for any answer; past it the request's outcome is unknown.
    options
        ccxt options, over the defaults (for Binance: spot markets only).
    capabilities
        What the exchange takes; Binance spot's by default.

    Raises
    ------
    ImportError
        If ccxt is not installed.
    ValueError
        If ccxt has no such exchange, or a key is missing.

    Notes
    -----
    Commission: ccxt reports each trade's fee and its currency. A fee in the quote
    currency is taken as it is; one in the base currency is valued at the trade's
    price; one in a third currency (BNB) cannot be valued here, is recorded as 0 and
    counted in ``unpriced_fees`` (with a warning).
    """

    def __init__(
        self,
        exchange_id: str = "binance",
        *,
        api_key: str | None = None,
        secret: str | None = None,
        sandbox: bool = True,
        base_url: str | None = None,
        timeout_s: float = 10.0,
        options: Mapping[str, Any] | None = None,
        capabilities: VenueCapabilities = BINANCE_SPOT_CAPABILITIES,
    ) -> None:
        try:
            import ccxt.async_support as ccxt_async  # noqa: PLC0415 - an optional dependency
        except ImportError:
            msg = "CcxtClient needs the ccxt package: pip install 'quantgrid[venues]'"
            raise ImportError(msg) from None
        prefix = exchange_id.upper()
        key = api_key if api_key is not None else os.environ.get(f"{prefix}_API_KEY", "")
        word = secret if secret is not None else os.environ.get(f"{prefix}_API_SECRET", "")
        if not key or not word:
            msg = (
                f"CcxtClient needs API keys: set {prefix}_API_KEY and {prefix}_API_SECRET "
                "(or pass api_key and secret)"
            )
            raise ValueError(msg)
        if not (timeout_s > 0):
            msg = f"CcxtClient.timeout_s must be positive, got {timeout_s!r}"
            raise ValueError(msg)
        exchange_class = getattr(ccxt_async, exchange_id, None)
        if exchange_id not in getattr(ccxt_async, "exchanges", ()) or exchange_class is None:
            msg = f"ccxt has no exchange {exchange_id!r}"
            raise ValueError(msg)
        merged = {**_DEFAULT_OPTIONS.get(exchange_id, {}), **dict(options or {})}
        self._ccxt = ccxt_async
        self._exchange: Any = exchange_class(
            {
                "apiKey": key,
                "secret": word,
                "timeout": int(timeout_s * 1000),
                "enableRateLimit": True,
                "options": merged,
            }
        )
        if sandbox:
            self._exchange.set_sandbox_mode(True)
        if base_url is not None:
            self._exchange.urls["api"] = _rebase(self._exchange.urls["api"], base_url)
        self.exchange_id = exchange_id
        self.sandbox = sandbox
        self.timeout_s = timeout_s
        self._capabilities = capabilities
        self.unpriced_fees = 0

    def __repr__(self) -> str:
        return f"CcxtClient({self.exchange_id!r}, sandbox={self.sandbox})"

    @property
    def name(self) -> str:
        """Return the exchange id in capitals (``BINANCE``)."""
        return self.exchange_id.upper()

    @property
    def capabilities(self) -> VenueCapabilities:
        """Return what the exchange takes."""
        return self._capabilities

    @property
    def api_urls(self) -> dict[str, Any]:
        """Return the URLs ccxt sends the API requests to."""
        return dict(self._exchange.urls["api"])

    async def check(self) -> str:
        """Load the markets and read the balance; return how many assets it holds."""
        await self._call(self._exchange.load_markets)
        balance = await self._call(self._exchange.fetch_balance)
        held = [asset for asset, total in (balance.get("total") or {}).items() if total]
        mode = "testnet" if self.sandbox else "live"
        return f"{self.name} {mode}: {len(held)} assets with a balance"

    async def submit_order(self, request: VenueOrderRequest) -> VenueOrder:
        """Place an order (``create_order``) with ``clientOrderId``."""
        kind = request.order_type
        market = kind in (OrderType.MARKET, OrderType.STOP)
        params: dict[str, Any] = {"clientOrderId": request.client_order_id}
        if request.trigger_price is not None:
            params["triggerPrice"] = float(request.trigger_price)
        if request.post_only:
            params["postOnly"] = True
        elif not market:
            params["timeInForce"] = request.time_in_force.value
        price = float(request.price) if request.price is not None else None
        answer = await self._call(
            self._exchange.create_order,
            request.symbol,
            "market" if market else "limit",
            request.side.value.lower(),
            float(request.quantity),
            price,
            params,
        )
        return self._order(answer, request.client_order_id)

    async def find_order(self, client_order_id: str, symbol: str) -> VenueOrder | None:
        """Return the order with our client order id, ``None`` if the exchange has none."""
        try:
            answer = await self._call(
                self._exchange.fetch_order, None, symbol, {"clientOrderId": client_order_id}
            )
        except _NotFoundError:
            return None
        return self._order(answer, client_order_id)

    async def get_order(self, ref: OrderRef) -> VenueOrder:
        """Return an order by the exchange's id (by ours if that is not known)."""
        try:
            if ref.venue_order_id:
                answer = await self._call(
                    self._exchange.fetch_order, ref.venue_order_id, ref.symbol
                )
            else:
                answer = await self._call(
                    self._exchange.fetch_order,
                    None,
                    ref.symbol,
                    {"clientOrderId": ref.client_order_id},
                )
        except _NotFoundError as error:
            raise VenueRejectedError(error.reason) from None
        return self._order(answer, ref.client_order_id)

    async def cancel_order(self, ref: OrderRef) -> VenueOrder | None:
        """Cancel an order (``cancel_order``); return it as the exchange's answer shows it."""
        try:
            answer = await self._call(self._exchange.cancel_order, ref.venue_order_id, ref.symbol)
        except _NotFoundError as error:
            raise VenueRejectedError(error.reason) from None
        # Binance's answer names the cancel request's own client id: keep the order's.
        return self._order(answer, ref.client_order_id)

    async def order_fills(self, ref: OrderRef) -> list[VenueFill]:
        """Return an order's trades (``fetch_order_trades``, else ``fetch_my_trades``)."""
        exchange = self._exchange
        if exchange.has.get("fetchOrderTrades"):
            trades = await self._call(exchange.fetch_order_trades, ref.venue_order_id, ref.symbol)
        else:
            since = ref.created_ns // 1_000_000 or None
            trades = await self._call(exchange.fetch_my_trades, ref.symbol, since)
        try:
            return [
                self._fill(t)
                for t in trades
                if str(t.get("order") or ref.venue_order_id) == ref.venue_order_id
            ]
        except (KeyError, TypeError, ValueError, InvalidOperation) as error:
            raise _shape("trades", error) from None

    async def open_orders(self, symbols: list[str]) -> list[VenueOrder]:
        """Return the open orders of these symbols (``fetch_open_orders``, one call each)."""
        listed: list[VenueOrder] = []
        for symbol in symbols:
            answer = await self._call(self._exchange.fetch_open_orders, symbol)
            listed.extend(self._order(o, "") for o in answer)
        return listed

    async def positions(self, symbols: list[str]) -> list[VenuePosition]:
        """Return the base currency's total balance of each symbol (spot has no positions)."""
        balance = await self._call(self._exchange.fetch_balance)
        totals = balance.get("total") or {}
        held = []
        for symbol in symbols:
            base = self._exchange.market(symbol)["base"]
            held.append(VenuePosition(symbol, _decimal(totals.get(base) or 0)))
        return held

    async def close(self) -> None:
        """Close ccxt's HTTP session and connector.

        ccxt's own ``close()`` leaves the REST session open unless told to clean the
        instance's data (4.5.x): asked here, so no aiohttp session outlives the client.
        """
        await self._exchange.close(clean_instance_data=True)

    async def _call(self, method: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Call a ccxt method; raise its errors as the bridge's kinds."""
        errors = self._ccxt
        try:
            return await method(*args)
        except errors.DuplicateOrderId as error:
            raise DuplicateClientOrderIdError(_reason(error, self.exchange_id)) from None
        except errors.OrderNotFound as error:
            raise _NotFoundError(_reason(error, self.exchange_id)) from None
        except errors.InvalidOrder as error:
            reason = _reason(error, self.exchange_id)
            if _DUPLICATE in reason:
                raise DuplicateClientOrderIdError(reason) from None
            raise VenueRejectedError(reason) from None
        except errors.ExchangeError as error:
            raise VenueRejectedError(_reason(error, self.exchange_id)) from None
        except (errors.DDoSProtection, errors.RateLimitExceeded) as error:
            raise VenueBusyError(f"{self.name}: {_reason(error, self.exchange_id)}") from None
        except errors.RequestTimeout:
            msg = f"{self.name}: no answer within {self.timeout_s:g} s"
            raise VenueUnreachableError(msg) from None
        except errors.BaseError as error:
            # NetworkError, BadResponse and the rest: the outcome is unknown.
            msg = f"{self.name}: {type(error).__name__}: {_reason(error, self.exchange_id)}"
            raise VenueUnreachableError(msg) from None

    def _order(self, data: Mapping[str, Any], client_order_id: str) -> VenueOrder:
        try:
            average = data.get("average")
            return VenueOrder(
                venue_order_id=str(data["id"]),
                client_order_id=client_order_id or str(data.get("clientOrderId") or ""),
                symbol=str(data["symbol"]),
                side=OrderSide(str(data["side"]).upper()),
                quantity=_decimal(data.get("amount") or 0),
                filled_qty=_decimal(data.get("filled") or 0),
                status=_STATUS.get(str(data.get("status")), VenueOrderStatus.OPEN),
                avg_price=_decimal(average) if average is not None else None,
                created_ns=int(data.get("timestamp") or 0) * 1_000_000,
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as error:
            raise _shape("order", error) from None

    def _fill(self, trade: Mapping[str, Any]) -> VenueFill:
        price = _decimal(trade["price"])
        fee = trade.get("fee") or {}
        cost = _decimal(fee.get("cost") or 0)
        currency = fee.get("currency")
        market = self._exchange.market(trade["symbol"])
        if currency in (None, market["quote"]):
            commission = cost
        elif currency == market["base"]:
            commission = cost * price
        else:
            commission = Decimal(0)
            if cost:
                self.unpriced_fees += 1
                _log.warning(
                    "%s trade %s: fee of %s %s not valued in %s; recorded as 0",
                    self.name,
                    trade["id"],
                    cost,
                    currency,
                    market["quote"],
                )
        side = {"maker": LiquiditySide.MAKER, "taker": LiquiditySide.TAKER}.get(
            str(trade.get("takerOrMaker"))
        )
        return VenueFill(
            # Binance numbers trades per symbol: the symbol makes the id unique.
            trade_id=f"{trade['symbol']}-{trade['id']}",
            venue_order_id=str(trade.get("order") or ""),
            quantity=_decimal(trade["amount"]),
            price=price,
            commission=commission,
            liquidity_side=side,
            ts_ns=int(trade.get("timestamp") or 0) * 1_000_000,
        )


class _NotFoundError(VenueRejectedError):
    """ccxt's ``OrderNotFound``: the exchange has no such order."""


def _reason(error: BaseException, exchange_id: str) -> str:
    """Return the exchange's own message from a ccxt error.

    ccxt writes ``"<exchange id> <the exchange's JSON body>"``, or the id and the
    message it matched: the message is taken from the body when there is one.
    """
    text = str(error)
    prefix = f"{exchange_id} "
    rest = text[len(prefix) :] if text.startswith(prefix) else text
    try:
        data = json.loads(rest)
    except ValueError:
        return rest
    if isinstance(data, dict):
        for key in ("msg", "message"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return rest


def _shape(where: str, error: BaseException) -> VenueUnreachableError:
    return VenueUnreachableError(f"unexpected {where} from ccxt ({type(error).__name__}: {error})")


def _decimal(value: object) -> Decimal:
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def _rebase(urls: Any, base_url: str) -> Any:
    """Return ``urls`` (a URL or nested mapping of them) with scheme and host replaced."""
    if isinstance(urls, str):
        base = urlsplit(base_url)
        parts = urlsplit(urls)
        return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, "", ""))
    if isinstance(urls, Mapping):
        return {key: _rebase(value, base_url) for key, value in urls.items()}
    return urls
