"""The REST session: one pooled client, an access token in memory, refresh on 401, bounded retries.

Every Salesforce call goes through :meth:`RestSession.request`, so the rules live in one place:
- a 401 ``INVALID_SESSION_ID`` refreshes the access token (deduplicated across concurrent calls; at most
  ``MAX_REFRESHES_PER_CALL`` times for one call, which long retries may carry past more than one token)
  and replays the call; a rotated refresh token is handed to ``on_rotate`` to be saved;
- transient failures (network, timeouts, 5xx, ``REQUEST_LIMIT_EXCEEDED``, ``UNABLE_TO_LOCK_ROW``) are
  retried with backoff and jitter, honouring ``Retry-After``, bounded in count and time;
- anything else is raised at once as a typed error with Salesforce's ``errorCode``, message and fields.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from core.config.provisioner import ConfigurationProperties
from core.salesforce.errors import AuthError, SalesforceError, TransientError
from core.salesforce.http import build_client
from core.salesforce.rest import api_usage, is_session_expired, is_transient, raise_for
from core.salesforce.retry import RetryPolicy, parse_retry_after
from core.salesforce.tokens import TokenSet, refresh_access_token, transport_error

log = logging.getLogger("sfsync.salesforce")

#: network failures after which the request certainly did not reach Salesforce (safe to resend a POST)
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: new access tokens one call may ask for (a call retried through faults can outlive a short-lived token)
MAX_REFRESHES_PER_CALL = 3
_IDEMPOTENT = frozenset({"GET", "HEAD", "PATCH", "PUT", "DELETE", "OPTIONS"})


class RestSession:
    """Authenticated, retrying access to one org's REST API."""

    def __init__(self, props: ConfigurationProperties, *, ca_file: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, retry: RetryPolicy | None = None,
                 on_rotate: Callable[[str], None] | None = None) -> None:
        self.props = props
        self.retry = retry or RetryPolicy()
        self.client = build_client(props, ca_file=ca_file, transport=transport)
        self._on_rotate = on_rotate
        self._refresh_token = props.refresh_token
        self._token: TokenSet | None = None
        self._lock = asyncio.Lock()
        #: increases with every new access token; a query compares it to know its session ended
        self.session_generation = 0
        #: ``(used, limit)`` from the last ``Sforce-Limit-Info`` header
        self.api_usage: tuple[int, int] | None = None
        #: the quickest call so far (seconds): the org's round trip, as a read's plan sees it
        self.latency: float | None = None
        #: counters the UI and tests read
        self.stats: dict[str, int] = {"requests": 0, "retries": 0, "refreshes": 0, "rotations": 0}

    # ---- tokens ------------------------------------------------------------------------------------
    @property
    def instance_url(self) -> str:
        """The org's URL: the token's (authoritative), else the configured ``instanceUrl``."""
        if self._token is not None:
            return self._token.instance_url
        if self.props.instanceUrl:
            return self.props.instanceUrl.rstrip("/")
        raise AuthError("log in again: no instanceUrl configured (run sfsync login)", error_code="NO_INSTANCE_URL")

    @property
    def base_path(self) -> str:
        """``/services/data/vNN.N``."""
        return f"/services/data/v{self.props.api_version}"

    @property
    def token(self) -> TokenSet | None:
        return self._token

    async def access_token(self) -> str:
        """The current access token, fetching one with the refresh token the first time."""
        if self._token is None:
            await self.refresh(stale_generation=self.session_generation)
        assert self._token is not None
        return self._token.access_token

    async def refresh(self, stale_generation: int | None = None) -> TokenSet:
        """A new access token. Callers that saw generation ``stale_generation`` fail share one refresh."""
        async with self._lock:
            if self._token is not None and stale_generation is not None \
                    and self.session_generation != stale_generation:
                return self._token
            if not self._refresh_token:
                raise AuthError("log in again: no refresh token is configured (run sfsync login)",
                                error_code="NO_REFRESH_TOKEN")
            if not self.props.clientId:
                raise AuthError("log in again: no clientId is configured", error_code="NO_CLIENT_ID")
            token = await self._with_retries(
                lambda: refresh_access_token(self.client, self.props.loginUrl, self._refresh_token or ""))
            self._token = token
            self.session_generation += 1
            self.stats["refreshes"] += 1
            log.info("new Salesforce session (generation %d)", self.session_generation)
            if token.refresh_token and token.refresh_token != self._refresh_token:
                self._refresh_token = token.refresh_token
                self.stats["rotations"] += 1
                if self._on_rotate is not None:
                    self._on_rotate(token.refresh_token)
            return token

    async def _with_retries(self, call: Callable[[], Any]) -> Any:
        started = self.retry.clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call()
            except TransientError as exc:
                wait = self.retry.backoff(attempt)
                if not self.retry.allows(attempt, started, wait):
                    raise _gave_up(exc, attempt) from None
                self.stats["retries"] += 1
                await self.retry.sleep(wait)

    # ---- requests ----------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """Absolute URL for ``path``: absolute URLs as is, ``/…`` on the instance, else under the API base."""
        if path.startswith(("http://", "https://")):
            return path
        if path.startswith("/"):
            return self.instance_url + path
        return f"{self.instance_url}{self.base_path}/{path}"

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      json: Any = None, headers: dict[str, str] | None = None,
                      record: bool = False) -> httpx.Response:
        """One REST call with the session rules above; returns the successful response."""
        method = method.upper()
        started = self.retry.clock()
        attempt = 0
        refreshed = False   # the last try was a replay after a refresh: a 401 again is not expiry
        refreshes = 0       # a call retried for long may outlive more than one token: a few, bounded
        while True:
            attempt += 1
            token = await self.access_token()
            generation = self.session_generation
            url = self.url(path)
            sent_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
            retry_after: float | None = None
            try:
                self.stats["requests"] += 1
                sent = time.monotonic()
                response = await self.client.request(method, url, params=params, json=json,
                                                     headers=sent_headers, withhold_token=True)
                took = time.monotonic() - sent
                self.latency = took if self.latency is None else min(self.latency, took)
            except httpx.HTTPError as exc:
                if not isinstance(exc, httpx.TransportError) or (
                        method not in _IDEMPOTENT and not isinstance(exc, _NOT_SENT)):
                    raise transport_error(exc, url) from None
                error: SalesforceError = transport_error(exc, url)
            else:
                usage = api_usage(response)
                if usage is not None:
                    self.api_usage = usage
                if response.is_success:
                    return response
                if is_session_expired(response) and not refreshed and refreshes < MAX_REFRESHES_PER_CALL:
                    refreshes += 1
                    attempt -= 1
                    before = self.session_generation
                    await self.refresh(stale_generation=generation)
                    # a token another call got meanwhile may be older than it looks: only a replay with the
                    # token this call's own refresh made, refused again, is a 401 that is not expiry
                    refreshed = self.session_generation != before
                    continue
                if not is_transient(response):
                    raise_for(response, record=record)
                try:
                    raise_for(response, record=record)
                except TransientError as exc:
                    error = exc
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = self.retry.backoff(attempt, retry_after)
            if not self.retry.allows(attempt, started, wait):
                raise _gave_up(error, attempt) from None
            self.stats["retries"] += 1
            refreshed = False   # time passes: the token may end again before the next try
            log.info("transient failure (%s), try %d again in %.2fs", error.error_code, attempt + 1, wait)
            await self.retry.sleep(wait)

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        response = await self.request("GET", path, **kwargs)
        try:  # a 2,000-record query page parses several times faster with orjson than with json
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:  # what orjson refuses (integers beyond 64 bits) or a real error
            return response.json()

    async def aclose(self) -> None:
        await self.client.aclose()


def _gave_up(error: SalesforceError, attempts: int) -> SalesforceError:
    cls = type(error)
    return cls(f"{error.message} (gave up after {attempts} tries)", status=error.status,
               error_code=error.error_code, fields=error.fields, details=error.details)
