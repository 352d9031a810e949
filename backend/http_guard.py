"""HTTP/1.1 limits uvicorn lacks: a cap on request-header size and a deadline to send them.

uvicorn's httptools protocol accepts headers of any size (70 kB went through) and has no
header timeout: a client that opens a socket and sends its headers a byte at a time keeps it
(and its buffer) forever, and a few thousand such sockets exhaust the server's file descriptors
("slowloris"). The keep-alive timeout only runs *between* requests.

:class:`GuardedHttpToolsProtocol` is uvicorn's httptools protocol with two limits:

- the request line and headers may total :data:`MAX_HEADER_BYTES`; more is answered
  ``431 Request Header Fields Too Large`` and the connection is closed. Raw bytes are counted
  as they arrive (memory stays bounded even for one endless header) and parsed headers are
  counted per request (pipelined requests get no free allowance);
- a request's headers must be complete within :data:`HEADER_TIMEOUT_S` of its first byte (or
  of the connection opening, for the first request): past that the connection is closed
  (``408 Request Timeout`` if anything was sent).

:func:`uvicorn_options` are the launch settings ``fieldrep serve`` uses (one worker or many).

Example:
    >>> uvicorn.run(app, host="127.0.0.1", port=8000, **uvicorn_options())
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Request line plus headers, in bytes (browsers send 1-2 kB; nginx allows 4 x 8 kB).
MAX_HEADER_BYTES = 32 * 1024
#: Seconds a client has to send a request's headers once it started (or connected).
HEADER_TIMEOUT_S = 10.0
#: Seconds an idle keep-alive connection stays open between requests (uvicorn's default).
KEEP_ALIVE_S = 5


class _HeadersTooLargeError(Exception):
    """Raised in a parser callback; httptools turns it into a parser error we answer 431."""


def _response(status: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(status)).encode() + b"\r\nconnection: close\r\n\r\n" + status
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header size cap and a header deadline."""

    max_header_bytes: ClassVar[int] = MAX_HEADER_BYTES
    header_timeout_s: ClassVar[float] = HEADER_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_headers = True
        self._raw_header_bytes = 0
        self._parsed_header_bytes = 0
        self._tail = b""
        self._too_large = False
        self._header_timer: asyncio.TimerHandle | None = None

    # The deadline -------------------------------------------------------------------------
    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._reading_headers:
            return
        if self._raw_header_bytes:
            self.transport.write(_response(b"408 Request Timeout"))
        self.transport.close()

    # uvicorn's hooks ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_headers:
            # Count up to the blank line ending the headers (it may straddle two chunks);
            # what follows it in the same chunk is body.
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")
            self._raw_header_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            self._tail = seen[-3:]
            if self._raw_header_bytes > self.max_header_bytes:
                self._refuse_too_large()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._parsed_header_bytes = 0
        self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_headers = True
        self._raw_header_bytes = 0
        self._tail = b""

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse_too_large()
        else:
            super().send_400_response(msg)

    # Helpers ------------------------------------------------------------------------------
    def _count(self, size: int) -> None:
        self._parsed_header_bytes += size
        if self._parsed_header_bytes > self.max_header_bytes:
            self._too_large = True
            raise _HeadersTooLargeError

    def _refuse_too_large(self) -> None:
        self._disarm_header_timer()
        if not self.transport.is_closing():
            self.logger.warning("Request headers over %d bytes: refused.", self.max_header_bytes)
            self.transport.write(_response(b"431 Request Header Fields Too Large"))
            self.transport.close()


def uvicorn_options(ws_max_message_bytes: int = 65_536) -> dict[str, Any]:
    """The connection limits ``fieldrep serve`` passes to ``uvicorn.run``.

    ``h11_max_incomplete_event_size`` caps headers should uvicorn's h11 protocol ever be used
    instead (it answers 400 over the cap, not 431). ``ws_max_size`` makes uvicorn refuse an
    oversized WebSocket frame before buffering it (its default is 16 MiB); the app's own
    check (``live_socket.py``) answers the same limit with a close reason.
    """
    return {
        "http": GuardedHttpToolsProtocol,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "ws_max_size": ws_max_message_bytes,
    }


__all__ = [
    "HEADER_TIMEOUT_S",
    "KEEP_ALIVE_S",
    "MAX_HEADER_BYTES",
    "GuardedHttpToolsProtocol",
    "uvicorn_options",
]
