"""The composition root: build each service, or the whole platform, from a config.

``RuntimeConfig.from_env`` reads what a process runs on (database, bus, cache,
market-data upstream, JWT secret, settings) and refuses a configuration that cannot
work, naming the variable. ``build_service(name, config)`` makes one service for
``quantgrid serve NAME``; ``build_platform(config)`` makes every service in one
process behind the gateway for ``quantgrid up``. ``serve execution`` also serves risk
and portfolio, over its one trading node, behind a ``PathDispatcher``. The process
that runs the node feeds it quotes from the market-data upstream (``MarketFeed``).
See ``docs/run-modes.md``.
"""

from quantgrid.runtime._build import Runtime, build_platform, build_service, open_store
from quantgrid.runtime._config import DEFAULT_DATABASE_URL, ConfigError, Mode, RuntimeConfig
from quantgrid.runtime._dispatch import MountedServices, PathDispatcher
from quantgrid.runtime._feed import FeedSettings, MarketFeed

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ConfigError",
    "FeedSettings",
    "MarketFeed",
    "Mode",
    "MountedServices",
    "PathDispatcher",
    "Runtime",
    "RuntimeConfig",
    "build_platform",
    "build_service",
    "open_store",
]
