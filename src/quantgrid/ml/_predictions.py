"""Predictions a model makes and the outcomes they meet, as frozen messages.

A ``Prediction`` is logged when a model speaks (symbol, time, BUY/SELL/HOLD, confidence,
horizon, model version, the features it saw); a ``PredictionOutcome`` is written once,
when the evaluator has resolved it against market data (``quantgrid.ml._evaluation``).
Both check their fields on construction, so an invalid one cannot exist.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from enum import Enum

import msgspec

ID_MAX = 128
# Ids are stored and sorted as text: no whitespace or control characters.
_ID = re.compile(r"[^\s\x00-\x1f\x7f]+")
_PROBABILITY_SUM_TOLERANCE = 1e-6
_TS_MAX = 2**63 - 1


class InvalidPredictionError(ValueError):
    """A prediction's or outcome's field breaks a rule; the message names both."""


class Direction(Enum):
    """What a prediction calls: the price goes up (BUY), down (SELL) or nowhere (HOLD)."""

    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"


#: The largest model version the stores keep (a 32-bit column).
MAX_MODEL_VERSION = 2**31 - 1


class HorizonKind(Enum):
    """How a horizon is counted: in bars, in nanoseconds, or in trading sessions."""

    BARS = "bars"
    DURATION = "duration"
    SESSIONS = "sessions"


# Horizons beyond these are input errors, and would overflow the stores' 64-bit times.
_MAX_HORIZON = {
    HorizonKind.BARS: 1_000_000,
    HorizonKind.DURATION: 100 * 366 * 86_400 * 1_000_000_000,  # a century
    HorizonKind.SESSIONS: 36_600,
}


class Horizon(msgspec.Struct, frozen=True, kw_only=True):
    """How far ahead a prediction looks.

    Attributes
    ----------
    kind
        ``BARS``: the exit is the ``value``-th bar after the entry bar.
        ``DURATION``: the exit is the last bar at or before ``ts_event + value`` (ns).
        ``SESSIONS``: the exit is the last bar of the ``value``-th trading date after
        the entry bar's date, dates taken in the exchange's time zone from the bars
        themselves (a date without bars is not a session).
    value
        A positive count of bars or sessions, or a positive duration in nanoseconds.
    """

    kind: HorizonKind
    value: int

    def __post_init__(self) -> None:
        if not isinstance(self.kind, HorizonKind):
            allowed = ", ".join(k.value for k in HorizonKind)
            raise InvalidPredictionError(
                f"horizon: kind must be one of {allowed}, got {self.kind!r}"
            )
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value <= 0:
            msg = f"horizon: value must be a positive integer, got {self.value!r}"
            raise InvalidPredictionError(msg)
        most = _MAX_HORIZON[self.kind]
        if self.value > most:
            msg = f"horizon: a {self.kind.value} horizon is at most {most:,}, got {self.value:,}"
            raise InvalidPredictionError(msg)

    @classmethod
    def of_bars(cls, count: int) -> Horizon:
        """Return a horizon of ``count`` bars."""
        return cls(kind=HorizonKind.BARS, value=count)

    @classmethod
    def of_duration(cls, duration_ns: int) -> Horizon:
        """Return a horizon of ``duration_ns`` nanoseconds of wall-clock time."""
        return cls(kind=HorizonKind.DURATION, value=duration_ns)

    @classmethod
    def of_sessions(cls, count: int) -> Horizon:
        """Return a horizon of ``count`` trading sessions in the exchange's time zone."""
        return cls(kind=HorizonKind.SESSIONS, value=count)


class Prediction(msgspec.Struct, frozen=True, kw_only=True):
    """A model's call on one instrument at one time, as logged for evaluation.

    Attributes
    ----------
    prediction_id
        The caller's id (a uuid, or a deterministic one such as model, instrument and
        time), unique across predictions: storing the same id twice stores it once.
    model_name, model_version
        The registered model and its version (0 for a model outside the registry).
    instrument_id
        The instrument the call is on.
    ts_event
        When the prediction was made (UTC ns): its features were known at that time.
    direction
        BUY, SELL or HOLD.
    confidence
        The model's probability, in [0, 1], that the call is right.
    horizon
        How far ahead the call looks.
    exchange_tz
        The exchange's IANA time zone (``America/New_York``), for session horizons.
    feature_snapshot
        The features the model saw, by name; a missing feature is left out.
    probabilities
        The model's probability of each direction, if it gives them (they sum to 1).
    strategy_id
        The strategy that asked for the prediction, if any.

    Notes
    -----
    Construction checks every field and raises ``InvalidPredictionError`` naming the
    field and the rule: ids are 1 to 128 characters without whitespace, ``ts_event``
    is non-negative integer nanoseconds, ``confidence`` and every probability is a
    number in [0, 1] (not NaN), feature values are finite, the time zone is one
    ``zoneinfo`` knows. The dicts are not copied: do not change them afterwards.
    """

    prediction_id: str
    model_name: str
    model_version: int
    instrument_id: str
    ts_event: int
    direction: Direction
    confidence: float
    horizon: Horizon
    exchange_tz: str
    feature_snapshot: dict[str, float] = msgspec.field(default_factory=dict)
    probabilities: dict[Direction, float] | None = None
    strategy_id: str | None = None

    def __post_init__(self) -> None:
        check_prediction(self)


class OutcomeStatus(Enum):
    """Whether the evaluator could resolve a prediction against market data."""

    RESOLVED = "resolved"
    UNRESOLVABLE = "unresolvable"


class UnresolvableReason(Enum):
    """Why a prediction cannot be resolved; ``PredictionOutcome.detail`` says more."""

    NO_ENTRY_BAR = "no_entry_bar"
    """No bar at or before the prediction time."""
    STALE_ENTRY = "stale_entry"
    """The last bar before the prediction is older than the data may lag."""
    DATA_ENDS = "data_ends"
    """The data stopped before the horizon's end and no more came for too long."""
    NO_BAR_IN_HORIZON = "no_bar_in_horizon"
    """No bar traded between the entry and the end of a duration horizon."""
    BAD_PRICE = "bad_price"
    """The entry or exit close is not a positive finite price."""


class PredictionOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What became of a prediction once its horizon passed.

    Attributes
    ----------
    prediction_id
        The prediction this outcome resolves.
    status
        RESOLVED, or UNRESOLVABLE with a ``reason`` and a ``detail`` for people.
    reason
        Why it could not be resolved (None when resolved).
    detail
        The reason in words, with the numbers behind it ("" when resolved).
    ts_entry, entry_price
        The entry bar's time and close: the last bar at or before the prediction.
    ts_exit, exit_price
        The exit bar's time and close, per the horizon.
    realized_return
        ``log(exit_price / entry_price)``.
    prior_return
        The log return over the same horizon up to the entry, for the last-direction
        baseline; None if the data does not reach back that far.
    hit
        Whether the call was right: BUY if the return is positive, SELL if negative,
        HOLD if its absolute value is within the evaluator's hold band.
    ts_resolved
        When the evaluator resolved it (UTC ns).

    Notes
    -----
    A resolved outcome has every entry and exit field, ``realized_return`` and ``hit``;
    an unresolvable one has a reason, no exit, no return and no hit (its entry is kept
    when it was found). Prices are positive and finite, returns finite.
    """

    prediction_id: str
    status: OutcomeStatus
    ts_resolved: int
    reason: UnresolvableReason | None = None
    detail: str = ""
    ts_entry: int | None = None
    entry_price: float | None = None
    ts_exit: int | None = None
    exit_price: float | None = None
    realized_return: float | None = None
    prior_return: float | None = None
    hit: bool | None = None

    def __post_init__(self) -> None:
        check_outcome(self)


# -- checks --------------------------------------------------------------------------------
def _fail(what: str, rule: str) -> InvalidPredictionError:
    return InvalidPredictionError(f"{what}: {rule}")


def check_id(what: str, name: str, value: object) -> None:
    """Raise unless ``value`` is an id: 1 to 128 characters, no whitespace or control."""
    if not isinstance(value, str) or len(value) > ID_MAX or not _ID.fullmatch(value):
        rule = f"1 to {ID_MAX} characters without whitespace or control characters"
        raise _fail(what, f"{name} must be {rule}, got {value!r}")


def _check_ts(what: str, name: str, value: object, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _TS_MAX:
        rule = "integer nanoseconds since the epoch (0 to 2**63 - 1)"
        raise _fail(what, f"{name} must be {rule}, got {value!r}")


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def _check_probability(what: str, name: str, value: object) -> None:
    if not _is_number(value) or not 0.0 <= value <= 1.0:  # type: ignore[operator]
        raise _fail(what, f"{name} must be a number in [0, 1], got {value!r}")


def check_time_zone(what: str, value: object) -> None:
    """Raise unless ``value`` names a time zone ``zoneinfo`` knows."""
    if not isinstance(value, str) or not value:
        raise _fail(what, f"exchange_tz must be an IANA time zone name, got {value!r}")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        msg = f"exchange_tz must be an IANA time zone name (America/New_York), got {value!r}"
        raise _fail(what, msg) from None


def check_prediction(p: Prediction) -> None:
    """Raise ``InvalidPredictionError`` unless every field of ``p`` keeps its rule.

    Construction runs it; a store runs it again, since the dicts may have changed.
    """
    check_id("prediction", "prediction_id", p.prediction_id)
    what = f"prediction {p.prediction_id}"
    check_id(what, "model_name", p.model_name)
    if isinstance(p.model_version, bool) or not isinstance(p.model_version, int):
        raise _fail(what, f"model_version must be an integer, got {p.model_version!r}")
    if not 0 <= p.model_version <= MAX_MODEL_VERSION:
        msg = f"model_version must be between 0 and {MAX_MODEL_VERSION}, got {p.model_version}"
        raise _fail(what, msg)
    check_id(what, "instrument_id", p.instrument_id)
    _check_ts(what, "ts_event", p.ts_event)
    if not isinstance(p.direction, Direction):
        allowed = ", ".join(d.value for d in Direction)
        raise _fail(what, f"direction must be one of {allowed} (Direction), got {p.direction!r}")
    _check_probability(what, "confidence", p.confidence)
    if not isinstance(p.horizon, Horizon):
        raise _fail(what, f"horizon must be a Horizon, got {p.horizon!r}")
    check_time_zone(what, p.exchange_tz)
    if not isinstance(p.feature_snapshot, dict):
        raise _fail(what, f"feature_snapshot must be a dict, got {type(p.feature_snapshot)}")
    for name, value in p.feature_snapshot.items():
        if not isinstance(name, str) or not name:
            raise _fail(what, f"feature_snapshot names must be non-empty strings, got {name!r}")
        if not _is_number(value) or not math.isfinite(value):
            rule = "must be a finite number (leave a missing feature out)"
            raise _fail(what, f"feature_snapshot[{name!r}] {rule}, got {value!r}")
    if p.probabilities is not None:
        _check_probabilities(what, p.probabilities)
    if p.strategy_id is not None:
        check_id(what, "strategy_id", p.strategy_id)


def _check_probabilities(what: str, probabilities: object) -> None:
    if not isinstance(probabilities, dict) or not probabilities:
        raise _fail(what, f"probabilities must be a non-empty dict or None, got {probabilities!r}")
    for direction, value in probabilities.items():
        if not isinstance(direction, Direction):
            raise _fail(what, f"probabilities keys must be Directions, got {direction!r}")
        _check_probability(what, f"probabilities[{direction.value}]", value)
    total = math.fsum(probabilities.values())
    if abs(total - 1.0) > _PROBABILITY_SUM_TOLERANCE:
        raise _fail(what, f"probabilities must sum to 1, got {total!r}")


def check_outcome(o: PredictionOutcome) -> None:
    """Raise ``InvalidPredictionError`` unless every field of ``o`` keeps its rule."""
    check_id("outcome", "prediction_id", o.prediction_id)
    what = f"outcome of {o.prediction_id}"
    if not isinstance(o.status, OutcomeStatus):
        allowed = ", ".join(s.value for s in OutcomeStatus)
        raise _fail(what, f"status must be one of {allowed} (OutcomeStatus), got {o.status!r}")
    _check_ts(what, "ts_resolved", o.ts_resolved)
    _check_ts(what, "ts_entry", o.ts_entry, optional=True)
    _check_ts(what, "ts_exit", o.ts_exit, optional=True)
    for name in ("entry_price", "exit_price"):
        price = getattr(o, name)
        if price is not None and (not _is_number(price) or not math.isfinite(price) or price <= 0):
            raise _fail(what, f"{name} must be a positive finite number, got {price!r}")
    for name in ("realized_return", "prior_return"):
        value = getattr(o, name)
        if value is not None and (not _is_number(value) or not math.isfinite(value)):
            raise _fail(what, f"{name} must be a finite number or None, got {value!r}")
    if not isinstance(o.detail, str):
        raise _fail(what, f"detail must be a string, got {o.detail!r}")
    if (o.ts_entry is None) != (o.entry_price is None):
        raise _fail(what, "ts_entry and entry_price must be given together")
    if o.status is OutcomeStatus.RESOLVED:
        _check_resolved(what, o)
    else:
        _check_unresolvable(what, o)


def _check_resolved(what: str, o: PredictionOutcome) -> None:
    if o.reason is not None:
        raise _fail(what, f"a resolved outcome has no reason, got {o.reason!r}")
    missing = [
        name
        for name in ("ts_entry", "ts_exit", "exit_price", "realized_return", "hit")
        if getattr(o, name) is None
    ]
    if missing:
        raise _fail(what, f"a resolved outcome needs {', '.join(missing)}")
    if not isinstance(o.hit, bool):
        raise _fail(what, f"hit must be True or False, got {o.hit!r}")
    assert o.ts_entry is not None and o.ts_exit is not None
    if o.ts_exit <= o.ts_entry:
        raise _fail(what, f"ts_exit ({o.ts_exit}) must be after ts_entry ({o.ts_entry})")


def _check_unresolvable(what: str, o: PredictionOutcome) -> None:
    if not isinstance(o.reason, UnresolvableReason):
        allowed = ", ".join(r.value for r in UnresolvableReason)
        raise _fail(what, f"an unresolvable outcome needs a reason ({allowed}), got {o.reason!r}")
    given = [
        name
        for name in ("ts_exit", "exit_price", "realized_return", "hit")
        if getattr(o, name) is not None
    ]
    if given:
        raise _fail(what, f"an unresolvable outcome has no {', '.join(given)}")
