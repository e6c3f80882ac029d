"""Risk: pre-trade checks, trading states and circuit breakers in front of execution,
and portfolio risk (VaR and CVaR, correlation, position sizing)."""

from __future__ import annotations

from quantgrid.risk._comovement import (
    RISKMETRICS_DAILY_LAMBDA,
    ewma_correlation,
    ewma_covariance,
    rolling_correlation,
)
from quantgrid.risk._config import InstrumentLimits, RiskConfig
from quantgrid.risk._engine import BAR_PRIORITY, CHECK_ORDER, RISK_ENDPOINT, RegimeOf, RiskEngine
from quantgrid.risk._events import (
    STATE_TOPIC,
    RiskRejection,
    TradingState,
    TradingStateChanged,
)
from quantgrid.risk._sizing import (
    kelly_fraction,
    kelly_fraction_from_returns,
    volatility_target_size,
)
from quantgrid.risk._var import (
    ReturnMoments,
    historical_cvar,
    historical_var,
    monte_carlo_cvar,
    monte_carlo_var,
    parametric_cvar,
    parametric_var,
    portfolio_returns,
)

__all__ = [
    "BAR_PRIORITY",
    "CHECK_ORDER",
    "RISKMETRICS_DAILY_LAMBDA",
    "RISK_ENDPOINT",
    "STATE_TOPIC",
    "InstrumentLimits",
    "RegimeOf",
    "ReturnMoments",
    "RiskConfig",
    "RiskEngine",
    "RiskRejection",
    "TradingState",
    "TradingStateChanged",
    "ewma_correlation",
    "ewma_covariance",
    "historical_cvar",
    "historical_var",
    "kelly_fraction",
    "kelly_fraction_from_returns",
    "monte_carlo_cvar",
    "monte_carlo_var",
    "parametric_cvar",
    "parametric_var",
    "portfolio_returns",
    "rolling_correlation",
    "volatility_target_size",
]
