"""The OAuth redirect listener: a tiny asyncio HTTP server on loopback, for one login.

It listens on 127.0.0.1 and ::1 (a browser may resolve ``localhost`` to either; leaving ::1 to another
program would hand it the code), serves only ``GET /OauthRedirect``, checks ``state`` in constant time,
ignores a wrong or missing ``state`` (the wait goes on, as the Salesforce CLI does), ends on ``error=``,
accepts exactly one answer, and always releases the port when closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import html
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from core.salesforce.errors import LoginError

log = logging.getLogger("sfsync.salesforce")

REDIRECT_PATH = "/OauthRedirect"
_MAX_HEADER = 16 * 1024
_READ_TIMEOUT = 10.0


@dataclass(frozen=True)
class CallbackResult:
    """What the browser (or a pasted URL) brought back: a code, or Salesforce's error."""

    code: str | None = None
    error: str | None = None
    error_description: str | None = None


def parse_callback(query: str, expected_state: str) -> CallbackResult | None:
    """The result carried by a redirect's query string, or ``None`` when its ``state`` is wrong or missing."""
    params = parse_qs(query, keep_blank_values=True)
    state = (params.get("state") or [""])[0]
    if not state or not hmac.compare_digest(state.encode(), expected_state.encode()):
        return None
    error = (params.get("error") or [""])[0]
    if error:
        return CallbackResult(error=error, error_description=(params.get("error_description") or [""])[0] or None)
    code = (params.get("code") or [""])[0]
    if len(code) < 4:
        return CallbackResult(error="invalid_request", error_description="no authorization code in the redirect")
    return CallbackResult(code=code)


def _page(title: str, body: str, ok: bool) -> bytes:
    colour = "#1b7f3b" if ok else "#b3261e"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>sfsync: "
        f"{html.escape(title)}</title></head><body style=\"font-family:sans-serif;margin:3em\">"
        f"<h1 style=\"color:{colour}\">{html.escape(title)}</h1><p>{html.escape(body)}</p></body></html>"
    ).encode()


def _response(status: str, body: bytes, content_type: str = "text/html; charset=utf-8") -> bytes:
    head = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


class CallbackServer:
    """Listens for the redirect; ``result`` resolves once, with a :class:`CallbackResult`.

    ``finish`` (optional) is awaited before the browser gets its page, so the page can say whether the
    token exchange worked; it returns ``(ok, message)``.
    """

    def __init__(self, expected_state: str, port: int = 1717, *,
                 finish: Callable[[CallbackResult], Awaitable[tuple[bool, str]]] | None = None) -> None:
        self.expected_state = expected_state
        self.requested_port = port
        self.port: int | None = None
        self.finish = finish
        self._servers: list[asyncio.base_events.Server] = []
        self.result: asyncio.Future[CallbackResult] | None = None
        self._answered = False
        self.refused_requests = 0

    @property
    def redirect_uri(self) -> str:
        if self.port is None:
            raise RuntimeError("the callback server is not started")
        return f"http://localhost:{self.port}{REDIRECT_PATH}"

    async def start(self) -> None:
        """Bind 127.0.0.1 (and ::1 on the same port). A busy port is a :class:`LoginError` naming ``--port``."""
        self.result = asyncio.get_running_loop().create_future()
        attempts = 5 if self.requested_port == 0 else 1
        for _ in range(attempts):
            try:
                await self._bind(self.requested_port)
                return
            except OSError as exc:
                await self.close()
                if exc.errno == errno.EADDRINUSE and attempts > 1:
                    continue  # port 0: ::1 happened to be taken on the port 127.0.0.1 got; try another
                if exc.errno == errno.EADDRINUSE:
                    raise LoginError(
                        f"port {self.requested_port} is busy, so the OAuth callback cannot listen on "
                        f"http://localhost:{self.requested_port}{REDIRECT_PATH}; close the program using it "
                        "or choose another port with --port (and add that callback URL to the connected app)"
                    ) from None
                raise LoginError(f"cannot listen on port {self.requested_port}: {exc.strerror}") from None
        raise LoginError("no free port for the OAuth callback")  # pragma: no cover

    async def _bind(self, port: int) -> None:
        server4 = await asyncio.start_server(self._handle, "127.0.0.1", port, family=socket.AF_INET,
                                             reuse_address=False)
        self._servers.append(server4)
        self.port = server4.sockets[0].getsockname()[1]
        if socket.has_ipv6:
            try:
                server6 = await asyncio.start_server(self._handle, "::1", self.port, family=socket.AF_INET6,
                                                     reuse_address=False)
            except OSError as exc:
                if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                    return  # no IPv6 loopback on this machine: nobody else can take it either
                raise
            self._servers.append(server6)

    async def close(self) -> None:
        """Stop listening and free the port (idempotent)."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for server in servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        if self.result is not None and not self.result.done():
            self.result.cancel()

    async def __aenter__(self) -> CallbackServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def offer(self, result: CallbackResult) -> bool:
        """Resolve the login with ``result`` unless it already ended; whether it was taken."""
        if self.result is None or self.result.done():
            return False
        self.result.set_result(result)
        return True

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
                return
            if len(head) > _MAX_HEADER:
                writer.write(_response("431 Request Header Fields Too Large", b""))
                return
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split(" ")
            if len(parts) != 3:
                writer.write(_response("400 Bad Request", b""))
                return
            method, target, _version = parts
            writer.write(await self._answer(method, target))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, method: str, target: str) -> bytes:
        url = urlsplit(target)
        if method != "GET":
            return _response("405 Method Not Allowed", b"", "text/plain")
        if url.path != REDIRECT_PATH:
            return _response("404 Not Found", b"not found", "text/plain")
        if self._answered or self.result is None or self.result.done():
            return _response("410 Gone", _page("Login already finished",
                                               "This login has already been answered. Return to the terminal.",
                                               False))
        result = parse_callback(url.query, self.expected_state)
        if result is None:
            self.refused_requests += 1
            log.warning("ignored an OAuth callback with a wrong or missing state")
            return _response("400 Bad Request", _page("Login not accepted",
                                                      "This answer does not belong to the login in progress "
                                                      "(state mismatch). It was ignored.", False))
        self._answered = True
        if result.error:
            self.offer(result)
            reason = result.error_description or result.error
            return _response("200 OK", _page("Login refused", f"Salesforce said: {reason}. "
                                              "Return to the terminal.", False))
        if self.finish is None:
            self.offer(result)
            return _response("200 OK", _page("Authorization received", "Return to the terminal.", True))
        ok, message = await self.finish(result)
        return _response("200 OK", _page("Login successful" if ok else "Login failed", message, ok))
