"""The ML strategy: a model's calls, logged as predictions, traded above a confidence.

The strategy streams a feature set bar by bar (`FeatureSet.online`, the same numbers
training computed over the history), asks a `Predictor` for class probabilities once
every feature has a value, hands each call to a `PredictionSink` and trades only the
confident ones. The predictor and the sink are given to the constructor: a backtest
passes a trained model and an in-memory sink, the paper-trading runtime a model loaded
from the registry and a sink that writes to the prediction store. The strategy itself
does no I/O.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
from pydantic import Field, field_validator

from quantgrid.ml import Direction, FeatureSet, FeatureStream, Horizon, Prediction
from quantgrid.ml import default_feature_set as _default_feature_set
from quantgrid.ml._predictions import check_time_zone
from quantgrid.model import Bar, FloatArray
from quantgrid.strategy._base import Strategy, StrategyParameterError, StrategyParams

if TYPE_CHECKING:
    from quantgrid.ml import TrainedModel

# The direction each model class calls.
_DIRECTION_OF_CLASS: Mapping[int, Direction] = {
    -1: Direction.SELL,
    0: Direction.HOLD,
    1: Direction.BUY,
}
# Feature sets a strategy can name in its parameters.
_FEATURE_SETS = {"default": _default_feature_set}
# Prediction ids are at most 128 characters (`Prediction`).
_ID_MAX = 128


class Predictor(Protocol):
    """A model that serves class probabilities for one feature row.

    Notes
    -----
    ``predict_proba`` returns one probability per entry of ``classes`` (direction labels
    -1 SELL, 0 HOLD, 1 BUY), in that order, summing to 1. The row holds the features
    named by ``feature_names``, in that order.
    """

    @property
    def model_name(self) -> str:
        """The registered model's name."""
        ...

    @property
    def model_version(self) -> int:
        """Its version; 0 for a model outside the registry."""
        ...

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The features it expects, in order."""
        ...

    @property
    def classes(self) -> tuple[int, ...]:
        """The direction label of each probability."""
        ...

    def predict_proba(self, row: FloatArray) -> FloatArray:
        """Return the class probabilities of one feature row."""
        ...


@dataclass(frozen=True, slots=True)
class ModelPredictor:
    """A trained model served under a registered name and version (a `Predictor`).

    Parameters
    ----------
    model
        The fitted model (`TrainedModel`).
    model_name
        The name it is registered under.
    model_version
        Its version; 0 for a model outside the registry.
    """

    model: TrainedModel
    model_name: str
    model_version: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.model_name, str) or not self.model_name:
            msg = f"ModelPredictor.model_name must be a non-empty string, got {self.model_name!r}"
            raise ValueError(msg)
        version = self.model_version
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            msg = f"ModelPredictor.model_version must be an integer >= 0, got {version!r}"
            raise ValueError(msg)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The features the model expects, in order."""
        return self.model.feature_names

    @property
    def classes(self) -> tuple[int, ...]:
        """The direction label of each probability."""
        return self.model.classes

    def predict_proba(self, row: FloatArray) -> FloatArray:
        """Return the class probabilities of one feature row (`TrainedModel.predict_one`)."""
        return self.model.predict_one(row)


class PredictionSink(Protocol):
    """Where a strategy's predictions go: a list in a backtest, the store when trading.

    Notes
    -----
    A sink may see a prediction again when a strategy replays bars after a restart; the
    prediction then has the same id and fields, and a store keeps it once.
    """

    def record(self, prediction: Prediction) -> None:
        """Keep one prediction."""
        ...


class InMemoryPredictionSink:
    """A `PredictionSink` that keeps predictions in a list, in the order they came."""

    __slots__ = ("predictions",)

    def __init__(self) -> None:
        self.predictions: list[Prediction] = []

    def record(self, prediction: Prediction) -> None:
        """Append one prediction."""
        self.predictions.append(prediction)

    def __len__(self) -> int:
        return len(self.predictions)


class MLParams(StrategyParams):
    """Parameters of the ML strategy."""

    model_name: str = Field(min_length=1, description="the registered model to trade")
    confidence_threshold: float = Field(
        0.55, ge=0.0, le=1.0, description="trade a call only at this confidence or above"
    )
    horizon: int = Field(1, ge=1, description="bars ahead the model's calls look")
    size: float | None = Field(
        None, gt=0, description="units per position; omitted: a share of the buying power"
    )
    cash_fraction: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="share of buying power for entries without a size, split among instruments",
    )
    allow_short: bool = Field(False, description="go short on a SELL call, not just flat")
    feature_set: str = Field("default", min_length=1, description="the feature set's name")
    exchange_tz: str = Field("UTC", description="the exchange's IANA time zone, for the log")

    @field_validator("exchange_tz")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        check_time_zone("MLParams", value)  # the rule a logged prediction is held to
        return value


class MLStrategy(Strategy):
    """Trade a model's confident calls and log every call it makes as a `Prediction`.

    Parameters
    ----------
    params
        `MLParams` (or a mapping of them).
    strategy_id
        The strategy's id; ``"ml"`` if empty.
    predictor
        The model serving the calls; its name must be ``params.model_name`` and its
        features those of the feature set.
    sink
        Where predictions go; a fresh `InMemoryPredictionSink` if ``None``.
    feature_set
        The feature set, when it is not one the parameters can name; its name must be
        ``params.feature_set``.

    Raises
    ------
    StrategyParameterError
        If a parameter breaks its rule, names another model than the predictor serves,
        or a feature set that is unknown or not the one the model was trained on.
    ValueError
        If the predictor's classes are not two or more of the directions -1, 0 and 1.

    Notes
    -----
    On every bar of each instrument the feature row is updated; once all its values are
    finite (the same rows training keeps), exactly one prediction is recorded for that
    instrument and bar: the most probable class, its probability as the confidence,
    every class's probability, the horizon, the model's name and version and the feature
    values by name. Its id is made of the strategy id, model, version, instrument and bar
    time, so replaying the same bars gives the same predictions and ids. ``horizon`` is
    logged, not checked: set it to the horizon of the model's labels (its training run
    records it as ``label.horizon``).

    A call moves the instrument's target position only if its confidence is at least
    ``confidence_threshold``: BUY to long, SELL to short (``allow_short``) or else flat;
    HOLD and less confident calls keep the target. Orders go out only when the target
    changes: a fixed ``size`` moves to it in one order, cash sizing closes first and
    then enters. Orders still working when the target changes are cancelled.
    """

    name: ClassVar[str] = "ml"
    Params: ClassVar[type[StrategyParams]] = MLParams

    def __init__(
        self,
        params: StrategyParams | Mapping[str, Any] | None = None,
        strategy_id: str = "",
        *,
        predictor: Predictor,
        sink: PredictionSink | None = None,
        feature_set: FeatureSet | None = None,
    ) -> None:
        super().__init__(params, strategy_id)
        p = self.params
        assert isinstance(p, MLParams)
        self._p = p
        self._predictor = predictor
        self._sink: PredictionSink = sink if sink is not None else InMemoryPredictionSink()
        self._feature_set = self._resolve_feature_set(feature_set)
        self._check_predictor()
        self._horizon = Horizon.of_bars(p.horizon)
        self._directions = tuple(_DIRECTION_OF_CLASS[c] for c in predictor.classes)
        self._streams: dict[str, FeatureStream] = {}
        self._targets: dict[str, int] = {}
        self._fraction = p.cash_fraction

    @property
    def predictor(self) -> Predictor:
        """Return the model serving the calls."""
        return self._predictor

    @property
    def sink(self) -> PredictionSink:
        """Return where the predictions go."""
        return self._sink

    @property
    def feature_set(self) -> FeatureSet:
        """Return the feature set streamed to the model."""
        return self._feature_set

    def on_start(self) -> None:
        """Start one feature stream and a flat target per instrument."""
        self.check_size(self._p.size)
        self._fraction = self._p.cash_fraction / max(1, len(self.instruments))
        self._streams = {iid: self._feature_set.online() for iid in self.instruments}
        self._targets = dict.fromkeys(self.instruments, 0)

    def on_bar(self, bar: Bar) -> None:
        """Update the features, log the model's call and trade it if confident enough."""
        iid = bar.instrument_id
        row = self._streams[iid].update(bar)
        if not np.isfinite(row).all():
            return  # a feature is still warming up: training drops these rows too
        prediction = self._predict(iid, bar.ts_event, row)
        self._sink.record(prediction)
        if prediction.confidence < self._p.confidence_threshold:
            return
        if prediction.direction is Direction.BUY:
            target = 1
        elif prediction.direction is Direction.SELL:
            target = -1 if self._p.allow_short else 0
        else:
            return  # HOLD: keep what is held
        if target != self._targets[iid]:
            self._targets[iid] = target
            self._move_to(target, iid)

    # -- internals ------------------------------------------------------------------------
    def _predict(self, iid: str, ts: int, row: FloatArray) -> Prediction:
        predictor = self._predictor
        proba = np.asarray(predictor.predict_proba(row), dtype=np.float64)
        if proba.shape != (len(self._directions),):
            msg = (
                f"predictor {predictor.model_name!r} returned {proba.shape} probabilities "
                f"for {len(self._directions)} classes"
            )
            raise ValueError(msg)
        best = int(np.argmax(proba))  # a tie goes to the lower class: SELL before BUY
        return Prediction(
            prediction_id=self._prediction_id(iid, ts),
            model_name=predictor.model_name,
            model_version=predictor.model_version,
            instrument_id=iid,
            ts_event=ts,
            direction=self._directions[best],
            confidence=float(proba[best]),
            horizon=self._horizon,
            exchange_tz=self._p.exchange_tz,
            feature_snapshot=dict(zip(self._feature_set.names, row.tolist(), strict=True)),
            probabilities={d: float(v) for d, v in zip(self._directions, proba, strict=True)},
            strategy_id=self.id,
        )

    def _prediction_id(self, iid: str, ts: int) -> str:
        # The bar's time, not the clock's: a replay after a restart makes the same id.
        p = self._predictor
        text = f"{self.id}:{p.model_name}:v{p.model_version}:{iid}:{ts}"
        if len(text) <= _ID_MAX:
            return text
        return f"{self.name}-{hashlib.sha256(text.encode()).hexdigest()}"

    def _move_to(self, target: int, iid: str) -> None:
        if self.open_orders(iid):
            # Working orders aimed at the old target: cancel, then size from the position.
            self.cancel_all(iid)
        position = self.position(iid)
        size = self._p.size
        if size is not None:
            delta = target * size - position
            if delta > 0:
                self.buy(delta, iid, tag="ml")
            elif delta < 0:
                self.sell(-delta, iid, tag="ml")
            return
        held = int(math.copysign(1, position)) if position else 0
        if held == target:
            return
        # Sized from cash when it fills, after the close has freed it: two orders.
        if held:
            self.close(iid)
        if target > 0:
            self.buy(None, iid, cash_fraction=self._fraction, tag="ml")
        elif target < 0:
            self.sell(None, iid, cash_fraction=self._fraction, tag="ml")

    def _resolve_feature_set(self, given: FeatureSet | None) -> FeatureSet:
        wanted = self._p.feature_set
        if given is not None:
            if not isinstance(given, FeatureSet) or given.name != wanted:
                found = given.name if isinstance(given, FeatureSet) else given
                rule = f"is {wanted!r}, but the feature set given is {found!r}"
                raise StrategyParameterError(self.name, [("feature_set", rule)])
            return given
        build = _FEATURE_SETS.get(wanted)
        if build is None:
            known = ", ".join(sorted(_FEATURE_SETS))
            rule = f"unknown feature set {wanted!r} (known: {known}; or pass feature_set=)"
            raise StrategyParameterError(self.name, [("feature_set", rule)])
        return build()

    def _check_predictor(self) -> None:
        predictor = self._predictor
        if predictor.model_name != self._p.model_name:
            rule = f"is {self._p.model_name!r}, but the predictor serves {predictor.model_name!r}"
            raise StrategyParameterError(self.name, [("model_name", rule)])
        names = tuple(predictor.feature_names)
        if names != self._feature_set.names:
            rule = (
                f"{self._feature_set.name!r} computes {list(self._feature_set.names)}, but "
                f"model {predictor.model_name!r} v{predictor.model_version} was trained on "
                f"{list(names)}"
            )
            raise StrategyParameterError(self.name, [("feature_set", rule)])
        classes = tuple(predictor.classes)
        if len(classes) < 2 or not set(classes) <= set(_DIRECTION_OF_CLASS):
            msg = (
                f"model {predictor.model_name!r} must give probabilities of two or more "
                f"directions in (-1, 0, 1), got classes {classes}"
            )
            raise ValueError(msg)
