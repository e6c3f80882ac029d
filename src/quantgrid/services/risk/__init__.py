"""The risk service: pre-trade approval, limits, trading states and portfolio risk.

``create_app(node, settings, auth=...)`` serves ``POST /risk/approve`` (a dry-run
check), ``GET``/``PUT /risk/limits``, ``GET /risk/state``, ``POST /risk/halt``,
``/risk/resume`` and ``/risk/kill``, and the calculators ``POST /risk/var``,
``/risk/correlation`` and ``/risk/position-size``. Viewers read and calculate; admins
change limits and states. See ``docs/node.md``.
"""

from quantgrid.services.risk._app import create_app, risk_router
from quantgrid.services.risk._backend import RiskBackend
from quantgrid.services.risk._models import (
    ApprovalOut,
    CorrelationBody,
    CorrelationOut,
    DenialOut,
    InstrumentLimitsBody,
    KellyBody,
    KellyReturnsBody,
    KillOut,
    PositionSizeOut,
    ReasonBody,
    RiskLimits,
    RiskStateOut,
    VarBody,
    VarOut,
    VolTargetBody,
)

__all__ = [
    "ApprovalOut",
    "CorrelationBody",
    "CorrelationOut",
    "DenialOut",
    "InstrumentLimitsBody",
    "KellyBody",
    "KellyReturnsBody",
    "KillOut",
    "PositionSizeOut",
    "ReasonBody",
    "RiskBackend",
    "RiskLimits",
    "RiskStateOut",
    "VarBody",
    "VarOut",
    "VolTargetBody",
    "create_app",
    "risk_router",
]
