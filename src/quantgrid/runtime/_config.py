"""``RuntimeConfig``: what one QuantGrid process runs on, from the environment."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from quantgrid.adapters.market_data import MarketDataSource
from quantgrid.adapters.registry import ModelRegistry
from quantgrid.gateway import AuthSettings, RateLimits
from quantgrid.node import NodeConfig
from quantgrid.runtime._feed import FeedSettings
from quantgrid.runtime._ml import SchedulerSettings
from quantgrid.runtime._paper import PaperSettings
from quantgrid.services import SERVICES, ServiceSettings
from quantgrid.services.backtest import BacktestSettings
from quantgrid.services.market_data import MarketDataSettings
from quantgrid.services.ml import MlSettings
from quantgrid.services.regime import RegimeSettings

#: Without a database URL, ``quantgrid up`` keeps everything in this SQLite file.
DEFAULT_DATABASE_URL = "sqlite:///quantgrid.db"
JWT_SECRET_ENV = "QUANTGRID_JWT_SECRET"
DATABASE_ENV = "QUANTGRID_DATABASE_URL"
NATS_ENV = "QUANTGRID_NATS_URL"

Mode = Literal["one-process", "distributed"]

_log = logging.getLogger("quantgrid.runtime")


class ConfigError(ValueError):
    """The configuration cannot run; the message names the variable to set or change."""


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """What a process runs on: storage, bus, cache, upstream, secret and settings.

    Parameters
    ----------
    mode
        ``one-process`` (``quantgrid up``: every service shares one store, bus, cache,
        authenticator and trading node) or ``distributed`` (``quantgrid serve NAME``:
        one service, talking to the others over HTTP and NATS).
    settings
        The common service settings (``ServiceSettings.from_env()``).
    database_url
        Where the store lives: ``sqlite:///path.db``, ``postgresql://...`` or a SQLite
        file path. A fresh SQLite file is migrated when first opened.
    bus_url, cache_url
        None for the in-process bus and the in-memory cache; ``nats://...`` and
        ``redis://...`` for NATS JetStream and Redis.
    jwt_secret
        Signs the gateway's tokens and lets every service check them.
    market_data, regime, backtest
        The settings those services add.
    feed
        How the process that runs the trading node feeds it quotes
        (``QUANTGRID_FEED_INTERVAL_S``; see ``MarketFeed``).
    paper
        Paper trading of strategies on a replay of the market (``QUANTGRID_PAPER_*``;
        see ``PaperTrading``); ``paper_mode`` unset is ``off`` here, and ``quantgrid up``
        sets it to ``replay``.
    rate_limits
        The callers' request budgets (``QUANTGRID_RATE_LIMIT_<ROLE>``).
    ml, scheduler
        The ML service's registry and serving (``QUANTGRID_ML_*``), and the recurring
        ML jobs (predictions, evaluations, drift and decay checks).
    source
        The market-data upstream; None for the seeded synthetic market.
    node
        What the paper trading node trades; None for the synthetic market's instruments.
    registry
        The model registry; None for the one ``ml`` names.
    """

    mode: Mode
    settings: ServiceSettings
    database_url: str
    jwt_secret: str = field(repr=False)
    bus_url: str | None = None
    cache_url: str | None = None
    market_data: MarketDataSettings = field(default_factory=MarketDataSettings)
    regime: RegimeSettings = field(default_factory=RegimeSettings)
    backtest: BacktestSettings = field(default_factory=BacktestSettings)
    feed: FeedSettings = field(default_factory=FeedSettings)
    paper: PaperSettings = field(default_factory=PaperSettings)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    ml: MlSettings = field(default_factory=MlSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    source: MarketDataSource | None = None
    node: NodeConfig | None = None
    registry: ModelRegistry | None = None

    @classmethod
    def from_env(
        cls,
        mode: Mode,
        environ: Mapping[str, str] | None = None,
        *,
        database_url: str | None = None,
        bus_url: str | None = None,
        cache_url: str | None = None,
        jwt_secret: str | None = None,
        generate_secret: bool = False,
        source: MarketDataSource | None = None,
        node: NodeConfig | None = None,
        registry: ModelRegistry | None = None,
    ) -> RuntimeConfig:
        """Read the ``QUANTGRID_*`` variables; explicit arguments take precedence.

        Parameters
        ----------
        generate_secret
            Without ``QUANTGRID_JWT_SECRET``, make a random secret for this run and log
            that (``quantgrid up`` on a workstation) instead of refusing to start.

        Raises
        ------
        ConfigError
            No JWT secret (and none to generate), or a distributed process without a
            shared database; naming the variable.
        SettingsError
            An invalid ``QUANTGRID_*`` value, naming it.
        """
        env = os.environ if environ is None else environ
        settings = ServiceSettings.from_env(env)
        secret = jwt_secret or env.get(JWT_SECRET_ENV, "").strip()
        if not secret:
            if not generate_secret:
                msg = (
                    f"{JWT_SECRET_ENV} is not set: every service checks callers' tokens "
                    "with it (make one with `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'`)"
                )
                raise ConfigError(msg)
            secret = secrets.token_urlsafe(48)
            _log.warning(
                "%s is not set: signing tokens with a random secret made for this run; "
                "tokens stop working when the process restarts",
                JWT_SECRET_ENV,
            )
        try:
            AuthSettings(jwt_secret=secret)
            rate_limits = RateLimits.from_env(env)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        database = database_url or settings.database_url
        if database is None:
            if mode == "distributed":
                msg = (
                    f"{DATABASE_ENV} is not set: in the distributed mode every service "
                    "reads users and API keys (and its own records) from one database "
                    "that all processes share (postgresql://...)"
                )
                raise ConfigError(msg)
            database = DEFAULT_DATABASE_URL
        return cls(
            mode=mode,
            settings=settings,
            database_url=database,
            jwt_secret=secret,
            bus_url=bus_url or settings.nats_url,
            cache_url=cache_url or settings.redis_url,
            market_data=MarketDataSettings.from_env(env),
            regime=RegimeSettings.from_env(env),
            backtest=BacktestSettings.from_env(env),
            feed=FeedSettings.from_env(env),
            paper=PaperSettings.from_env(env),
            rate_limits=rate_limits,
            ml=MlSettings.from_env(env),
            scheduler=SchedulerSettings.from_env(env),
            source=source,
            node=node,
            registry=registry,
        )

    @property
    def replays(self) -> bool:
        """Tell whether strategies paper-trade on a market replay in this process.

        Only ``quantgrid up`` (one process: the node beside the strategy service) does.
        """
        return self.mode == "one-process" and self.paper.paper_mode == "replay"

    def with_paper(self, paper: bool | None, speed: float | None = None) -> RuntimeConfig:
        """Return this config with paper trading on or off (``None``: as set, else on).

        Raises
        ------
        ConfigError
            If ``speed`` is not a positive number.
        """
        mode = self.paper.paper_mode
        if paper is not None:
            mode = "replay" if paper else "off"
        update: dict[str, object] = {"paper_mode": mode or "replay"}
        if speed is not None:
            update["paper_speed"] = speed
        try:
            paper_settings = PaperSettings.model_validate(self.paper.model_dump() | update)
        except ValueError as error:
            raise ConfigError(f"--speed: {error}") from None
        return replace(self, paper=paper_settings)

    def check(self, name: str) -> None:
        """Refuse to run service ``name`` on this configuration.

        Raises
        ------
        ConfigError
            An unknown service, or a distributed one that cannot work as configured.
        """
        if name not in SERVICES:
            msg = f"unknown service {name!r}: choose one of {', '.join(SERVICES)}"
            raise ConfigError(msg)
        if self.mode != "distributed":
            return
        if name == "execution" and self.bus_url is None:
            msg = (
                f"{NATS_ENV} is not set: `serve execution` runs the trading node, whose "
                "order, fill and risk events must reach the other processes over NATS"
            )
            raise ConfigError(msg)
        spec = SERVICES[name]
        if spec.hosted_by is not None:
            host = SERVICES[spec.hosted_by]
            msg = (
                f"`serve {name}` is refused: the {name} service is served by the "
                f"{host.name} process (`quantgrid serve {host.name}`), which runs the "
                f"trading node it works over; point {spec.env_url} at the {host.name} "
                f"service's URL ({host.env_url})"
            )
            raise ConfigError(msg)
