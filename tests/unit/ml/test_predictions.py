"""Predictions and outcomes: every field checked on construction, JSON round trips."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantgrid.ml._predictions import (
    Direction,
    Horizon,
    HorizonKind,
    InvalidPredictionError,
    OutcomeStatus,
    Prediction,
    PredictionOutcome,
    UnresolvableReason,
)

T0 = 1_704_205_800_000_000_000  # 2024-01-02T14:30:00Z, 09:30 in New York


def make_prediction(**changes: Any) -> Prediction:
    fields: dict[str, Any] = {
        "prediction_id": "p-1",
        "model_name": "direction-lgbm",
        "model_version": 3,
        "instrument_id": "AAPL",
        "ts_event": T0,
        "direction": Direction.BUY,
        "confidence": 0.62,
        "horizon": Horizon.of_sessions(1),
        "exchange_tz": "America/New_York",
        "feature_snapshot": {"rsi_14": 61.5, "log_return_5": -0.0031},
        "probabilities": {Direction.BUY: 0.62, Direction.SELL: 0.3, Direction.HOLD: 0.08},
        "strategy_id": "ml-1",
    }
    fields.update(changes)
    return Prediction(**fields)


def resolved(**changes: Any) -> PredictionOutcome:
    fields: dict[str, Any] = {
        "prediction_id": "p-1",
        "status": OutcomeStatus.RESOLVED,
        "ts_resolved": T0 + 10,
        "ts_entry": T0,
        "entry_price": 100.0,
        "ts_exit": T0 + 5,
        "exit_price": 101.0,
        "realized_return": math.log(1.01),
        "prior_return": -0.002,
        "hit": True,
    }
    fields.update(changes)
    return PredictionOutcome(**fields)


def test_a_prediction_keeps_its_fields_and_round_trips_through_json():
    prediction = make_prediction()
    assert prediction.horizon == Horizon(kind=HorizonKind.SESSIONS, value=1)
    decoded = msgspec.json.decode(msgspec.json.encode(prediction), type=Prediction)
    assert decoded == prediction
    assert decoded.probabilities == {
        Direction.BUY: 0.62,
        Direction.SELL: 0.3,
        Direction.HOLD: 0.08,
    }
    raw = msgspec.json.decode(msgspec.json.encode(prediction))
    assert raw["direction"] == "buy"
    assert raw["horizon"] == {"kind": "sessions", "value": 1}


def test_optional_fields_default_to_nothing():
    bare = Prediction(
        prediction_id="p-2",
        model_name="m",
        model_version=0,
        instrument_id="BTCUSDT",
        ts_event=0,
        direction=Direction.HOLD,
        confidence=1,
        horizon=Horizon.of_bars(5),
        exchange_tz="UTC",
    )
    assert bare.feature_snapshot == {}
    assert bare.probabilities is None
    assert bare.strategy_id is None


def test_horizon_constructors():
    assert Horizon.of_bars(3) == Horizon(kind=HorizonKind.BARS, value=3)
    assert Horizon.of_duration(60_000_000_000).kind is HorizonKind.DURATION
    assert Horizon.of_sessions(2).value == 2


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"prediction_id": ""}, r"prediction: prediction_id must be 1 to 128 characters"),
        ({"prediction_id": "a b"}, r"prediction_id must be .* without whitespace"),
        ({"prediction_id": "x" * 129}, r"prediction_id must be 1 to 128"),
        ({"model_name": ""}, r"prediction p-1: model_name must be 1 to 128"),
        ({"model_version": -1}, r"prediction p-1: model_version must be between 0 and \d+, got -1"),
        (
            {"model_version": 2**31},
            r"model_version must be between 0 and 2147483647, got 2147483648",
        ),
        ({"model_version": 1.0}, r"model_version must be an integer, got 1.0"),
        ({"model_version": True}, r"model_version must be an integer"),
        ({"instrument_id": "A\tB"}, r"instrument_id must be 1 to 128"),
        ({"ts_event": -1}, r"ts_event must be integer nanoseconds"),
        ({"ts_event": 1.5}, r"ts_event must be integer nanoseconds"),
        ({"direction": "buy"}, r"direction must be one of buy, sell, hold \(Direction\)"),
        ({"confidence": 1.2}, r"confidence must be a number in \[0, 1\], got 1.2"),
        ({"confidence": -0.01}, r"confidence must be a number in \[0, 1\]"),
        ({"confidence": math.nan}, r"confidence must be a number in \[0, 1\], got nan"),
        ({"confidence": "0.5"}, r"confidence must be a number in \[0, 1\]"),
        ({"horizon": 5}, r"horizon must be a Horizon, got 5"),
        ({"exchange_tz": "Mars/Olympus_Mons"}, r"exchange_tz must be an IANA time zone name"),
        ({"exchange_tz": ""}, r"exchange_tz must be an IANA time zone name"),
        ({"exchange_tz": "../etc/passwd"}, r"exchange_tz must be an IANA time zone name"),
        ({"feature_snapshot": {"rsi": math.nan}}, r"feature_snapshot\['rsi'\] must be a finite"),
        ({"feature_snapshot": {"rsi": math.inf}}, r"leave a missing feature out"),
        ({"feature_snapshot": {"": 1.0}}, r"feature_snapshot names must be non-empty strings"),
        ({"feature_snapshot": [1.0]}, r"feature_snapshot must be a dict"),
        ({"probabilities": {}}, r"probabilities must be a non-empty dict or None"),
        ({"probabilities": {"buy": 1.0}}, r"probabilities keys must be Directions"),
        (
            {"probabilities": {Direction.BUY: 0.7, Direction.SELL: 0.4}},
            r"probabilities must sum to 1, got 1.1",
        ),
        ({"probabilities": {Direction.BUY: 1.5}}, r"probabilities\[buy\] must be a number"),
        ({"strategy_id": ""}, r"strategy_id must be 1 to 128"),
    ],
)
def test_a_bad_prediction_is_refused_naming_the_field_and_rule(
    changes: dict[str, Any], pattern: str
):
    with pytest.raises(InvalidPredictionError, match=pattern):
        make_prediction(**changes)


def test_the_error_is_a_value_error():
    assert issubclass(InvalidPredictionError, ValueError)


@pytest.mark.parametrize("value", [0, -5, 1.5, True])
def test_a_horizon_must_be_a_positive_integer(value: Any):
    with pytest.raises(InvalidPredictionError, match="horizon: value must be a positive integer"):
        Horizon(kind=HorizonKind.BARS, value=value)


def test_a_horizon_kind_must_be_a_horizon_kind():
    with pytest.raises(InvalidPredictionError, match="horizon: kind must be one of bars"):
        Horizon(kind="bars", value=1)  # type: ignore[arg-type]


def test_replace_and_decoding_check_the_fields_too():
    with pytest.raises(InvalidPredictionError, match="confidence"):
        msgspec.structs.replace(make_prediction(), confidence=2.0)
    raw = msgspec.json.encode(make_prediction()).replace(b'"confidence":0.62', b'"confidence":7')
    with pytest.raises(msgspec.ValidationError, match="confidence must be a number in"):
        msgspec.json.decode(raw, type=Prediction)


@given(
    confidence=st.floats(0.0, 1.0),
    features=st.dictionaries(
        st.text(min_size=1, max_size=12), st.floats(allow_nan=False, allow_infinity=False)
    ),
)
def test_any_valid_prediction_round_trips_exactly(confidence: float, features: dict[str, float]):
    prediction = make_prediction(confidence=confidence, feature_snapshot=features)
    assert msgspec.json.decode(msgspec.json.encode(prediction), type=Prediction) == prediction


# -- outcomes ------------------------------------------------------------------------------
def test_outcomes_round_trip_through_json():
    unresolvable = PredictionOutcome(
        prediction_id="p-2",
        status=OutcomeStatus.UNRESOLVABLE,
        ts_resolved=T0,
        reason=UnresolvableReason.DATA_ENDS,
        detail="data ends before the horizon: no bar for 12.0 days",
        ts_entry=T0 - 1,
        entry_price=5.0,
    )
    for outcome in (resolved(), unresolvable):
        assert msgspec.json.decode(msgspec.json.encode(outcome), type=PredictionOutcome) == outcome


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"prediction_id": ""}, r"outcome: prediction_id must be 1 to 128"),
        ({"status": "resolved"}, r"status must be one of resolved, unresolvable"),
        ({"ts_resolved": -1}, r"outcome of p-1: ts_resolved must be integer nanoseconds"),
        ({"entry_price": 0.0}, r"entry_price must be a positive finite number, got 0.0"),
        ({"exit_price": math.inf}, r"exit_price must be a positive finite number"),
        ({"realized_return": math.nan}, r"realized_return must be a finite number or None"),
        ({"prior_return": math.inf}, r"prior_return must be a finite number or None"),
        ({"ts_entry": None}, r"ts_entry and entry_price must be given together"),
        ({"hit": None}, r"a resolved outcome needs hit"),
        ({"ts_exit": None, "exit_price": None}, r"a resolved outcome needs ts_exit, exit_price"),
        ({"hit": 1}, r"hit must be True or False, got 1"),
        ({"reason": UnresolvableReason.DATA_ENDS}, r"a resolved outcome has no reason"),
        ({"ts_exit": T0}, r"ts_exit \(\d+\) must be after ts_entry"),
        ({"status": OutcomeStatus.UNRESOLVABLE}, r"an unresolvable outcome needs a reason"),
        (
            {"status": OutcomeStatus.UNRESOLVABLE, "reason": UnresolvableReason.BAD_PRICE},
            r"an unresolvable outcome has no ts_exit, exit_price, realized_return, hit",
        ),
        ({"detail": None}, r"detail must be a string"),
    ],
)
def test_a_bad_outcome_is_refused_naming_the_field_and_rule(changes: dict[str, Any], pattern: str):
    with pytest.raises(InvalidPredictionError, match=pattern):
        resolved(**changes)
