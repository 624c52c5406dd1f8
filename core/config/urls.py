"""Login URL kinds and the URL rules shared by the configuration and the connector.

IDM's ``loginUrl`` is the OAuth *token* endpoint. Its admin UI offers three kinds, and so do we:
Production, Sandbox, and Custom (a My Domain, or the local org). Secrets travel to these URLs, so
``http://`` is refused except for loopback hosts, where nothing leaves the machine.
"""

from __future__ import annotations

import enum
import ipaddress
from urllib.parse import urlsplit

PRODUCTION_TOKEN_URL = "https://login.salesforce.com/services/oauth2/token"
SANDBOX_TOKEN_URL = "https://test.salesforce.com/services/oauth2/token"
TOKEN_PATH = "/services/oauth2/token"


class LoginUrlKind(enum.Enum):
    """The three choices of IDM's admin UI."""

    PRODUCTION = "Production"
    SANDBOX = "Sandbox"
    CUSTOM = "Custom"


def is_loopback_host(host: str | None) -> bool:
    """``localhost``, ``127.0.0.0/8`` and ``::1``: hosts where plain http never leaves the machine."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: str, *, what: str = "URL") -> str:
    """``value`` if it is an https URL (or http on a loopback host); else ``ValueError`` saying why."""
    text = value.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError(f"not a {what}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"not a {what}")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ValueError(f"http:// is allowed only for localhost; use https://{parts.netloc}{parts.path}")
    return text


def kind_of(login_url: str | None) -> LoginUrlKind:
    """Which admin-UI choice ``login_url`` corresponds to."""
    url = (login_url or "").rstrip("/")
    if url == PRODUCTION_TOKEN_URL:
        return LoginUrlKind.PRODUCTION
    if url == SANDBOX_TOKEN_URL:
        return LoginUrlKind.SANDBOX
    return LoginUrlKind.CUSTOM


def login_url_for(kind: LoginUrlKind, custom: str | None = None) -> str:
    """The token endpoint for ``kind``; for Custom, ``custom`` may be a bare host or a full token URL."""
    if kind is LoginUrlKind.PRODUCTION:
        return PRODUCTION_TOKEN_URL
    if kind is LoginUrlKind.SANDBOX:
        return SANDBOX_TOKEN_URL
    if not custom:
        raise ValueError("a Custom login URL needs a host, e.g. https://mydomain.my.salesforce.com")
    text = custom.strip()
    if "://" not in text:
        text = "https://" + text
    check_url(text, what="login URL")
    parts = urlsplit(text)
    if parts.path in ("", "/"):
        text = f"{parts.scheme}://{parts.netloc}{TOKEN_PATH}"
    return text


def oauth_endpoint(login_url: str, name: str) -> str:
    """The OAuth endpoint ``name`` (``authorize``, ``revoke``, ``userinfo``) next to the token endpoint.

    IDM's admin UI derives the authorize URL the same way: ``/token`` replaced by ``/authorize``.
    A login URL given as a bare host gets Salesforce's standard ``/services/oauth2/`` path.
    """
    parts = urlsplit(login_url.strip())
    path = parts.path.rstrip("/")
    if path.endswith("/token"):
        path = path[: -len("token")] + name
    elif path in ("",):
        path = f"/services/oauth2/{name}"
    else:
        path = f"{path}/{name}"
    return f"{parts.scheme}://{parts.netloc}{path}"
