"""The unit layer's stand-in for the SMS API: a transport adapter that answers in-process.

The real SDK stays in the path (it builds, signs and parses every request, as
httpx's MockTransport keeps the real client): only the socket is replaced, so
the pipeline, the reporter and the classifier run without the emulator and in
microseconds. Answers are scripted per call; every call is recorded.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from sms_conversion.transport import Headers, Response


@dataclass
class Answer:
    """What one call gets: an error code, a status code other than ok, an HTTP status, or a failure."""

    code: str | None = None
    status_code: str | None = None
    http_status: int | None = None
    failure: type[requests.RequestException] | None = None
    serial_no: str | None = None
    app_id: str | None = None
    times: int | None = None  # None: every matching call
    message: str = "scripted"

    def matches(self, params: dict[str, Any]) -> bool:
        return (self.serial_no is None or params.get("SerialNo") == self.serial_no) and (
            self.app_id is None or params.get("SmsSdkAppId") == self.app_id
        )


class ScriptedApi:
    def __init__(self, on_call: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self._script: list[Answer] = []
        self._lock = threading.Lock()
        self.on_call = on_call

    def script(self, *answers: Answer) -> ScriptedApi:
        with self._lock:
            self._script.extend(answers)
        return self

    @property
    def reported(self) -> list[str]:
        """SerialNo of every call answered "ok", in order."""
        return [call["SerialNo"] for call in self.calls if call.get("_ok")]

    def transport(self, sdk_connection: Any, is_http: bool) -> ScriptedConnection:
        """A `transport.TransportFactory`: the in-process API in the place of the keep-alive connection."""
        return ScriptedConnection(self)

    def _answer_for(self, params: dict[str, Any]) -> Answer | None:
        with self._lock:
            self.calls.append(params)
            for answer in self._script:
                if answer.matches(params):
                    if answer.times is not None:
                        answer.times -= 1
                        if answer.times <= 0:
                            self._script.remove(answer)
                    return answer
        return None


class ScriptedConnection:
    """Where the SDK's request layer sends: answers from the script, as the real connection would."""

    def __init__(self, api: ScriptedApi) -> None:
        self._api = api
        self.timeout = 60.0
        self.budget = 5.0
        self.request_length = 0
        self.last_status: int | None = None
        self.last_failure: BaseException | None = None
        self.last_reused = False
        self.last_resolve_ms: float | None = None

    def close(self) -> None:
        pass

    def request(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Response:
        self.last_status = None
        self.last_failure = None
        raw = body.encode() if isinstance(body, str) else (body or b"")
        params = json.loads(raw or b"{}")
        if self._api.on_call is not None:
            self._api.on_call(params)
        answer = self._api._answer_for(params)
        request_id = str(uuid.uuid4())
        if answer is not None and answer.failure is not None:
            failure = answer.failure("scripted failure")
            self.last_failure = failure
            raise failure
        if answer is not None and answer.http_status is not None:
            response = _response(answer.http_status, "text/html", b"<html>scripted</html>")
        elif answer is not None and answer.code is not None:
            error = {"Error": {"Code": answer.code, "Message": answer.message}, "RequestId": request_id}
            response = _response(200, "application/json", json.dumps({"Response": error}).encode())
        else:
            code = answer.status_code if answer is not None and answer.status_code else "ok"
            params["_ok"] = code == "ok"
            status = {"ReportConversionStatus": {"Code": code, "Message": answer.message if answer else "ok"}}
            response = _response(
                200, "application/json", json.dumps({"Response": {**status, "RequestId": request_id}}).encode()
            )
        self.last_status = response.status_code
        return response


def _response(status: int, content_type: str, body: bytes) -> Response:
    headers = Headers({"content-type": content_type, "content-length": str(len(body))})
    return Response(status, "scripted", headers, body, 11)
