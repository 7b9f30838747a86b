"""`make call`: sign and post one request; a missing URL, a refused connection or a timeout is one line, never a
traceback; any BODY reaches the server unharmed by the shell, and BODY_FILE sends a file's bytes."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFIG_VARIABLES, ROOT, free_port

import local.call
from sms_conversion.auth import sign

SECRET = "call-test-secret-0001"


class Recorder(HTTPServer):
    requests: list[tuple[dict[str, str], bytes]]
    status: int
    delay: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.server.delay.wait(5)
        answer = json.dumps({"ok": True}).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def server() -> Iterator[Recorder]:
    recorder = Recorder(("127.0.0.1", 0), _Handler)
    recorder.requests, recorder.status, recorder.delay = [], 200, threading.Event()
    recorder.delay.set()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    yield recorder
    recorder.delay.set()
    recorder.shutdown()
    recorder.server_close()


def url_of(server: Recorder) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/"


def test_a_signed_call_carries_a_signature_over_the_exact_body_and_says_so(
    server: Recorder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REPORT_SIGNING_SECRET", SECRET)
    assert local.call.main([url_of(server), '{"SerialNo": "5000:call-1"}']) == 0
    [(headers, body)] = server.requests
    assert body == b'{"SerialNo": "5000:call-1"}'
    assert headers["x-signature"] == sign(SECRET, headers["x-timestamp"], body)
    captured = capsys.readouterr()
    assert "# signed with REPORT_SIGNING_SECRET" in captured.err
    assert json.loads(captured.out) == {"ok": True}


def test_an_unsigned_call_says_it_is_unsigned(
    server: Recorder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("REPORT_SIGNING_SECRET", raising=False)
    assert local.call.main([url_of(server), "{}"]) == 0
    assert "x-signature" not in server.requests[0][0]
    assert "sending the request unsigned" in capsys.readouterr().err


def test_a_non_2xx_answer_exits_1(server: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    server.status = 401
    assert local.call.main([url_of(server), "{}"]) == 1
    assert "# HTTP 401" in capsys.readouterr().err


def test_body_file_sends_the_files_bytes(server: Recorder, tmp_path: Path) -> None:
    path = tmp_path / "conversion.json"
    path.write_bytes(b'{"SerialNo": "5000:file", "note": "it\'s \xe2\x9c\x93"}\n')
    assert local.call.main([url_of(server), "--body-file", str(path)]) == 0
    assert server.requests[0][1] == path.read_bytes()


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        ([], "make call: no URL: make call URL=http://127.0.0.1:8000/ BODY='{...}' (make serve prints its URL)"),
        (["ftp://example/", "{}"], "make call: URL 'ftp://example/' is not an http:// or https:// URL"),
        (["http://127.0.0.1:8000/"], "make call: no body: give BODY='{...}' or BODY_FILE=path"),
        (["http://127.0.0.1:8000/", "--body-file", "/nonexistent/b.json"], "make call: cannot read BODY_FILE"),
    ],
)
def test_what_is_missing_is_one_line_and_exit_2(argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert local.call.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(line)
    assert not any("Traceback" in entry for entry in err)


def test_a_refused_connection_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    assert local.call.main([url, "{}"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"make call: nothing listens at {url} (connection refused): is make serve running?"
    )


def test_a_timeout_is_one_line(server: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    server.delay.clear()
    with pytest.raises(local.call.CannotAsk, match=r"did not answer within 0.2 s"):
        local.call.post(url_of(server), b"{}", {}, timeout=0.2)


def test_make_call_passes_a_body_with_quotes_and_dollars_unharmed(server: Recorder, tmp_path: Path) -> None:
    """Through make and the shell, as typed: BODY reaches the program through the environment."""
    body = """{"SerialNo": "5000:it's-$HOME-`id`-\\"q\\""}"""
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
    done = subprocess.run(
        ["make", "-s", "call", f"URL={url_of(server)}", f"BODY={body}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert server.requests[0][1] == body.encode()
