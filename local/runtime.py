"""What `make invoke`, `make serve` and `make backfill` share: the function's environment as SCF would
set it (from template.yaml), and the SMS API they talk to (the embedded emulator, one you run, or the real one)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sms_conversion import transport
from sms_conversion.settings import ConfigurationError, Endpoint, check_against_limit, load_settings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
ROLE_VARIABLES = ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN")
SAMPLE_APP_IDS = ("1400006666", "1400000001")


def function_from_template(path: Path = TEMPLATE) -> tuple[str, str, dict[str, Any]]:
    """(namespace, function name, properties) of the first function in a TCSAM template."""
    template = yaml.safe_load(path.read_text(encoding="utf-8"))
    for namespace, resources in (template.get("Resources") or {}).items():
        if not isinstance(resources, dict):
            continue
        for name, resource in resources.items():
            if isinstance(resource, dict) and resource.get("Type") == "TencentCloud::Serverless::Function":
                return namespace, name, resource.get("Properties") or {}
    raise SystemExit(f"{path}: no TencentCloud::Serverless::Function found")


@dataclass
class Target:
    """The SMS API this run talks to, and the function's identity as SCF would pass it."""

    description: str
    namespace: str
    name: str
    properties: dict[str, Any]
    emulator: Any = None

    def context(self) -> dict[str, Any]:
        timeout = int(self.properties.get("Timeout") or 3)
        return {
            "request_id": str(uuid.uuid4()),
            "time_limit_in_ms": timeout * 1000,
            "memory_limit_in_mb": int(self.properties.get("MemorySize") or 128),
            "function_name": self.name,
            "function_version": "$LATEST",
            "namespace": self.namespace,
            "tencentcloud_region": os.environ.get("SMS_REGION", "ap-guangzhou"),
            "tencentcloud_appid": "1250000000",
            "tencentcloud_uin": "100000000001",
        }

    def close(self) -> int:
        """Stop the embedded emulator; the number of reports it accepted (0 without one)."""
        if self.emulator is None:
            return 0
        accepted = len(self.emulator.reports)
        self.emulator.stop()
        self.emulator = None
        return accepted


class Refused(Exception):
    """A setting the function would refuse, or read otherwise than meant: one line, and the runner does not start.
    The text names variables, never their values (a mistyped variable may hold a secret)."""


def prepare(real: bool, template: Path = TEMPLATE) -> Target:
    """Set the process environment as SCF would, check it as the function will, and choose the API.

    - `real`: the real SMS API with your own credentials (local variables or profile file);
    - `SMS_ENDPOINT` from your shell: used as the function would read it (a host without a scheme is https://),
      with the emulator's test keys; a loopback host without a scheme, or the real API without `real`, is refused
      with the line to write instead;
    - otherwise an emulator embedded in this process.
    Variables already set in your shell win over template.yaml's. Raises Refused where the function would answer
    500 (misconfigured) to every request.
    """
    namespace, name, properties = function_from_template(template)
    external = os.environ.get("SMS_ENDPOINT", "").strip()
    variables = ((properties.get("Environment") or {}).get("Variables")) or {}
    for key, value in variables.items():
        os.environ.setdefault(str(key), "" if value is None else str(value))
    check_configuration(os.environ, float(properties.get("Timeout") or 3))
    if real:
        # Never send emulator keys to the real API, and never a role left in the shell.
        for variable in ROLE_VARIABLES:
            os.environ.pop(variable, None)
        endpoint = Endpoint.parse(os.environ["SMS_ENDPOINT"])
        kind = "the SMS API at" if _is_loopback(endpoint) else "the REAL SMS API at"
        return _with_usable_proxy(Target(f"{kind} {endpoint!r}", namespace, name, properties))
    from emulator import TEMPORARY_KEY, SmsEmulator

    emulator = None
    if external:
        description = f"{_shell_endpoint(external)} (SMS_ENDPOINT from your shell)"
    else:
        emulator = SmsEmulator().start()
        os.environ["SMS_ENDPOINT"] = emulator.endpoint
        description = f"the SMS emulator at {emulator.endpoint}"
    # What SCF does with the execution role: temporary keys in these three variables.
    os.environ["TENCENTCLOUD_SECRETID"] = TEMPORARY_KEY.secret_id
    os.environ["TENCENTCLOUD_SECRETKEY"] = TEMPORARY_KEY.secret_key
    os.environ["TENCENTCLOUD_SESSIONTOKEN"] = TEMPORARY_KEY.token or ""
    return _with_usable_proxy(Target(description, namespace, name, properties, emulator))


def _with_usable_proxy(target: Target) -> Target:
    """The target, or Refused (its emulator stopped) when the proxy for its endpoint is one the function refuses."""
    endpoint = Endpoint.parse(os.environ["SMS_ENDPOINT"])
    try:
        transport.check_proxy(endpoint.host, endpoint.protocol == "http")
    except ConfigurationError as exc:
        target.close()
        raise Refused(f"{exc} (the function would answer 500, misconfigured, to every request)") from None
    return target


def check_configuration(environ: Mapping[str, str], time_limit: float) -> None:
    """Refused where the function, given these variables and this time limit, would answer 500 to everything."""
    try:
        check_against_limit(load_settings(environ), time_limit)
    except ConfigurationError as exc:
        raise Refused(f"{exc} (the function would answer 500, misconfigured, to every request)") from None


def _shell_endpoint(value: str) -> str:
    """What an SMS_ENDPOINT from the shell reaches, as the function reads it; Refused where that cannot be meant."""
    try:
        endpoint = Endpoint.parse(value)
    except ValueError as exc:
        raise Refused(f"SMS_ENDPOINT: {exc}") from None
    if not _is_loopback(endpoint):
        raise Refused(
            f"SMS_ENDPOINT={value} is not on this machine: add REAL=1 to call it with your own credentials, "
            "or unset SMS_ENDPOINT for the embedded emulator"
        )
    if "://" not in value:
        raise Refused(
            f"SMS_ENDPOINT={value} is read as https://{endpoint.host} (a host without a scheme is https://, as the "
            f"function reads it); for the emulator write SMS_ENDPOINT=http://{endpoint.host}"
        )
    kind = "the SMS emulator you run at" if endpoint.protocol == "http" else "the SMS API at"
    return f"{kind} {endpoint!r}"


def _is_loopback(endpoint: Endpoint) -> bool:
    host = endpoint.host.rsplit(":", 1)[0] if not endpoint.host.startswith("[") else endpoint.host.split("]")[0] + "]"
    return host.startswith("127.") or host in ("localhost", "[::1]")


def import_handler() -> Any:
    """`index.main_handler`, imported as SCF imports it (the project's install maps `index` to src/index.py)."""
    import index

    return index.main_handler
