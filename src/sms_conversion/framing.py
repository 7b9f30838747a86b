"""HTTP/1.1 answer framing, and nothing else: where an answer starts and ends, read as RFC 9112 says.

The one owner of framing (as h11 is for httpcore and uvicorn): it never touches a socket. `transport` hands it
a `Source` (bytes on demand) and gets back the answer, or an exception saying why there is none. h11 itself was
measured against this module and not taken: about five times the CPU per exchange and eight times the import
(bench/RESULTS.md, the "framing" rows), which the per-record and cold-start targets cannot carry.

Strict where leniency lets one call read another's answer:
- the status line is `HTTP/1.x`, three ASCII digits, a space; an interim answer (1xx) is skipped, 101 refused;
- field names are tokens, with no space before the colon; no obs-fold (a line starting with a space or tab);
  values hold no CR, LF or NUL; at most `MAX_HEADERS` fields and `MAX_HEAD` bytes;
- the body is framed by exactly one rule: `Transfer-Encoding: chunked`, or one `Content-Length` (repeats must
  agree), or the connection's end. Both headers at once, conflicting lengths, a length that is not digits, a
  coding other than chunked, a malformed chunk (size, extension, the CRLF after its data, a trailer) are
  `ProtocolFailure`: the answer is never used and its connection never reused;
- `Content-Encoding` gzip and deflate are decoded (a gateway may ignore `Accept-Encoding: identity`); any other
  coding is a `ProtocolFailure`. Decoded size is bounded like the body.
Bytes left over after the answer are the transport's to see (`Source.pending`): a connection holding any is
not reused, and an answer followed by them at once is a `ProtocolFailure` too.
"""

from __future__ import annotations

import re
import zlib
from typing import Any, NamedTuple, Protocol

MAX_HEAD = 64 * 1024  # status line and fields together
MAX_HEADERS = 100
MAX_BODY = 1024 * 1024  # a ReportConversion answer is a few hundred bytes; SCF's own event limit is 6 MB
MAX_CHUNK_LINE = 4096

# Protocol numbers (RFC 9110), not the function's answers (those live in codes.py).
_FIRST_FINAL = 200  # below it, an interim answer
_SWITCHING_PROTOCOLS = 101

_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: ([^\r\n\x00]*))?")
_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\r\n\x00]*?)[ \t]*")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n\x00]*)?")
_DIGITS = re.compile(rb"[0-9]{1,10}")


class ProtocolFailure(Exception):
    """The answer is not HTTP/1.1, or its framing is ambiguous: never reported on, its connection discarded."""


class Truncated(Exception):
    """The connection ended inside the answer."""


class NoAnswer(Exception):
    """The connection ended before the first byte of an answer."""


class Source(Protocol):
    """Bytes as framing asks for them (the transport's buffered socket)."""

    def head(self, limit: int) -> bytes:
        """Everything up to and including the first blank line (CRLF CRLF); NoAnswer if the connection ends
        before any byte, Truncated inside, ProtocolFailure past `limit`."""

    def exactly(self, size: int) -> bytes:
        """`size` bytes; Truncated if the connection ends first."""

    def line(self, limit: int) -> bytes:
        """One line with its CRLF; Truncated at the end, ProtocolFailure past `limit`."""

    def rest(self, limit: int) -> bytes:
        """Everything until the connection ends; ProtocolFailure past `limit`."""


class Headers(dict[str, str]):
    """An answer's fields, looked up in any case (the SDK asks for `Content-Type`); repeats joined by ", "."""

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


class Answer(NamedTuple):
    status: int
    reason: str
    headers: Headers
    content: bytes
    version: int  # 10 or 11, as requests reports `raw.version`
    will_close: bool


def read_answer(source: Source, method: str) -> Answer:
    """The final answer to `method` on `source` (interim 1xx answers skipped)."""
    while True:
        version, status, reason, headers = parse_head(source.head(MAX_HEAD))
        if status == _SWITCHING_PROTOCOLS:
            raise ProtocolFailure("101 Switching Protocols was not asked for")
        if status >= _FIRST_FINAL:
            break
    connection = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    will_close = "close" in connection or (version == 10 and "keep-alive" not in connection)
    framing = body_framing(headers, status, method)
    if framing == "none":
        body = b""
    elif framing == "chunked":
        body = read_chunked(source)
    elif framing == "close":
        body, will_close = source.rest(MAX_BODY), True
    else:
        body = source.exactly(int(framing))
    return Answer(status, reason, headers, decode_content(headers, body), version, will_close)


def parse_head(block: bytes) -> tuple[int, int, str, Headers]:
    """(version, status, reason, fields) of a head ending in CRLF CRLF."""
    lines = block.split(b"\r\n")
    if lines[-2:] != [b"", b""]:
        raise ProtocolFailure("the head does not end in CRLF CRLF")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise ProtocolFailure(f"not an HTTP/1.x status line: {_shown(lines[0])}")
    fields = lines[1:-2]
    if len(fields) > MAX_HEADERS:
        raise ProtocolFailure(f"more than {MAX_HEADERS} header fields")
    headers = Headers()
    for raw in fields:
        if raw[:1] in (b" ", b"\t"):
            raise ProtocolFailure("a folded header line (obs-fold)")
        field = _FIELD.fullmatch(raw)
        if field is None:
            raise ProtocolFailure(f"not a header field: {_shown(raw)}")
        name, value = field.group(1).decode("ascii").lower(), field.group(2).decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    reason = (match.group(3) or b"").decode("latin-1")
    return 10 if match.group(1) == b"0" else 11, int(match.group(2)), reason, headers


def body_framing(headers: Headers, status: int, method: str) -> str:
    """How the body is delimited: "none", "chunked", "close", or its length as digits."""
    if status in (204, 304) or method == "HEAD":
        return "none"
    coding = headers.get("transfer-encoding")
    length = headers.get("content-length")
    if coding is not None:
        if length is not None:
            raise ProtocolFailure("both Transfer-Encoding and Content-Length")
        if str(coding).strip().lower() != "chunked":
            raise ProtocolFailure(f"a transfer coding other than chunked: {str(coding)[:40]!r}")
        return "chunked"
    if length is None:
        return "close"
    values = {value.strip() for value in str(length).split(",")}
    if len(values) != 1:
        raise ProtocolFailure(f"conflicting Content-Length values: {str(length)[:60]!r}")
    [value] = values
    if not _DIGITS.fullmatch(value.encode("latin-1")) or int(value) > MAX_BODY:
        raise ProtocolFailure(f"a Content-Length that is not a length up to {MAX_BODY}: {value[:40]!r}")
    return value


def read_chunked(source: Source) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = source.line(MAX_CHUNK_LINE)
        size_match = _CHUNK_SIZE.fullmatch(line[:-2]) if line.endswith(b"\r\n") else None
        if size_match is None:
            raise ProtocolFailure(f"a malformed chunk size line: {_shown(line)}")
        size = int(size_match.group(1), 16)
        if size == 0:
            _read_trailers(source)
            return b"".join(parts)
        total += size
        if total > MAX_BODY:
            raise ProtocolFailure(f"a chunked body over {MAX_BODY} bytes")
        parts.append(source.exactly(size))
        if source.exactly(2) != b"\r\n":
            raise ProtocolFailure("a chunk's data is not followed by CRLF")


def _read_trailers(source: Source) -> None:
    for _ in range(MAX_HEADERS + 1):
        line = source.line(MAX_CHUNK_LINE)
        if line == b"\r\n":
            return
        if not line.endswith(b"\r\n") or _FIELD.fullmatch(line[:-2]) is None:
            raise ProtocolFailure(f"a malformed trailer field: {_shown(line)}")
    raise ProtocolFailure(f"more than {MAX_HEADERS} trailer fields")


def decode_content(headers: Headers, body: bytes) -> bytes:
    """The body with its content codings undone (gzip, deflate), bounded; ProtocolFailure for any other."""
    codings = [token.strip().lower() for token in str(headers.get("content-encoding", "")).split(",")]
    for coding in reversed([coding for coding in codings if coding and coding != "identity"]):
        if coding in ("gzip", "x-gzip"):
            body = _inflate(body, zlib.MAX_WBITS | 16, coding)
        elif coding == "deflate":
            # "deflate" is the zlib format (RFC 9110), though some servers send raw deflate.
            try:
                body = _inflate(body, zlib.MAX_WBITS, coding)
            except ProtocolFailure:
                body = _inflate(body, -zlib.MAX_WBITS, coding)
        else:
            raise ProtocolFailure(f"a content coding this client did not ask for: {coding[:20]!r}")
    return body


def _inflate(data: bytes, wbits: int, coding: str) -> bytes:
    decoder = zlib.decompressobj(wbits)
    try:
        out = decoder.decompress(data, MAX_BODY + 1)
    except zlib.error:
        raise ProtocolFailure(f"a {coding} body that does not decode") from None
    if len(out) > MAX_BODY or decoder.unconsumed_tail:
        raise ProtocolFailure(f"a {coding} body that decodes to more than {MAX_BODY} bytes")
    if not decoder.eof:
        raise ProtocolFailure(f"a {coding} body cut short")
    return out


def _shown(raw: bytes) -> str:
    return repr(raw[:40])
