"""Objectives: which ``Statistics`` field a search maximises."""

from __future__ import annotations

from quantgrid.analytics import STAT_KEYS, Statistics

# Fields that describe the run rather than its performance: ranking by them means nothing.
_NOT_OBJECTIVES = frozenset(
    {"start", "end", "bars", "engine_seconds", "periods_per_year", "risk_free_rate"}
)

OBJECTIVES: tuple[str, ...] = (
    "sharpe",
    "sortino",
    "return_pct",
    "calmar",
    *(
        key
        for key in STAT_KEYS
        if key not in _NOT_OBJECTIVES and key not in ("sharpe", "sortino", "return_pct", "calmar")
    ),
)


def check_objective(objective: str) -> str:
    """Return ``objective`` if a search can maximise it, else raise ``ValueError``."""
    if objective not in OBJECTIVES:
        msg = f"unknown objective {objective!r}: choose one of {', '.join(OBJECTIVES)}"
        raise ValueError(msg)
    return objective


def objective_value(stats: Statistics, objective: str) -> float:
    """Return the objective's value as a float (NaN when undefined)."""
    return float(getattr(stats, objective))
