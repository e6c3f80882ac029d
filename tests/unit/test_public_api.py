"""The public API is deliberate: this test changes whenever a package's surface does.

The order of ``__all__`` is kept by ruff (RUF022).
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC_API = {
    "quantgrid.core": (
        "NANOS_PER_DAY",
        "NANOS_PER_SECOND",
        "Clock",
        "Handler",
        "LiveClock",
        "MessageBus",
        "PriceCache",
        "TestClock",
        "dt_to_ns",
        "ns_to_day",
        "ns_to_dt",
        "ns_to_iso",
        "topic_matches",
    ),
    "quantgrid.model": (
        "Account",
        "Bar",
        "BarSeries",
        "CancelAllOrders",
        "CancelOrder",
        "ClosedTrade",
        "FloatArray",
        "Instrument",
        "IntArray",
        "InvalidOrderError",
        "InvalidStateTransitionError",
        "LiquiditySide",
        "Order",
        "OrderAccepted",
        "OrderCanceled",
        "OrderDenied",
        "OrderEvent",
        "OrderExpired",
        "OrderFilled",
        "OrderPendingCancel",
        "OrderRejected",
        "OrderSide",
        "OrderStatus",
        "OrderSubmitted",
        "OrderTriggered",
        "OrderType",
        "OrderUpdated",
        "Position",
        "PositionChanged",
        "QuoteTick",
        "Regime",
        "SubmitOrder",
        "TimeInForce",
        "TradeTick",
    ),
    "quantgrid.indicators": ("EMA", "RSI", "SMA", "ema", "rsi", "sma"),
    "quantgrid.execution": (
        "EXECUTE_ENDPOINT",
        "PROCESS_ENDPOINT",
        "ExecutionEngine",
        "order_event_topic",
    ),
    "quantgrid.venues": (
        "AccountState",
        "BpsSlippage",
        "BpsSpread",
        "CommissionModel",
        "FixedSpread",
        "MakerTakerCommission",
        "NoCommission",
        "PerUnitCommission",
        "PercentCommission",
        "SimulatedVenue",
        "SlippageModel",
        "SpreadModel",
        "TickSlippage",
        "VenueConfig",
        "VolumeShareSlippage",
    ),
    "quantgrid.portfolio": (
        "POSITION_TOPIC",
        "Portfolio",
        "PortfolioView",
        "PositionSnapshot",
        "equity_from_fills",
    ),
    "quantgrid.strategy": (
        "BUILTIN_STRATEGIES",
        "CrossParams",
        "EmaCross",
        "RsiMeanReversion",
        "RsiParams",
        "SmaCross",
        "Strategy",
        "StrategyError",
        "StrategyNotFoundError",
        "StrategyParameterError",
        "StrategyParams",
        "load_strategy",
        "register_strategy",
    ),
    "quantgrid.backtest": (
        "METRICS",
        "OBJECTIVES",
        "BacktestConfig",
        "BacktestEngine",
        "BacktestResult",
        "ProgressCallback",
        "SweepResult",
        "cross_signals",
        "run_backtest",
        "run_vectorised",
        "sweep_crosses",
    ),
    "quantgrid.analytics": (
        "STAT_KEYS",
        "Statistics",
        "compute_statistics",
        "daily_returns",
        "drawdown",
    ),
    "quantgrid.data": (
        "DataValidationError",
        "SyntheticConfig",
        "SyntheticMarket",
        "generate_market",
        "load_bars",
        "save_market",
        "write_bars",
    ),
    "quantgrid.reports": ("stats_table", "write_results", "write_sweep"),
    "quantgrid.bars": (
        "TradeSeries",
        "TradeSource",
        "dollar_bars",
        "range_bars",
        "renko_bars",
        "resample",
        "tick_bars",
        "volume_bars",
    ),
    "quantgrid.cli": ("app", "main"),
}


@pytest.mark.parametrize("package", sorted(PUBLIC_API))
def test_public_names_are_stable_and_importable(package: str) -> None:
    module = importlib.import_module(package)
    assert tuple(module.__all__) == PUBLIC_API[package]
    for name in module.__all__:
        assert getattr(module, name) is not None
