"""A Redis as strict as TencentDB for Redis: a RESP proxy in front of a real redis-server.

It refuses what Tencent's Redis refuses, citing the page each rule comes from, so that duplicate protection and
the fleet limit are tested on the Redis users have, not on a stock Redis 7 that speaks everything:
- RESP3 (`HELLO`): "不支持 RESP3 协议" for 5.0, 6.2 and 7.0, and 4.0/5.0 have no HELLO at all (command
  reference "大版本命令使用差异", product 239/122188). Answered as Redis 5 answers an unknown command.
- ACL: not supported (same page): `ACL ...` and the two-argument `AUTH <user> <password>` are refused; the
  account travels in the password of a one-argument AUTH (239/135926, 239/34590).
- Client-side caching and what came after 7.0: `CLIENT TRACKING | CACHING | SETINFO | ...` (239/122188),
  `CLIENT MAINT_NOTIFICATIONS` (no Redis release has it), `MODULE` (no modules).
- The cluster proxy (239/122026, "Proxy 架构与直连模式的使用差异"): a script must name its keys in KEYS, all in one
  slot; a command over several keys must keep them in one slot.
- The hardened Lua sandbox (global functions refused) is the upstream redis-server 7's own.

Faults make it misbehave as a failing network or server does (`inject`): another reply in place of the real one
(before or after forwarding, so a write can land while its answer lies), a delay, a reply cut half way, a closed
connection, or a refusal to accept at all.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_REFUSED_COMMANDS = frozenset({"HELLO", "ACL", "MODULE", "RESET"})
_REFUSED_CLIENT = frozenset(
    {"TRACKING", "CACHING", "TRACKINGINFO", "GETREDIR", "SETINFO", "NO-EVICT", "NO-TOUCH", "MAINT_NOTIFICATIONS"}
)
_MULTI_KEY = frozenset({"MGET", "MSET", "DEL", "UNLINK", "EXISTS", "RENAME", "SUNION", "SINTER", "SDIFF"})


@dataclass
class RedisFault:
    """What to do to the commands it matches (`command`: the upper-case name; `match`: text an argument holds).

    `reply`: answer these bytes; after forwarding when `forward` (the command takes effect, its answer lies).
    `delay`: seconds before answering. `cut`: forward, send half the reply, close. `close`: close, no answer.
    `times`: how many commands it applies to (None: all of them)."""

    command: str | None = None
    match: str | None = None
    reply: bytes | None = None
    forward: bool = False
    delay: float = 0.0
    cut: bool = False
    close: bool = False
    times: int | None = None
    hits: int = field(default=0, init=False)

    def matches(self, args: list[bytes]) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.command is not None and args[0].decode("latin-1").upper() != self.command:
            return False
        return self.match is None or any(self.match.encode() in arg for arg in args[1:])


class TencentRedis:
    """Listens on 127.0.0.1; `url` reaches it (with `password` when it requires one)."""

    def __init__(self, upstream_port: Callable[[], int], password: str | None = None) -> None:
        """`upstream_port`: asked at each new connection (a restarted redis-server may have moved)."""
        self.upstream_port = upstream_port
        self.password = password
        self.commands: list[list[str]] = []
        self.refused: list[str] = []
        self.faults: list[RedisFault] = []
        self.accepting = True
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, name="tencent-redis", daemon=True).start()

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def inject(self, *faults: RedisFault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
        self.accepting = True

    def names(self) -> list[str]:
        """Every command received, by name (`CLIENT SETINFO` as two words)."""
        with self._lock:
            return [
                " ".join(c[:2]) if c[0] in ("CLIENT", "SCRIPT", "ACL") and len(c) > 1 else c[0] for c in self.commands
            ]

    def drop_connections(self) -> None:
        """Reset every open connection (a failover, a proxy restart)."""
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            _reset(sock)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.drop_connections()

    # ---- serving ----------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.accepting:
                _reset(client)
                continue
            with self._lock:
                self._open.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        reader = client.makefile("rb")
        upstream: socket.socket | None = None
        upstream_reader = None
        authenticated = self.password is None
        try:
            while True:
                args = _read_command(reader)
                if args is None:
                    return
                if not args:
                    continue
                if args == [b"\x00"]:
                    # Not a command (TLS bytes sent to a plain port): Redis answers an error and reads on.
                    client.sendall(b"-ERR unknown command\r\n")
                    continue
                name = args[0].decode("latin-1").upper()
                with self._lock:
                    self.commands.append([name, *(a.decode("latin-1").upper() for a in args[1:2])])
                refusal = self._refusal(name, args, authenticated)
                if name == "AUTH" and refusal is None:
                    authenticated = True
                    client.sendall(b"+OK\r\n")
                    continue
                if refusal is not None:
                    with self._lock:
                        self.refused.append(name)
                    client.sendall(refusal)
                    continue
                fault = self._fault(args)
                if fault is not None and fault.delay:
                    time.sleep(fault.delay)
                if fault is not None and fault.close:
                    _reset(client)
                    return
                if fault is not None and fault.reply is not None and not fault.forward:
                    client.sendall(fault.reply)
                    continue
                if upstream is None:
                    upstream = socket.create_connection(("127.0.0.1", self.upstream_port()), timeout=10)
                    upstream_reader = upstream.makefile("rb")
                assert upstream_reader is not None
                upstream.sendall(_pack(args))
                reply = _read_reply(upstream_reader)
                if fault is not None and fault.reply is not None:
                    reply = fault.reply
                if fault is not None and fault.cut:
                    client.sendall(reply[: max(1, len(reply) // 2)])
                    _reset(client)
                    return
                client.sendall(reply)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._open.discard(client)
            client.close()
            if upstream is not None:
                upstream.close()

    def _refusal(self, name: str, args: list[bytes], authenticated: bool) -> bytes | None:
        if name == "AUTH":
            if len(args) != 2:
                return b"-ERR wrong number of arguments for 'auth' command\r\n"
            if self.password is None:
                return b"-ERR Client sent AUTH, but no password is set\r\n"
            if args[1].decode("utf-8", "replace") != self.password:
                return b"-WRONGPASS invalid username-password pair\r\n"
            return None
        if not authenticated and name != "QUIT":
            return b"-NOAUTH Authentication required.\r\n"
        if name in _REFUSED_COMMANDS:
            quoted = ", ".join(f"`{a.decode('latin-1')}`" for a in args[1:4])
            return f"-ERR unknown command `{name}`, with args beginning with: {quoted}, \r\n".encode()
        if name == "CLIENT" and len(args) > 1 and args[1].decode("latin-1").upper() in _REFUSED_CLIENT:
            return f"-ERR Unknown subcommand '{args[1].decode('latin-1')}'. Try CLIENT HELP.\r\n".encode()
        keys = _keys(name, args)
        if keys is not None:
            if name in ("EVAL", "EVALSHA") and not keys:
                return b"-ERR the cluster proxy routes a script by its keys: name at least one in KEYS\r\n"
            if len({_slot(key) for key in keys}) > 1:
                return b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
        return None

    def _fault(self, args: list[bytes]) -> RedisFault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(args):
                    fault.hits += 1
                    return fault
        return None


def _keys(name: str, args: list[bytes]) -> list[bytes] | None:
    if name in ("EVAL", "EVALSHA") and len(args) >= 3:
        count = int(args[2])
        return args[3 : 3 + count]
    if name in _MULTI_KEY:
        return args[1::2] if name == "MSET" else args[1:]
    return None


def _slot(key: bytes) -> int:
    from redis.crc import key_slot

    return int(key_slot(key))


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _pack(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in args)


def _read_command(reader: Any) -> list[bytes] | None:
    line: bytes = reader.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        # An inline command, or bytes that are no command at all (a TLS ClientHello): marked for an error answer.
        if not line.isascii():
            return [b"\x00"]
        return line.split()
    args = []
    for _ in range(int(line[1:])):
        header = reader.readline()
        if not header.startswith(b"$"):
            raise ValueError("not a bulk string")
        size = int(header[1:])
        args.append(reader.read(size + 2)[:-2])
    return args


def _read_reply(reader: Any) -> bytes:
    """One whole RESP2 reply, as bytes."""
    line = reader.readline()
    if not line:
        raise OSError("upstream closed")
    kind = line[:1]
    if kind in (b"+", b"-", b":"):
        return bytes(line)
    if kind == b"$":
        size = int(line[1:])
        return bytes(line) if size < 0 else bytes(line) + reader.read(size + 2)
    if kind == b"*":
        count = int(line[1:])
        return bytes(line) + b"".join(_read_reply(reader) for _ in range(max(0, count)))
    raise ValueError("not RESP2")
