"""Configuration read from the environment at every invocation.

SCF lets users change environment variables without redeploying, and a warm
instance keeps its module state, so settings are loaded per invocation (a few
microseconds) rather than once at import.

A plain pydantic model over the environment, not pydantic-settings: importing
pydantic-settings costs ~40 ms of cold start (measured: 30 % of the SDK and
pydantic's own import time), and the only feature used here, reading named
variables and coercing their strings, is what pydantic itself does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_ENDPOINT = "sms.tencentcloudapi.com"
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


class ConfigurationError(Exception):
    """The function's own configuration is wrong: the operator must fix it."""


class Endpoint:
    """Where the SDK sends requests: scheme plus `host[:port]`.

    The SDK signs the `endpoint` string as the Host header, so a scheme must
    never be passed inside it (see the SDK notes); we split it off here.
    """

    __slots__ = ("host", "protocol")

    def __init__(self, protocol: str, host: str) -> None:
        self.protocol = protocol
        self.host = host

    @classmethod
    def parse(cls, value: str) -> Endpoint:
        value = value.strip()
        if "://" not in value:
            if not _HOST_PORT.match(value):
                raise ValueError(
                    "must be a host name such as sms.tencentcloudapi.com, or a URL such as http://127.0.0.1:9000"
                )
            return cls("https", value)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("a URL must be http://host[:port] or https://host[:port]")
        if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("a URL must not carry a path, query or user info")
        return cls(parts.scheme, parts.netloc)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Endpoint) and (self.protocol, self.host) == (other.protocol, other.host)

    def __hash__(self) -> int:
        return hash((self.protocol, self.host))

    def __repr__(self) -> str:
        return f"{self.protocol}://{self.host}"


class Settings(BaseModel):
    """Every knob of the function. Names are the environment variables."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    SMS_SDK_APP_ID: str | None = Field(default=None, pattern=r"^\d{1,20}$")
    SMS_REGION: str = Field(default="ap-guangzhou", pattern=r"^[a-z]{2,4}(-[a-z0-9]+){1,3}$")
    SMS_ENDPOINT: str = DEFAULT_ENDPOINT
    SMS_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0, le=60)
    SMS_MAX_ATTEMPTS: int = Field(default=4, ge=1, le=10)
    SMS_CONCURRENCY: int = Field(default=16, ge=1, le=128)
    SMS_MAX_RPS: int = Field(default=1000, ge=1, le=100_000)
    SMS_LANGUAGE: Literal["en-US", "zh-CN"] = "en-US"
    IDEMPOTENCY_TTL_SECONDS: int = Field(default=86400, ge=0, le=30 * 86400)
    REDIS_URL: str | None = None
    REDIS_TIMEOUT_SECONDS: float = Field(default=0.5, gt=0, le=10)
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("SMS_SDK_APP_ID", "REDIS_URL", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # template.yaml ships empty placeholders; an empty variable means "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("SMS_ENDPOINT")
    @classmethod
    def _valid_endpoint(cls, value: str) -> str:
        Endpoint.parse(value)
        return value.strip()

    @field_validator("REDIS_URL")
    @classmethod
    def _valid_redis_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint.parse(self.SMS_ENDPOINT)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `environ` (the process environment by default).

    A bad value names its variable, never its value: a mistyped variable may hold a secret.
    """
    source = os.environ if environ is None else environ
    try:
        return Settings.model_validate({name: source[name] for name in Settings.model_fields if name in source})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors(include_url=False)
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None
