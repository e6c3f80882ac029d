"""``AlpacaClient``: the Alpaca Trading API v2 (US equities), over httpx.

Not the ``alpaca-py`` SDK: it makes its requests with ``requests`` and no timeout (a
call hung in a worker thread cannot be cancelled), and it re-sends a request that got
a 429 or a 504 by itself, a POST of an order included. Here every request has a
timeout and nothing is re-sent behind the bridge's back; the bridge decides. The
endpoints and payloads are the documented ones:

| method | path | for |
| --- | --- | --- |
| POST | ``/v2/orders`` | a new order, with ``client_order_id`` |
| GET | ``/v2/orders/{id}`` | an order by Alpaca's id |
| GET | ``/v2/orders:by_client_order_id`` | an order by our id (404: none) |
| DELETE | ``/v2/orders/{id}`` | a cancel (204; the order ends later) |
| GET | ``/v2/orders?status=open`` | the open orders |
| GET | ``/v2/positions`` | the positions |
| GET | ``/v2/account`` | the account (``check``) |
| GET | ``/v2/account/activities/FILL`` | the fills (Alpaca's orders carry only totals) |

The keys come from ``APCA_API_KEY_ID`` and ``APCA_API_SECRET_KEY`` (or the arguments)
and go only into the request headers: never into a message, a log line or ``repr``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

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
from quantgrid.model import OrderSide, OrderType, TimeInForce

_log = logging.getLogger("quantgrid.adapters.venues")

#: Alpaca's paper trading endpoint: the default, so nothing trades money by accident.
PAPER_URL = "https://paper-api.alpaca.markets"
#: Alpaca's live trading endpoint.
LIVE_URL = "https://api.alpaca.markets"

ALPACA_CAPABILITIES = VenueCapabilities(
    order_types=frozenset(OrderType),
    time_in_force=frozenset({TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
    post_only=False,
    reduce_only=False,
    # Alpaca takes fractional shares on DAY orders only.
    fractional_time_in_force=frozenset({TimeInForce.DAY}),
    client_order_id=re.compile(r"[\x21-\x7e]{1,128}"),
)

_TYPES = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.STOP: "stop",
    OrderType.STOP_LIMIT: "stop_limit",
}
_STATUS = {
    "new": VenueOrderStatus.OPEN,
    "accepted": VenueOrderStatus.OPEN,
    "pending_new": VenueOrderStatus.OPEN,
    "accepted_for_bidding": VenueOrderStatus.OPEN,
    "partially_filled": VenueOrderStatus.OPEN,
    "done_for_day": VenueOrderStatus.OPEN,
    "pending_replace": VenueOrderStatus.OPEN,
    "stopped": VenueOrderStatus.OPEN,
    "suspended": VenueOrderStatus.OPEN,
    "calculated": VenueOrderStatus.OPEN,
    "held": VenueOrderStatus.OPEN,
    "pending_cancel": VenueOrderStatus.PENDING_CANCEL,
    "filled": VenueOrderStatus.FILLED,
    "canceled": VenueOrderStatus.CANCELED,
    "replaced": VenueOrderStatus.CANCELED,
    "expired": VenueOrderStatus.EXPIRED,
    "rejected": VenueOrderStatus.REJECTED,
}
_DUPLICATE = "client_order_id must be unique"
_PAGE = 100
_MAX_PAGES = 20
_OPEN_LIMIT = 500
_FRACTION = re.compile(r"\.(\d+)")


class AlpacaClient:
    """The Alpaca Trading API v2, for ``LiveVenue``.

    Parameters
    ----------
    base_url
        The API's root: the paper endpoint by default (``PAPER_URL``), ``LIVE_URL`` to
        trade money, or a loopback server in tests.
    key_id, secret_key
        The API keys; by default from ``APCA_API_KEY_ID`` and ``APCA_API_SECRET_KEY``.
    timeout_s
        Longest wait for any answer; past it the request's outcome is unknown.
    transport
        An httpx transport, for tests that answer in process.

    Raises
    ------
    ValueError
        If a key is missing (the message names the variables, never a value).
    """

    def __init__(
        self,
        *,
        base_url: str = PAPER_URL,
        key_id: str | None = None,
        secret_key: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        key = key_id if key_id is not None else os.environ.get("APCA_API_KEY_ID", "")
        secret = secret_key if secret_key is not None else os.environ.get("APCA_API_SECRET_KEY", "")
        if not key or not secret:
            msg = (
                "AlpacaClient needs API keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY "
                "(or pass key_id and secret_key)"
            )
            raise ValueError(msg)
        if not (timeout_s > 0):
            msg = f"AlpacaClient.timeout_s must be positive, got {timeout_s!r}"
            raise ValueError(msg)
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret},
            timeout=timeout_s,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"AlpacaClient(base_url={self.base_url!r})"

    @property
    def name(self) -> str:
        """Return ``ALPACA``."""
        return "ALPACA"

    @property
    def capabilities(self) -> VenueCapabilities:
        """Return what Alpaca takes (no post-only, no reduce-only, fractions on DAY)."""
        return ALPACA_CAPABILITIES

    async def check(self) -> str:
        """Read the account; return its number, status and buying power."""
        account = await self._call("GET", "/v2/account")
        try:
            return (
                f"Alpaca account {account['account_number']} {account['status']}, "
                f"buying power {account['buying_power']} {account.get('currency', 'USD')}"
            )
        except (KeyError, TypeError) as error:
            raise _shape("GET /v2/account", error) from None

    async def submit_order(self, request: VenueOrderRequest) -> VenueOrder:
        """Place an order (``POST /v2/orders``) with our client order id."""
        body: dict[str, str] = {
            "symbol": request.symbol,
            "qty": str(request.quantity),
            "side": request.side.value.lower(),
            "type": _TYPES[request.order_type],
            "time_in_force": request.time_in_force.value.lower(),
            "client_order_id": request.client_order_id,
        }
        if request.price is not None:
            body["limit_price"] = str(request.price)
        if request.trigger_price is not None:
            body["stop_price"] = str(request.trigger_price)
        return _order(await self._call("POST", "/v2/orders", json=body), "POST /v2/orders")

    async def find_order(self, client_order_id: str, symbol: str) -> VenueOrder | None:
        """Return the order with our client order id, ``None`` if Alpaca has none."""
        where = "GET /v2/orders:by_client_order_id"
        data = await self._call(
            "GET",
            "/v2/orders:by_client_order_id",
            params={"client_order_id": client_order_id},
            missing_ok=True,
        )
        return None if data is None else _order(data, where)

    async def get_order(self, ref: OrderRef) -> VenueOrder:
        """Return an order by Alpaca's id (by ours if Alpaca's is not known)."""
        if not ref.venue_order_id:
            found = await self.find_order(ref.client_order_id, ref.symbol)
            if found is None:
                raise VenueRejectedError(f"order not found: {ref.client_order_id}")
            return found
        path = f"/v2/orders/{ref.venue_order_id}"
        return _order(await self._call("GET", path), f"GET {path}")

    async def cancel_order(self, ref: OrderRef) -> VenueOrder | None:
        """Ask for a cancel (``DELETE``); Alpaca answers 204 and ends the order later."""
        venue_id = ref.venue_order_id or (await self.get_order(ref)).venue_order_id
        await self._call("DELETE", f"/v2/orders/{venue_id}")
        return None

    async def order_fills(self, ref: OrderRef) -> list[VenueFill]:
        """Return an order's fills from the account's FILL activities, oldest first.

        Alpaca cannot filter activities by order: they are read from just before the
        order was created, 100 a page, at most 20 pages, and kept if of this order.
        """
        params: dict[str, str] = {"direction": "asc", "page_size": str(_PAGE)}
        if ref.created_ns:
            params["after"] = _iso(ref.created_ns - 1_000_000_000)
        where = "GET /v2/account/activities/FILL"
        fills: list[VenueFill] = []
        for _ in range(_MAX_PAGES):
            page = await self._call("GET", "/v2/account/activities/FILL", params=params)
            if not isinstance(page, list):
                raise _shape(where, TypeError("not a list"))
            try:
                fills.extend(_fill(item) for item in page if item["order_id"] == ref.venue_order_id)
                if len(page) < _PAGE:
                    return fills
                params["page_token"] = str(page[-1]["id"])
            except (KeyError, TypeError, ValueError, InvalidOperation) as error:
                raise _shape(where, error) from None
        _log.warning(
            "Alpaca order %s: more than %d pages of fills since it was created; read the first",
            ref.venue_order_id,
            _MAX_PAGES,
        )
        return fills

    async def open_orders(self, symbols: list[str]) -> list[VenueOrder]:
        """Return the open orders of these symbols (``GET /v2/orders?status=open``)."""
        params = {"status": "open", "limit": str(_OPEN_LIMIT)}
        if symbols:
            params["symbols"] = ",".join(symbols)
        data = await self._call("GET", "/v2/orders", params=params)
        if not isinstance(data, list):
            raise _shape("GET /v2/orders", TypeError("not a list"))
        return [_order(item, "GET /v2/orders") for item in data]

    async def positions(self, symbols: list[str]) -> list[VenuePosition]:
        """Return the positions of these symbols (``GET /v2/positions``), signed."""
        data = await self._call("GET", "/v2/positions")
        wanted = set(symbols)
        try:
            held = [_position(item) for item in data]
        except (KeyError, TypeError, ValueError, InvalidOperation) as error:
            raise _shape("GET /v2/positions", error) from None
        return [p for p in held if not wanted or p.symbol in wanted]

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, str] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        """Make one request; return its JSON (``None`` for 204, or 404 if ``missing_ok``)."""
        where = f"{method} {path}"
        try:
            response = await self._http.request(method, path, params=params, json=json)
        except httpx.TimeoutException:
            msg = f"Alpaca {where}: no answer within {self.timeout_s:g} s"
            raise VenueUnreachableError(msg) from None
        except httpx.TransportError as error:
            msg = f"Alpaca {where}: {type(error).__name__}: {error}"
            raise VenueUnreachableError(msg) from None
        status = response.status_code
        if status == 404 and missing_ok:
            return None
        if status == 429:
            raise VenueBusyError(f"Alpaca {where}: 429 {_message(response)}")
        if status >= 500:
            raise VenueUnreachableError(f"Alpaca {where}: {status} {_message(response)}")
        if status >= 400:
            message = _message(response)
            if _DUPLICATE in message:
                raise DuplicateClientOrderIdError(message)
            raise VenueRejectedError(message)
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            msg = f"Alpaca {where}: {status} with a body that is not JSON"
            raise VenueUnreachableError(msg) from None


def _message(response: httpx.Response) -> str:
    """Return Alpaca's error message, verbatim (its ``message``, else the body)."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300] or f"HTTP {response.status_code}"
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return response.text.strip()[:300]


def _shape(where: str, error: BaseException) -> VenueUnreachableError:
    # An answer we cannot read leaves the outcome unknown, as no answer does.
    return VenueUnreachableError(
        f"Alpaca {where}: unexpected answer ({type(error).__name__}: {error})"
    )


def _order(data: Any, where: str) -> VenueOrder:
    try:
        raw = str(data["status"])
        filled = Decimal(data.get("filled_qty") or "0")
        quantity = data.get("qty")
        average = data.get("filled_avg_price")
        return VenueOrder(
            venue_order_id=str(data["id"]),
            client_order_id=str(data.get("client_order_id") or ""),
            symbol=str(data["symbol"]),
            side=OrderSide(str(data["side"]).upper()),
            quantity=Decimal(quantity) if quantity is not None else filled,
            filled_qty=filled,
            status=_STATUS.get(raw, VenueOrderStatus.OPEN),
            avg_price=Decimal(average) if average is not None else None,
            reason="replaced at Alpaca" if raw == "replaced" else "",
            created_ns=_ns(data.get("created_at")),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as error:
        raise _shape(where, error) from None


def _fill(item: Mapping[str, Any]) -> VenueFill:
    return VenueFill(
        trade_id=str(item["id"]),
        venue_order_id=str(item["order_id"]),
        quantity=Decimal(item["qty"]),
        price=Decimal(item["price"]),
        # Alpaca charges no commission on US equities; its regulatory fees are separate
        # FEE activities, not read here.
        ts_ns=_ns(item.get("transaction_time")),
    )


def _position(item: Mapping[str, Any]) -> VenuePosition:
    quantity = Decimal(item["qty"])
    if item.get("side") == "short" and quantity > 0:
        quantity = -quantity
    return VenuePosition(str(item["symbol"]), quantity)


def _ns(text: object) -> int:
    """Return nanoseconds since the epoch of an RFC 3339 time (0 for none)."""
    if not isinstance(text, str) or not text:
        return 0
    digits = ""
    match = _FRACTION.search(text)
    if match:
        digits = match.group(1)
        text = text[: match.start()] + text[match.end() :]
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    whole = int(moment.timestamp()) * 1_000_000_000
    return whole + int(digits[:9].ljust(9, "0")) if digits else whole


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
