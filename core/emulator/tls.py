"""A private certificate authority and a server certificate for the local org's ``--tls`` mode.

Every real org is HTTPS-only and many clients (simple-salesforce among them) build ``https://`` URLs
themselves, so the org can serve TLS with a certificate for localhost / 127.0.0.1 signed by a CA it makes;
clients trust that CA file (``caFile`` in the JSON line) and nothing else changes. With ``client=True`` the
same CA also signs a client certificate (tests of ``sfsync serve --ca-file``, which requires one).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path
    #: with ``make_certificates(..., client=True)``: a client certificate (clientAuth) and its key
    client_cert_file: Path | None = None
    client_key_file: Path | None = None


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_certificates(folder: Path, hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1"), *,
                      client: bool = False) -> TlsFiles:
    """Create (or reuse, when all exist) ``ca.pem``, ``server.pem`` and ``server-key.pem``, plus
    ``client.pem`` and ``client-key.pem`` with ``client``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem",
                     *((folder / "client.pem", folder / "client-key.pem") if client else (None, None)))
    if all(p.exists() for p in (files.ca_file, files.cert_file, files.key_file, files.client_cert_file,
                                files.client_key_file) if p is not None):
        return files
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sfsync local org"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "sfsync local org CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + timedelta(days=825))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(ca_ski, critical=False)
               .sign(ca_key, hashes.SHA256()))

    def issue(common_name: str, names: list[x509.GeneralName], usage: x509.ObjectIdentifier,
              cert_file: Path, key_file: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
                   .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + timedelta(days=397)))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = (builder
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write(key_file, _key_pem(key), 0o600)
        _write(cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)

    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    issue("localhost", names, ExtendedKeyUsageOID.SERVER_AUTH, files.cert_file, files.key_file)
    if files.client_cert_file is not None and files.client_key_file is not None:
        issue("sfsync client", [], ExtendedKeyUsageOID.CLIENT_AUTH, files.client_cert_file, files.client_key_file)
    _write(files.ca_file, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return files
