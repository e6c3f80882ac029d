"""The composition root: build each service, or the whole platform, from a config.

``RuntimeConfig.from_env`` reads what a process runs on (database, bus, cache,
market-data upstream, JWT secret, settings) and refuses a configuration that cannot
work, naming the variable. ``build_service(name, config)`` makes one service for
``quantgrid serve NAME``; ``build_platform(config)`` makes every service in one
process behind the gateway for ``quantgrid up``. See ``docs/run-modes.md``.
"""

from quantgrid.runtime._build import Runtime, build_platform, build_service, open_store
from quantgrid.runtime._config import DEFAULT_DATABASE_URL, ConfigError, Mode, RuntimeConfig

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ConfigError",
    "Mode",
    "Runtime",
    "RuntimeConfig",
    "build_platform",
    "build_service",
    "open_store",
]
