"""Build each service, or the whole platform, from a ``RuntimeConfig``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from fastapi import FastAPI

from quantgrid.adapters.bus import EventBus, InProcessEventBus, NatsEventBus
from quantgrid.adapters.cache import Cache, InMemoryCache, RedisCache
from quantgrid.adapters.market_data import InMemorySource, MarketDataSource, SyntheticSource
from quantgrid.adapters.registry import InMemoryModelRegistry, ModelRegistry
from quantgrid.adapters.storage import InMemoryStore, SqliteStore, SqlStore
from quantgrid.core import LiveClock, TestClock
from quantgrid.data import SyntheticConfig
from quantgrid.gateway import (
    Authenticator,
    AuthSettings,
    InMemoryRateLimiter,
    RateLimiter,
    ServiceProxy,
    create_gateway_app,
    install_auth_before_parsing,
)
from quantgrid.model import Instrument
from quantgrid.node import NodeConfig, TradingNode
from quantgrid.runtime._config import ConfigError, RuntimeConfig
from quantgrid.runtime._dispatch import MountedServices, PathDispatcher
from quantgrid.runtime._feed import MarketFeed
from quantgrid.runtime._ml import JOBS_BY_SERVICE, LateDrift, MlJobs, open_registry, start_ml_jobs
from quantgrid.runtime._paper import AsOfClock, PaperTrading
from quantgrid.services import GATEWAY, SERVICES, SettingsError
from quantgrid.services.backtest import InProcessJobRunner, JobRunner, ProcessPoolJobRunner
from quantgrid.services.backtest import create_app as backtest_app
from quantgrid.services.evaluation import Evaluator
from quantgrid.services.evaluation import create_app as evaluation_app
from quantgrid.services.execution import create_app as execution_app
from quantgrid.services.market_data import create_app as market_data_app
from quantgrid.services.ml import ModelServer, ml_app
from quantgrid.services.portfolio import create_app as portfolio_app
from quantgrid.services.regime import create_app as regime_app
from quantgrid.services.risk import create_app as risk_app
from quantgrid.services.strategy import (
    InMemoryStrategyConfigs,
    SqlStrategyConfigs,
    StrategyConfigRepository,
)
from quantgrid.services.strategy import create_app as strategy_app

_log = logging.getLogger("quantgrid.runtime")

Hook = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class Runtime:
    """A built app with what it runs on, and its startup and shutdown.

    Attributes
    ----------
    name
        The service (``gateway`` for the whole platform).
    app
        The ASGI app to serve: a FastAPI app; for a process that hosts other
        services (``serve execution``) a ``PathDispatcher`` in front of their apps; for
        the platform (``quantgrid up``) ``MountedServices``, the gateway with each
        service's requests handed to that service's app directly.
    store, authenticator
        The store and authenticator its routes use.
    apps
        Every service app built, by name (the mounted ones for the platform).
    node
        The trading node, if one was built.
    feed
        What feeds the node quotes from the market-data upstream; None without a
        node, or with ``QUANTGRID_FEED_INTERVAL_S=0``.
    jobs
        The recurring ML jobs this process hosts (its scheduler, once started); None
        if it hosts neither the ml nor the evaluation service.
    paper
        The strategies paper-trading on a replay of the market (``quantgrid up``), or
        None.

    Notes
    -----
    ``startup`` opens the bus and the cache, starts the node, then its market feed, and
    runs the lifespan of every app built (mounted apps' lifespans would not run
    otherwise); ``shutdown`` undoes it in reverse order, then closes the store.
    ``running()`` does both around a block (tests); ``asgi()`` makes them the app's
    lifespan (uvicorn).
    """

    name: str
    app: FastAPI | PathDispatcher | MountedServices
    store: SqlStore
    authenticator: Authenticator
    apps: dict[str, FastAPI] = field(default_factory=dict)
    node: TradingNode | None = None
    feed: MarketFeed | None = None
    jobs: MlJobs | None = None
    paper: PaperTrading | None = None
    _starts: list[Callable[[AsyncExitStack], Awaitable[None]]] = field(default_factory=list)
    _stack: AsyncExitStack | None = None

    @property
    def main_app(self) -> FastAPI:
        """Return the FastAPI app in front: the gateway's, or the service's own."""
        return _front(self.app)

    async def startup(self) -> None:
        """Open what the apps need and run their lifespans; undone by ``shutdown``."""
        if self._stack is not None:
            raise RuntimeError(f"{self.name} is already started")
        stack = AsyncExitStack()
        stack.callback(self.store.close)
        try:
            for start in self._starts:
                await start(stack)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def shutdown(self) -> None:
        """Stop what ``startup`` started, last first."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[FastAPI | PathDispatcher | MountedServices]:
        """Start, yield the app, stop."""
        await self.startup()
        try:
            yield self.app
        finally:
            await self.shutdown()

    def asgi(self) -> FastAPI | PathDispatcher | MountedServices:
        """Return the app with ``startup`` and ``shutdown`` as its lifespan (for uvicorn).

        A ``PathDispatcher`` passes the lifespan to its default app, which runs it.
        """

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            async with self.running():
                yield

        _front(self.app).router.lifespan_context = lifespan
        return self.app


def build_service(name: str, config: RuntimeConfig) -> Runtime:
    """Return service ``name`` (or the gateway) for ``quantgrid serve NAME``.

    A service that hosts others (``ServiceSpec.hosted_by``: execution hosts risk and
    portfolio, over its one trading node) serves their apps too, behind a
    ``PathDispatcher``: ``/risk...`` and ``/portfolio...`` to theirs, the rest to its own.

    Parameters
    ----------
    name
        A name of ``quantgrid.services.SERVICES``.
    config
        Its storage, bus, cache, secret and settings. In the distributed mode the
        gateway proxies each other service at its ``QUANTGRID_<NAME>_URL``.

    Raises
    ------
    ConfigError
        An unknown name, or a configuration it cannot run on, naming the variable.
    """
    config.check(name)
    store = open_store(config.database_url)
    try:
        parts = _Parts(config, store)
        app: FastAPI | PathDispatcher | MountedServices
        if name == GATEWAY.name:
            app, apps = _distributed_gateway(config, parts), {}
        else:
            own = _service_app(name, parts)
            hosted = [n for n, spec in SERVICES.items() if spec.hosted_by == name]
            apps = {name: own} | {n: _service_app(n, parts) for n in hosted}
            app = PathDispatcher(own, {f"/{n}": apps[n] for n in hosted}) if hosted else own
    except BaseException:
        store.close()
        raise
    return _runtime(name, app, apps, parts, store)


def build_platform(config: RuntimeConfig) -> Runtime:
    """Return every service in one process behind the gateway (``quantgrid up``).

    One store, one bus, one cache, one authenticator and rate limiter, one trading
    node shared by execution, risk and portfolio, one backtest runner. Each service
    app is mounted at ``/api/<name>`` on the gateway.
    """
    store = open_store(config.database_url)
    try:
        parts = _Parts(config, store)
        apps = {name: _service_app(name, parts) for name in SERVICES if name != GATEWAY.name}
        gateway = create_gateway_app(
            config.settings, parts.authenticator, services=apps, limiter=parts.limiter
        )
        # QUANTGRID_FAST_ORDERS is read here: a bad value must not leave the store open.
        front = MountedServices(gateway, apps, gateway.state.metrics)
    except BaseException:
        store.close()
        raise
    return _runtime(GATEWAY.name, front, apps, parts, store)


def _runtime(
    name: str,
    app: FastAPI | PathDispatcher | MountedServices,
    apps: dict[str, FastAPI],
    parts: _Parts,
    store: SqlStore,
) -> Runtime:
    feed = _market_feed(parts, apps)
    runtime = Runtime(name, app, store, parts.authenticator, apps, parts.node, feed)
    runtime.paper = parts.paper
    runtime._starts.append(parts.open_bus_and_cache)
    if parts.node is not None:
        runtime._starts.append(_start_node(parts.node))
    if feed is not None:
        runtime._starts.append(_start_feed(feed))
    if parts.paper is not None:
        runtime._starts.append(_start_paper(parts.paper))
    runtime._starts.append(_run_lifespans({**apps, name: _front(app)}))
    hosted = [job for service in apps for job in JOBS_BY_SERVICE.get(service, ())]
    if hosted:
        runtime.jobs = parts.ml_jobs(name)
        runtime._starts.append(start_ml_jobs(runtime.jobs, hosted))
    return runtime


def _market_feed(parts: _Parts, apps: Mapping[str, FastAPI]) -> MarketFeed | None:
    """Return the feed of the node's quotes, counted on the execution app's metrics."""
    interval_s = parts.config.feed.feed_interval_s
    if parts.node is None or interval_s == 0 or parts.paper is not None:
        return None  # paper trading's replay feeds the node bars instead
    execution = apps.get("execution")
    metrics = None if execution is None else execution.state.metrics
    return MarketFeed(parts.node, parts.source, interval_s, metrics=metrics)


def _front(app: FastAPI | PathDispatcher | MountedServices) -> FastAPI:
    """Return the FastAPI app that receives the served app's lifespan."""
    return app.default if isinstance(app, PathDispatcher | MountedServices) else app


class _Parts:
    """The shared components, made once per process."""

    def __init__(self, config: RuntimeConfig, store: SqlStore | InMemoryStore) -> None:
        self.config = config
        self.store = store
        auth = AuthSettings(jwt_secret=config.jwt_secret, rate_limits=config.rate_limits)
        self.authenticator = Authenticator(self.store, auth)
        self.limiter: RateLimiter = InMemoryRateLimiter(self.authenticator.clock)
        self.bus: EventBus = (
            InProcessEventBus() if config.bus_url is None else NatsEventBus(config.bus_url)
        )
        self.cache: Cache = (
            InMemoryCache() if config.cache_url is None else RedisCache(config.cache_url)
        )
        self._source = config.source
        self.node: TradingNode | None = None
        self._registry = config.registry
        self._model_server: ModelServer | None = None
        self._evaluator: Evaluator | None = None
        self._configs: StrategyConfigRepository | None = None
        self._market: AsOfClock | None = None
        self.paper: PaperTrading | None = None
        self.drift = LateDrift()

    @property
    def source(self) -> MarketDataSource:
        if self._source is None:
            self._source = SyntheticSource()
        return self._source

    def market(self) -> MarketDataSource:
        """Return the market as the services read it: up to the replay's clock if one plays."""
        if not self.config.replays:
            return self.source
        if self._market is None:
            clock = self.trading_node().clock  # refuses a source that holds no bars
            source = self.source
            assert isinstance(source, InMemorySource)
            self._market = AsOfClock(source, clock)
        return self._market

    def node_config(self) -> NodeConfig:
        if self.config.node is not None:
            return self.config.node
        source = self.config.source
        ids = source.held if isinstance(source, InMemorySource) else SyntheticConfig().instruments
        return NodeConfig(instruments=[Instrument(i) for i in ids])

    def strategy_configs(self) -> StrategyConfigRepository:
        if self._configs is None:
            self._configs = SqlStrategyConfigs(self.config.database_url)
        return self._configs

    def trading_node(self) -> TradingNode:
        """Return the process's one trading node, made on first use.

        With paper trading on (``RuntimeConfig.replays``) the node runs on the replay's
        clock and ``paper`` hosts the strategies.
        """
        if self.node is not None:
            return self.node
        config, source = self.config, self.source
        replay = config.replays
        if replay and not isinstance(source, InMemorySource):
            msg = (
                f"QUANTGRID_PAPER_MODE=replay plays stored bars, and the market-data "
                f"upstream {source.name!r} holds none: set QUANTGRID_PAPER_MODE=off"
            )
            raise ConfigError(msg)
        node_config = self.node_config()
        if not replay:
            self.node = TradingNode(node_config, store=self.store, bus=self.bus)
            return self.node
        assert isinstance(source, InMemorySource)
        given = node_config.instruments
        ids = list(given) if isinstance(given, Mapping) else [i.id for i in given]
        resume = PaperTrading.plan(self.store, source, ids, config.paper.paper_start_bar)
        clock = TestClock(resume.clock_ns)
        self.node = TradingNode(node_config, store=self.store, bus=self.bus, clock=clock)
        self.paper = PaperTrading(
            self.node,
            source,
            config.paper,
            self.strategy_configs(),
            self.registry,
            resume=resume,
            approval=config.ml.approval_policy(),
        )
        return self.node

    def registry(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = open_registry(self.config.ml, self.config.database_url)
        return self._registry

    def model_server(self) -> ModelServer:
        if self._model_server is None:
            ml = self.config.ml
            self._model_server = ModelServer(
                self.registry(), models=ml.ml_models, reload_interval_s=ml.reload_interval
            )
        return self._model_server

    def evaluator(self) -> Evaluator:
        if self._evaluator is None:
            timeframe = self.config.scheduler.ml_timeframe
            clock: LiveClock | TestClock = LiveClock()
            if self.config.replays:
                # Predictions are scored on the replay's clock: no outcome from a bar
                # the replay has not played yet.
                clock = self.trading_node().clock
            source = self.market()
            self._evaluator = Evaluator(self.store, source, clock, timeframe=timeframe)
        return self._evaluator

    def ml_jobs(self, service: str) -> MlJobs:
        """Return the scheduler of the ML jobs hosted with ``service``'s apps."""
        given = self.node_config().instruments
        instruments = list(given) if isinstance(given, Mapping) else [i.id for i in given]
        return MlJobs(
            self.config.scheduler,
            self.store,
            self.source,
            instruments,
            registry=self._registry if self._model_server is not None else None,
            server=self._model_server,
            evaluator=self._evaluator,
            drift=self.drift,
            service=service,
        )

    def job_runner(self) -> JobRunner:
        return ProcessPoolJobRunner(self.store, self.config.backtest)

    async def open_bus_and_cache(self, stack: AsyncExitStack) -> None:
        if isinstance(self.bus, NatsEventBus):
            await self.bus.connect()
        stack.push_async_callback(self.bus.close)
        if isinstance(self.cache, RedisCache):
            await self.cache.connect()
        stack.push_async_callback(self.cache.close)
        if self._source is not None:
            stack.push_async_callback(self._source.close)


class _SchemaParts(_Parts):
    """Stand-ins the service apps are built on for their OpenAPI description alone.

    In memory and never started: no database, bus, cache, upstream or worker is
    opened, so the distributed gateway describes every service without reaching one.
    """

    def __init__(self, config: RuntimeConfig) -> None:
        tiny = SyntheticSource(SyntheticConfig(instruments=("SYN0",), bars=10))
        config = replace(config, bus_url=None, cache_url=None, source=tiny, node=None)
        super().__init__(config, InMemoryStore())

    def strategy_configs(self) -> StrategyConfigRepository:
        return InMemoryStrategyConfigs()

    def registry(self) -> ModelRegistry:
        return InMemoryModelRegistry()

    def job_runner(self) -> JobRunner:
        return InProcessJobRunner(self.store, self.config.backtest)


def _described_services(config: RuntimeConfig) -> dict[str, FastAPI]:
    """Return every service's app, built on stand-ins, for the gateway's description."""
    parts = _SchemaParts(config)
    return {name: _service_app(name, parts) for name in SERVICES if name != GATEWAY.name}


def open_store(url: str) -> SqlStore:
    """Open the store at ``url``, migrating a SQLite file that is new or behind.

    A PostgreSQL database is migrated as a deploy step; its schema is checked here.

    Raises
    ------
    ConfigError
        A SQLite file whose folder does not exist.
    """
    if "://" in url:
        store = SqlStore(url)
    else:
        path = Path(url).expanduser()
        if not path.parent.is_dir():
            msg = f"QUANTGRID_DATABASE_URL: folder {str(path.parent)!r} does not exist"
            raise ConfigError(msg)
        store = SqliteStore(path)
    try:
        # The embedded database follows the code; PostgreSQL is migrated as a deploy step.
        if store.dialect == "sqlite" and store.schema_behind():
            _log.info("migrating the database %s to this code's schema", store)
            store.migrate()
        store.check_schema()
    except BaseException:
        store.close()
        raise
    return store


def _service_app(name: str, parts: _Parts) -> FastAPI:
    app = _new_service_app(name, parts)
    install_auth_before_parsing(app)
    return app


def _new_service_app(name: str, parts: _Parts) -> FastAPI:
    config, auth, limiter = parts.config, parts.authenticator, parts.limiter
    # Services name their authenticator keyword differently: adapted here.
    if name == "market-data":
        return market_data_app(
            parts.market(), parts.cache, config.market_data, authenticator=auth, limiter=limiter
        )
    if name == "regime":
        return regime_app(
            parts.market(), None, parts.cache, config.regime, authenticator=auth, limiter=limiter
        )
    if name == "strategy":
        configs = parts.strategy_configs()
        # One process with the node (``quantgrid up``): its strategies are the ones run.
        host = None
        if config.replays:
            parts.trading_node()
            host = parts.paper
        return strategy_app(
            configs,
            host,
            settings=config.settings,
            authenticator=auth,
            replay=None if host is None else host.status,
        )
    if name == "backtest":
        runner = parts.job_runner()
        return backtest_app(parts.store, runner, config.backtest, authenticator=auth)
    if name == "ml":
        server = parts.model_server()
        return ml_app(
            server,
            server.registry,
            config.ml,
            auth=auth,
            limiter=limiter,
            policy=config.ml.approval_policy(),
        )
    if name == "evaluation":
        evaluator = parts.evaluator()
        return evaluation_app(
            parts.store, evaluator, config.settings, auth=auth, limiter=limiter, drift=parts.drift
        )
    node, settings = parts.trading_node(), config.settings
    if name == "execution":
        return execution_app(node, settings, auth=auth, limiter=limiter)
    if name == "risk":
        return risk_app(node, settings, auth=auth, limiter=limiter)
    if name == "portfolio":
        return portfolio_app(node, settings, auth=auth, limiter=limiter)
    msg = f"no app is built for the {name!r} service"  # pragma: no cover - registry drift
    raise ConfigError(msg)


def _distributed_gateway(config: RuntimeConfig, parts: _Parts) -> FastAPI:
    proxies: dict[str, ServiceProxy] = {}
    try:
        for name in SERVICES:
            if name != GATEWAY.name:
                proxies[name] = ServiceProxy.from_settings(config.settings, name)
    except SettingsError as error:
        raise ConfigError(f"`serve gateway` forwards to every service: {error}") from None
    # The gateway describes the services from their code, built on stand-ins: every
    # process runs this same package (see ``install_gateway_openapi``).
    return create_gateway_app(
        config.settings,
        parts.authenticator,
        proxies=proxies,
        limiter=parts.limiter,
        described=lambda: _described_services(config),
    )


def _start_node(node: TradingNode) -> Callable[[AsyncExitStack], Awaitable[None]]:
    async def start(stack: AsyncExitStack) -> None:
        await node.start()
        stack.push_async_callback(node.stop)

    return start


def _start_feed(feed: MarketFeed) -> Callable[[AsyncExitStack], Awaitable[None]]:
    async def start(stack: AsyncExitStack) -> None:
        await feed.start()
        stack.push_async_callback(feed.stop)

    return start


def _start_paper(paper: PaperTrading) -> Callable[[AsyncExitStack], Awaitable[None]]:
    async def start(stack: AsyncExitStack) -> None:
        await paper.start()
        stack.push_async_callback(paper.stop)

    return start


def _run_lifespans(apps: Mapping[str, FastAPI]) -> Callable[[AsyncExitStack], Awaitable[None]]:
    # Taken now: ``Runtime.asgi`` later replaces the served app's lifespan with one that
    # calls this.
    lifespans = [(app, app.router.lifespan_context) for app in apps.values()]

    async def start(stack: AsyncExitStack) -> None:
        for app, lifespan in lifespans:
            await stack.enter_async_context(lifespan(app))

    return start
