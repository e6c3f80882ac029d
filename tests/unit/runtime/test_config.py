from __future__ import annotations

import logging
from pathlib import Path

import pytest

from quantgrid.runtime import DEFAULT_DATABASE_URL, ConfigError, RuntimeConfig
from quantgrid.services import SettingsError
from tests.unit.runtime.conftest import make_config

SECRET = "s" * 48


def test_embedded_defaults_without_any_variable() -> None:
    config = RuntimeConfig.from_env("one-process", {}, jwt_secret=SECRET)

    assert config.database_url == DEFAULT_DATABASE_URL
    assert config.bus_url is None
    assert config.cache_url is None
    assert config.source is None
    assert SECRET not in repr(config)


def test_explicit_values_override_the_environment() -> None:
    env = {
        "QUANTGRID_DATABASE_URL": "sqlite:///env.db",
        "QUANTGRID_NATS_URL": "nats://127.0.0.1:4222",
        "QUANTGRID_JWT_SECRET": SECRET,
    }
    config = RuntimeConfig.from_env("one-process", env, database_url="sqlite:///cli.db")

    assert config.database_url == "sqlite:///cli.db"
    assert config.bus_url == "nats://127.0.0.1:4222"
    assert config.jwt_secret == SECRET


def test_a_missing_secret_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="QUANTGRID_JWT_SECRET is not set"):
        RuntimeConfig.from_env("one-process", {})


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="QUANTGRID_JWT_SECRET"):
        RuntimeConfig.from_env("one-process", {"QUANTGRID_JWT_SECRET": "short"})


def test_a_generated_secret_is_random_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="quantgrid.runtime"):
        first = RuntimeConfig.from_env("one-process", {}, generate_secret=True)
        second = RuntimeConfig.from_env("one-process", {}, generate_secret=True)

    assert first.jwt_secret != second.jwt_secret
    assert len(first.jwt_secret) >= 32
    assert "random secret" in caplog.text
    assert first.jwt_secret not in caplog.text


def test_distributed_needs_a_shared_database() -> None:
    with pytest.raises(ConfigError, match="QUANTGRID_DATABASE_URL is not set"):
        RuntimeConfig.from_env("distributed", {"QUANTGRID_JWT_SECRET": SECRET})


def test_distributed_execution_needs_nats(tmp_path: Path) -> None:
    config = make_config(tmp_path, "distributed")

    with pytest.raises(ConfigError, match="QUANTGRID_NATS_URL is not set"):
        config.check("execution")


@pytest.mark.parametrize("name", ["risk", "portfolio"])
def test_distributed_co_located_services_are_refused_naming_their_host(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        make_config(tmp_path, "distributed").check(name)

    message = str(refused.value)
    assert "served by the execution process" in message
    assert "`quantgrid serve execution`" in message
    assert f"QUANTGRID_{name.upper()}_URL" in message


def test_an_unknown_service_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown service 'nope': choose one of gateway, "):
        make_config(tmp_path).check("nope")


def test_an_invalid_setting_names_its_variable() -> None:
    with pytest.raises(SettingsError, match="QUANTGRID_MAX_REQUEST_BYTES"):
        RuntimeConfig.from_env(
            "one-process", {"QUANTGRID_MAX_REQUEST_BYTES": "0"}, jwt_secret=SECRET
        )


def test_rate_limits_come_from_the_environment_and_a_bad_one_names_its_variable() -> None:
    env = {"QUANTGRID_JWT_SECRET": "s" * 48, "QUANTGRID_RATE_LIMIT_TRADER": "800/1600"}
    config = RuntimeConfig.from_env("one-process", env)
    assert (config.rate_limits.trader.per_second, config.rate_limits.trader.burst) == (800, 1600)
    with pytest.raises(ConfigError, match="QUANTGRID_RATE_LIMIT_TRADER"):
        RuntimeConfig.from_env("one-process", {**env, "QUANTGRID_RATE_LIMIT_TRADER": "lots"})
