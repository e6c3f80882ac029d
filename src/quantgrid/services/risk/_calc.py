"""Picking and calling the core's portfolio-risk functions for a request.

The functions (``quantgrid.risk``) check their inputs and raise ``ValueError`` naming
the rule; here the request's options choose which one runs and with what. Numbers too
large or degenerate for a finite answer are refused the same way, never answered 500.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, TypeVar

import numpy as np

from quantgrid.model import FloatArray
from quantgrid.risk import (
    ewma_correlation,
    historical_cvar,
    historical_var,
    kelly_fraction,
    kelly_fraction_from_returns,
    monte_carlo_cvar,
    monte_carlo_var,
    parametric_cvar,
    parametric_var,
    portfolio_returns,
    rolling_correlation,
    volatility_target_size,
)
from quantgrid.services.risk._models import (
    CorrelationBody,
    CorrelationOut,
    KellyBody,
    KellyReturnsBody,
    PositionSizeOut,
    VarBody,
    VarOut,
    VolTargetBody,
)

T = TypeVar("T")


class RiskInputError(ValueError):
    """The request's numbers give no answer; the message says why (and which field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def guarded(field: str, compute: Callable[[], T]) -> T:
    """Return ``compute()``, turning bad-input failures into ``RiskInputError``."""
    try:
        # errstate is per thread; a library's warnings.warn (scipy's precision loss)
        # is an exception only where warnings are errors, and is caught then.
        with np.errstate(all="ignore"):
            return compute()
    except RiskInputError:
        raise
    except (ValueError, ArithmeticError, np.linalg.LinAlgError, Warning) as error:
        raise RiskInputError(field, str(error)) from error


def _matrix(rows: list[list[float]], field: str) -> FloatArray:
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise RiskInputError(field, f"every row must have the same length, got {sorted(widths)}")
    return np.asarray(rows, dtype=np.float64)


def _finite(field: str, *values: float) -> None:
    if not all(math.isfinite(v) for v in values):
        raise RiskInputError(field, "no finite answer for these inputs (degenerate or extreme)")


def value_at_risk(body: VarBody, equity_returns: FloatArray, equity: float) -> VarOut:
    """Return the VaR and CVaR ``body`` asks for (``equity_returns`` when it gives none).

    Raises
    ------
    RiskInputError
        For inputs the estimators refuse, or that give no finite answer.
    """
    if body.returns is not None and body.returns_matrix is not None:
        raise RiskInputError("body", "give returns or returns_matrix, not both")
    if body.weights is not None and body.returns_matrix is None:
        raise RiskInputError("body.weights", "weights go with a returns_matrix")
    c, h = body.confidence, body.horizon
    source: Literal["returns", "returns_matrix", "equity_history"]
    if body.returns_matrix is not None:
        source, field = "returns_matrix", "body.returns_matrix"
        matrix = _matrix(body.returns_matrix, field)
        n = matrix.shape[1]
        weights = np.full(n, 1.0 / n) if body.weights is None else np.asarray(body.weights)
        if len(weights) != n:
            msg = f"has {len(weights)} entries; the returns_matrix has {n} columns"
            raise RiskInputError("body.weights", msg)
    else:
        source = "returns" if body.returns is not None else "equity_history"
        field = "body.returns" if body.returns is not None else "body"
        series = np.asarray(body.returns if body.returns is not None else equity_returns)
        if len(series) < 2:
            msg = (
                f"the node has {len(series)} equity returns so far; give returns or a "
                "returns_matrix"
            )
            raise RiskInputError(field, msg)
        matrix, weights = series.reshape(-1, 1), np.ones(1)

    def compute() -> tuple[float, float]:
        if body.method == "monte_carlo":
            args = (matrix, weights, c, h, body.n_paths, body.seed)
            return (
                monte_carlo_var(*args, bootstrap=body.bootstrap),
                monte_carlo_cvar(*args, bootstrap=body.bootstrap),
            )
        r = portfolio_returns(matrix, weights)
        if body.method == "historical":
            return (
                historical_var(r, c, h, scaling=body.scaling),
                historical_cvar(r, c, h, scaling=body.scaling),
            )
        method: Literal["normal", "cornish_fisher"] = (
            "normal" if body.method == "parametric" else "cornish_fisher"
        )
        return parametric_var(r, c, h, method=method), parametric_cvar(r, c, h, method=method)

    var, cvar = guarded(field, compute)
    _finite(field, var, cvar)
    return VarOut(
        method=body.method,
        confidence=c,
        horizon=h,
        source=source,
        observations=int(matrix.shape[0]),
        var=var,
        cvar=cvar,
        equity=equity,
        var_amount=var * equity,
        cvar_amount=cvar * equity,
    )


def correlation(body: CorrelationBody) -> CorrelationOut:
    """Return the correlation matrix ``body`` asks for (its latest estimate)."""
    field = "body.returns_matrix"
    matrix = _matrix(body.returns_matrix, field)
    t, n = matrix.shape
    labels = body.labels or [f"asset_{i}" for i in range(n)]
    if len(labels) != n:
        msg = f"has {len(labels)} names; the returns_matrix has {n} columns"
        raise RiskInputError("body.labels", msg)
    if len(set(labels)) != n:
        raise RiskInputError("body.labels", "names a column twice")
    if body.method == "rolling":
        if body.window is None:
            raise RiskInputError("body.window", "the rolling method needs a window")
        if body.window > t:
            raise RiskInputError("body.window", f"{body.window} is longer than the {t} rows")
        window = body.window
        # Only the last window is wanted: the rolling function on just those rows.
        latest = guarded(field, lambda: rolling_correlation(matrix[-window:], window)[-1])
    elif body.method == "ewma":
        seed = min(body.seed_window, t)
        latest = guarded(
            field,
            lambda: ewma_correlation(
                matrix, halflife=body.halflife, lam=body.lam, seed_window=seed
            )[-1],
        )
    else:
        latest = guarded(field, lambda: rolling_correlation(matrix, t)[-1])
    rows = [[float(x) if math.isfinite(x) else None for x in row] for row in latest.tolist()]
    return CorrelationOut(method=body.method, observations=t, labels=labels, matrix=rows)


def kelly(body: KellyBody | KellyReturnsBody) -> PositionSizeOut:
    """Return the Kelly fraction of equity ``body`` asks for."""
    if isinstance(body, KellyBody):
        fraction = guarded(
            "body", lambda: kelly_fraction(body.win_rate, body.win_loss_ratio, cap=body.cap)
        )
    else:
        fraction = guarded(
            "body.returns", lambda: kelly_fraction_from_returns(body.returns, cap=body.cap)
        )
    _finite("body", fraction)
    return PositionSizeOut(method=body.method, fraction=fraction)


def vol_target(body: VolTargetBody, price: float, equity: float) -> PositionSizeOut:
    """Return the units that hit ``body``'s volatility target at ``price`` and ``equity``."""
    quantity = guarded(
        "body",
        lambda: volatility_target_size(
            body.target_annual_vol,
            price=price,
            equity=equity,
            asset_returns=body.asset_returns,
            asset_vol=body.asset_vol,
            periods_per_year=body.periods_per_year,
        ),
    )
    return PositionSizeOut(
        method=body.method,
        quantity=quantity,
        price=price,
        equity=equity,
        notional=quantity * price,
    )
