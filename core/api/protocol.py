"""The HTTP/1.1 connection limits of ``sfsync serve``, in uvicorn's httptools protocol (the parser it uses).

uvicorn bounds neither the request head nor the time a client takes to send a request: its httptools
protocol appends every header it is given (``h11_max_incomplete_event_size`` applies only to h11), and its one
timer, ``timeout_keep_alive``, runs only between a response and the next request. So a client could send
endless headers, or open connections and trickle a byte now and then, holding a connection (and its memory)
for as long as it likes. :func:`limited_protocol` builds the ``HttpToolsProtocol`` subclass given to
``uvicorn.Config(http=...)`` that adds, on every connection:

- the request head: at most ``max_header_bytes`` bytes of request target and header fields (each field's
  name and value, plus 4 for ``": "`` and CRLF) and at most ``max_header_count`` fields, counted as the parser
  reports them, before the request reaches the app; past either, 431 Request Header Fields Too Large (414 URI
  Too Long when the target alone passes it) in IDM's error shape, and the connection is closed;
- ``request_header_timeout`` seconds from the connection's opening (or the next request's first byte on a
  kept-alive connection) to the end of the request's headers, however the bytes trickle in (the timer is
  not reset by data); then 408 Request Timeout in IDM's shape and the connection is closed;
- ``request_body_timeout`` seconds from the end of the headers to the end of the body, likewise. The clock
  waits while the server itself stops reading (the app has not consumed the body yet: flow control), so
  only a slow client is cut off. If the app has started answering, the connection is just closed.

While the app handles a request (a recon run with ``waitForCompletion`` may take minutes) no timer runs.
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.api.errors import error_body

DEFAULT_MAX_HEADER_BYTES = 16 * 1024
DEFAULT_MAX_HEADER_COUNT = 100
DEFAULT_REQUEST_HEADER_TIMEOUT = 10.0
DEFAULT_REQUEST_BODY_TIMEOUT = 30.0


class _HeadTooLarge(Exception):
    """Raised from a parser callback: ``httptools`` stops parsing and re-raises it as a parser error."""


def raw_error(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 error response in IDM's shape, closing the connection (written by the protocol
    itself: these requests never reach the app)."""
    body = json.dumps(error_body(status, message)).encode()
    head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            "content-type: application/json; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded request head and bounded times to send it and the body
    (see the module); :func:`limited_protocol` sets the figures."""

    max_header_bytes = DEFAULT_MAX_HEADER_BYTES
    max_header_count = DEFAULT_MAX_HEADER_COUNT
    request_header_timeout = DEFAULT_REQUEST_HEADER_TIMEOUT
    request_body_timeout = DEFAULT_REQUEST_BODY_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._head_count = 0
        self._refusal: tuple[int, str] | None = None
        self._deadline: asyncio.TimerHandle | None = None

    # timers
    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, phase)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, phase: str) -> None:
        self._deadline = None
        if self.transport is None or self.transport.is_closing():
            return
        if phase == "body" and self.flow is not None and self.flow.read_paused:
            # the server stopped reading (the app has not taken the body yet): not the client's fault
            self._arm(self.request_body_timeout, "body")
            return
        cycle = self.cycle
        if phase == "headers":  # the cycle, if any, is the previous request's: never write into its answer
            may_write = cycle is None or cycle.response_complete
        else:
            may_write = cycle is None or not cycle.response_started
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's receive() says http.disconnect, its send() is dropped
            cycle.message_event.set()
        if may_write:
            limit = self.request_header_timeout if phase == "headers" else self.request_body_timeout
            setting = "request_header_timeout" if phase == "headers" else "request_body_timeout"
            self.transport.write(raw_error(408, f"The request's {phase} did not arrive within {limit:g} s "
                                                f"({setting} in conf/sfsync.toml)"))
        self.transport.close()

    # connection
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.request_header_timeout, "headers")  # an opened connection must send its request

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # as uvicorn does (sfsync serves no websocket)
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            if self._refusal is None:
                msg = "Invalid HTTP request received."
                self.logger.warning(msg)
                self.send_400_response(msg)
                return
            status, message = self._refusal
            self._disarm()
            self.transport.write(raw_error(status, message))
            self.transport.close()

    # parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = self._head_count = 0
        self._arm(self.request_header_timeout, "headers")

    def _count(self, size: int, what: str) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_header_bytes:
            status = 414 if what == "url" else 431
            self._refusal = (status, f"The request's {'target' if what == 'url' else 'header fields'} pass "
                                     f"{self.max_header_bytes} bytes (max_header_bytes in conf/sfsync.toml)")
            raise _HeadTooLarge

    def on_url(self, url: bytes) -> None:
        self._count(len(url), "url")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_count += 1
        if self._head_count > self.max_header_count:
            self._refusal = (431, f"The request has more than {self.max_header_count} header fields "
                                  "(max_header_count in conf/sfsync.toml)")
            raise _HeadTooLarge
        self._count(len(name) + len(value) + 4, "header")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.request_body_timeout, "body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()


def limited_protocol(*, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
                     max_header_count: int = DEFAULT_MAX_HEADER_COUNT,
                     request_header_timeout: float = DEFAULT_REQUEST_HEADER_TIMEOUT,
                     request_body_timeout: float = DEFAULT_REQUEST_BODY_TIMEOUT) -> type[LimitedHttpToolsProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with these figures (uvicorn builds one per
    connection with its own arguments, so the figures are class attributes)."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {
        "max_header_bytes": max_header_bytes, "max_header_count": max_header_count,
        "request_header_timeout": request_header_timeout, "request_body_timeout": request_body_timeout})
