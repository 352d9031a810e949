"""``fieldrep serve``'s connection limits against a real uvicorn on loopback, with raw sockets.

Oversized request headers get 431 and a closed connection; a client that sends its headers
slowly (or nothing at all) is disconnected after ``HEADER_TIMEOUT_S``; ordinary requests,
keep-alive and large bodies are untouched.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from backend.http_guard import HEADER_TIMEOUT_S, MAX_HEADER_BYTES, uvicorn_options
from tests.e2e.server import free_port


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers 200 with the size of the body it read."""
    if scope["type"] != "http":
        return
    size = 0
    more = True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    """A uvicorn server with ``fieldrep serve``'s options, in a thread."""
    chosen = free_port()
    config = uvicorn.Config(
        _echo,
        host="127.0.0.1",
        port=chosen,
        lifespan="off",
        log_level="warning",
        **uvicorn_options(),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield chosen
    server.should_exit = True
    thread.join(timeout=10)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=HEADER_TIMEOUT_S + 5)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    chunks = []
    with contextlib.suppress(ConnectionResetError):  # closed with our bytes unread: a reset
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_oversized_headers_get_431_and_a_closed_connection(port: int) -> None:
    """70 kB of headers: refused with 431, and the server closes the socket."""
    with _connect(port) as sock:
        head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
        # Closed while we were still sending: the answer is already in our buffer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head)
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]


def test_many_small_headers_over_the_cap_are_refused_too(port: int) -> None:
    """The cap is on the total, not per header."""
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(MAX_HEADER_BYTES // 100))
    with _connect(port) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        assert _read_all(sock).startswith(b"HTTP/1.1 431 ")


def test_normal_requests_keep_alive_and_big_bodies_pass(port: int) -> None:
    """Two requests on one socket (16 kB of headers, then a 300 kB body sent in one go)."""
    with _connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Ok: " + b"a" * 16_000 + b"\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 "), first[:80]
        body = b"b" * 300_000
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % len(body)
            + body
        )
        second = _read_all(sock)
    assert second.startswith(b"HTTP/1.1 200 "), second[:80]
    assert second.endswith(b"300000")


def test_slow_headers_and_silent_sockets_are_closed(port: int) -> None:
    """A byte of header a second, and a socket that never sends: both closed in time."""
    silent = _connect(port)
    slow = _connect(port)
    started = time.monotonic()
    slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    answer = b""
    closed_at = None
    slow.settimeout(1.0)
    while time.monotonic() - started < HEADER_TIMEOUT_S + 5:
        try:
            slow.sendall(b"X")
        except (BrokenPipeError, ConnectionResetError):
            closed_at = time.monotonic()
            break
        try:
            chunk = slow.recv(4096)
        except TimeoutError:
            continue
        answer += chunk
        if not chunk:
            closed_at = time.monotonic()
            break
    slow.close()
    assert closed_at is not None, "slow-header socket still open"
    assert closed_at - started < HEADER_TIMEOUT_S + 2
    assert closed_at - started >= HEADER_TIMEOUT_S - 1
    assert answer.startswith(b"HTTP/1.1 408 ") or answer == b""
    silent.settimeout(5)
    assert silent.recv(1) == b"", "silent socket still open"
    assert time.monotonic() - started < HEADER_TIMEOUT_S + 4
    silent.close()
