"""Request limits of ``sfsync serve``, answered in IDM's error shape ``{code, reason, message}``.

- the request body: at most ``max_request_body`` bytes (sfsync.toml, 1 MiB by default); a larger
  ``Content-Length`` is a 413 before anything is read, and a chunked body is counted as it arrives (413 once
  it passes the limit);
- expensive queries, per client address: a token bucket of ``expensive_query_burst`` queries refilled at
  ``expensive_query_rate`` a second; past it, 429 with ``Retry-After``. A query is expensive when it makes the
  repository read every match rather than a page: ``_totalPagedResultsPolicy`` EXACT or ESTIMATE (a
  ``count(*)`` over the whole filter, see ``core.repo.query.run_query``), or ``_sortKeys`` on a field with no
  index (a sort of every match through ``json_extract``; indexed are ``_id``, ``_rev`` and managed.json's
  searchable fields).

The request head's size and count limits (431) and the slow-client timeouts (408) are in the HTTP protocol
itself, :mod:`core.api.protocol`, given to uvicorn by ``tui/commands/serve.py``.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from starlette.datastructures import Headers, QueryParams
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.api.errors import ApiError, error_body

DEFAULT_MAX_REQUEST_BODY = 1024 * 1024
DEFAULT_EXPENSIVE_QUERY_BURST = 10
DEFAULT_EXPENSIVE_QUERY_RATE = 1.0
QUERY_PATHS = ("/openidm/managed/user", "/openidm/audit/recon")


async def _error(scope: Scope, receive: Receive, send: Send, status: int, message: str,
                 headers: dict[str, str] | None = None) -> None:
    body = json.dumps(error_body(status, message)).encode()
    await Response(body, status_code=status, headers=headers, media_type="application/json; charset=utf-8")(
        scope, receive, send)


class _TooLarge(ApiError):
    """Raised by the counting ``receive``: a handler reading the body answers it as IDM's 413."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message, headers={"Connection": "close"})


class BodyLimitMiddleware:
    """413 for a request body over ``limit`` bytes (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_MAX_REQUEST_BODY) -> None:
        self.app = app
        self.limit = limit

    def _message(self) -> str:
        return f"The request body is larger than {self.limit} bytes (max_request_body in conf/sfsync.toml)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _error(scope, receive, send, 413, self._message(), {"Connection": "close"})
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self._message())
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if started:
                raise
            await _error(scope, receive, send, 413, self._message(), {"Connection": "close"})


class TokenBuckets:
    """One token bucket per client: ``burst`` tokens, refilled at ``rate`` a second; the oldest of more than
    ``max_clients`` clients are forgotten (they start full again)."""

    def __init__(self, burst: int, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 10_000) -> None:
        self.burst = burst
        self.rate = rate
        self._clock = clock
        self._max_clients = max_clients
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, when)

    def take(self, client: str) -> float:
        """0 when the client may go on (a token taken), else the seconds until it may."""
        now = self._clock()
        tokens, when = self._state.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - when) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate if self.rate > 0 else math.inf
        self._state[client] = (tokens, now)
        while len(self._state) > self._max_clients:
            self._state.popitem(last=False)
        return wait


def is_expensive(params: QueryParams, indexed: Iterable[str]) -> bool:
    """Whether a CREST query reads every match (see the module)."""
    if (params.get("_totalPagedResultsPolicy") or "NONE").upper() in ("EXACT", "ESTIMATE"):
        return True
    cheap = {"_id", "_rev", *indexed}
    keys = [k.strip().lstrip("+-").lstrip("/") for raw in params.getlist("_sortKeys") for k in raw.split(",")]
    return any(k and k not in cheap for k in keys)


class ExpensiveQueryLimiter:
    """429 (with ``Retry-After``) for a client's expensive queries beyond its token bucket."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets, indexed: Iterable[str] = ()) -> None:
        self.app = app
        self.buckets = buckets
        self.indexed = tuple(indexed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in QUERY_PATHS \
                and self.buckets.burst > 0:
            params = QueryParams(scope.get("query_string", b""))
            if is_expensive(params, self.indexed):
                client = (scope.get("client") or ("unknown", 0))[0]
                wait = self.buckets.take(client)
                if wait > 0:
                    retry = max(1, math.ceil(wait)) if math.isfinite(wait) else 3600
                    await _error(scope, receive, send, 429,
                                 f"Too many expensive queries (a total count, or a sort on an unindexed field) "
                                 f"from {client}: at most {self.buckets.burst} at once and "
                                 f"{self.buckets.rate:g} a second (conf/sfsync.toml); retry in {retry} s",
                                 {"Retry-After": str(retry)})
                    return
        await self.app(scope, receive, send)
