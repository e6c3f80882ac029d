"""Service settings, read from ``QUANTGRID_*`` environment variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Self

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

#: Every setting's environment variable starts with this.
ENV_PREFIX = "QUANTGRID_"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

_SERVICE_URL = re.compile(rf"{ENV_PREFIX}([A-Z][A-Z0-9_]*?)_URL")
_PASSWORD = re.compile(r"(://[^/:@]*:)[^/@]*@")


def _check_service_url(url: str) -> str:
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL:
        msg = "not a valid URL"  # httpx's reason may quote the URL, password and all
        raise ValueError(msg) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        msg = "an http:// or https:// URL with a host is needed"
        raise ValueError(msg)
    return str(parsed).rstrip("/")


ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")]
ServiceUrl = Annotated[str, AfterValidator(_check_service_url)]


class SettingsError(ValueError):
    """The environment holds an invalid setting; the message names each variable."""


def service_env_var(service: str) -> str:
    """Return the variable holding a service's base URL: ``market-data`` gives
    ``QUANTGRID_MARKET_DATA_URL``."""
    return f"{ENV_PREFIX}{service.upper().replace('-', '_')}_URL"


def mask_password(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``."""
    return _PASSWORD.sub(r"\1***@", url)


class ServiceSettings(BaseModel):
    """What a service reads from its environment.

    Each field ``name`` comes from ``QUANTGRID_<NAME>`` (``max_request_bytes`` from
    ``QUANTGRID_MAX_REQUEST_BYTES``); ``service_urls`` from every other
    ``QUANTGRID_<SERVICE>_URL`` (``QUANTGRID_MARKET_DATA_URL`` gives
    ``market-data``). Subclasses add fields the same way. Secrets come only from the
    environment, never from code, and ``repr`` masks passwords in URLs.

    Attributes
    ----------
    database_url, nats_url, redis_url
        Storage, event bus and cache; None for the embedded defaults (SQLite, the
        in-process bus, the in-memory cache).
    service_urls
        Base URL of each other service by name. In one process, services call each
        other in process instead and need none.
    max_request_bytes
        Largest request body accepted; larger ones get 413.
    log_level
        Root log level.
    otel
        Trace with OpenTelemetry, if its SDK is installed.
    health_timeout_s
        Time each dependency check in ``/health/dependencies`` has.
    client_timeout_s, client_retries
        Per-attempt timeout and retries of calls to other services.
    client_breaker_failures, client_breaker_reset_s
        Consecutive failed attempts that open a client's circuit to another service,
        and the seconds it stays open before one probe call goes through.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Fields not read from ``QUANTGRID_<NAME>``.
    not_from_env: ClassVar[frozenset[str]] = frozenset({"service_urls"})

    database_url: str | None = None
    nats_url: str | None = None
    redis_url: str | None = None
    service_urls: dict[ServiceName, ServiceUrl] = Field(default_factory=dict)
    max_request_bytes: int = Field(default=1_048_576, gt=0)
    log_level: LogLevel = "INFO"
    otel: bool = False
    health_timeout_s: float = Field(default=2.0, gt=0, le=60)
    client_timeout_s: float = Field(default=5.0, gt=0, le=300)
    client_retries: int = Field(default=2, ge=0, le=10)
    client_breaker_failures: int = Field(default=5, ge=1, le=1000)
    client_breaker_reset_s: float = Field(default=30.0, gt=0, le=3600)

    @field_validator("database_url", "nats_url", "redis_url", mode="before")
    @classmethod
    def _blank_is_default(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @classmethod
    def env_var(cls, field: str) -> str:
        """Return the environment variable of ``field``."""
        return f"{ENV_PREFIX}{field.upper()}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Read the settings from ``environ`` (default: ``os.environ``).

        Variables not set keep their defaults; unknown ``QUANTGRID_*`` variables are
        left to whoever reads them.

        Raises
        ------
        SettingsError
            Naming each invalid variable and the rule it broke (never its value,
            which may be a secret).
        """
        env = os.environ if environ is None else environ
        fields = [name for name in cls.model_fields if name not in cls.not_from_env]
        own = {cls.env_var(name) for name in fields}
        values: dict[str, Any] = {
            name: env[cls.env_var(name)].strip() for name in fields if cls.env_var(name) in env
        }
        urls = {}
        for key, value in env.items():
            match = _SERVICE_URL.fullmatch(key)
            if match and key not in own and value.strip():
                urls[match.group(1).lower().replace("_", "-")] = value
        if urls:
            values["service_urls"] = urls
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise SettingsError(cls._describe(error)) from None

    @classmethod
    def _describe(cls, error: ValidationError) -> str:
        lines = []
        for problem in error.errors(include_input=False, include_url=False):
            loc = problem["loc"]
            if loc and loc[0] == "service_urls":
                name = str(loc[1]) if len(loc) > 1 else ""
                variable = service_env_var(name) if name else f"{ENV_PREFIX}<SERVICE>_URL"
            else:
                variable = cls.env_var(str(loc[0])) if loc else ENV_PREFIX + "*"
            lines.append(f"{variable}: {problem['msg'].removeprefix('Value error, ')}")
        return "invalid settings: " + "; ".join(lines)

    def service_url(self, service: str) -> str:
        """Return the base URL of ``service``.

        Raises
        ------
        SettingsError
            If none is configured, naming the variable to set.
        """
        try:
            return self.service_urls[service]
        except KeyError:
            msg = f"no URL for the {service} service: set {service_env_var(service)}"
            raise SettingsError(msg) from None

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if isinstance(value, str) and name is not None and name.endswith("_url"):
                yield name, mask_password(value)
            elif name == "service_urls" and isinstance(value, dict):
                yield name, {k: mask_password(v) for k, v in value.items()}
            else:
                yield name, value
