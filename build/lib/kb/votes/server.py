"""Serving the collector: uvicorn with a deadline on slow requests.

uvicorn closes idle keep-alive connections, but a client that trickles its request line,
headers or body a byte at a time (slowloris) holds a connection forever. This protocol gives
every request a deadline: from its first byte (or from the connection's opening) to its last
body byte, at most `REQUEST_DEADLINE` seconds, or the connection is closed.

httptools has no cap on the size of a request's headers; this protocol answers 431 and closes
the connection when more than `MAX_HEADER_BYTES` arrive before the headers end (h11 has its own
cap of the same size). uvicorn's own X-Forwarded-* handling is off: the collector reads those
headers itself, from the proxies it is told to trust.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["REQUEST_DEADLINE", "DeadlineH11Protocol", "DeadlineHttpToolsProtocol", "http_protocol",
           "server_config", "serve"]

REQUEST_DEADLINE = 10.0
MAX_HEADER_BYTES = 16 * 1024
MAX_CONNECTIONS = 1000
_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
              b"content-length: 64\r\nconnection: close\r\n\r\n"
              b'{"error":"request headers larger than 16384 bytes","field":null}')


class _Deadline:
    """Mixed into a uvicorn HTTP protocol: close connections whose request is not in after the deadline."""

    deadline = REQUEST_DEADLINE

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._kb_timer: asyncio.TimerHandle | None = None
        self._kb_waiting_for = None  # the cycle that was current when the timer started
        self._kb_head_bytes = 0      # bytes of the current request before its headers ended
        self._kb_arm()

    def _kb_arm(self) -> None:
        self._kb_waiting_for = self.cycle
        self._kb_head_bytes = 0
        self._kb_timer = self.loop.call_later(self.deadline, self._kb_expire)

    def _kb_disarm(self) -> None:
        if self._kb_timer is not None:
            self._kb_timer.cancel()
            self._kb_timer = None

    def _kb_expire(self) -> None:
        self._kb_timer = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection whose request took over %.0f s", self.deadline)
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._kb_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._kb_arm()  # first bytes of the next request on a kept-alive connection
        super().data_received(data)
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is self._kb_waiting_for:  # still reading the request line and headers
            self._kb_head_bytes += len(data)
            if self._kb_head_bytes > MAX_HEADER_BYTES:
                self.transport.write(_TOO_LARGE)
                self.transport.close()
                return
        if (self._kb_timer is not None and cycle is not None and cycle is not self._kb_waiting_for
                and not cycle.more_body):
            self._kb_disarm()  # the whole request is in; the app has it

    def connection_lost(self, exc: Exception | None) -> None:
        self._kb_disarm()
        super().connection_lost(exc)


class DeadlineH11Protocol(_Deadline, H11Protocol):
    """uvicorn's pure-Python h11 protocol with the request deadline."""


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional (uvicorn[standard]); h11 always works
    DeadlineHttpToolsProtocol = None
else:
    class _HeadersTooLarge(Exception):
        pass

    class DeadlineHttpToolsProtocol(_Deadline, HttpToolsProtocol):  # type: ignore[no-redef]
        """uvicorn's httptools protocol (C parser, several times faster) with the request deadline
        and a cap on the request line and headers (httptools has none): 431 past MAX_HEADER_BYTES."""

        def on_message_begin(self) -> None:
            self._kb_parsed_head = 0
            self._kb_too_large = False
            super().on_message_begin()

        def _kb_count(self, n: int) -> None:
            self._kb_parsed_head = getattr(self, "_kb_parsed_head", 0) + n
            if self._kb_parsed_head > MAX_HEADER_BYTES:
                self._kb_too_large = True
                raise _HeadersTooLarge  # httptools stops parsing; uvicorn answers with send_400_response

        def on_url(self, url: bytes) -> None:
            self._kb_count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._kb_count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def send_400_response(self, msg: str) -> None:
            if getattr(self, "_kb_too_large", False):
                self.transport.write(_TOO_LARGE)
                self.transport.close()
                return
            super().send_400_response(msg)


def http_protocol() -> type:
    """The fastest protocol this install has, always with the request deadline."""
    return DeadlineHttpToolsProtocol or DeadlineH11Protocol


def server_config(app: Any, *, host: str = "127.0.0.1", port: int = 8001, **options: Any) -> uvicorn.Config:
    """A uvicorn config that serves `app` with the request deadline."""
    options.setdefault("timeout_keep_alive", 5)
    options.setdefault("proxy_headers", False)
    options.setdefault("limit_concurrency", MAX_CONNECTIONS)
    options.setdefault("access_log", False)
    options.setdefault("http", http_protocol())
    return uvicorn.Config(app, host=host, port=port, lifespan="off", **options)


def serve(app: Any, *, host: str = "127.0.0.1", port: int = 8001, **options: Any) -> None:
    """Serve `app` until interrupted."""
    uvicorn.Server(server_config(app, host=host, port=port, **options)).run()
