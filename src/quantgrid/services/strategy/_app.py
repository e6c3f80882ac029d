"""The strategy service: the catalogue, configurations, and start/stop on a trading node."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from quantgrid.adapters.storage import Role, StoreUnavailableError
from quantgrid.core import Clock, LiveClock, ns_to_iso
from quantgrid.gateway import Authenticator, Principal, install_auth, require_role
from quantgrid.services import (
    DependencyUnavailableError,
    RemoteServiceError,
    ServiceError,
    ServiceSettings,
    create_service_app,
    problem_responses,
    problem_type,
)
from quantgrid.services.strategy._catalogue import (
    InstrumentId,
    StrategyInfo,
    check_strategy,
    describe_strategy,
    duplicate_errors,
    field_error,
    find_strategy,
    invalid,
    strategy_classes,
    strategy_names,
    validate_params,
)
from quantgrid.services.strategy._configs import (
    MAX_PAGE,
    StrategyConfig,
    StrategyConfigRepository,
    parse_cursor,
)
from quantgrid.services.strategy._host import (
    ReplayProgress,
    ReplayState,
    StrategyHost,
    StrategySignal,
)
from quantgrid.strategy import Strategy

T = TypeVar("T")

#: The dependency name of the trading node in problems and health checks.
TRADING_NODE = "trading-node"
MAX_SIGNALS = 1000

Viewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]
Trader = Annotated[Principal, Depends(require_role(Role.TRADER))]
ConfigId = Annotated[str, Path(min_length=1, max_length=64, description="A configuration's id.")]
StrategyName = Annotated[str, Path(min_length=1, max_length=64, description="A strategy's name.")]

_UNKNOWN_STRATEGY = problem_responses({404: "No registered strategy has this name."})
_UNKNOWN_CONFIG = {404: "No strategy configuration has this id."}
_NO_NODE = {
    503: "No trading node is configured, or it does not answer (`dependency` names it).",
}


class UnknownStrategyError(ServiceError):
    """No registered strategy has the name in the path."""

    status = 404
    title = "Strategy not found"
    type_uri = problem_type("strategy-not-found")


class ReplayNotFoundError(ServiceError):
    """No market replay runs in the process (paper trading is off, or elsewhere)."""

    status = 404
    title = "No market replay"
    type_uri = problem_type("no-replay")


class ConfigNotFoundError(ServiceError):
    """No configuration has the id in the path."""

    status = 404
    title = "Strategy configuration not found"
    type_uri = problem_type("strategy-config-not-found")


class ConfigRunningError(ServiceError):
    """The configuration's strategy runs, and the request needs it stopped."""

    status = 409
    title = "Strategy configuration is running"
    type_uri = problem_type("strategy-config-running")


# -- request and response bodies ------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class StrategyList(BaseModel):
    """Every strategy the platform can run."""

    items: list[StrategyInfo]


class ValidateParamsBody(_Body):
    """Parameters to check against a strategy's rules."""

    params: dict[str, Any] = Field(default_factory=dict, description="Name to value.")


class ValidatedParams(BaseModel):
    """Parameters that pass, with every default filled in."""

    strategy: str
    params: dict[str, Any]


class CreateStrategyConfigBody(_Body):
    """A strategy to set up: which, with which parameters, on which instruments."""

    strategy: str = Field(min_length=1, max_length=64, description="A registered name.")
    params: dict[str, Any] = Field(default_factory=dict, description="Name to value.")
    instruments: list[InstrumentId] = Field(min_length=1, max_length=64)
    label: str | None = Field(default=None, min_length=1, max_length=200)


class StrategyConfigView(BaseModel):
    """A strategy configuration, and whether the trading node runs it."""

    config_id: str
    strategy: str
    params: dict[str, Any]
    instruments: list[str]
    label: str | None
    created_ns: int = Field(description="Nanoseconds since the epoch, UTC.")
    created_by: str
    running: bool | None = Field(
        description="Whether the trading node runs it; null when no node answers."
    )

    @classmethod
    def of(cls, config: StrategyConfig, running: bool | None) -> StrategyConfigView:
        """Return the view of ``config``."""
        return cls(
            config_id=config.config_id,
            strategy=config.strategy,
            params=config.params,
            instruments=list(config.instruments),
            label=config.label,
            created_ns=config.created_ns,
            created_by=config.created_by,
            running=running,
        )


class StrategyConfigPage(BaseModel):
    """One page of configurations; pass ``next_cursor`` back as ``after``."""

    items: list[StrategyConfigView]
    next_cursor: str | None


class StrategyRunState(BaseModel):
    """Whether a configuration's strategy runs after a start or a stop."""

    config_id: str
    running: bool
    changed: bool = Field(description="False if it already was in that state.")


class SignalView(BaseModel):
    """An order a running strategy decided on."""

    instrument_id: str
    side: Literal["BUY", "SELL"]
    order_type: str
    quantity: float | None
    price: float | None
    ts_event: int = Field(description="Nanoseconds since the epoch, UTC.")
    reason: str

    @classmethod
    def of(cls, signal: StrategySignal) -> SignalView:
        """Return the view of ``signal``."""
        return cls(
            instrument_id=signal.instrument_id,
            side=signal.side,
            order_type=signal.order_type,
            quantity=signal.quantity,
            price=signal.price,
            ts_event=signal.ts_event,
            reason=signal.reason,
        )


class SignalList(BaseModel):
    """A configuration's latest signals, newest first."""

    config_id: str
    items: list[SignalView]


# -- the app -----------------------------------------------------------------------------------
def create_app(
    configs: StrategyConfigRepository,
    host: StrategyHost | None = None,
    *,
    settings: ServiceSettings,
    authenticator: Authenticator,
    clock: Clock | None = None,
    replay: Callable[[], ReplayProgress] | None = None,
) -> FastAPI:
    """Return the strategy service.

    Parameters
    ----------
    configs
        Where configurations are kept.
    host
        The trading node that runs strategies; without one, start, stop and signals
        answer 503 "no trading node configured".
    settings
        The service's settings.
    authenticator
        Who checks callers: viewers read, traders create, start and stop.
    clock
        Stamps new configurations; the wall clock by default.
    replay
        Returns how far the market replay the strategies paper-trade on has got
        (``GET /replay``); without one that answers 404.

    Returns
    -------
    FastAPI
        Routes under ``/strategies``, ``/strategy-configs`` and ``/replay``.
    """
    service = _StrategyService(configs, host, clock or LiveClock())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            configs.close()

    async def configs_check() -> None:
        await service.call(configs.list, limit=1)

    app = create_service_app(
        "strategy",
        settings=settings,
        routers=[_catalogue_router(), _configs_router(service), _replay_router(replay)],
        dependencies={"configs": configs_check},
        description="Strategy catalogue, configurations, and start/stop on a trading node.",
        lifespan=lifespan,
    )
    install_auth(app, authenticator)
    return app


class _StrategyService:
    """What the routes do, apart from HTTP: repository calls, host calls, errors."""

    def __init__(
        self, configs: StrategyConfigRepository, host: StrategyHost | None, clock: Clock
    ) -> None:
        self.configs = configs
        self.host = host
        self.clock = clock

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a repository call in a worker thread; a database down is a 503."""
        try:
            return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
        except StoreUnavailableError as exc:
            raise DependencyUnavailableError("database", str(exc)) from exc

    async def require(self, config_id: str) -> StrategyConfig:
        """Return the configuration ``config_id`` or answer 404."""
        config = await self.call(self.configs.get, config_id)
        if config is None:
            raise ConfigNotFoundError(f"no strategy configuration {config_id!r}")
        return config

    def require_host(self) -> StrategyHost:
        """Return the trading node or answer 503."""
        if self.host is None:
            raise DependencyUnavailableError(TRADING_NODE, "no trading node configured")
        return self.host

    async def running(self) -> frozenset[str] | None:
        """Return what the node runs, or ``None`` without one or while it is down."""
        if self.host is None:
            return None
        try:
            return await self.host.running_strategies()
        except (DependencyUnavailableError, RemoteServiceError):
            return None


class ReplayView(BaseModel):
    """How far the market replay paper trading runs on has got."""

    state: ReplayState = Field(description="finished: the data has no bar left; failed: see error")
    market_time_ns: int | None = Field(
        description="the trading node's clock: the last moment played, ns since the epoch"
    )
    market_time: str | None = Field(description="the same, ISO 8601 UTC")
    played: int = Field(description="moments played since the process started")
    total: int = Field(description="moments in the data")
    speed: float = Field(description="times the data's own pace")
    error: str | None = Field(description="why the replay stopped, if it failed")


def _replay_router(replay: Callable[[], ReplayProgress] | None) -> APIRouter:
    router = APIRouter(prefix="/replay", tags=["replay"])

    @router.get(
        "",
        responses=problem_responses({404: "No market replay runs in this process."}),
    )
    async def get_replay(caller: Viewer) -> ReplayView:
        """Return how far the market replay that strategies paper-trade on has got."""
        if replay is None:
            msg = (
                "no market replay runs in this process: strategies paper-trade in "
                "`quantgrid up` (not in the distributed mode), unless it runs with --no-paper"
            )
            raise ReplayNotFoundError(msg)
        p = replay()
        return ReplayView(
            state=p.state,
            market_time_ns=p.last_ts,
            market_time=None if p.last_ts is None else ns_to_iso(p.last_ts),
            played=p.played,
            total=p.total,
            speed=p.speed,
            error=p.error,
        )

    return router


def _catalogue_router() -> APIRouter:
    router = APIRouter(prefix="/strategies", tags=["strategies"])

    def require_strategy(name: str) -> type[Strategy]:
        cls = find_strategy(name)
        if cls is None:
            known = ", ".join(strategy_names())
            raise UnknownStrategyError(f"no strategy {name!r}; known: {known}")
        return cls

    @router.get("")
    async def list_strategies(caller: Viewer) -> StrategyList:
        """List every registered strategy with its parameters' JSON Schema."""
        return StrategyList(items=[describe_strategy(cls) for cls in strategy_classes()])

    @router.get("/{name}", responses=_UNKNOWN_STRATEGY)
    async def get_strategy(name: StrategyName, caller: Viewer) -> StrategyInfo:
        """Describe one strategy and its parameters."""
        return describe_strategy(require_strategy(name))

    @router.post("/{name}/validate", responses=_UNKNOWN_STRATEGY)
    async def validate_strategy_params(
        name: StrategyName, body: ValidateParamsBody, caller: Viewer
    ) -> ValidatedParams:
        """Check parameters against the strategy's rules: 200 with defaults, or 422."""
        cls = require_strategy(name)
        return ValidatedParams(strategy=cls.name, params=validate_params(cls, body.params))

    return router


def _configs_router(service: _StrategyService) -> APIRouter:
    router = APIRouter(
        prefix="/strategy-configs",
        tags=["strategy configurations"],
        responses=problem_responses({503: "The configurations' database is unavailable."}),
    )

    @router.post("", status_code=201)
    async def create_strategy_config(
        body: CreateStrategyConfigBody, caller: Trader, response: Response
    ) -> StrategyConfigView:
        """Keep a strategy configuration; its parameters are checked first."""
        cls, params = check_strategy(body.strategy, body.params)
        duplicates = duplicate_errors(body.instruments, ("body", "instruments"))
        if duplicates:
            raise invalid(duplicates)
        config = StrategyConfig(
            config_id=uuid.uuid4().hex,
            strategy=cls.name,
            params=params,
            instruments=tuple(body.instruments),
            label=body.label,
            created_ns=service.clock.timestamp_ns(),
            created_by=caller.subject,
        )
        await service.call(service.configs.add, config)
        response.headers["Location"] = f"/strategy-configs/{config.config_id}"
        return StrategyConfigView.of(config, None if service.host is None else False)

    @router.get("")
    async def list_strategy_configs(
        caller: Viewer,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        after: Annotated[str | None, Query(max_length=200)] = None,
    ) -> StrategyConfigPage:
        """List configurations oldest first; ``after`` is the previous page's cursor."""
        try:
            parse_cursor(after)
        except ValueError as exc:
            raise invalid([field_error(("query", "after"), "cursor", str(exc))]) from None
        page = await service.call(service.configs.list, limit=limit, after=after)
        running = await service.running()
        return StrategyConfigPage(
            items=[
                StrategyConfigView.of(c, None if running is None else c.config_id in running)
                for c in page.items
            ],
            next_cursor=page.next_cursor,
        )

    @router.get("/{config_id}", responses=problem_responses(_UNKNOWN_CONFIG))
    async def get_strategy_config(config_id: ConfigId, caller: Viewer) -> StrategyConfigView:
        """Return one configuration, and whether it runs."""
        config = await service.require(config_id)
        running = await service.running()
        return StrategyConfigView.of(config, None if running is None else config_id in running)

    @router.delete(
        "/{config_id}",
        status_code=204,
        responses=problem_responses(
            {**_UNKNOWN_CONFIG, 409: "The configuration's strategy runs: stop it first."}
        ),
    )
    async def delete_strategy_config(config_id: ConfigId, caller: Trader) -> Response:
        """Forget a configuration; one that runs must be stopped first (409)."""
        await service.require(config_id)
        if service.host is not None and config_id in await service.host.running_strategies():
            raise ConfigRunningError(f"strategy configuration {config_id!r} runs: stop it first")
        await service.call(service.configs.remove, config_id)
        return Response(status_code=204)

    @router.post(
        "/{config_id}/start",
        responses=problem_responses(
            {**_UNKNOWN_CONFIG, **_NO_NODE, 409: "The strategy could not start: `detail` says why."}
        ),
    )
    async def start_strategy(config_id: ConfigId, caller: Trader) -> StrategyRunState:
        """Have the trading node run the configuration's strategy."""
        config = await service.require(config_id)
        changed = await service.require_host().start_strategy(config)
        return StrategyRunState(config_id=config_id, running=True, changed=changed)

    @router.post("/{config_id}/stop", responses=problem_responses({**_UNKNOWN_CONFIG, **_NO_NODE}))
    async def stop_strategy(config_id: ConfigId, caller: Trader) -> StrategyRunState:
        """Have the trading node stop the configuration's strategy."""
        await service.require(config_id)
        changed = await service.require_host().stop_strategy(config_id)
        return StrategyRunState(config_id=config_id, running=False, changed=changed)

    @router.get(
        "/{config_id}/signals", responses=problem_responses({**_UNKNOWN_CONFIG, **_NO_NODE})
    )
    async def list_strategy_signals(
        config_id: ConfigId,
        caller: Viewer,
        limit: Annotated[int, Query(ge=1, le=MAX_SIGNALS)] = 100,
    ) -> SignalList:
        """Return the latest signals of the configuration's strategy, newest first."""
        await service.require(config_id)
        signals = await service.require_host().recent_signals(config_id, limit)
        return SignalList(config_id=config_id, items=[SignalView.of(s) for s in signals[:limit]])

    return router
