"""The org's OAuth state: the registered client, authorization codes, access and refresh tokens.

Codes are single-use and short-lived and remember the PKCE challenge and redirect URI they were issued
for; refresh tokens may rotate (Salesforce's Refresh Token Rotation: reusing a rotated-out token revokes
the family). Secrets are excluded from every ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import OAuthError

CODE_TTL = 15 * 60


@dataclass
class OAuthClient:
    """A connected app. Callback URLs match exactly, except that ``loopback_any_port`` lets a native app's
    ``http://localhost:<any port>/OauthRedirect`` (or 127.0.0.1) match, as RFC 8252 asks of servers."""

    client_id: str
    client_secret: str = field(repr=False)
    name: str = "sfsync"
    callback_urls: tuple[str, ...] = ("http://localhost:1717/OauthRedirect",)
    loopback_any_port: bool = True
    require_secret: bool = True
    rotate_refresh_tokens: bool = False

    @classmethod
    def new(cls, name: str) -> OAuthClient:
        key = "3MVG9" + secrets.token_urlsafe(60).replace("-", ".").replace("_", ".")[:80]
        return cls(client_id=key, client_secret=secrets.token_hex(32).upper(), name=name)

    def redirect_ok(self, uri: str) -> bool:
        if uri in self.callback_urls:
            return True
        if not self.loopback_any_port:
            return False
        parts = urlsplit(uri)
        return (parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1")
                and parts.path == "/OauthRedirect" and not parts.query and not parts.fragment)

    def secret_ok(self, secret: str | None) -> bool:
        return secret is not None and hmac.compare_digest(secret.encode(), self.client_secret.encode())


@dataclass
class AuthCode:
    client_id: str
    user_id: str
    redirect_uri: str
    challenge: str | None = field(repr=False)
    scope: str
    expires: float


@dataclass
class RefreshToken:
    client_id: str
    user_id: str
    scope: str
    family: str


@dataclass
class AccessToken:
    client_id: str
    user_id: str
    scope: str
    expires: float
    family: str | None        # the refresh-token family it came from, revoked together


class AuthStore:
    """Codes and tokens, guarded by one lock (the org may be read from test threads)."""

    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self.clients: dict[str, OAuthClient] = {}
        self.codes: dict[str, AuthCode] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.rotated: dict[str, str] = {}          # rotated-out refresh token -> family
        self.access_tokens: dict[str, AccessToken] = {}
        self.lock = threading.RLock()
        self.code_ttl = CODE_TTL

    def __repr__(self) -> str:
        return f"AuthStore(clients={len(self.clients)}, access_tokens={len(self.access_tokens)})"

    @property
    def client(self) -> OAuthClient:
        """The first registered client (the one the JSON line prints)."""
        return next(iter(self.clients.values()))

    def add_client(self, client: OAuthClient) -> None:
        self.clients[client.client_id] = client

    # --------------------------------------------------------------------------------------- codes
    def issue_code(self, client: OAuthClient, user_id: str, redirect_uri: str, challenge: str | None,
                   scope: str) -> str:
        code = "aPrx" + secrets.token_urlsafe(48) + "=="
        with self.lock:
            if len(self.codes) > 1000:
                now = time.time()
                self.codes = {k: v for k, v in self.codes.items() if v.expires >= now}
            self.codes[code] = AuthCode(client.client_id, user_id, redirect_uri, challenge, scope,
                                        time.time() + self.code_ttl)
        return code

    def redeem_code(self, code: str, client: OAuthClient, redirect_uri: str | None, verifier: str | None) -> AuthCode:
        """Check and consume a code; every failure is Salesforce's ``invalid_grant`` (or redirect mismatch)."""
        with self.lock:
            grant = self.codes.pop(code, None)     # popped: a code works once, even when this call fails
            if grant is None:
                raise OAuthError("invalid_grant", "invalid authorization code")
        if grant.expires < time.time():
            raise OAuthError("invalid_grant", "expired authorization code")
        if grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "invalid authorization code")
        if redirect_uri != grant.redirect_uri:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        if grant.challenge is not None:
            if not verifier:
                raise OAuthError("invalid_grant", "invalid code verifier")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not hmac.compare_digest(digest, grant.challenge):
                raise OAuthError("invalid_grant", "invalid code verifier")
        return grant

    # -------------------------------------------------------------------------------------- tokens
    def issue(self, client: OAuthClient, user_id: str, scope: str, ttl: float, *, with_refresh: bool,
              family: str | None = None) -> tuple[str, str | None]:
        """A new access token (and a refresh token when asked); returns ``(access, refresh)``."""
        access = f"{self.org_id[:15]}!AQ" + secrets.token_urlsafe(72).replace("-", ".").replace("_", ".")
        refresh = None
        with self.lock:
            if with_refresh:
                family = family or secrets.token_hex(8)
                refresh = "5Aep" + secrets.token_urlsafe(64).replace("-", ".").replace("_", ".")
                self.refresh_tokens[refresh] = RefreshToken(client.client_id, user_id, scope, family)
            if len(self.access_tokens) > 10_000:      # forget expired tokens now and then (tests issue many)
                now = time.time()
                self.access_tokens = {k: v for k, v in self.access_tokens.items() if v.expires >= now}
            self.access_tokens[access] = AccessToken(client.client_id, user_id, scope, time.time() + ttl, family)
        return access, refresh

    def use_refresh(self, token: str, client: OAuthClient, ttl: float) -> tuple[str, str | None, RefreshToken]:
        """Exchange a refresh token; with rotation the old one dies and reusing it revokes its family."""
        with self.lock:
            grant = self.refresh_tokens.get(token)
            if grant is None:
                family = self.rotated.get(token)
                if family is not None:
                    self.revoke_family(family)
                raise OAuthError("invalid_grant", "expired access/refresh token")
            if grant.client_id != client.client_id:
                raise OAuthError("invalid_grant", "expired access/refresh token")
            if client.rotate_refresh_tokens:
                del self.refresh_tokens[token]
                self.rotated[token] = grant.family
                access, refresh = self.issue(client, grant.user_id, grant.scope, ttl, with_refresh=True,
                                             family=grant.family)
                return access, refresh, grant
            access, _ = self.issue(client, grant.user_id, grant.scope, ttl, with_refresh=False)
            self.access_tokens[access].family = grant.family
            return access, None, grant

    def validate(self, token: str) -> AccessToken | None:
        """The live access token, or None when unknown, revoked or expired."""
        grant = self.access_tokens.get(token)
        if grant is None:
            return None
        if grant.expires < time.time():
            with self.lock:
                self.access_tokens.pop(token, None)
            return None
        return grant

    def revoke(self, token: str) -> bool:
        """Revoke an access token, or a refresh token and every access token issued from it."""
        with self.lock:
            if token in self.access_tokens:
                del self.access_tokens[token]
                return True
            grant = self.refresh_tokens.get(token)
            if grant is None:
                return False
            self.revoke_family(grant.family)
            return True

    def revoke_family(self, family: str) -> None:
        with self.lock:
            for key in [k for k, v in self.refresh_tokens.items() if v.family == family]:
                del self.refresh_tokens[key]
            for key in [k for k, v in self.access_tokens.items() if v.family == family]:
                del self.access_tokens[key]

    def expire_all_access_tokens(self) -> None:
        """Make every access token expired now (tests of session expiry, without waiting)."""
        with self.lock:
            for grant in self.access_tokens.values():
                grant.expires = 0

    # --------------------------------------------------------------------------------- persistence
    def to_json(self) -> dict:
        with self.lock:
            return {
                "clients": [{"clientId": c.client_id, "clientSecret": c.client_secret, "name": c.name,
                             "callbackUrls": list(c.callback_urls), "loopbackAnyPort": c.loopback_any_port,
                             "requireSecret": c.require_secret, "rotateRefreshTokens": c.rotate_refresh_tokens}
                            for c in self.clients.values()],
                "refreshTokens": [{"token": k, "clientId": v.client_id, "userId": v.user_id, "scope": v.scope,
                                   "family": v.family} for k, v in self.refresh_tokens.items()],
            }

    @classmethod
    def from_json(cls, org_id: str, data: dict) -> AuthStore:
        store = cls(org_id)
        for c in data["clients"]:
            store.add_client(OAuthClient(c["clientId"], c["clientSecret"], c["name"], tuple(c["callbackUrls"]),
                                         c["loopbackAnyPort"], c["requireSecret"], c["rotateRefreshTokens"]))
        for t in data["refreshTokens"]:
            store.refresh_tokens[t["token"]] = RefreshToken(t["clientId"], t["userId"], t["scope"], t["family"])
        return store


def signature(client_secret: str, identity_url: str, issued_at: str) -> str:
    """Salesforce's token ``signature``: Base64(HMAC-SHA256(client secret, id + issued_at))."""
    mac = hmac.new(client_secret.encode(), (identity_url + issued_at).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()
