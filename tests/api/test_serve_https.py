"""``sfsync serve`` over HTTPS (issue #18): real sockets on loopback, certificates from ``core.emulator.tls``.

The server runs as a subprocess (the real command line, uvicorn, a real port), as in ``test_seed_curl``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.api import create_app
from core.api.auth import hash_password
from core.config.settings import Settings
from core.emulator.tls import TlsFiles, make_certificates
from tests.api.conftest import ADMIN
from tests.api.test_seed_curl import SEED_QUERY, SEED_RECON, SEED_TEST, _free_port
from tui.cli import main

HSTS = "max-age=31536000"
USERS = "/openidm/managed/user?_queryFilter=true&_fields=_id"

#: ``sfsync serve`` whose socket listens on 127.0.0.1 whatever --host says: the non-loopback rules are exercised
#: (``--host 0.0.0.0``) without opening a port to the network on a shared machine
LOOPBACK_SOCKET = """
import sys
import tui.commands.serve as serve
from core.listen import listen_socket
serve.listen_socket = lambda host, port, backlog=512: listen_socket("127.0.0.1", port, backlog)
from tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    return make_certificates(tmp_path / "tls", client=True)


class Served:
    def __init__(self, root: Path, *args: str, loopback_socket: bool = False) -> None:
        self.port = _free_port()
        entry = ["-c", LOOPBACK_SOCKET] if loopback_socket else ["-m", "tui"]
        self.proc = subprocess.Popen([sys.executable, *entry, "-p", str(root), "serve", "--port", str(self.port), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.line = self.proc.stdout.readline()  # printed once requests are answered
        if "serving" not in self.line:
            self.proc.kill()
            pytest.fail(f"sfsync serve did not start: {self.line!r} {self.proc.stderr.read()!r}")

    def stop(self) -> str:
        """Ctrl-C; what the server wrote to stderr."""
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


@pytest.fixture
def serving() -> Iterator:
    started: list[Served] = []

    def start(root: Path, *args: str, **options: bool) -> Served:
        started.append(Served(root, *args, **options))
        return started[-1]

    yield start
    for served in started:
        if served.proc.poll() is None:
            served.stop()


def client_context(tls: TlsFiles, *, with_cert: bool = False) -> ssl.SSLContext:
    """What a client trusts: the CA file only (and presents the client certificate with ``with_cert``)."""
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    if with_cert:
        context.load_cert_chain(str(tls.client_cert_file), str(tls.client_key_file))
    return context


def https_args(tls: TlsFiles) -> tuple[str, ...]:
    return "--certfile", str(tls.cert_file), "--keyfile", str(tls.key_file)


def test_https_answers_with_hsts_and_plain_http_on_its_port_fails(sample_project, tls, serving):
    served = serving(sample_project.root, *https_args(tls))
    base = f"https://127.0.0.1:{served.port}"
    assert f"serving the IDM REST API at {base}/openidm/" in served.line
    with httpx.Client(verify=client_context(tls), headers=ADMIN, timeout=30) as client:
        answer = client.get(base + USERS)
        assert answer.status_code == 200 and answer.json()["resultCount"] == 0
        assert answer.headers["strict-transport-security"] == HSTS
        denied = client.get(base + USERS, headers={"X-OpenIDM-Password": "wrong"})
        assert denied.status_code == 401 and denied.headers["strict-transport-security"] == HSTS
    with pytest.raises(httpx.TransportError):  # plain HTTP to the TLS port: no HTTP answer at all
        httpx.get(f"http://127.0.0.1:{served.port}{USERS}", headers=ADMIN, timeout=10)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):  # real TLS: the system CAs do not
        httpx.get(base + USERS, headers=ADMIN, timeout=10)                   # know this certificate
    err = served.stop()  # the refused handshakes leave nothing on stderr but the Ctrl-C line
    assert "Traceback" not in err and "SSL" not in err and "ssl" not in err, err


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed on this machine")
def test_the_seeds_curl_commands_over_https_with_cacert(org_project, tls, serving):
    project, org = org_project
    served = serving(project.root, *https_args(tls))

    def curl(command: str) -> dict:
        command = command.replace("curl \\", f"curl --silent --show-error --include --cacert '{tls.ca_file}' \\", 1)
        command = command.replace("http://localhost:8080", f"https://localhost:{served.port}")
        out = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120, check=True).stdout
        head, _, body = out.partition("\n\n")  # text=True: CRLF read as LF
        assert re.search(r"^HTTP/\S+ 200", head) and f"strict-transport-security: {HSTS}" in head.lower(), head
        return json.loads(body)

    tested = curl(SEED_TEST)
    assert tested["ok"] is True and tested["name"] == "salesforce"
    recon = curl(SEED_RECON)
    assert set(recon) == {"state", "_id"} and recon["state"] == "SUCCESS"
    run = curl(SEED_QUERY.replace("managed/user?_queryFilter=true&_fields=_id", f"recon/{recon['_id']}"))
    query = curl(SEED_QUERY)
    assert query["resultCount"] == len(query["result"]) == run["progress"]["target"]["created"] > 0
    assert all(list(row) == ["_id", "_rev"] for row in query["result"])


def test_ca_file_requires_a_client_certificate_signed_by_it(sample_project, tls, serving):
    served = serving(sample_project.root, *https_args(tls), "--ca-file", str(tls.ca_file))
    url = f"https://127.0.0.1:{served.port}{USERS}"
    with pytest.raises(httpx.TransportError):  # TLS 1.3: the server's alert arrives on the first read
        httpx.get(url, headers=ADMIN, verify=client_context(tls), timeout=10)
    other = make_certificates(sample_project.root / "other-ca", client=True)  # a certificate from another CA
    context = client_context(tls)
    context.load_cert_chain(str(other.client_cert_file), str(other.client_key_file))
    with pytest.raises(httpx.TransportError):
        httpx.get(url, headers=ADMIN, verify=context, timeout=10)
    answer = httpx.get(url, headers=ADMIN, verify=client_context(tls, with_cert=True), timeout=30)
    assert answer.status_code == 200 and answer.headers["strict-transport-security"] == HSTS


def test_plain_http_beyond_loopback_is_refused_with_the_reason(sample_project, capsys):
    Settings.model_validate({"admin_password_hash": hash_password("a long passphrase")}).save(sample_project)
    assert main(["-p", str(sample_project.root), "serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "0.0.0.0" in err and "--certfile/--keyfile" in err and "--insecure-http" in err


def test_insecure_http_serves_beyond_loopback_with_a_warning_and_no_hsts(sample_project, serving):
    Settings.model_validate({"admin_password_hash": hash_password("a long passphrase")}).save(sample_project)
    served = serving(sample_project.root, "--host", "0.0.0.0", "--insecure-http", loopback_socket=True)
    assert f"serving the IDM REST API at http://0.0.0.0:{served.port}/openidm/" in served.line
    headers = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "a long passphrase"}
    answer = httpx.get(f"http://127.0.0.1:{served.port}{USERS}", headers=headers, timeout=30)
    assert answer.status_code == 200 and "strict-transport-security" not in answer.headers
    err = served.stop()
    assert "warning" in err and "--insecure-http" in err and "a long passphrase" not in err


async def test_hsts_only_when_the_app_is_told_it_serves_https(sample_project, asgi_client):
    async with asgi_client(create_app(sample_project, hsts=True)) as client:
        assert (await client.get(USERS)).headers["strict-transport-security"] == HSTS
    async with asgi_client(create_app(sample_project)) as client:
        assert "strict-transport-security" not in (await client.get(USERS)).headers


def _serve(project, *args: str) -> int:
    return main(["-p", str(project.root), "serve", "--port", "0", *args])


def test_certfile_and_keyfile_go_together(sample_project, tls, capsys):
    assert _serve(sample_project, "--certfile", str(tls.cert_file)) == 2
    assert "--keyfile: required with --certfile" in capsys.readouterr().err
    assert _serve(sample_project, "--keyfile", str(tls.key_file)) == 2
    assert "--certfile: required with --keyfile" in capsys.readouterr().err
    assert _serve(sample_project, "--ca-file", str(tls.ca_file)) == 2
    assert "--ca-file: only with --certfile/--keyfile" in capsys.readouterr().err
    assert _serve(sample_project, *https_args(tls), "--insecure-http") == 2
    assert "--insecure-http: not with" in capsys.readouterr().err


def test_bad_certificate_files_exit_2_naming_the_file(sample_project, tls, tmp_path, capsys):
    missing = tmp_path / "missing.pem"
    cases = [
        (("--certfile", str(missing), "--keyfile", str(tls.key_file)), f"--certfile {missing}: cannot read it"),
        (("--certfile", str(tls.key_file), "--keyfile", str(tls.key_file)), f"--certfile {tls.key_file}: no PEM"),
        (("--certfile", str(tls.cert_file), "--keyfile", str(tls.cert_file)), f"--keyfile {tls.cert_file}: no usable"),
        (("--certfile", str(tls.cert_file), "--keyfile", str(tls.client_key_file)),
         f"--keyfile {tls.client_key_file}: not the private key of the certificate in {tls.cert_file}"),
        ((*https_args(tls), "--ca-file", str(missing)), f"--ca-file {missing}: cannot read it"),
        ((*https_args(tls), "--ca-file", str(tls.key_file)), f"--ca-file {tls.key_file}: no PEM CA certificate"),
    ]
    for args, reason in cases:
        assert _serve(sample_project, *args) == 2, args
        err = capsys.readouterr().err
        assert reason in err and len(err.strip().splitlines()) == 1, (args, err)


def test_an_encrypted_key_is_refused_without_prompting(sample_project, tls, tmp_path, capsys):
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(tls.key_file.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted-key.pem"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"passphrase")))
    assert _serve(sample_project, "--certfile", str(tls.cert_file), "--keyfile", str(encrypted)) == 2
    assert f"--keyfile {encrypted}: the private key is encrypted" in capsys.readouterr().err
