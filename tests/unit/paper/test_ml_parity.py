"""The ML strategy trades the same in a backtest and in paper replay (issue 6, ML-6).

A logistic model of the next bar's direction, trained on the first segment of the
planted MA(1) market, runs on the later bars twice: through ``run_backtest`` and through
a ``ReplayFeed`` into a ``StrategyHost`` on a ``TradingNode``. The predictions it logs
(ids, calls, confidences, feature snapshots) and its orders and fills are the same.
"""

from __future__ import annotations

import numpy as np
import pytest

from quantgrid.backtest import BacktestConfig, run_backtest
from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.ml import ModelSpec, TrainedModel, train_on_bars
from quantgrid.model import BarSeries, Regime
from quantgrid.strategy import InMemoryPredictionSink, MLStrategy, ModelPredictor
from quantgrid.venues import PercentCommission, VenueConfig
from tests.unit.paper.support import fill_key, order_key, run_paper

pytestmark = pytest.mark.anyio

BARS, TRAIN_BARS = 4_000, 3_000
CHOPPY = SyntheticConfig(
    instruments=("CHOP",),
    bars=BARS,
    min_regime_bars=BARS,
    mean_regime_bars=BARS,
    mean_crisis_bars=BARS,
    crisis_share=0.001,
    chop_reversal=0.75,
)


@pytest.fixture(scope="module")
def market() -> BarSeries:
    made = generate_market(CHOPPY, seed=1)
    assert np.all(made.regimes["CHOP"] == Regime.CHOPPY)
    return made.bars["CHOP"]


@pytest.fixture(scope="module")
def model(market: BarSeries) -> TrainedModel:
    result, _ = train_on_bars(
        {"CHOP": market.slice(0, TRAIN_BARS)}, spec=ModelSpec("logistic"), drop_flat=True
    )
    return result.model


def _strategy(model: TrainedModel) -> tuple[MLStrategy, InMemoryPredictionSink]:
    sink = InMemoryPredictionSink()
    params = {"model_name": "chop", "size": 10.0, "confidence_threshold": 0.6}
    strategy = MLStrategy(params, predictor=ModelPredictor(model, "chop", 1), sink=sink)
    return strategy, sink


async def test_predictions_orders_and_fills_are_those_of_the_backtest(
    model: TrainedModel, market: BarSeries
) -> None:
    later = market.slice(TRAIN_BARS, BARS)
    venue = VenueConfig(commission=PercentCommission(0.0005))
    config = BacktestConfig(commission=0.0005, close_at_end=False)

    in_backtest, backtest_sink = _strategy(model)
    result = run_backtest(in_backtest, later, config=config)
    in_paper, paper_sink = _strategy(model)
    orders, fills, _ = await run_paper(in_paper, later, venue)

    assert len(backtest_sink.predictions) == len(later.ts) - 50  # after the warm-up
    assert paper_sink.predictions == backtest_sink.predictions
    assert len(result.fills) >= 20  # it traded: the comparison is not vacuous
    assert [order_key(o) for o in orders] == [order_key(o) for o in result.orders]
    assert [fill_key(f) for f in fills] == [fill_key(f) for f in result.fills]
