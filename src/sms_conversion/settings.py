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

import difflib
import os
import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_ENDPOINT = "sms.tencentcloudapi.com"
# Tencent Cloud's API regions, as the SMS API's "Request Structure" page (product 382/40465) and every API 3.0
# product's list them, with the financial zones. A name outside it is a typo that every call would pay for with
# UnsupportedRegion; which of them SMS serves, and at which site, is the API's to answer (and `make deploy`'s
# endpoint check: tools/stack.py).
TENCENT_REGIONS = (
    "ap-guangzhou", "ap-shanghai", "ap-beijing", "ap-nanjing", "ap-chengdu", "ap-chongqing", "ap-hongkong",
    "ap-singapore", "ap-bangkok", "ap-jakarta", "ap-mumbai", "ap-seoul", "ap-tokyo", "na-ashburn",
    "na-siliconvalley", "na-toronto", "eu-frankfurt", "eu-moscow", "sa-saopaulo", "ap-shanghai-fsi",
    "ap-shenzhen-fsi", "ap-beijing-fsi",
)  # fmt: skip
MIN_SECRET_LENGTH = 16
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
    SMS_FLEET_MAX_RPS: int | None = Field(default=None, ge=1, le=100_000)
    SMS_LANGUAGE: Literal["en-US", "zh-CN"] = "en-US"
    IDEMPOTENCY_TTL_SECONDS: int = Field(default=86400, ge=0, le=30 * 86400)
    REDIS_URL: str | None = Field(default=None, repr=False)  # may carry a password
    REDIS_TIMEOUT_SECONDS: float = Field(default=0.5, gt=0, le=10)
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    REPORT_SIGNING_SECRET: str | None = Field(default=None, repr=False)
    CMQ_PUSH_TOKEN: str | None = Field(default=None, repr=False)
    SMS_ALLOWED_SDK_APP_IDS: str | None = None

    @field_validator(
        "SMS_SDK_APP_ID",
        "REDIS_URL",
        "REPORT_SIGNING_SECRET",
        "CMQ_PUSH_TOKEN",
        "SMS_ALLOWED_SDK_APP_IDS",
        "SMS_FLEET_MAX_RPS",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # template.yaml ships empty placeholders; an empty variable means "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("SMS_REGION")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in TENCENT_REGIONS:
            close = difflib.get_close_matches(value, TENCENT_REGIONS, n=1)
            suggestion = f" (did you mean {close[0]}?)" if close else " (such as ap-guangzhou, or ap-singapore)"
            raise ValueError(f"is not a Tencent Cloud region{suggestion}")
        return value

    @field_validator("SMS_ENDPOINT")
    @classmethod
    def _valid_endpoint(cls, value: str) -> str:
        Endpoint.parse(value)
        return value.strip()

    @field_validator("REDIS_URL")
    @classmethod
    def _valid_redis_url(cls, value: str | None) -> str | None:
        if value is not None:
            check_redis_url(value)
        return value

    @field_validator("REPORT_SIGNING_SECRET")
    @classmethod
    def _strong_secrets(cls, value: str | None) -> str | None:
        if value is not None and any(len(secret) < MIN_SECRET_LENGTH for secret in _split(value)):
            raise ValueError(f"each comma-separated secret must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @field_validator("CMQ_PUSH_TOKEN")
    @classmethod
    def _strong_token(cls, value: str | None) -> str | None:
        if value is not None and (len(value.strip()) < MIN_SECRET_LENGTH or not value.strip().isascii()):
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} ASCII characters (it travels in a URL)")
        return value.strip() if value is not None else None

    @field_validator("SMS_ALLOWED_SDK_APP_IDS")
    @classmethod
    def _app_id_list(cls, value: str | None) -> str | None:
        if value is not None and not all(re.fullmatch(r"[0-9]{1,20}", item) for item in _split(value)):
            raise ValueError('must be app ids of 1 to 20 digits separated by commas, e.g. "1400006666,1400000001"')
        return value

    @model_validator(mode="after")
    def _fleet_limit_needs_redis(self) -> Settings:
        if self.SMS_FLEET_MAX_RPS is not None and self.REDIS_URL is None:
            raise ValueError("SMS_FLEET_MAX_RPS needs REDIS_URL: the fleet's calls are counted in Redis")
        return self

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint.parse(self.SMS_ENDPOINT)

    @property
    def signing_secrets(self) -> tuple[str, ...]:
        return _split(self.REPORT_SIGNING_SECRET)

    @property
    def allowed_app_ids(self) -> frozenset[str] | None:
        """None when every app id is allowed."""
        return frozenset(_split(self.SMS_ALLOWED_SDK_APP_IDS)) if self.SMS_ALLOWED_SDK_APP_IDS else None


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def check_redis_url(value: str) -> None:
    """Raise ValueError, never quoting the URL: it may carry a password."""
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for a port that is not a number in range
        host = parts.hostname
    except ValueError:
        raise ValueError(
            "is not a valid Redis URL (is the port a number? is a '/' or '@' in the password percent-encoded?)"
        ) from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError("must start with redis://, rediss:// or unix://")
    if parts.query:
        # redis-py lets URL options override the client's own (protocol=3 would bring back HELLO).
        raise ValueError("takes no ?options: REDIS_TIMEOUT_SECONDS sets the timeout, and the protocol is RESP2")
    if parts.username:
        # redis-py sends a user name as `AUTH <user> <password>`, the ACL form TencentDB for Redis refuses; its
        # accounts travel inside the password (connection guide, product 239/135926; accounts, 239/34590).
        raise ValueError(
            "a user name before ':' is sent as AUTH <user> <password>, which TencentDB for Redis refuses; put the "
            "account in the password: redis://:<account>%40<password>@host:6379/0 (a custom account) or "
            "redis://:<password>@host:6379/0"
        )
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError("a unix:// URL needs the socket's path")
        return
    if not host:
        raise ValueError("needs a host, as in redis://host:6379/0")
    if port == 0:
        raise ValueError("needs a port from 1 to 65535")
    if not re.fullmatch(r"/?(\d{1,5})?", parts.path):
        raise ValueError(
            "the path must be a database number, as in redis://host:6379/0 "
            "(is a '/' in the password percent-encoded as %2F?)"
        )


def check_against_limit(settings: Settings, limit: float) -> None:
    """What the settings must be against the function's time limit (seconds); ConfigurationError otherwise."""
    if settings.REDIS_URL and limit < settings.REDIS_TIMEOUT_SECONDS * 2:
        raise ConfigurationError(
            "invalid configuration: REDIS_TIMEOUT_SECONDS: must be at most half the function's time limit "
            f"({limit:g} s), or a silent Redis would outlast the invocation"
        )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `environ` (the process environment by default).

    A bad value names its variable, never its value: a mistyped variable may hold a secret.
    """
    source = os.environ if environ is None else environ
    try:
        return Settings.model_validate({name: source[name] for name in Settings.model_fields if name in source})
    except ValidationError as exc:
        problems = "; ".join(
            ": ".join(filter(None, [".".join(map(str, error["loc"])), error["msg"].removeprefix("Value error, ")]))
            for error in exc.errors(include_url=False)
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None
