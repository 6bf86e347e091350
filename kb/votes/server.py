"""Serving the collector: uvicorn with a deadline on slow requests, a cap on connections per
client address, and a stop that commits everything accepted.

uvicorn closes idle keep-alive connections, but a client that trickles its request line,
headers or body a byte at a time (slowloris) holds a connection forever. This protocol gives
every request a deadline: from its first byte (or from the connection's opening) to its last
body byte, at most `REQUEST_DEADLINE` seconds, or the connection is closed.

httptools has no cap on the size of a request's headers; this protocol answers 431 and closes
the connection when more than `MAX_HEADER_BYTES` arrive before the headers end (h11 has its own
cap of the same size). uvicorn's own X-Forwarded-* handling is off: the collector reads those
headers itself, from the proxies it is told to trust.

The deadline alone does not stop one client from holding every connection: 1,050 slow
connections from one address, each closed after 10 s and opened again, kept a collector's
1,000 connections (uvicorn's `limit_concurrency`) full, and 21 of 22 other requests got 503.
So the protocol also counts open connections per peer address, as each connection is made and
before any byte is read (the only place every connection passes, and the cheapest to refuse
at): past `per_address`, it answers 429 and closes. The proxies the collector trusts are
exempt: every client behind them shares their address, and they limit their own clients
(the shipped nginx.conf: `limit_conn` per address, `client_header_timeout`).

uvicorn stops on SIGTERM or SIGINT gracefully, then raises the signal again to die of it; for
SIGTERM (what `systemctl stop` sends) that ends the process before the caller can close its
store, and the records waiting for a group commit (the search API's, kept up to a second) were
lost. `serve` stops the same way, calls `on_stop` (the store's close: commit what is queued)
while the signals are still caught, and returns the signal instead of raising it. SIGHUP (the
terminal of a collector started by hand was closed) stops it the same way, where it is not
ignored (`nohup` ignores it, so that the collector outlives its terminal).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import weakref
from collections import Counter
from typing import Any, Callable, Iterator

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from kb.votes.schema import MAX_CONNECTIONS
from kb.votes.visitors import sender

__all__ = ["MAX_CONNECTIONS", "REQUEST_DEADLINE", "DeadlineH11Protocol",
           "DeadlineHttpToolsProtocol", "http_protocol", "server_config", "serve"]

REQUEST_DEADLINE = 10.0
MAX_HEADER_BYTES = 16 * 1024
_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
              b"content-length: 64\r\nconnection: close\r\n\r\n"
              b'{"error":"request headers larger than 16384 bytes","field":null}')
_TOO_MANY_BODY = b'{"error":"too many connections from this address; try again","field":null}'
_TOO_MANY = (b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
             b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TOO_MANY_BODY), _TOO_MANY_BODY))

# Open connections per peer address, per server (a test runs several in one process).
_OPEN: weakref.WeakKeyDictionary[Any, Counter[str]] = weakref.WeakKeyDictionary()


def _nobody(address: str) -> bool:
    return False


class _Deadline:
    """Mixed into a uvicorn HTTP protocol: close connections whose request is not in after the
    deadline, and refuse a connection past `per_address` from one peer address (None: no cap)."""

    deadline = REQUEST_DEADLINE
    per_address: int | None = None
    exempt: Callable[[str], bool] = staticmethod(_nobody)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._kb_timer: asyncio.TimerHandle | None = None
        self._kb_waiting_for = None  # the cycle that was current when the timer started
        self._kb_head_bytes = 0      # bytes of the current request before its headers ended
        self._kb_address: str | None = None
        if self.per_address is not None:
            peer = transport.get_extra_info("peername")
            raw = str(peer[0]) if peer else ""
            if not self.exempt(raw):
                address = sender(raw)  # an IPv6 client's whole /64 is one sender
                open_ = _OPEN.setdefault(self.server_state, Counter())
                if open_[address] >= self.per_address:
                    transport.write(_TOO_MANY)
                    transport.close()
                    return
                open_[address] += 1
                self._kb_address = address
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
        if self._kb_address is not None:
            open_ = _OPEN[self.server_state]
            open_[self._kb_address] -= 1
            if open_[self._kb_address] <= 0:
                del open_[self._kb_address]
            self._kb_address = None
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


def http_protocol(per_address: int | None = None, exempt: Callable[[str], bool] | None = None) -> type:
    """The fastest protocol this install has, always with the request deadline; with
    `per_address`, at most that many connections from one peer address that `exempt` does not
    name (the proxies the collector trusts)."""
    base = DeadlineHttpToolsProtocol or DeadlineH11Protocol
    if per_address is None:
        return base
    return type(base.__name__, (base,), {"per_address": per_address, "exempt": staticmethod(exempt or _nobody)})


def server_config(app: Any, *, host: str = "127.0.0.1", port: int = 8001, per_address: int | None = None,
                  exempt: Callable[[str], bool] | None = None, **options: Any) -> uvicorn.Config:
    """A uvicorn config that serves `app` with the request deadline (and the per-address cap)."""
    options.setdefault("timeout_keep_alive", 5)
    options.setdefault("proxy_headers", False)
    options.setdefault("limit_concurrency", MAX_CONNECTIONS)
    options.setdefault("access_log", False)
    # A stop waits for the requests in flight at most as long as one may take.
    options.setdefault("timeout_graceful_shutdown", int(REQUEST_DEADLINE))
    options.setdefault("http", http_protocol(per_address, exempt))
    return uvicorn.Config(app, host=host, port=port, lifespan="off", **options)


def _stop_signals() -> list[int]:
    """The signals that stop the collector gracefully: SIGINT, SIGTERM, and SIGHUP unless ignored."""
    stop = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        stop.append(signal.SIGHUP)
    return stop


class _Server(uvicorn.Server):
    """uvicorn's server that keeps catching the stop signals after it stops, and never raises
    them again (see `serve`)."""

    stop_signals: list[int] = []

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is threading.main_thread():
            for sig in self.stop_signals:
                signal.signal(sig, self.handle_exit)
        yield

    @property
    def stopped_by(self) -> int | None:
        return self._captured_signals[0] if self._captured_signals else None


def serve(app: Any, *, host: str = "127.0.0.1", port: int = 8001, on_stop: Callable[[], None] | None = None,
          **options: Any) -> int | None:
    """Serve `app` until SIGTERM, SIGINT or SIGHUP (unless ignored); finish the requests in flight,
    call `on_stop`, and return the signal (None when the server stopped on its own).

    `on_stop` runs while the signals are still caught, so a second SIGTERM cannot cut it short;
    the handlers the caller had are back afterwards.
    """
    main = threading.current_thread() is threading.main_thread()
    handlers = {sig: signal.getsignal(sig) for sig in _stop_signals()} if main else {}
    server = _Server(server_config(app, host=host, port=port, **options))
    server.stop_signals = list(handlers)
    try:
        server.run()
    finally:
        try:
            if on_stop is not None:
                on_stop()
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
    return server.stopped_by
