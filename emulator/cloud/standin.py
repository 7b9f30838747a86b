"""A local stand-in of the control-plane APIs `make deploy` calls: SCF, CAM, CLS, Cloud Monitor and region.

For testing the deploy tool with the real tccli: an HTTPS server (tccli's SDK only speaks HTTPS, verifying
against its certifi bundle) that verifies every TC3 signature like the real services, dispatches on the
signed service and `X-TC-Action`, keeps state across calls and answers in the published examples' shapes.
Tencent's own definitions judge every request and answer (emulator/cloud/definitions.py, tccli's api.json):
a request is refused as the real API refuses it, and an answer the output object does not describe is a
defect of this stand-in (HTTP 500, or `StandInDefect` in-process).

Each service's actions live in its module (cam.py, scf.py, cls.py, monitor.py, region.py) over one shared
state (state.py). State follows the services' rules that matter to a deploy: names are unique, a function
is `Creating` or `Updating` for a few reads after a change and refuses changes until `Active`, only one
Function URL per function, a trigger is found on the qualifier it lives on, deleting what does not exist is
an error. SCF and CLS are regional (each request's `X-TC-Region` picks the region's state); CAM and Cloud
Monitor belong to the account. Resources keep the `Tags` they were created with and answer them back. Every
Describe and List call answers at most `PAGE_LIMIT` items a page, whatever the caller asks, so a caller that
does not page misses items. `fail()` makes an action fail N times (a step that breaks half way). Local only:
never deployed.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from emulator.cloud import definitions
from emulator.cloud.cam import Cam
from emulator.cloud.cls import Cls
from emulator.cloud.monitor import Monitor
from emulator.cloud.region import Region
from emulator.cloud.scf import Scf
from emulator.cloud.state import DEFAULT_REGION, SCF_REGIONS, Call, Failure, FunctionState
from emulator.server import PERMANENT_KEY
from emulator.signing import ApiError, KeyPair, verify_tc3


class StandInDefect(AssertionError):
    """An answer of the stand-in's that Tencent's definitions do not allow: a bug here, never the caller's."""


class CloudStandIn(Scf, Cam, Cls, Monitor, Region):
    """`start()` / `stop()`; `endpoint` is `127.0.0.1:<port>` (tccli's `--endpoint`).

    `functions`, `logsets`, `topics`, ... are the default region's (ap-guangzhou); `region(name)` any other's.
    """

    def __init__(
        self,
        cert: Path | None = None,
        key: Path | None = None,
        keys: tuple[KeyPair, ...] = (PERMANENT_KEY,),
        reads_until_active: int = 2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(reads_until_active)
        self._keys = {pair.secret_id: pair for pair in keys}
        self.clock = clock
        self.calls: list[Call] = []
        self._failures: list[Failure] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.cloud = self
        if cert is not None:  # without a certificate: in-process use only (`dispatch`), never served to tccli
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    # ---- the default region's state ---------------------------------------------------------------

    @property
    def functions(self) -> dict[tuple[str, str], FunctionState]:
        return self.region(DEFAULT_REGION).functions

    @property
    def logsets(self) -> dict[str, dict[str, Any]]:
        return self.region(DEFAULT_REGION).logsets

    @property
    def topics(self) -> dict[str, dict[str, Any]]:
        return self.region(DEFAULT_REGION).topics

    @property
    def indexes(self) -> dict[str, dict[str, Any]]:
        return self.region(DEFAULT_REGION).indexes

    @property
    def notices(self) -> dict[str, dict[str, Any]]:
        return self.region(DEFAULT_REGION).notices

    @property
    def alarms(self) -> dict[str, dict[str, Any]]:
        return self.region(DEFAULT_REGION).alarms

    @property
    def dashboards(self) -> dict[str, dict[str, Any]]:
        return self.region(DEFAULT_REGION).dashboards

    # ---- control -------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> CloudStandIn:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, action: str, code: str, message: str = "injected failure", times: int = 1) -> None:
        with self._lock:
            self._failures.append(Failure(action, code, message, times))

    def actions(self, since: int = 0) -> list[str]:
        return [call.action for call in self.calls[since:]]

    # ---- one API call ----------------------------------------------------------------------------

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one request, as the real API answers (errors are HTTP 200)."""
        request_id = str(uuid.uuid4())
        try:
            if headers.get("content-type", "").split(";")[0] != "application/json":
                raise ApiError("InvalidParameter", "Content-Type must be application/json")
            _, service = verify_tc3("POST", headers, body, self._keys, self.clock())
            action = headers.get("x-tc-action", "")
            if service not in definitions.SERVICES or headers.get("x-tc-version") != definitions.version(service):
                raise ApiError("NoSuchVersion", f"{service} does not serve version {headers.get('x-tc-version')}")
            params = json.loads(body or b"{}")
            result = self.dispatch(service, action, params, headers.get("x-tc-region") or DEFAULT_REGION)
        except ApiError as exc:
            return 200, {"Response": {"Error": {"Code": exc.code, "Message": exc.message}, "RequestId": request_id}}
        except StandInDefect as exc:
            return 500, {"error": str(exc)}
        return 200, {"Response": {**result, "RequestId": request_id}}

    def dispatch(
        self, service: str, action: str, params: dict[str, Any], region: str = DEFAULT_REGION
    ) -> dict[str, Any]:
        """The action's result, or ApiError: what `answer` does after the transport, callable in-process."""
        definitions.check_request(service, action, params)
        handler = getattr(self, f"_{service}_{action}", None)
        if handler is None:
            raise ApiError("InternalError", f"this stand-in does not implement {service} {action}")
        if service in ("scf", "cls") and region not in SCF_REGIONS:
            raise ApiError("UnsupportedRegion", f"{service} is not served in {region}")
        with self._lock:
            self.calls.append(Call(service, action, params, region))
            self._r = self.region(region)
            for failure in self._failures:
                if failure.action == action:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    raise ApiError(failure.code, failure.message)
            try:
                result: dict[str, Any] = definitions.complete(service, action, handler(params))
            except KeyError as exc:
                # A member the model marks optional that the service needs all the same (GetFunction's FunctionName).
                raise ApiError("MissingParameter", f"{action}: the request is missing `{exc.args[0]}`") from None
        problems = definitions.check_answer(service, action, result)
        if problems:
            raise StandInDefect(f"{service} {action} answered what its output object does not allow: {problems}")
        return result


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    cloud: CloudStandIn


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, answer = self.server.cloud.answer(headers, body)
        data = json.dumps(answer).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
