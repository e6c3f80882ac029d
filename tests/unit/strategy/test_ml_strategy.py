"""The ML strategy: a prediction per bar, features as in training, trades only when sure.

The market is the planted one of ``tests/unit/ml/test_honest_figures.py``: a single
CHOPPY episode whose returns follow an MA(1) with θ = 0.75, so the next move partly
undoes the last one and a model of past returns calls it right about 70 % of the time.
A model is trained on the first 3,000 bars and the strategy runs on the 2,000 after
them, which it never saw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from quantgrid.adapters.storage import InMemoryStore, SqliteStore, StorePredictionSink
from quantgrid.backtest import BacktestConfig, BacktestResult, run_backtest
from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.ml import (
    Direction,
    FeatureSet,
    Horizon,
    LogReturn,
    Prediction,
    default_feature_set,
)
from quantgrid.ml._model import ModelSpec, TrainedModel
from quantgrid.ml._pipeline import train_on_bars
from quantgrid.model import BarSeries, FloatArray, Order, OrderSide, OrderStatus, Regime
from quantgrid.strategy import (
    InMemoryPredictionSink,
    MLParams,
    MLStrategy,
    ModelPredictor,
    PredictionSink,
    StrategyError,
    StrategyParameterError,
)
from tests.conftest import make_bars

BARS = 5_000
TRAIN_BARS = 3_000
THETA = 0.75
CHOPPY_MARKET = SyntheticConfig(
    instruments=("CHOP",),
    bars=BARS,
    min_regime_bars=BARS,
    mean_regime_bars=BARS,
    mean_crisis_bars=BARS,
    crisis_share=0.001,
    chop_reversal=THETA,
)
CHOPPY_SEED = 1
MODEL = "chop-reversal"
VERSION = 3
THRESHOLD = 0.6


@pytest.fixture(scope="module")
def chop() -> BarSeries:
    market = generate_market(CHOPPY_MARKET, seed=CHOPPY_SEED)
    assert np.all(market.regimes["CHOP"] == Regime.CHOPPY), "the planted regime moved"
    return market.bars["CHOP"]


@pytest.fixture(scope="module")
def model(chop: BarSeries) -> TrainedModel:
    """A logistic model of the next bar's direction, trained on the first segment only."""
    result, _ = train_on_bars(
        {"CHOP": chop.slice(0, TRAIN_BARS)}, spec=ModelSpec("logistic"), drop_flat=True
    )
    assert result.metrics.roc_auc > 0.7  # it found the planted reversal
    return result.model


@pytest.fixture(scope="module")
def later(chop: BarSeries) -> BarSeries:
    """The bars after the training segment."""
    return chop.slice(TRAIN_BARS, BARS)


def ml_strategy(
    model: TrainedModel, sink: PredictionSink | None = None, **params: object
) -> MLStrategy:
    settings = {"model_name": MODEL, "size": 10.0, "confidence_threshold": THRESHOLD, **params}
    return MLStrategy(settings, predictor=ModelPredictor(model, MODEL, VERSION), sink=sink)


def run(
    strategy: MLStrategy, bars: BarSeries | Sequence[BarSeries], **config: object
) -> tuple[BacktestResult, list[Prediction]]:
    result = run_backtest(strategy, bars, config=BacktestConfig(**config))  # type: ignore[arg-type]
    sink = strategy.sink
    assert isinstance(sink, InMemoryPredictionSink)
    return result, sink.predictions


def own_orders(result: BacktestResult, strategy: MLStrategy) -> list[Order]:
    """The strategy's orders, without the engine's closing order at the end of the data."""
    return [o for o in result.orders if o.strategy_id == strategy.id]


@pytest.fixture(scope="module")
def backtest(
    model: TrainedModel, later: BarSeries
) -> tuple[MLStrategy, BacktestResult, list[Prediction]]:
    strategy = ml_strategy(model, allow_short=True)
    result, predictions = run(strategy, later)
    return strategy, result, predictions


# -- predictions --------------------------------------------------------------------------
def test_one_prediction_per_bar_once_the_features_are_warm(
    backtest: tuple[MLStrategy, BacktestResult, list[Prediction]], later: BarSeries
) -> None:
    _, _, predictions = backtest
    complete = default_feature_set().compute(later).complete

    assert complete.sum() == len(later) - default_feature_set().warmup
    assert [p.ts_event for p in predictions] == later.ts[complete].tolist()


def test_every_prediction_carries_the_model_horizon_and_its_call(
    backtest: tuple[MLStrategy, BacktestResult, list[Prediction]], model: TrainedModel
) -> None:
    strategy, _, predictions = backtest
    for p in predictions:
        assert (p.model_name, p.model_version, p.instrument_id) == (MODEL, VERSION, "CHOP")
        assert p.strategy_id == strategy.id == "ml"
        assert p.horizon == Horizon.of_bars(1)
        assert p.exchange_tz == "UTC"
        assert list(p.feature_snapshot) == list(model.feature_names)
        assert p.probabilities is not None and set(p.probabilities) == {
            Direction.SELL,
            Direction.BUY,
        }
        assert math.fsum(p.probabilities.values()) == pytest.approx(1.0)
        assert 0.5 <= p.confidence <= 1.0
        assert p.confidence == max(p.probabilities.values())
        assert p.probabilities[p.direction] == p.confidence
        assert p.prediction_id == f"ml:{MODEL}:v{VERSION}:CHOP:{p.ts_event}"
    assert len({p.prediction_id for p in predictions}) == len(predictions)


def test_the_feature_snapshot_is_what_training_computes_at_that_bar(
    backtest: tuple[MLStrategy, BacktestResult, list[Prediction]],
    later: BarSeries,
    model: TrainedModel,
) -> None:
    _, _, predictions = backtest
    frame = default_feature_set().compute(later)

    for p in predictions:
        row = frame.as_of(p.ts_event)
        assert row.ts == p.ts_event
        # Bit for bit: the stream and the vectorised computation agree exactly.
        assert p.feature_snapshot == row.as_dict()

    # And the calls are the model's on the training-time rows.
    rows = frame.values[frame.complete]
    up = model.predict_proba(rows)[:, list(model.classes).index(1)]
    logged = np.array([p.probabilities[Direction.BUY] for p in predictions])  # type: ignore[index]
    np.testing.assert_allclose(logged, up, rtol=1e-12, atol=1e-15)


def test_the_calls_on_unseen_bars_are_right_about_as_often_as_the_planted_edge_allows(
    backtest: tuple[MLStrategy, BacktestResult, list[Prediction]], later: BarSeries
) -> None:
    _, _, predictions = backtest
    index = {int(ts): i for i, ts in enumerate(later.ts)}
    hits, confidence = [], []
    for p in predictions[:-1]:
        i = index[p.ts_event]
        move = np.sign(later.close[i + 1] - later.close[i])
        if move:
            hits.append(move == (1 if p.direction is Direction.BUY else -1))
            confidence.append(p.confidence)
    # About 1,900 calls: a standard error of 0.011 around the ≈ 0.70 the edge gives.
    assert 0.62 < np.mean(hits) < 0.76
    confident = np.array(confidence) >= 0.7
    assert 100 < confident.sum() < len(hits) - 100
    assert np.mean(np.array(hits)[confident]) > np.mean(hits)  # confidence means something


def test_the_same_run_gives_the_same_predictions(
    backtest: tuple[MLStrategy, BacktestResult, list[Prediction]],
    model: TrainedModel,
    later: BarSeries,
) -> None:
    _, first_result, first = backtest
    strategy = ml_strategy(model, allow_short=True)
    second_result, second = run(strategy, later)

    assert second == first
    assert [(o.side, o.quantity, o.ts_init) for o in second_result.orders] == [
        (o.side, o.quantity, o.ts_init) for o in first_result.orders
    ]


# -- trading ------------------------------------------------------------------------------
def expected_targets(
    predictions: list[Prediction], threshold: float, allow_short: bool
) -> list[tuple[int, int]]:
    """Return (ts, target) at each change of target, by the strategy's documented rule."""
    target, changes = 0, []
    for p in predictions:
        if p.confidence < threshold or p.direction is Direction.HOLD:
            continue
        wanted = 1 if p.direction is Direction.BUY else (-1 if allow_short else 0)
        if wanted != target:
            target = wanted
            changes.append((p.ts_event, target))
    return changes


@pytest.mark.parametrize("allow_short", [True, False])
def test_it_trades_only_on_calls_at_or_above_the_threshold(
    model: TrainedModel, later: BarSeries, allow_short: bool
) -> None:
    strategy = ml_strategy(model, allow_short=allow_short)
    result, predictions = run(strategy, later)
    orders = own_orders(result, strategy)
    confident = {p.ts_event for p in predictions if p.confidence >= THRESHOLD}

    assert 0 < len(confident) < len(predictions)  # the threshold does filter
    assert {o.ts_init for o in orders} <= confident
    changes = expected_targets(predictions, THRESHOLD, allow_short)
    assert [o.ts_init for o in orders] == [ts for ts, _ in changes]
    # A fixed size moves to each target in one order: from the last target to this one.
    previous = [0] + [target for _, target in changes[:-1]]
    deltas = [10.0 * (t - before) for (_, t), before in zip(changes, previous, strict=True)]
    assert [o.quantity * o.side.sign for o in orders] == deltas
    if not allow_short:
        assert all(o.side is OrderSide.BUY or o.quantity == 10.0 for o in orders)


def test_a_threshold_of_one_logs_every_call_and_trades_none(
    model: TrainedModel, later: BarSeries
) -> None:
    strategy = ml_strategy(model, confidence_threshold=1.0)
    result, predictions = run(strategy, later)

    assert own_orders(result, strategy) == []
    assert len(predictions) == len(later) - default_feature_set().warmup


@dataclass
class ScriptedPredictor:
    """A predictor that answers a fixed list of probabilities (SELL, HOLD, BUY), in turn."""

    script: list[tuple[float, float, float]]
    model_name: str = "scripted"
    model_version: int = 0
    feature_names: tuple[str, ...] = ("log_return_1",)
    classes: tuple[int, ...] = (-1, 0, 1)
    calls: list[FloatArray] = field(default_factory=list)

    def predict_proba(self, row: FloatArray) -> FloatArray:
        self.calls.append(row)
        return np.array(self.script[len(self.calls) - 1])


SMALL = FeatureSet("small", [LogReturn(1)])  # warm after one bar
# Calls on bars 1..9 (bar 0 warms the feature up), with the threshold 0.55.
SCRIPT = [
    (0.05, 0.05, 0.90),  # 1 BUY 0.9: go long
    (0.10, 0.10, 0.80),  # 2 BUY again: already long
    (0.05, 0.90, 0.05),  # 3 HOLD 0.9: keep
    (0.50, 0.30, 0.20),  # 4 SELL 0.5: below the threshold
    (0.70, 0.20, 0.10),  # 5 SELL 0.7: flat, or short if allowed
    (0.90, 0.05, 0.05),  # 6 SELL again: no change
    (0.25, 0.20, 0.55),  # 7 BUY 0.55: exactly the threshold counts
    (0.251, 0.20, 0.549),  # 8 BUY 0.549: just below
    (0.60, 0.20, 0.20),  # 9 SELL 0.6
]


def scripted_run(
    allow_short: bool, size: float | None = 10.0, **config: object
) -> tuple[MLStrategy, list[Order], list[Prediction], BarSeries]:
    bars = make_bars([100.0 + (i % 3) for i in range(len(SCRIPT) + 2)])
    strategy = MLStrategy(
        {
            "model_name": "scripted",
            "feature_set": "small",
            "size": size,
            "allow_short": allow_short,
        },
        predictor=ScriptedPredictor([*SCRIPT, (0.3, 0.4, 0.3)]),
        feature_set=SMALL,
    )
    result, predictions = run(strategy, bars, close_at_end=False, **config)
    return strategy, own_orders(result, strategy), predictions, bars


@pytest.mark.parametrize(
    ("allow_short", "expected"),
    [
        (False, [(1, "BUY", 10.0), (5, "SELL", 10.0), (7, "BUY", 10.0), (9, "SELL", 10.0)]),
        (True, [(1, "BUY", 10.0), (5, "SELL", 20.0), (7, "BUY", 20.0), (9, "SELL", 20.0)]),
    ],
)
def test_buy_goes_long_sell_goes_flat_or_short_hold_and_doubt_keep_the_position(
    allow_short: bool, expected: list[tuple[int, str, float]]
) -> None:
    _, orders, predictions, bars = scripted_run(allow_short)

    assert len(predictions) == len(bars) - 1
    assert [p.direction for p in predictions[:3]] == [Direction.BUY, Direction.BUY, Direction.HOLD]
    assert [
        (int(np.searchsorted(bars.ts, o.ts_init)), o.side.name, o.quantity) for o in orders
    ] == (expected)


def test_without_a_size_a_flip_closes_then_enters_with_cash() -> None:
    _, orders, _, bars = scripted_run(allow_short=True, size=None)

    def at(order: Order) -> int:
        return int(np.searchsorted(bars.ts, order.ts_init))

    described = [(at(o), o.side.name, o.reduce_only, o.cash_fraction) for o in orders]
    assert described == [
        (1, "BUY", False, 1.0),
        (5, "SELL", True, None),  # close the long...
        (5, "SELL", False, 1.0),  # ...then short with the cash
        (7, "BUY", True, None),
        (7, "BUY", False, 1.0),
        (9, "SELL", True, None),
        (9, "SELL", False, 1.0),
    ]


def test_orders_still_working_when_the_target_changes_are_cancelled() -> None:
    # One unit a bar may fill (0.1 % of 1,000): the long entry of bar 1 is still working
    # at bar 5's SELL, which cancels it and sells what had filled.
    _, orders, _, _ = scripted_run(allow_short=False, max_volume_fraction=0.001)

    entry, exit_ = orders[0], orders[1]
    assert entry.status is OrderStatus.CANCELED
    assert 0 < entry.filled_qty < 10.0
    assert exit_.side is OrderSide.SELL and exit_.quantity == entry.filled_qty


def test_instruments_have_a_feature_stream_each(model: TrainedModel, chop: BarSeries) -> None:
    first = chop.slice(TRAIN_BARS, TRAIN_BARS + 300)
    other = BarSeries.from_arrays(
        "COPY", first.ts, first.open, first.high, first.low, first.close * 2, first.volume
    )
    strategy = ml_strategy(model, cash_fraction=0.5)
    _, predictions = run(strategy, [first, other])

    by_instrument = {
        iid: [p for p in predictions if p.instrument_id == iid] for iid in ("CHOP", "COPY")
    }
    assert len(by_instrument["CHOP"]) == len(by_instrument["COPY"]) == 300 - 50
    # Doubling the price changes no return-based feature, only the close's level ones.
    for a, b in zip(by_instrument["CHOP"], by_instrument["COPY"], strict=True):
        assert a.ts_event == b.ts_event
        assert a.feature_snapshot["log_return_1"] == b.feature_snapshot["log_return_1"]
        assert a.prediction_id != b.prediction_id


def test_a_sink_given_receives_every_prediction_in_order(
    model: TrainedModel, later: BarSeries
) -> None:
    class Store:
        def __init__(self) -> None:
            self.saved: dict[str, Prediction] = {}

        def record(self, prediction: Prediction) -> None:
            self.saved.setdefault(prediction.prediction_id, prediction)

    store = Store()
    bars = later.slice(0, 200)
    strategy = ml_strategy(model, sink=store)
    run_backtest(strategy, bars)
    # A replay of the same bars (a restart) makes the same ids: nothing new to store.
    run_backtest(ml_strategy(model, sink=store), bars)

    assert strategy.sink is store
    assert len(store.saved) == 200 - 50
    assert sorted(p.ts_event for p in store.saved.values()) == bars.ts[50:].tolist()


# -- bad wiring and parameters ------------------------------------------------------------
def test_the_predictor_must_serve_the_model_named(model: TrainedModel) -> None:
    with pytest.raises(StrategyParameterError, match="'model_name': is 'other', but the predictor"):
        MLStrategy({"model_name": "other"}, predictor=ModelPredictor(model, MODEL, 1))


def test_the_model_must_have_been_trained_on_the_strategy_s_features(model: TrainedModel) -> None:
    with pytest.raises(StrategyParameterError, match="'feature_set': 'small' computes"):
        MLStrategy(
            {"model_name": MODEL, "feature_set": "small"},
            predictor=ModelPredictor(model, MODEL, 1),
            feature_set=SMALL,
        )


def test_feature_sets_are_named_in_the_parameters() -> None:
    predictor = ScriptedPredictor(SCRIPT)
    with pytest.raises(StrategyParameterError, match="unknown feature set 'small'"):
        MLStrategy({"model_name": "scripted", "feature_set": "small"}, predictor=predictor)
    with pytest.raises(StrategyParameterError, match="is 'default', but the feature set given is"):
        MLStrategy({"model_name": "scripted"}, predictor=predictor, feature_set=SMALL)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"confidence_threshold": 1.5}, "confidence_threshold"),
        ({"horizon": 0}, "horizon"),
        ({"size": -1.0}, "size"),
        ({"cash_fraction": 0.0}, "cash_fraction"),
        ({"exchange_tz": "Mars/Olympus"}, "exchange_tz"),
        ({"model_name": ""}, "model_name"),
        ({"stop": 1}, "stop"),
    ],
)
def test_bad_parameters_are_refused_naming_them(params: dict[str, object], name: str) -> None:
    with pytest.raises(StrategyParameterError, match=f"parameter '{name}'"):
        MLStrategy(
            {"model_name": "scripted", "feature_set": "small", **params},
            predictor=ScriptedPredictor(SCRIPT),
            feature_set=SMALL,
        )


def test_only_the_model_name_is_required() -> None:
    with pytest.raises(StrategyParameterError, match="'model_name': Field required"):
        MLStrategy.parse_params({})
    params = MLStrategy.parse_params({"model_name": "m"})
    assert params == MLParams(
        model_name="m",
        confidence_threshold=0.55,
        horizon=1,
        size=None,
        cash_fraction=1.0,
        allow_short=False,
        feature_set="default",
        exchange_tz="UTC",
    )


def test_a_predictor_of_other_classes_or_shapes_is_refused() -> None:
    with pytest.raises(ValueError, match=r"directions in \(-1, 0, 1\), got classes \(0, 2\)"):
        MLStrategy(
            {"model_name": "scripted", "feature_set": "small"},
            predictor=ScriptedPredictor(SCRIPT, classes=(0, 2)),
            feature_set=SMALL,
        )
    strategy = MLStrategy(
        {"model_name": "scripted", "feature_set": "small"},
        predictor=ScriptedPredictor([(0.5, 0.5)] * 5),
        feature_set=SMALL,
    )
    with pytest.raises(StrategyError, match=r"'scripted' returned \(2,\) probabilities for 3"):
        run_backtest(strategy, make_bars([100.0, 101.0, 102.0]))


def test_a_model_predictor_checks_its_name_and_version(model: TrainedModel) -> None:
    with pytest.raises(ValueError, match="model_name must be a non-empty string"):
        ModelPredictor(model, "")
    with pytest.raises(ValueError, match="model_version must be an integer >= 0"):
        ModelPredictor(model, MODEL, -1)
    predictor = ModelPredictor(model, MODEL)
    assert predictor.model_version == 0
    assert predictor.classes == model.classes
    assert predictor.feature_names == model.feature_names


def test_a_store_sink_keeps_every_prediction_once_across_a_replay(
    model: TrainedModel, later: BarSeries, tmp_path: Path
) -> None:
    """In a backtest as the paper runtime will: the strategy's predictions in the store."""
    store = SqliteStore(tmp_path / "quantgrid.db", auto_migrate=True)
    try:
        bars = later.slice(0, 200)
        sink = StorePredictionSink(store, batch=64)
        run_backtest(ml_strategy(model, sink=sink), bars)
        assert sink.flush() >= 0
        replay = StorePredictionSink(store, batch=64)
        run_backtest(ml_strategy(model, sink=replay), bars)
        replay.flush()

        assert sink.stored == 200 - 50
        assert replay.stored == 0  # the same ids: nothing stored twice
        page = store.list_predictions(model_name=MODEL, model_version=VERSION, limit=500)
        assert sorted(p.prediction.ts_event for p in page.items) == bars.ts[50:].tolist()
    finally:
        store.close()


def test_a_store_sink_refuses_an_empty_batch() -> None:
    with pytest.raises(ValueError, match="batch must be at least 1"):
        StorePredictionSink(InMemoryStore(), batch=0)
