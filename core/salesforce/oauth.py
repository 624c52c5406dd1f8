"""Interactive login: OAuth 2.0 web-server flow with PKCE (S256) and ``state``, through authlib.

The browser is sent to ``authorize_url``; Salesforce redirects it to ``http://localhost:PORT/OauthRedirect``
where :class:`~core.salesforce.callback.CallbackServer` is listening. Over SSH the browser runs elsewhere,
so the URL it ended on can be pasted instead (:meth:`LoginFlow.complete_from_url`), checked the same way.
The code is exchanged for tokens with the PKCE verifier; the refresh token and instance URL are what the
caller saves. Nothing here logs or prints a code, a verifier or a token.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.config.provisioner import ConfigurationProperties
from core.config.urls import oauth_endpoint
from core.salesforce._authlib import AsyncOAuth2Client, OAuthError, generate_token
from core.salesforce.callback import REDIRECT_PATH, CallbackResult, CallbackServer, parse_callback
from core.salesforce.errors import LoginError, SalesforceError
from core.salesforce.http import DEFAULT_SCOPE, build_client
from core.salesforce.tokens import TokenSet, refresh_access_token, token_error, transport_error

__all__ = ["DEFAULT_SCOPE", "Identity", "LoginFlow", "refresh"]

#: how long the browser's page waits for the token exchange before saying so
_BROWSER_WAIT = 60.0


@dataclass(frozen=True)
class Identity:
    """Who logged in, for the success message (no secrets)."""

    username: str | None
    display_name: str | None
    org_id: str | None
    user_id: str | None
    instance_url: str

    def describe(self) -> str:
        who = self.username or self.user_id or "unknown user"
        if self.display_name and self.display_name != self.username:
            who = f"{who} ({self.display_name})"
        return f"{who}, org {self.org_id or 'unknown'} at {self.instance_url}"


class LoginFlow:
    """One login attempt. ``async with LoginFlow(props) as flow:`` starts the listener and frees the port."""

    def __init__(self, props: ConfigurationProperties, *, port: int = 1717, scope: str | None = None,
                 ca_file: str | None = None, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not props.clientId:
            raise LoginError("clientId is not set: put the connected app's consumer key in the provisioner "
                             "file (configurationProperties.clientId) or pass --client-id")
        self.props = props
        self.scope = scope or DEFAULT_SCOPE
        self.state = generate_token(32)
        self.code_verifier = generate_token(64)  # 43..128 characters of [A-Za-z0-9]
        self.server = CallbackServer(self.state, port, finish=self._browser_finish)
        self._ca_file = ca_file
        self._transport = transport
        self._client: AsyncOAuth2Client | None = None
        self._outcome: asyncio.Future[tuple[bool, str]] | None = None
        self.authorize_url = ""

    # ---- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen for the redirect and build the authorize URL (its redirect_uri names the real port)."""
        await self.server.start()
        self._outcome = asyncio.get_running_loop().create_future()
        self._client = build_client(self.props, ca_file=self._ca_file, transport=self._transport,
                                    redirect_uri=self.redirect_uri, scope=self.scope)
        url, _ = self._client.create_authorization_url(
            oauth_endpoint(self.props.loginUrl, "authorize"), state=self.state, code_verifier=self.code_verifier)
        self.authorize_url = url

    async def aclose(self) -> None:
        """Free the port and the HTTP client (idempotent)."""
        await self.server.close()
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result((False, "The login was cancelled in the terminal."))
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> LoginFlow:
        try:
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def redirect_uri(self) -> str:
        return self.server.redirect_uri

    @property
    def port(self) -> int | None:
        return self.server.port

    # ---- the answer --------------------------------------------------------------------------------
    def complete_from_url(self, pasted: str) -> None:
        """Finish with the URL the browser ended on (pasted by the user); the ``state`` is checked.

        Raises :class:`LoginError` when it is not a redirect of this login (the wait goes on).
        """
        text = pasted.strip().strip("'\"<>")
        parts = urlsplit(text)
        query = parts.query or (text[1:] if text.startswith("?") else "")
        if parts.path and not parts.path.endswith(REDIRECT_PATH) and not text.startswith("?"):
            raise LoginError(f"that is not the {REDIRECT_PATH} URL the browser was sent to; ignored")
        result = parse_callback(query, self.state)
        if result is None:
            raise LoginError("that URL does not belong to this login (state missing or different); ignored")
        if not self.server.offer(result):
            raise LoginError("this login has already been answered")

    async def wait(self, timeout: float | None = 300.0) -> str:
        """The authorization code, once the browser or a pasted URL brings it.

        Raises :class:`LoginError` when Salesforce answered ``error=`` (e.g. ``access_denied``), when
        ``timeout`` seconds pass, or when the flow is closed.
        """
        if self.server.result is None:
            raise RuntimeError("start() the login first")
        try:
            result = await asyncio.wait_for(asyncio.shield(self.server.result), timeout)
        except TimeoutError:
            raise LoginError(f"no answer from the browser within {timeout:g} seconds; the login timed out "
                             "(try again, or use --timeout)") from None
        except asyncio.CancelledError:
            if self.server.result.cancelled():
                raise LoginError("the login was cancelled") from None
            raise
        if result.error:
            self._settle(False, f"Salesforce refused the login: {result.error_description or result.error}.")
            raise LoginError(f"Salesforce refused the login: {result.error}"
                             + (f" ({result.error_description})" if result.error_description else ""))
        assert result.code is not None
        return result.code

    async def exchange(self, code: str) -> TokenSet:
        """The authorization-code grant with the PKCE verifier; ``LoginError`` when Salesforce refuses it."""
        if self._client is None:
            raise RuntimeError("start() the login first")
        token_url = self.props.loginUrl
        try:
            data = await self._client.fetch_token(token_url, grant_type="authorization_code", code=code,
                                                  code_verifier=self.code_verifier)
        except OAuthError as exc:
            error = token_error(exc)
            self._settle(False, f"The token exchange failed: {error}")
            raise LoginError(f"the token exchange failed: {error}") from None
        except httpx.HTTPError as exc:
            error = transport_error(exc, token_url) if not isinstance(exc, httpx.HTTPStatusError) else \
                SalesforceError(f"the token endpoint answered HTTP {exc.response.status_code}")
            self._settle(False, "The token exchange failed; see the terminal.")
            raise LoginError(f"the token exchange failed: {error}") from None
        try:
            token = TokenSet.from_response(dict(data))
        except SalesforceError as exc:
            self._settle(False, "The token exchange failed; see the terminal.")
            raise LoginError(str(exc)) from None
        if not token.refresh_token:
            self._settle(False, "Salesforce issued no refresh token.")
            raise LoginError("Salesforce issued no refresh token: the connected app needs the refresh_token "
                             "(offline_access) scope")
        return token

    async def identity(self, token: TokenSet) -> Identity:
        """Who logged in, from ``/services/oauth2/userinfo`` (falls back to the ids in the token)."""
        info: dict[str, Any] = {}
        if self._client is not None:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                response = await self._client.request("GET", f"{token.instance_url}/services/oauth2/userinfo",
                                                      headers={"Authorization": f"Bearer {token.access_token}"},
                                                      withhold_token=True)
                if response.is_success:
                    info = response.json()
        return Identity(
            username=info.get("preferred_username") or info.get("email"),
            display_name=info.get("name"),
            org_id=info.get("organization_id") or token.org_id,
            user_id=info.get("user_id") or token.user_id,
            instance_url=token.instance_url,
        )

    async def login(self, timeout: float | None = 300.0) -> tuple[TokenSet, Identity]:
        """Wait, exchange, identify; the browser's page reports the outcome."""
        code = await self.wait(timeout)
        token = await self.exchange(code)
        who = await self.identity(token)
        self._settle(True, f"Logged in as {who.username or who.user_id}. You can close this tab.")
        return token, who

    def _settle(self, ok: bool, message: str) -> None:
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result((ok, message))

    async def _browser_finish(self, result: CallbackResult) -> tuple[bool, str]:
        self.server.offer(result)
        assert self._outcome is not None
        try:
            return await asyncio.wait_for(asyncio.shield(self._outcome), _BROWSER_WAIT)
        except TimeoutError:
            return False, "The terminal did not finish the login in time."


async def refresh(props: ConfigurationProperties, *, ca_file: str | None = None,
                  transport: httpx.AsyncBaseTransport | None = None) -> TokenSet:
    """One refresh-token grant outside a connector (e.g. to check credentials)."""
    refresh_token = props.refresh_token
    if not refresh_token:
        raise LoginError("no refresh token is configured (run sfsync login)")
    client = build_client(props, ca_file=ca_file, transport=transport)
    try:
        return await refresh_access_token(client, props.loginUrl, refresh_token)
    finally:
        await client.aclose()
