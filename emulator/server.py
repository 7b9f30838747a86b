"""A local emulator of the Tencent Cloud SMS API's ReportConversion action.

It answers as the real service does, so the official SDK can be driven against
it over real HTTP: TC3-HMAC-SHA256 signatures are verified (timestamp window,
credential scope, secret id, signature, `X-TC-Token` for temporary keys), the
action, version and region are checked, and every answer is HTTP 200 with
`Content-Type: application/json` exactly (the SDK ignores error bodies under
any other content type). Faults can be injected per call.

Local only: this is never deployed (it lives outside `src/`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .signing import ApiError as _ApiError
from .signing import KeyPair, verify_tc3

ACTION = "ReportConversion"
VERSION = "2021-01-11"
SERVICE = "sms"
REGIONS = frozenset(
    {"ap-guangzhou", "ap-beijing", "ap-nanjing", "ap-shanghai", "ap-chengdu", "ap-hongkong", "ap-singapore"}
)
DEFAULT_APP_IDS = frozenset({"1400006666", "1400000001"})
# Well-known test keys: not secrets, they only open this emulator.
PERMANENT_KEY = KeyPair("AKIDEMULATOR00PERMANENT0000000000001", "emulator-permanent-secret-key-000001")
TEMPORARY_KEY = KeyPair(
    "AKIDEMULATOR00TEMPORARY0000000000001",
    "emulator-temporary-secret-key-000001",
    "emulator-session-token-000001-" + "t" * 40,
)


@dataclass
class Fault:
    """Something to do instead of (or before) answering normally.

    - `error_code`: answer `{"Response": {"Error": ...}}` with this code;
    - `http_status`: answer this HTTP status with a plain body;
    - `drop`: close the connection without answering;
    - `status_code`: a ReportConversionStatus.Code other than "ok";
    - `content_type`: answer an error under this Content-Type (the SDK trap);
    - `latency`: seconds to wait first (alone, or before any of the above);
    - `trickle`: send the headers, then the body one byte every `trickle` seconds;
    - `raw_body`: answer HTTP 200 `application/json` with exactly this text (an odd upstream answer).
    `serial_no` restricts the fault to one SerialNo; `times` is how many calls it hits.
    """

    error_code: str | None = None
    error_message: str = "injected fault"
    http_status: int | None = None
    drop: bool = False
    status_code: str | None = None
    content_type: str | None = None
    latency: float = 0.0
    trickle: float = 0.0
    raw_body: str | None = None
    serial_no: str | None = None
    times: int = 1

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


@dataclass
class Account:
    """What the account behind the keys may do, as the real service decides it (not injected per call).

    - `denied`: secret ids whose CAM policy lacks `sms:ReportConversion` (AuthFailure.UnauthorizedOperation);
    - `allowlisted`: False until SMS support enables ReportConversion (UnauthorizedOperation.RequestPermissionDeny);
    - `in_arrears`: the account owes money (UnauthorizedOperation.ServiceSuspendDueToArrears);
    - `disabled_app_ids`: apps switched off in the console (UnauthorizedOperation.SdkAppIdIsDisabled).
    """

    denied: set[str] = field(default_factory=set)
    allowlisted: bool = True
    in_arrears: bool = False
    disabled_app_ids: set[str] = field(default_factory=set)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Account:
        return cls(
            denied=set(data.get("denied", [])),
            allowlisted=bool(data.get("allowlisted", True)),
            in_arrears=bool(data.get("in_arrears", False)),
            disabled_app_ids=set(data.get("disabled_app_ids", [])),
        )


@dataclass
class Stats:
    requests: int = 0
    connections: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    reports: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


# (HTTP status, Content-Type, body, seconds between body bytes or 0 to send it at once)
Reply = tuple[int, str, bytes, float]


class SmsEmulator:
    """Run with `start()`/`stop()` or as a context manager; `endpoint` is `http://127.0.0.1:<port>`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        keys: tuple[KeyPair, ...] = (PERMANENT_KEY, TEMPORARY_KEY),
        app_ids: frozenset[str] = DEFAULT_APP_IDS,
        latency: float = 0.0,
        clock: Any = time.time,
    ) -> None:
        self._keys = {key.secret_id: key for key in keys}
        self.app_ids = set(app_ids)
        self.latency = latency
        self.clock = clock
        self._faults: list[Fault] = []
        self.account = Account()
        # Called once per API request before it is answered (tests move an injected clock with it).
        self.on_request: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self.stats = Stats()
        self._server = _Server((host, port), _Handler)
        self._server.emulator = self
        self._thread: threading.Thread | None = None

    # ---- control -------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SmsEmulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sms-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SmsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def add_key(self, key: KeyPair) -> None:
        with self._lock:
            self._keys[key.secret_id] = key

    def revoke_key(self, secret_id: str) -> None:
        with self._lock:
            self._keys.pop(secret_id, None)

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.account = Account()
            # Calls still being answered (a test's slow call) finish against the new counters.
            self.stats = Stats(in_flight=self.stats.in_flight)

    @property
    def reports(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.stats.reports)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.stats.requests,
                "connections": self.stats.connections,
                "max_in_flight": self.stats.max_in_flight,
                "reports": list(self.stats.reports),
                "rejected": list(self.stats.rejected),
                "pending_faults": len(self._faults),
            }

    # ---- the API -------------------------------------------------------------------

    def _take_fault(self, serial_no: str | None) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.serial_no is None or fault.serial_no == serial_no:
                    fault.times -= 1
                    if fault.times <= 0:
                        del self._faults[index]
                    return fault
        return None

    def _count_connection(self) -> None:
        with self._lock:
            self.stats.connections += 1

    def verify(self, method: str, headers: dict[str, str], body: bytes) -> KeyPair:
        """Check a request's TC3 signature as the real service does; raise _ApiError otherwise."""
        with self._lock:
            keys = dict(self._keys)
        key, _ = verify_tc3(method, headers, body, keys, self.clock(), service=SERVICE)
        return key

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        """Answer one API call: (HTTP status, Content-Type, body, trickle), or None to drop the connection."""
        arrived = time.monotonic()
        hook = self.on_request
        if hook is not None:
            hook()
        with self._lock:
            self.stats.requests += 1
            self.stats.in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        try:
            return self._answer(method, path, headers, body, arrived)
        finally:
            with self._lock:
                self.stats.in_flight -= 1

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes, arrived: float) -> Reply | None:
        request_id = str(uuid.uuid4())
        serial_no: str | None = None
        fault: Fault | None = None
        try:
            if method != "POST" or path != "/":
                raise _ApiError("InvalidParameter", "only POST / is served")
            if headers.get("content-type") != "application/json":
                raise _ApiError("InvalidParameter", "Content-Type must be application/json")
            key = self.verify(method, headers, body)
            if headers.get("x-tc-action") != ACTION:
                raise _ApiError("InvalidAction", f"action {headers.get('x-tc-action')!r} is not served")
            if headers.get("x-tc-version") != VERSION:
                raise _ApiError("NoSuchVersion", f"version must be {VERSION}")
            if headers.get("x-tc-region") not in REGIONS:
                raise _ApiError("UnsupportedRegion", "region not supported")
            self._check_account(key)
            try:
                params = json.loads(body)
            except ValueError:
                raise _ApiError("InvalidParameter", "body is not JSON") from None
            if not isinstance(params, dict):
                raise _ApiError("InvalidParameter", "body must be a JSON object")
            serial_no = params.get("SerialNo") if isinstance(params.get("SerialNo"), str) else None
            fault = self._take_fault(serial_no)
            # Latency is the service time: the emulator's own work counts towards it.
            delay = self.latency + (fault.latency if fault else 0.0) - (time.monotonic() - arrived)
            if delay > 0:
                time.sleep(delay)
            if fault is not None:
                if fault.drop:
                    return None
                if fault.raw_body is not None:
                    return 200, "application/json", fault.raw_body.encode("utf-8"), 0.0
                if fault.http_status is not None:
                    return fault.http_status, "text/html", b"<html><body>injected upstream failure</body></html>", 0.0
                if fault.error_code is not None:
                    raise _ApiError(fault.error_code, fault.error_message)
            self._check_params(params)
            if fault is not None and fault.status_code is not None:
                status = {"Code": fault.status_code, "Message": fault.error_message}
            else:
                status = {"Code": "ok", "Message": "report success"}
                with self._lock:
                    self.stats.reports.append(
                        {
                            "SmsSdkAppId": params["SmsSdkAppId"],
                            "SerialNo": params["SerialNo"],
                            "ConversionTime": params.get("ConversionTime"),
                            "SecretId": key.secret_id,
                            "Region": headers.get("x-tc-region"),
                            "RequestId": request_id,
                            # When the call arrived, on this process's monotonic clock (for rate checks).
                            "ArrivedAt": arrived,
                        }
                    )
            payload = {"Response": {"ReportConversionStatus": status, "RequestId": request_id}}
            content_type = "application/json"
        except _ApiError as exc:
            with self._lock:
                self.stats.rejected.append({"Code": exc.code, "SerialNo": serial_no})
            payload = {"Response": {"Error": {"Code": exc.code, "Message": exc.message}, "RequestId": request_id}}
            content_type = fault.content_type if fault is not None and fault.content_type else "application/json"
        return 200, content_type, json.dumps(payload).encode("utf-8"), fault.trickle if fault is not None else 0.0

    def _check_account(self, key: KeyPair) -> None:
        account = self.account
        if key.secret_id in account.denied:
            message = "you are not authorized to perform operation (sms:ReportConversion)"
            raise _ApiError("AuthFailure.UnauthorizedOperation", message)
        if not account.allowlisted:
            raise _ApiError("UnauthorizedOperation.RequestPermissionDeny", "ReportConversion is not enabled for you")
        if account.in_arrears:
            raise _ApiError("UnauthorizedOperation.ServiceSuspendDueToArrears", "service suspended due to arrears")

    def _check_params(self, params: dict[str, Any]) -> None:
        for name in params:
            if name not in ("SmsSdkAppId", "SerialNo", "ConversionTime"):
                raise _ApiError("UnknownParameter", f"unknown parameter {name}")
        app_id = params.get("SmsSdkAppId")
        if app_id is None:
            raise _ApiError("MissingParameter", "SmsSdkAppId is required")
        if not isinstance(app_id, str):
            raise _ApiError("InvalidParameterValue", "SmsSdkAppId must be a string")
        serial_no = params.get("SerialNo")
        if serial_no is None:
            raise _ApiError("MissingParameter", "SerialNo is required")
        if not isinstance(serial_no, str) or not serial_no:
            raise _ApiError("InvalidParameterValue", "SerialNo must be a non-empty string")
        conversion_time = params.get("ConversionTime")
        if conversion_time is not None and (isinstance(conversion_time, bool) or not isinstance(conversion_time, int)):
            raise _ApiError("InvalidParameterValue", "ConversionTime must be an integer")
        if app_id in self.account.disabled_app_ids:
            raise _ApiError("UnauthorizedOperation.SdkAppIdIsDisabled", "this SdkAppId is disabled")
        if app_id not in self.app_ids:
            raise _ApiError(
                "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
                "SmsSdkAppId does not belong to the account of this key",
            )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    emulator: SmsEmulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # http.server writes headers and body separately: without TCP_NODELAY,
        # Nagle's algorithm and delayed ACKs add ~40 ms to every call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.emulator._count_connection()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        if self.path == "/_emulator/stats":
            self._send(200, "application/json", json.dumps(self.server.emulator.snapshot()).encode())
        else:
            self._api("GET")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        emulator = self.server.emulator
        if self.path == "/_emulator/faults":
            faults = json.loads(body or b"[]")
            emulator.inject(*(Fault.from_json(item) for item in (faults if isinstance(faults, list) else [faults])))
            self._send(204, "application/json", b"")
            return
        if self.path == "/_emulator/account":
            emulator.account = Account.from_json(json.loads(body or b"{}"))
            self._send(204, "application/json", b"")
            return
        if self.path == "/_emulator/reset":
            emulator.reset()
            self._send(204, "application/json", b"")
            return
        self._api("POST", body)

    def _api(self, method: str, body: bytes = b"") -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.server.emulator.handle(method, self.path, headers, body)
        if answer is None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(*answer)

    def _send(self, status: int, content_type: str, body: bytes, trickle: float = 0.0) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not trickle:
            self.wfile.write(body)
            return
        self.wfile.flush()
        try:
            for index in range(len(body)):
                time.sleep(trickle)
                self.wfile.write(body[index : index + 1])
                self.wfile.flush()
        except OSError:  # the client gave up: what a trickle is for
            self.close_connection = True
