"""The rules every store checks before it writes, shared so the fake behaves like SQL.

Each check raises ``InvalidRecordError`` naming the record, the field and the rule, and
runs before anything is written, so a refused write leaves the store as it was.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, TypeVar

import msgspec

from quantgrid.adapters.storage._errors import ConflictError, InvalidRecordError
from quantgrid.adapters.storage._records import (
    ORDER_EVENT_TYPES,
    AccountEventKind,
    AccountEventRecord,
    ApiKeyRecord,
    FillRecord,
    JobStatus,
    OrderRecord,
    Page,
    PositionRecord,
    Role,
    StoredOrder,
    UserRecord,
)
from quantgrid.model import (
    ContingencyType,
    LiquiditySide,
    OrderEvent,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)

T = TypeVar("T")

ID_MAX = 128
TEXT_MAX = 4096
MAX_INTEGER_DIGITS = 20
MAX_FRACTION_DIGITS = 18
MAX_PAGE = 1000
_TS_MAX = 2**63 - 1
_ID = re.compile(r"[^\s\x00-\x1f\x7f]+")
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CURRENCY = re.compile(r"[A-Z0-9]{1,12}")
_HASH_PREFIX = "$argon2"

Sign = Literal["positive", "non-negative", "any"]


def fail(what: str, rule: str) -> InvalidRecordError:
    """Return the error for ``what`` breaking ``rule`` (for the caller to raise)."""
    return InvalidRecordError(f"{what}: {rule}")


def check_id(what: str, name: str, value: object, *, optional: bool = False) -> None:
    """Check an identifier: 1 to 128 characters, no whitespace or control characters."""
    if optional and value == "":
        return
    if not isinstance(value, str) or len(value) > ID_MAX or not _ID.fullmatch(value):
        rule = f"1 to {ID_MAX} characters without whitespace or control characters"
        raise fail(what, f"{name} must be {rule}, got {value!r}")


def check_text(what: str, name: str, value: object, *, optional: bool = False) -> None:
    """Check free text: a string of at most 4096 characters without NUL."""
    if optional and value is None:
        return
    if not isinstance(value, str) or len(value) > TEXT_MAX or "\x00" in value:
        rule = f"a string of at most {TEXT_MAX} characters without NUL"
        raise fail(what, f"{name} must be {rule}, got {_short(value)}")


def check_ts(what: str, name: str, value: object, *, optional: bool = False) -> None:
    """Check a timestamp: integer nanoseconds since the epoch, UTC, >= 0."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _TS_MAX:
        rule = "integer nanoseconds since the epoch (0 to 2**63 - 1)"
        raise fail(what, f"{name} must be {rule}, got {value!r}")


def check_decimal(
    what: str, name: str, value: object, sign: Sign = "any", *, optional: bool = False
) -> None:
    """Check a money amount or quantity: a finite ``Decimal`` the store keeps exactly."""
    if optional and value is None:
        return
    if not isinstance(value, Decimal):
        hint = " (convert floats with to_decimal)" if isinstance(value, float) else ""
        raise fail(what, f"{name} must be a Decimal, got {value!r}{hint}")
    if not value.is_finite():
        raise fail(what, f"{name} must be finite, got {value}")
    if sign == "positive" and not value > 0:
        raise fail(what, f"{name} must be positive, got {value}")
    if sign == "non-negative" and value < 0:
        raise fail(what, f"{name} must not be negative, got {value}")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if -exponent > MAX_FRACTION_DIGITS or value.adjusted() >= MAX_INTEGER_DIGITS:
        rule = (
            f"at most {MAX_INTEGER_DIGITS} digits before the point and "
            f"{MAX_FRACTION_DIGITS} after (build it with to_decimal, not Decimal(float))"
        )
        raise fail(what, f"{name} must have {rule}, got {value}")


def check_enum(what: str, name: str, value: object, kind: type[Enum]) -> None:
    """Check that ``value`` is a member of ``kind`` (not its name or value)."""
    if not isinstance(value, kind):
        allowed = ", ".join(str(member.value) for member in kind)
        raise fail(what, f"{name} must be one of {allowed} ({kind.__name__}), got {value!r}")


def check_bool(what: str, name: str, value: object) -> None:
    """Check that ``value`` is a bool."""
    if not isinstance(value, bool):
        raise fail(what, f"{name} must be True or False, got {value!r}")


def check_currency(what: str, value: object) -> None:
    """Check a currency code: 1 to 12 upper-case letters or digits (USD, USDT)."""
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise fail(what, f"currency must be 1 to 12 upper-case letters or digits, got {value!r}")


def check_hash(what: str, name: str, value: object) -> None:
    """Check a stored secret hash: an argon2 PHC string, so a plaintext never lands here."""
    if (
        not isinstance(value, str)
        or not value.startswith(_HASH_PREFIX)
        or len(value) > 512
        or not _ID.fullmatch(value)
    ):
        rule = f"an argon2 hash in PHC form ('{_HASH_PREFIX}id$...'), not a secret"
        raise fail(what, f"{name} must be {rule}")


def check_username(what: str, value: object) -> None:
    """Check a username: 1 to 64 of a-z 0-9 . _ @ -, starting with a letter or digit."""
    if not isinstance(value, str) or not _USERNAME.fullmatch(value):
        rule = "1 to 64 lower-case letters, digits or . _ @ -, starting with a letter or digit"
        raise fail(what, f"username must be {rule}, got {value!r}")


# -- records ------------------------------------------------------------------------------
def validate_order(order: OrderRecord) -> None:
    """Check the fields of an order before its first save."""
    check_id("order", "client_order_id", order.client_order_id)
    what = f"order {order.client_order_id}"
    check_id(what, "strategy_id", order.strategy_id)
    check_id(what, "instrument_id", order.instrument_id)
    check_enum(what, "side", order.side, OrderSide)
    check_enum(what, "order_type", order.order_type, OrderType)
    check_enum(what, "time_in_force", order.time_in_force, TimeInForce)
    check_enum(what, "contingency", order.contingency, ContingencyType)
    check_ts(what, "ts_init", order.ts_init)
    if order.quantity is None:
        frac = order.cash_fraction
        check_decimal(what, "cash_fraction", frac, "positive")
        assert frac is not None
        if frac > 1:
            raise fail(what, f"cash_fraction must be in (0, 1] when quantity is None, got {frac}")
    else:
        check_decimal(what, "quantity", order.quantity, "positive")
        check_decimal(what, "cash_fraction", order.cash_fraction, "positive", optional=True)
    check_decimal(what, "price", order.price, "positive", optional=True)
    check_decimal(what, "trigger_price", order.trigger_price, "positive", optional=True)
    check_bool(what, "post_only", order.post_only)
    check_bool(what, "reduce_only", order.reduce_only)
    check_text(what, "tag", order.tag)
    check_id(what, "parent_order_id", order.parent_order_id, optional=True)
    check_id(what, "order_list_id", order.order_list_id, optional=True)
    if not isinstance(order.linked_order_ids, tuple):
        raise fail(what, f"linked_order_ids must be a tuple, got {order.linked_order_ids!r}")
    for linked in order.linked_order_ids:
        check_id(what, "linked_order_ids", linked)


def validate_event(event: object, status: object) -> None:
    """Check an order event and the status the order has after it."""
    kind = type(event)
    if not isinstance(event, OrderEvent) or ORDER_EVENT_TYPES.get(kind.__name__) is not kind:
        known = ", ".join(sorted(ORDER_EVENT_TYPES))
        raise fail("order event", f"must be one of {known}, got {type(event).__name__}")
    check_id("order event", "client_order_id", event.client_order_id)
    what = f"{type(event).__name__} of order {event.client_order_id}"
    check_ts(what, "ts_event", event.ts_event)
    check_enum(what, "status", status, OrderStatus)


def prepare_event(event: object, status: object) -> FillRecord | None:
    """Check an order event and its status; return the fill an ``OrderFilled`` records."""
    validate_event(event, status)
    if not isinstance(event, OrderFilled):
        return None
    fill = FillRecord.from_event(event)
    validate_fill(fill)
    return fill


def check_event_matches(event: OrderEvent, stored: StoredOrder) -> None:
    """Check that an event names the strategy and instrument of its order."""
    order = stored.order
    what = f"{type(event).__name__} of order {order.client_order_id}"
    for name in ("strategy_id", "instrument_id"):
        given, expected = getattr(event, name), getattr(order, name)
        if given != expected:
            raise fail(what, f"{name} must be the order's {expected!r}, got {given!r}")


def validate_fill(fill: FillRecord) -> None:
    """Check a fill's fields."""
    check_id("fill", "trade_id", fill.trade_id)
    what = f"fill {fill.trade_id}"
    check_id(what, "client_order_id", fill.client_order_id)
    check_id(what, "strategy_id", fill.strategy_id)
    check_id(what, "instrument_id", fill.instrument_id)
    check_enum(what, "side", fill.side, OrderSide)
    check_enum(what, "liquidity_side", fill.liquidity_side, LiquiditySide)
    check_decimal(what, "quantity", fill.quantity, "positive")
    check_decimal(what, "price", fill.price, "positive")
    check_decimal(what, "commission", fill.commission)  # a maker rebate is negative
    check_currency(what, fill.currency)
    check_ts(what, "ts_event", fill.ts_event)


def check_fill_matches(fill: FillRecord, stored: StoredOrder) -> None:
    """Check that a fill trades its order's instrument on its side, for its strategy."""
    order = stored.order
    what = f"fill {fill.trade_id}"
    for name in ("strategy_id", "instrument_id", "side"):
        given, expected = getattr(fill, name), getattr(order, name)
        if given != expected:
            rule = f"{name} must be that of order {order.client_order_id} ({_show(expected)})"
            raise fail(what, f"{rule}, got {_show(given)}")


def validate_position(position: PositionRecord) -> None:
    """Check a position snapshot's fields."""
    check_id("position", "account_id", position.account_id)
    check_id("position", "instrument_id", position.instrument_id)
    what = f"position {position.account_id}/{position.instrument_id}"
    check_decimal(what, "quantity", position.quantity)
    check_decimal(what, "avg_px_open", position.avg_px_open, "non-negative")
    check_decimal(what, "realized_pnl", position.realized_pnl)
    check_ts(what, "ts_event", position.ts_event)


def validate_account_event(event: AccountEventRecord) -> None:
    """Check a cash movement; deposits must be positive and withdrawals negative."""
    check_id("account event", "event_id", event.event_id)
    what = f"account event {event.event_id}"
    check_id(what, "account_id", event.account_id)
    check_enum(what, "kind", event.kind, AccountEventKind)
    check_decimal(what, "amount", event.amount)
    if event.kind is AccountEventKind.DEPOSIT and not event.amount > 0:
        raise fail(what, f"a DEPOSIT amount must be positive, got {event.amount}")
    if event.kind is AccountEventKind.WITHDRAWAL and not event.amount < 0:
        raise fail(what, f"a WITHDRAWAL amount must be negative, got {event.amount}")
    check_currency(what, event.currency)
    check_ts(what, "ts_event", event.ts_event)
    check_text(what, "note", event.note)


def validate_user(user: UserRecord) -> None:
    """Check a new user's fields."""
    check_username("user", user.username)
    what = f"user {user.username}"
    check_hash(what, "password_hash", user.password_hash)
    check_enum(what, "role", user.role, Role)
    check_ts(what, "created_ns", user.created_ns)
    if user.disabled_ns is not None:
        raise fail(what, "a new user must have disabled_ns None (disable it afterwards)")


def validate_api_key(key: ApiKeyRecord) -> None:
    """Check a new API key's fields: not revoked or used yet."""
    if not isinstance(key.key_id, str) or not _KEY_ID.fullmatch(key.key_id):
        raise fail("API key", f"key_id must be 1 to 64 of A-Z a-z 0-9 _ -, got {key.key_id!r}")
    what = f"API key {key.key_id}"
    check_hash(what, "key_hash", key.key_hash)
    check_username(what, key.owner)
    check_enum(what, "role", key.role, Role)
    check_ts(what, "created_ns", key.created_ns)
    if key.revoked_ns is not None or key.last_used_ns is not None:
        raise fail(what, "a new key must have revoked_ns and last_used_ns None")


def encode_params(job_id: str, params: object) -> bytes:
    """Return a job's params as JSON with sorted keys (so equal params encode equally)."""
    what = f"job {job_id}"
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise fail(what, f"params must be a mapping with string keys, got {_short(params)}")
    try:
        return msgspec.json.encode(dict(params), order="sorted")
    except (TypeError, msgspec.EncodeError) as exc:
        raise fail(what, f"params must be JSON-encodable: {exc}") from None


def decode_params(raw: bytes | str) -> dict[str, Any]:
    """Return the params a job was stored with."""
    decoded: dict[str, Any] = msgspec.json.decode(raw)
    return decoded


def check_progress(job_id: str, fraction: object) -> None:
    """Check a job's progress: a finite fraction in [0, 1]."""
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, int | float)
        or not math.isfinite(fraction)
        or not 0.0 <= fraction <= 1.0
    ):
        raise fail(f"job {job_id}", f"progress must be a fraction in [0, 1], got {fraction!r}")


def check_job_id(job_id: object) -> None:
    """Check a backtest job id."""
    check_id("job", "job_id", job_id)


def job_transition_rule(job_id: str, current: JobStatus, wanted: JobStatus) -> str | None:
    """Return why ``current -> wanted`` is not allowed, or ``None`` if it is."""
    allowed = {
        JobStatus.RUNNING: (JobStatus.QUEUED,),
        JobStatus.DONE: (JobStatus.RUNNING,),
        JobStatus.FAILED: (JobStatus.QUEUED, JobStatus.RUNNING),
    }[wanted]
    if current in allowed:
        return None
    sources = " or ".join(s.value for s in allowed)
    return f"job {job_id}: can become {wanted.value} only from {sources}, but it is {current.value}"


# -- listing ------------------------------------------------------------------------------
def check_limit(limit: object) -> None:
    """Check a page size: 1 to 1000."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise fail("listing", f"limit must be an integer from 1 to {MAX_PAGE}, got {limit!r}")


def make_cursor(ts: int, key: str) -> str:
    """Return the cursor that resumes a listing after the row ``(ts, key)``."""
    return f"{ts}:{key}"


def make_page(found: list[T], limit: int, key: Callable[[T], tuple[int, str]]) -> Page[T]:
    """Return the first ``limit`` of ``found`` (one more than a page was fetched)."""
    if len(found) <= limit:
        return Page(tuple(found), None)
    return Page(tuple(found[:limit]), make_cursor(*key(found[limit - 1])))


def parse_cursor(cursor: str | None) -> tuple[int, str] | None:
    """Return the ``(ts, key)`` a cursor points after, or ``None`` for the first page."""
    if cursor is None:
        return None
    ts_text, sep, key = cursor.partition(":") if isinstance(cursor, str) else ("", "", "")
    if not sep or not ts_text.isdigit() or not key:
        raise fail("listing", f"after must be a next_cursor a listing returned, got {cursor!r}")
    return int(ts_text), key


def check_range(since_ns: int | None, until_ns: int | None) -> None:
    """Check a time range ``[since_ns, until_ns)``."""
    check_ts("listing", "since_ns", since_ns, optional=True)
    check_ts("listing", "until_ns", until_ns, optional=True)


def status_filter(
    status: OrderStatus | Collection[OrderStatus] | None,
) -> frozenset[OrderStatus] | None:
    """Return the statuses a listing keeps (``None``: all), checking each."""
    if status is None:
        return None
    statuses = frozenset((status,) if isinstance(status, OrderStatus) else status)
    for member in statuses:
        check_enum("listing", "status", member, OrderStatus)
    return statuses


# -- conflicts ----------------------------------------------------------------------------
def conflict(what: str, stored: msgspec.Struct, given: msgspec.Struct) -> ConflictError:
    """Return the error for ``given`` differing from the ``stored`` record of the same key."""
    old, new = msgspec.structs.asdict(stored), msgspec.structs.asdict(given)
    diffs = [
        f"{name}: stored {_show(old[name])}, given {_show(new[name])}"
        for name in old
        if old[name] != new[name]
    ]
    return ConflictError(f"{what} is already stored with different fields ({'; '.join(diffs)})")


def username_taken(username: str) -> ConflictError:
    """Return the error for creating a user whose username is taken."""
    return ConflictError(f"user {username}: username is taken (usernames are unique)")


def _show(value: object) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    return str(value) if isinstance(value, Decimal) else repr(value)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
