"""Hostile peers for the transport: local servers and proxies that misbehave as real networks, gateways and
middleboxes do, and a count of the client's open sockets to each (the descriptors SCF caps at 1,024)."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

_LOOPBACK = ("0100007F", "0000000000000000FFFF00000100007F")  # 127.0.0.1 as /proc/net/tcp and tcp6 spell it


def sockets_to(port: int) -> set[str]:
    """The inodes of this process's TCP sockets whose peer is 127.0.0.1:`port`, in any state (a socket the
    server closed but we never did sits in CLOSE_WAIT, and still counts)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                address, remote_port = fields[2].rsplit(":", 1)
                if int(remote_port, 16) == port and address in _LOOPBACK and fields[9] in inodes:
                    found.add(fields[9])
    return found


def answer(
    request_id: str = "r-1", headers: bytes = b"", body: bytes | None = None, status: bytes = b"200 OK"
) -> bytes:
    """A ReportConversion answer with a Content-Length, as the API sends it."""
    if body is None:
        body = json.dumps(
            {
                "Response": {
                    "ReportConversionStatus": {"Code": "ok", "Message": "report success"},
                    "RequestId": request_id,
                }
            }
        ).encode()
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n" + headers
        + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip


def api_body(request_id: str = "r-1") -> bytes:
    status = {"Code": "ok", "Message": "report success"}
    return json.dumps({"Response": {"ReportConversionStatus": status, "RequestId": request_id}}).encode()


def gzipped(request_id: str = "r-1") -> bytes:
    return gzip.compress(api_body(request_id))


class Peer:
    """The server's side of one connection."""

    def __init__(self, sock: socket.socket, server: Hostile) -> None:
        self.sock = sock
        self.server = server
        self.buffer = b""

    def tls(self, context: ssl.SSLContext) -> None:
        self.sock = context.wrap_socket(self.sock, server_side=True)

    def request(self) -> bytes | None:
        """One whole request (head and Content-Length body), counted; None when the client closed."""
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buffer += data
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            data = self.sock.recv(65536)
            if not data:
                return None
            rest += data
        self.buffer = rest[length:]
        with self.server.lock:
            self.server.requests += 1
            self.server.seen.append(head)
        return head

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def drip(self, data: bytes, every: float) -> None:
        for index in range(len(data)):
            self.sock.sendall(data[index : index + 1])
            time.sleep(every)

    def reset(self) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    def serve(self, make: Callable[[int], bytes]) -> None:
        """Answer every request on this connection with `make(request number)`."""
        while self.request() is not None:
            self.send(make(self.server.requests))


Script = Callable[[Peer, int], None]


class Hostile:
    """Runs `script(peer, connection number)` for each connection; counts connections and requests."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        # The kernel may hand out a port an earlier test's server had; a client socket of that test not yet
        # collected would still name it as its peer, so only sockets opened from now on are counted.
        self.earlier = sockets_to(self.port)
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = 0
        self.seen: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._run, args=(sock, number), daemon=True).start()

    def _run(self, sock: socket.socket, number: int) -> None:
        peer = Peer(sock, self)
        with contextlib.suppress(OSError, ssl.SSLError):
            self.script(peer, number)
        with contextlib.suppress(OSError):
            peer.sock.close()

    def open_sockets(self) -> int:
        """How many sockets of this process are open to this server (the descriptors SCF caps at 1,024)."""
        return len(sockets_to(self.port) - self.earlier)

    def close(self) -> None:
        self.listener.close()


@contextlib.contextmanager
def hostile(script: Script) -> Iterator[Hostile]:
    server = Hostile(script)
    try:
        yield server
    finally:
        server.close()


def make_certificate(directory: Path, names: str = "IP:127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for `names` (subjectAltName), made with openssl."""
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    assert openssl is not None, "openssl is needed to make a test certificate"
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=test",
         "-addext", f"subjectAltName={names}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key
