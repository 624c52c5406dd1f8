"""The one HTTP client a connector (or a login) uses, configured from IDM's connector properties.

Pool size from ``maximumConnections``, timeouts from ``connectTimeout`` (ms; 0 means none, as in the
Java connector), proxy from ``proxyHost``/``proxyPort``, HTTP/1.1 keep-alive, TLS always verified, with
an extra CA bundle (the ``ca_file`` setting or ``$SSL_CERT_FILE``) trusted besides the usual ones.
The client is authlib's :class:`AsyncOAuth2Client`, itself an :class:`httpx.AsyncClient`, so the OAuth
grants and the REST calls share one connection pool.
"""

from __future__ import annotations

import os
import ssl
import threading

import certifi
import httpx

from core.config.provisioner import ConfigurationProperties
from core.errors import ConfigError
from core.salesforce._authlib import AsyncOAuth2Client

USER_AGENT = "sfsync/0.1 (httpx)"
DEFAULT_SCOPE = "api refresh_token offline_access id"


_contexts: dict[tuple[str | None, int, int], ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def shared_ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """:func:`ssl_context`, built once per CA file (and its version on disk) and shared by every client.

    Loading the system's and certifi's stores costs ~150 ms, which an implicit sync (a connector per edit)
    would otherwise pay each time; an SSLContext may be shared by connections of any thread or loop, and
    nothing here changes it after it is built. A changed CA file (new mtime or size) builds a new one."""
    stamp = (0, 0)
    if ca_file:
        try:
            st = os.stat(ca_file)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            return ssl_context(ca_file)  # raises the ConfigError naming the file
    key = (ca_file, *stamp)
    with _contexts_lock:
        ctx = _contexts.get(key)
        if ctx is None:
            ctx = _contexts[key] = ssl_context(ca_file)
        return ctx


def ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Verify against the system store and certifi's, plus ``ca_file`` when given (a new context each call)."""
    ctx = ssl.create_default_context(cafile=certifi.where())
    try:
        ctx.load_default_certs()
    except ssl.SSLError:  # pragma: no cover - platform without a default store
        pass
    if ca_file:
        if not os.path.isfile(ca_file):
            raise ConfigError("CA file not found", path=ca_file)
        try:
            ctx.load_verify_locations(cafile=ca_file)
        except ssl.SSLError as exc:
            raise ConfigError(f"not a PEM CA bundle ({exc.reason})", path=ca_file) from None
    return ctx


def timeout_from(props: ConfigurationProperties) -> httpx.Timeout:
    """``connectTimeout`` bounds connecting; reads get at least a minute (a 2,000-row page can be slow)."""
    connect = props.connectTimeout / 1000 if props.connectTimeout else None
    read = max(connect, 60.0) if connect is not None else None
    return httpx.Timeout(connect=connect, read=read, write=read, pool=read)


def build_client(props: ConfigurationProperties, *, ca_file: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 redirect_uri: str | None = None, scope: str | None = None) -> AsyncOAuth2Client:
    """An authlib/httpx client for this org. ``transport`` lets tests mount the local org in-process."""
    secret = props.client_secret
    kwargs: dict[str, object] = {
        "headers": {"User-Agent": USER_AGENT, "Accept": "application/json"},
        "timeout": timeout_from(props),
        "follow_redirects": False,
        "http1": True,
        "http2": False,
    }
    if transport is not None:
        kwargs["transport"] = transport
    else:
        kwargs["limits"] = httpx.Limits(max_connections=props.maximumConnections,
                                        max_keepalive_connections=props.maximumConnections)
        kwargs["verify"] = shared_ssl_context(ca_file or os.environ.get("SSL_CERT_FILE") or None)
        if props.proxy_url:
            kwargs["proxy"] = props.proxy_url
    return AsyncOAuth2Client(
        client_id=props.clientId,
        client_secret=secret,
        token_endpoint_auth_method="client_secret_post" if secret else "none",
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        **kwargs,
    )
