"""Tokens from Salesforce's token endpoint, and what its errors mean to a user.

Salesforce's token JSON has no ``expires_in``: an access token lives as long as the session, so it is
kept in memory and replaced when a call answers 401 ``INVALID_SESSION_ID``. The refresh token is long
lived; with Refresh Token Rotation each refresh returns a new one that must be saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.config.masking import mask_secret
from core.salesforce._authlib import AsyncOAuth2Client, OAuthError
from core.salesforce.errors import AuthError, SalesforceError, TransientError


@dataclass(frozen=True)
class TokenSet:
    """One token response. Secrets are left out of ``repr`` (and so out of logs and tracebacks)."""

    access_token: str = field(repr=False)
    instance_url: str
    refresh_token: str | None = field(default=None, repr=False)
    id_url: str | None = None
    issued_at: str | None = None
    scope: str | None = None

    @classmethod
    def from_response(cls, data: dict[str, Any], *, fallback_refresh: str | None = None) -> TokenSet:
        access = data.get("access_token")
        instance = data.get("instance_url")
        if not access or not instance:
            raise SalesforceError("the token endpoint answered without access_token/instance_url",
                                  error_code="INVALID_TOKEN_RESPONSE")
        return cls(access_token=str(access), instance_url=str(instance).rstrip("/"),
                   refresh_token=data.get("refresh_token") or fallback_refresh,
                   id_url=data.get("id"), issued_at=data.get("issued_at"), scope=data.get("scope"))

    @property
    def org_id(self) -> str | None:
        """The org Id from the identity URL ``…/id/<orgId>/<userId>``."""
        parts = urlsplit(self.id_url or "").path.strip("/").split("/")
        return parts[1] if len(parts) >= 3 and parts[0] == "id" else None

    @property
    def user_id(self) -> str | None:
        parts = urlsplit(self.id_url or "").path.strip("/").split("/")
        return parts[2] if len(parts) >= 3 and parts[0] == "id" else None

    def masked(self) -> str:
        return f"access {mask_secret(self.access_token)}, refresh {mask_secret(self.refresh_token)}"


def token_error(exc: OAuthError) -> SalesforceError:
    """An OAuth error response as the typed error a user can act on."""
    code = str(getattr(exc, "error", None) or "oauth_error")
    reason = str(getattr(exc, "description", None) or code)
    if code == "invalid_grant":
        return AuthError(f"log in again: {reason}", status=400, error_code=code)
    if code in ("invalid_client", "invalid_client_id", "unauthorized_client", "invalid_app_access"):
        return AuthError(f"the OAuth client was refused ({code}: {reason}); check clientId and clientSecret",
                         status=400, error_code=code)
    return AuthError(f"the token endpoint refused the request ({code}: {reason})", status=400, error_code=code)


def transport_error(exc: httpx.HTTPError, url: str) -> TransientError:
    """A network failure, naming the host but never the query string (it may carry a code)."""
    parts = urlsplit(url)
    kind = type(exc).__name__
    detail = str(exc) or kind
    return TransientError(f"cannot reach {parts.scheme}://{parts.netloc} ({kind}: {detail})",
                          error_code="UNREACHABLE")


async def refresh_access_token(client: AsyncOAuth2Client, token_url: str, refresh_token: str) -> TokenSet:
    """The refresh-token grant (``grant_type=refresh_token``) through authlib."""
    try:
        data = await client.refresh_token(token_url, refresh_token=refresh_token)
    except OAuthError as exc:
        raise token_error(exc) from None
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        err = TransientError if status >= 500 or status == 429 else SalesforceError
        raise err(f"the token endpoint answered HTTP {status}", status=status,
                  error_code=f"HTTP_{status}") from None
    except httpx.HTTPError as exc:
        raise transport_error(exc, token_url) from None
    rotated = data.get("refresh_token")
    return TokenSet.from_response(dict(data), fallback_refresh=rotated or refresh_token)
