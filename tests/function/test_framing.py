"""framing: whatever bytes come back, an answer or one of its three failures, never anything else."""

from __future__ import annotations

import socket

from hypothesis import example, given
from hypothesis import strategies as st
from wire import answer

from sms_conversion import framing, transport

FAILURES = (framing.ProtocolFailure, framing.Truncated, framing.NoAnswer)


def read(data: bytes) -> framing.Answer:
    """`data` as the transport reads it: through its own buffered socket, the peer closing after it."""
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(data)
        theirs.shutdown(socket.SHUT_WR)
        ours.settimeout(5)
        return framing.read_answer(transport._Wire(ours), "POST")
    finally:
        ours.close()
        theirs.close()


PARTS = st.sampled_from(
    [
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.0 204 No Content\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"Content-Length: 2\r\n",
        b"Content-Length: 99999999999\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Content-Encoding: gzip\r\n",
        b"Content-Encoding: deflate\r\n",
        b"Connection: close\r\n",
        b" folded\r\n",
        b"\r\n",
        b"2\r\n{}\r\n",
        b"0\r\n\r\n",
        b"ffffffff\r\n",
        b"{}",
        b"\x00\xff\r\n",
    ]
)


@given(st.lists(st.one_of(PARTS, st.binary(max_size=40)), max_size=12).map(b"".join))
@example(answer())
@example(answer() + b"tail")
@example(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1\r\nx\r\n" * 3)
def test_any_bytes_are_an_answer_or_a_named_failure(data: bytes) -> None:
    try:
        result = read(data)
    except FAILURES:
        return
    assert 200 <= result.status <= 999
    assert len(result.content) <= framing.MAX_BODY
