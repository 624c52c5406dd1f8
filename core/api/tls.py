"""HTTPS for ``sfsync serve``: the server's TLS context, the plain-HTTP rule, and HSTS.

IDM serves its REST API over HTTPS; sfsync does when given a certificate and its key (PEM; a chain file such
as Let's Encrypt's ``fullchain.pem`` works, the server's own certificate first). Every call carries the admin
password in a header, so plain HTTP is allowed only on loopback, where nothing leaves the machine, unless the
user says ``--insecure-http``. With a client CA file, every client must present a certificate it signed.

Bad files are refused before the server starts (exit 2), naming the flag and the file: unreadable, not PEM,
an encrypted key (there is no terminal prompt for its passphrase), or a key that is not the certificate's.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.api.auth import is_loopback
from core.errors import UsageError

#: ``Strict-Transport-Security`` on every HTTPS response: one year (the usual production value), for this host
#: only (no ``includeSubDomains``: the server cannot speak for other hosts of its domain), no ``preload``
HSTS_MAX_AGE = 31_536_000
HSTS_HEADER = f"max-age={HSTS_MAX_AGE}"


def plain_http_refusal(host: str) -> str | None:
    """Why serving plain HTTP on ``host`` is refused, or None (loopback: 127.0.0.0/8, ::1, localhost)."""
    if is_loopback(host):
        return None
    return (f"--host {host}: refusing to serve plain HTTP beyond loopback (every call sends the admin password "
            "in clear); give --certfile/--keyfile to serve HTTPS, or --insecure-http to serve HTTP anyway")


def _read(flag: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot read it: {exc.strerror or exc}") from None


def _check_pair(certfile: str, keyfile: str) -> None:
    """The files hold a PEM certificate and the unencrypted PEM private key of its public key."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_pem_x509_certificates(_read("--certfile", certfile))[0]
    except ValueError:
        raise UsageError(f"--certfile {certfile}: no PEM certificate in it") from None
    try:
        key = serialization.load_pem_private_key(_read("--keyfile", keyfile), password=None)
    except TypeError:  # "Password was not given but private key is encrypted"
        raise UsageError(f"--keyfile {keyfile}: the private key is encrypted; give it unencrypted "
                         "(readable by this user only)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise UsageError(f"--keyfile {keyfile}: no usable PEM private key in it") from None
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*raw) != certificate.public_key().public_bytes(*raw):
        raise UsageError(f"--keyfile {keyfile}: not the private key of the certificate in {certfile}")


def server_context(certfile: str, keyfile: str, client_ca_file: str | None = None) -> ssl.SSLContext:
    """The server's TLS context (TLS 1.2 or later); with ``client_ca_file``, client certificates are required
    and verified against the CA certificates (PEM) in it. :class:`UsageError` naming flag and file when not."""
    _check_pair(certfile, keyfile)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2

    def no_passphrase() -> str:  # never prompt on the terminal (the key was checked to be unencrypted)
        raise UsageError(f"--keyfile {keyfile}: the private key is encrypted")

    try:
        context.load_cert_chain(certfile, keyfile, password=no_passphrase)
    except ssl.SSLError as exc:
        raise UsageError(f"--certfile {certfile} / --keyfile {keyfile}: {exc.reason or exc}") from None
    if client_ca_file is not None:
        _read("--ca-file", client_ca_file)
        try:
            context.load_verify_locations(cafile=client_ca_file)
        except ssl.SSLError:
            raise UsageError(f"--ca-file {client_ca_file}: no PEM CA certificate in it") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class HstsMiddleware:
    """Adds ``Strict-Transport-Security`` to every response (installed only when the server speaks HTTPS)."""

    def __init__(self, app: ASGIApp, value: str = HSTS_HEADER) -> None:
        self.app = app
        self.header = (b"strict-transport-security", value.encode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != self.header[0]]
                message = {**message, "headers": [*headers, self.header]}
            await send(message)

        await self.app(scope, receive, send_with_hsts)
