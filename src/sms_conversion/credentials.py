"""Credentials of the function's execution role, read for every request.

SCF injects the role's temporary keys as TENCENTCLOUD_SECRETID / _SECRETKEY /
_SESSIONTOKEN and may rotate them in a warm instance. The SDK's own
environment provider reads other names and drops the token, and its default
chain can end in an unbounded call to the CVM metadata server, so neither is
used. The SDK calls `get_credential_info()` once per request, which is where
the variables are re-read.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path

SCF_VARIABLES = ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN")
LOCAL_VARIABLES = ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_SESSION_TOKEN")

HOW_TO_FIX = (
    "no Tencent Cloud credentials found: on SCF, give the function an execution role "
    "(Role in template.yaml) that may call sms:ReportConversion; locally, set "
    "TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (plus TENCENTCLOUD_SESSION_TOKEN "
    "for temporary keys) or write them to ~/.tencentcloud/credentials"
)


class MissingCredentialsError(Exception):
    """No credentials anywhere we look. The message says how to fix it and holds no secret."""

    def __init__(self) -> None:
        super().__init__(HOW_TO_FIX)


class RoleCredential:
    """Credential object for the SDK: SCF role variables, then local variables, then the profile file."""

    def __init__(self, environ: Mapping[str, str] | None = None, profile_path: Path | None = None) -> None:
        self._environ = environ if environ is not None else os.environ
        self._profile_path = profile_path if profile_path is not None else Path.home() / ".tencentcloud" / "credentials"
        self._profile_cache: tuple[float, tuple[str, str] | None] | None = None

    def get_credential_info(self) -> tuple[str, str, str | None]:
        for id_name, key_name, token_name in (SCF_VARIABLES, LOCAL_VARIABLES):
            secret_id = self._environ.get(id_name, "").strip()
            secret_key = self._environ.get(key_name, "").strip()
            if secret_id and secret_key:
                return secret_id, secret_key, self._environ.get(token_name, "").strip() or None
        profile = self._read_profile()
        if profile is not None:
            return profile[0], profile[1], None
        raise MissingCredentialsError()

    def _read_profile(self) -> tuple[str, str] | None:
        try:
            mtime = self._profile_path.stat().st_mtime
        except OSError:
            return None
        if self._profile_cache is not None and self._profile_cache[0] == mtime:
            return self._profile_cache[1]
        parser = configparser.ConfigParser()
        try:
            parser.read(self._profile_path, encoding="utf-8")
            secret_id = parser.get("default", "secret_id", fallback="").strip()
            secret_key = parser.get("default", "secret_key", fallback="").strip()
        except (configparser.Error, UnicodeDecodeError):
            secret_id = secret_key = ""
        found = (secret_id, secret_key) if secret_id and secret_key else None
        self._profile_cache = (mtime, found)
        return found

    def __repr__(self) -> str:
        # Never let a debugger, log or traceback print the keys.
        return "RoleCredential(<redacted>)"
