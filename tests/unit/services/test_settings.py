"""Settings from ``QUANTGRID_*`` variables; an invalid one is named, its value is not."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from quantgrid.services import ServiceSettings, SettingsError


def test_an_empty_environment_gives_the_embedded_defaults() -> None:
    settings = ServiceSettings.from_env({})

    assert settings == ServiceSettings()
    assert settings.database_url is None
    assert settings.nats_url is None
    assert settings.redis_url is None
    assert settings.service_urls == {}
    assert settings.max_request_bytes == 1_048_576
    assert settings.log_level == "INFO"
    assert settings.otel is False


def test_every_field_and_service_url_is_read() -> None:
    settings = ServiceSettings.from_env(
        {
            "QUANTGRID_DATABASE_URL": "postgresql://qg@db/quantgrid",
            "QUANTGRID_NATS_URL": "nats://127.0.0.1:4222",
            "QUANTGRID_REDIS_URL": " ",  # blank: the default
            "QUANTGRID_MAX_REQUEST_BYTES": "2048",
            "QUANTGRID_LOG_LEVEL": "debug",
            "QUANTGRID_OTEL": "true",
            "QUANTGRID_HEALTH_TIMEOUT_S": "0.5",
            "QUANTGRID_CLIENT_RETRIES": "0",
            "QUANTGRID_CLIENT_BREAKER_FAILURES": "3",
            "QUANTGRID_CLIENT_BREAKER_RESET_S": "1.5",
            "QUANTGRID_RISK_URL": "http://risk:8000/",
            "QUANTGRID_MARKET_DATA_URL": "https://md.internal:8443",
            "QUANTGRID_JWT_SECRET": "left to the gateway",
            "PATH": "/usr/bin",
        }
    )

    assert settings.database_url == "postgresql://qg@db/quantgrid"
    assert settings.nats_url == "nats://127.0.0.1:4222"
    assert settings.redis_url is None
    assert settings.max_request_bytes == 2048
    assert settings.log_level == "DEBUG"
    assert settings.otel is True
    assert settings.health_timeout_s == 0.5
    assert settings.client_retries == 0
    assert (settings.client_breaker_failures, settings.client_breaker_reset_s) == (3, 1.5)
    assert settings.service_urls == {
        "risk": "http://risk:8000",
        "market-data": "https://md.internal:8443",
    }
    assert settings.service_url("market-data") == "https://md.internal:8443"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("QUANTGRID_MAX_REQUEST_BYTES", "-7", "Input should be greater than 0"),
        ("QUANTGRID_MAX_REQUEST_BYTES", "lots", "Input should be a valid integer"),
        ("QUANTGRID_LOG_LEVEL", "chatty", "Input should be 'DEBUG', 'INFO'"),
        ("QUANTGRID_OTEL", "perhaps", "Input should be a valid boolean"),
        ("QUANTGRID_HEALTH_TIMEOUT_S", "-0.25", "Input should be greater than 0"),
        ("QUANTGRID_CLIENT_BREAKER_FAILURES", "0", "Input should be greater than or equal to 1"),
        ("QUANTGRID_CLIENT_BREAKER_RESET_S", "-1", "Input should be greater than 0"),
        ("QUANTGRID_RISK_URL", "ftp://user:hunter2@risk", "an http:// or https:// URL"),
        ("QUANTGRID_MARKET_DATA_URL", "http:///no-host", "an http:// or https:// URL with a host"),
    ],
)
def test_an_invalid_variable_is_named_with_the_rule(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        ServiceSettings.from_env({variable: value})

    text = str(caught.value)
    assert text.startswith(f"invalid settings: {variable}: ")
    assert message in text
    assert value not in text  # a value may be a secret


def test_every_invalid_variable_is_named() -> None:
    with pytest.raises(SettingsError) as caught:
        ServiceSettings.from_env(
            {"QUANTGRID_MAX_REQUEST_BYTES": "0", "QUANTGRID_CLIENT_RETRIES": "99"}
        )

    assert "QUANTGRID_MAX_REQUEST_BYTES: " in str(caught.value)
    assert "QUANTGRID_CLIENT_RETRIES: " in str(caught.value)


def test_a_service_with_no_url_names_the_variable_to_set() -> None:
    with pytest.raises(SettingsError, match="set QUANTGRID_MARKET_DATA_URL"):
        ServiceSettings().service_url("market-data")


def test_repr_masks_passwords_in_urls() -> None:
    settings = ServiceSettings(
        database_url="postgresql://qg:hunter2@db:5432/quantgrid",
        service_urls={"risk": "http://svc:s3cret@risk:8000"},
    )

    text = repr(settings)
    assert "hunter2" not in text
    assert "s3cret" not in text
    assert "postgresql://qg:***@db:5432/quantgrid" in text
    assert settings.database_url == "postgresql://qg:hunter2@db:5432/quantgrid"


def test_a_subclass_reads_its_own_fields_the_same_way() -> None:
    class GatewaySettings(ServiceSettings):
        jwt_secret: SecretStr
        token_ttl_s: int = 900

    settings = GatewaySettings.from_env(
        {"QUANTGRID_JWT_SECRET": "not-in-code", "QUANTGRID_AUTH_URL": "http://auth"}
    )

    assert settings.jwt_secret.get_secret_value() == "not-in-code"
    assert settings.service_urls == {"auth": "http://auth"}
    with pytest.raises(SettingsError, match="QUANTGRID_JWT_SECRET: Field required"):
        GatewaySettings.from_env({})


def test_settings_are_frozen() -> None:
    settings = ServiceSettings()
    with pytest.raises(ValueError, match="frozen"):
        settings.max_request_bytes = 1  # type: ignore[misc]
