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
from requests.structures import CaseInsensitiveDict

from sms_conversion.transport import BoundedAdapter


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

    def adapter(self) -> BoundedAdapter:
        return _ScriptedAdapter(self)

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


class _ScriptedAdapter(BoundedAdapter):
    def __init__(self, api: ScriptedApi) -> None:
        super().__init__()
        self._api = api

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.last_status = None
        self.last_failure = None
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        params = json.loads(body or b"{}")
        if self._api.on_call is not None:
            self._api.on_call(params)
        answer = self._api._answer_for(params)
        request_id = str(uuid.uuid4())
        if answer is not None and answer.failure is not None:
            failure = answer.failure("scripted failure")
            self.last_failure = failure
            raise failure
        if answer is not None and answer.http_status is not None:
            response = _response(request, answer.http_status, "text/html", b"<html>scripted</html>")
        elif answer is not None and answer.code is not None:
            error = {"Error": {"Code": answer.code, "Message": answer.message}, "RequestId": request_id}
            response = _response(request, 200, "application/json", json.dumps({"Response": error}).encode())
        else:
            code = answer.status_code if answer is not None and answer.status_code else "ok"
            params["_ok"] = code == "ok"
            status = {"ReportConversionStatus": {"Code": code, "Message": answer.message if answer else "ok"}}
            response = _response(
                request, 200, "application/json", json.dumps({"Response": {**status, "RequestId": request_id}}).encode()
            )
        self.last_status = response.status_code
        return response


def _response(request: requests.PreparedRequest, status: int, content_type: str, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers = CaseInsensitiveDict({"Content-Type": content_type, "Content-Length": str(len(body))})
    response._content = body
    response.request = request
    response.url = request.url or ""
    response.encoding = "utf-8"
    return response
