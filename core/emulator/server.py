"""Serving the org over real sockets: a uvicorn server in a thread (tests, the demo) or in the
foreground (``sfsync demo-org``), with optional TLS and ``--data`` persistence."""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TextIO

import uvicorn

from core.listen import listen_socket

from .app import create_app
from .org import Org
from .tls import TlsFiles, make_certificates


def url_for(host: str, port: int, tls: bool) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else (
        f"[{host}]" if ":" in host else host)
    return f"{'https' if tls else 'http'}://{shown}:{port}"


class OrgServer:
    """uvicorn serving an app on a bound socket in a daemon thread; :meth:`stop` then :meth:`start`
    again (same port) is how reliability tests take the org away for a while."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None) -> None:
        self.app, self.host, self.tls = app, host, tls
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return url_for(self.host, self.port, self.tls is not None)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 15) -> None:
        if self.running:
            return
        sock = listen_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        tls = self.tls
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2,
                                ssl_certfile=str(tls.cert_file) if tls else None,
                                ssl_keyfile=str(tls.key_file) if tls else None)
        server = uvicorn.Server(config)   # not the main thread: uvicorn leaves signal handlers alone
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="local-org", daemon=True)
        self._server, self._thread, self._sock = server, thread, sock
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the local org did not start on {self.host}:{self.port}")
            time.sleep(0.005)

    def stop(self, timeout: float = 10) -> None:
        """Stop serving and close the listening socket (connections are refused until :meth:`start`)."""
        if self._server is None:
            return
        self._server.should_exit = True
        self._server.force_exit = True      # like a killed org: open connections are dropped, not drained
        if self._thread is not None:
            self._thread.join(timeout)
        self._sock.close()
        self._server = self._thread = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Persister:
    """Saves the org to ``path`` (atomically) while it changes, and once more on :meth:`close`.

    Saves are at least ``interval`` seconds apart and at least five times as far apart as the last save
    took, so a 100,000-user org under constant writes spends at most a fifth of a core on saving.
    """

    def __init__(self, org: Org, path: Path, interval: float = 1.0) -> None:
        self.org, self.path, self.interval = org, path, interval
        self.saved = org.changes
        self._wait = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="local-org-save", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._wait):
            self.flush()

    def flush(self) -> None:
        changes = self.org.changes
        if changes != self.saved:
            started = time.monotonic()
            self.org.save(self.path)
            self.saved = changes
            self._wait = max(self.interval, 5 * (time.monotonic() - started))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.flush()


def open_org(data: Path | None, users: int, seed: int) -> Org:
    """The org in ``data`` when that file exists, else a freshly generated one (saved there at once)."""
    if data is not None and data.exists():
        return Org.load(data)
    org = Org.generate(users=users, seed=seed)
    if data is not None:
        data.parent.mkdir(parents=True, exist_ok=True)
        org.save(data)
    return org


def serve(*, host: str = "127.0.0.1", port: int = 0, users: int = 250, seed: int = 0, auto_approve: bool = False,
          tls: bool = False, token_ttl: float = 7200, error_rate: float = 0.0, latency_ms: float = 0,
          bandwidth: float = 0, job_ms: float = 1000, job_rate: float = 50_000, instant_jobs: bool = False,
          result_ttl: float = 600, data: Path | None = None, out: TextIO = sys.stdout) -> int:
    """Run the org in the foreground until interrupted; the first line on ``out`` is the JSON object
    ``{"url", "loginUrl", "clientId", "clientSecret", "username", "password"[, "caFile"]}``."""
    org = open_org(data, users, seed)
    app = create_app(org, auto_approve=auto_approve, token_ttl=token_ttl, error_rate=error_rate,
                     latency_ms=latency_ms, bandwidth=bandwidth, job_ms=job_ms, job_rate=job_rate,
                     instant_jobs=instant_jobs, result_ttl=result_ttl)
    tmp: tempfile.TemporaryDirectory | None = None
    files: TlsFiles | None = None
    if tls:
        if data is not None:
            folder = data.with_name(data.name + ".tls")
        else:
            tmp = tempfile.TemporaryDirectory(prefix="sfsync-org-tls-")
            folder = Path(tmp.name)
        extra = () if host in ("127.0.0.1", "0.0.0.0", "::", "localhost", "") else (host,)
        files = make_certificates(folder, ("localhost", "127.0.0.1", "::1", *extra))
    sock = listen_socket(host, port)
    url = url_for(host, sock.getsockname()[1], tls)
    client = org.auth.client
    line = {"url": url, "loginUrl": f"{url}/services/oauth2/token", "clientId": client.client_id,
            "clientSecret": client.client_secret, "username": org.admin_username, "password": org.admin_password}
    if files is not None:
        line["caFile"] = str(files.ca_file)
    out.write(json.dumps(line) + "\n")
    out.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2,
                            ssl_certfile=str(files.cert_file) if files else None,
                            ssl_keyfile=str(files.key_file) if files else None)
    persister = Persister(org, data) if data is not None else None
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        if persister is not None:
            persister.close()
        if tmp is not None:
            tmp.cleanup()
    return 0
