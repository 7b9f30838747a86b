"""tccli: every call the tool makes goes through it (or through the stand-in the tests pass in)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Protocol

# Where request files live while tccli reads them.
REQUESTS = Path(__file__).resolve().parents[2] / "build" / "deploy"


class DeployError(Exception):
    """One line for the operator: what failed, and what the API said."""


class CloudError(DeployError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def not_found(self) -> bool:
        """Only an answer that means "no such resource": whole code segments, never a substring such as the
        `NotFound` inside `AuthFailure.SecretIdNotFound`."""
        segments = self.code.split(".")
        if segments[0] in ("AuthFailure", "UnauthorizedOperation", "OperationDenied"):
            return False
        return segments[0] == "ResourceNotFound" or any(segment.endswith("NotExist") for segment in segments[1:])

    def advice(self) -> str | None:
        """What to fix when the caller, not the resource, is the problem."""
        if self.code.startswith("AuthFailure"):
            return (
                f"tccli's credentials were refused ({self.code}): run `tccli configure` with a key of this account "
                "(or export TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY), then run the same command again"
            )
        if (
            self.code.startswith(("UnauthorizedOperation", "OperationDenied.NoPermission"))
            or self.code == "AuthFailure"
        ):
            return (
                f"tccli's key lacks a right ({self.code}: {self.message}): attach deploy/deployer-policy.json to the "
                "user or role whose key tccli uses"
            )
        if self.code in ("TccliNotRunnable", "TccliFailed", "Timeout", "TccliOutput"):
            return f"tccli could not ask the API ({self.code}: {self.message}): check tccli, the network and any proxy"
        return None


class Cloud(Protocol):
    def call(self, service: str, action: str, params: dict[str, Any], region: str | None = None) -> dict[str, Any]: ...


_TCCLI_ERROR = re.compile(r"code:(?P<code>\S+) message:(?P<message>.*?)(?: requestId:\S*)?$", re.S)


class Tccli:
    """Every call through the real tccli: `tccli <service> <Action> --cli-input-json file://<0600 file>`."""

    def __init__(self, binary: str, region: str, endpoint: str | None, workdir: Path = REQUESTS) -> None:
        self.binary = binary
        self.region = region
        self.endpoint = endpoint
        self.workdir = workdir

    def call(self, service: str, action: str, params: dict[str, Any], region: str | None = None) -> dict[str, Any]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # The process id in the name: a second deploy running at once never takes this file for a stale one.
        handle, name = tempfile.mkstemp(prefix=f"{action}-{os.getpid()}-", suffix=".json", dir=self.workdir)
        try:
            # mkstemp creates the file 0600: it may hold the zip, the signing secret, the push token.
            with os.fdopen(handle, "w") as out:
                json.dump(params, out)
            argv = [
                self.binary,
                service,
                action,
                "--region",
                region or self.region,
                "--cli-input-json",
                f"file://{name}",
            ]
            if self.endpoint:
                argv[3:3] = ["--endpoint", self.endpoint]
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
            except subprocess.TimeoutExpired:
                raise CloudError("Timeout", f"tccli {service} {action} did not answer within 300 s") from None
            except OSError as exc:
                raise CloudError("TccliNotRunnable", f"{self.binary}: {exc.strerror or type(exc).__name__}") from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(name)
        if done.returncode != 0:
            text = (done.stdout + done.stderr).strip()
            match = _TCCLI_ERROR.search(text.splitlines()[-1] if text else "")
            if match:
                raise CloudError(match["code"], match["message"].strip())
            raise CloudError("TccliFailed", text.splitlines()[-1] if text else f"exit status {done.returncode}")
        try:
            answer = json.loads(done.stdout or "{}")
        except ValueError:
            raise CloudError("TccliOutput", "tccli did not print JSON") from None
        return answer if isinstance(answer, dict) else {}


def remove_stale_requests(directory: Path) -> None:
    """A run killed with SIGKILL leaves the one request file tccli had open (it may hold a secret): gone now.
    Only a dead process's: another deploy running at once (staging and production together) keeps its own."""
    for stale in directory.glob("*.json") if directory.is_dir() else []:
        parts = stale.name.split("-")
        owner = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
        if owner is not None and owner != os.getpid() and _alive(owner):
            continue
        stale.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Unreachable:
    """The cloud when there is no tccli: every call says why (a dry run then plans without it)."""

    def __init__(self, why: str) -> None:
        self.why = why

    def call(self, service: str, action: str, params: dict[str, Any], region: str | None = None) -> dict[str, Any]:
        raise CloudError("TccliNotRunnable", self.why)
