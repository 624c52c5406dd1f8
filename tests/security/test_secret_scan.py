"""No secret in anything the product writes.

A whole session through the command line against the local org on a real socket: ``login`` (the browser's
part played by httpx through the org's auto-approving authorize page and our loopback callback), ``test``,
both recons, ``users``, ``user get``/``user update`` (implicit sync), ``recon-status``, ``serve
--set-password``, the REST API. The org records every secret it hands out during the test (client secret,
authorization codes, access and refresh tokens, rotated ones too); then every byte the product wrote is
scanned for any of them, whole or as a 12-character piece (a masked token shows 4+4): command output, logs
on stderr, audit rows, the ``db/`` files, every project file but the provisioner file. Snapshot SVGs under
``tests/`` and ``screenshots/`` come from other sessions' orgs, so they are scanned for the shapes of the
org's secrets instead.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from core.config.project import Project
from core.config.provisioner import ProvisionerConfig
from tests.reliability.helpers import INBOUND, OUTBOUND, ROOT, cli, run_sfsync, sfsync
from tests.sync.orgproject import REPO_ROOT

WINDOW = 12
#: the shapes of the local org's secrets (core/emulator/auth.py), for files made by other orgs
SHAPES = {
    "client secret": re.compile(r"(?<![0-9A-F])[0-9A-F]{64}(?![0-9A-F])"),
    "access token": re.compile(r"00D\w{12}!AQ[\w.]{40,}"),
    "refresh token": re.compile(r"5Aep[\w.]{40,}"),
    "authorization code": re.compile(r"aPrx[\w-]{40,}(==)?"),
}


class Issued:
    """Every secret the org hands out while the test runs (wraps the org's AuthStore)."""

    def __init__(self, org) -> None:
        self.values: set[str] = {org.auth.client.client_secret}
        auth = org.auth
        issue, use_refresh, issue_code = auth.issue, auth.use_refresh, auth.issue_code

        def record(value):
            if isinstance(value, str) and len(value) >= WINDOW:
                self.values.add(value)

        def wrapped_issue(*args, **kwargs):
            result = issue(*args, **kwargs)
            for v in result if isinstance(result, tuple) else (result,):
                record(v)
            return result

        def wrapped_refresh(*args, **kwargs):
            result = use_refresh(*args, **kwargs)
            record(result[0])
            record(result[1])
            return result

        def wrapped_code(*args, **kwargs):
            code = issue_code(*args, **kwargs)
            record(code if isinstance(code, str) else getattr(code, "code", None))
            return code

        auth.issue, auth.use_refresh, auth.issue_code = wrapped_issue, wrapped_refresh, wrapped_code

    def windows(self) -> set[str]:
        """Every 12-character piece of every secret; an access token's ``<org id>!`` prefix is public."""
        secret = [v.split("!", 1)[1] if "!" in v[:20] else v for v in self.values]
        return {v[i:i + WINDOW] for v in secret for i in range(len(v) - WINDOW + 1)}


def leaks(text: str, windows: set[str]) -> list[str]:
    """The secret pieces found in ``text`` (a set of windows: each position checked once)."""
    return sorted({text[i:i + WINDOW] for i in range(len(text) - WINDOW + 1)} & windows)


def login(project: Path, port: int) -> subprocess.CompletedProcess:
    """``sfsync login --no-browser``; the browser's part: open the printed URL, follow the redirects (the org
    approves at once and sends the browser to our loopback callback)."""
    proc = sfsync(project, "login", "--no-browser", "--port", str(port), "--timeout", "60",
                  stdin=subprocess.DEVNULL)
    lines: list[bytes] = []
    url = None
    deadline = time.monotonic() + 60
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(rb"https?://\S+/services/oauth2/authorize\S*", line)
        url = found.group(0).decode() if found else None
    assert url, b"".join(lines).decode() + proc.stderr.read().decode()
    quiet = logging.getLogger("httpx")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # the test's browser logs the callback URL, code included: not ours
    try:
        with httpx.Client(follow_redirects=True, timeout=30) as browser:
            page = browser.get(url)
            assert page.status_code == 200, page.text[:500]
    finally:
        quiet.setLevel(level)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, b"".join(lines).decode() + out.decode(),
                                       err.decode())


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_secret_in_anything_the_product_writes(live_org_factory, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO)  # the product's own log lines are part of what it writes
    live = live_org_factory(users=60, seed=51, auto_approve=True, token_ttl=1)
    issued = Issued(live.org)
    root = tmp_path / "p"
    (root / "conf").mkdir(parents=True)
    for name in ("managed.json", "provisioner.openicf-salesforce.json", "sync.json"):
        (root / "conf" / name).write_bytes((REPO_ROOT / "conf" / name).read_bytes())
    project = Project(root)
    config = ProvisionerConfig.load(project)
    config.update_properties(loginUrl=live.login_url, clientId=live.client_id, clientSecret=live.client_secret)
    config.enabled = True
    config.save(project)

    outputs: dict[str, str] = {}

    def record(name: str, result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
        outputs[f"{name} stdout"], outputs[f"{name} stderr"] = result.stdout, result.stderr
        return result

    result = record("login", login(root, free_port()))
    assert result.returncode == 0, result.stderr
    saved = ProvisionerConfig.load(project).properties
    assert saved.refresh_token and saved.refresh_token in issued.values
    assert stat.S_IMODE(project.provisioner_path.stat().st_mode) == 0o600

    # in this process (the same handlers as the command line, faster); access tokens live 1 s, so these
    # commands refresh again and again
    assert record("test", cli(capsys, root, "test")).returncode == 0
    assert record("recon in", cli(capsys, root, "recon", INBOUND, "--json")).returncode == 0
    assert record("recon out", cli(capsys, root, "recon", OUTBOUND, "--json")).returncode == 0
    users = json.loads(record("users", cli(capsys, root, "users", "--page-size", "5")).stdout)["result"]
    assert users
    record("user get", cli(capsys, root, "user", "get", users[0]["_id"]))
    assert record("user update", cli(capsys, root, "user", "update", users[0]["_id"], "sn=Scanned")).returncode == 0
    record("recon-status", cli(capsys, root, "recon-status", "--json"))
    assert record("recon sub", run_sfsync(root, "recon", INBOUND)).returncode == 0  # and a real process
    proc = sfsync(root, "serve", "--set-password", stdin=subprocess.PIPE)
    out, err = proc.communicate(b"correct horse battery staple\n", timeout=60)
    assert proc.returncode == 0, err.decode()
    outputs["set-password stdout"], outputs["set-password stderr"] = out.decode(), err.decode()
    issued.values.add("correct horse battery staple")
    assert stat.S_IMODE(project.settings_path.stat().st_mode) == 0o600

    # the REST API, with the project's credentials, reading what the runs left
    port = free_port()
    server = sfsync(root, "serve", "--port", str(port))
    try:
        base = f"http://127.0.0.1:{port}/openidm"
        headers = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "correct horse battery staple"}
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/recon", headers=headers, timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        for name, call in {
            "rest test": lambda: httpx.post(f"{base}/system?_action=test", headers=headers, timeout=30),
            "rest recon": lambda: httpx.post(f"{base}/recon?_action=recon&mapping={INBOUND}&waitForCompletion=true",
                                             headers=headers, timeout=60),
            "rest runs": lambda: httpx.get(f"{base}/recon", headers=headers, timeout=30),
            "rest audit": lambda: httpx.get(f"{base}/audit/recon", params={"_queryFilter": "true"}, headers=headers,
                                            timeout=30),
            "rest users": lambda: httpx.get(f"{base}/managed/user", params={"_queryFilter": "true"}, headers=headers,
                                            timeout=30),
        }.items():
            response = call()
            assert response.status_code < 500, (name, response.text[:300])
            outputs[name] = response.text
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
        outputs["serve stdout"], outputs["serve stderr"] = out.decode(), err.decode()

    outputs["log records"] = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert len(issued.values) >= 5, "the session must have been issued tokens to look for"
    kinds = {kind for kind, shape in SHAPES.items() for v in issued.values if shape.fullmatch(v)}
    assert kinds >= {"client secret", "authorization code", "refresh token"}, kinds
    windows = issued.windows()
    found = {name: leaks(text, windows) for name, text in outputs.items()}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path != project.provisioner_path:
            found[str(path.relative_to(root))] = leaks(path.read_bytes().decode("latin-1"), windows) + leaks(
                path.read_bytes().decode("utf-8", "replace"), windows)
    assert not {k: v for k, v in found.items() if v}, "secrets found"
    # the scan looked where the data is: the users and the audit rows are in db/ (the database or its WAL),
    # and those are files the loop above scanned
    db_files = [p for p in project.db_dir.iterdir() if p.name.startswith("sfsync.sqlite3")]
    assert project.db_path in db_files and all(str(p.relative_to(root)) in found for p in db_files), sorted(found)
    db_text = "".join(p.read_bytes().decode("latin-1") for p in db_files)
    run_id = json.loads(outputs["recon in stdout"])["_id"]
    assert users[0]["_id"] in db_text and "Scanned" in db_text, "the edited user is not in the scanned db/ files"
    assert f"{run_id}-1" in db_text, "the recon's audit entries are not in the scanned db/ files"


def test_the_provisioner_file_keeps_its_secrets_0600_through_every_save(live_org_factory, tmp_path):
    live = live_org_factory(users=10, seed=52)
    root = tmp_path / "p"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "provisioner.openicf-salesforce.json").write_bytes(
        (REPO_ROOT / "conf" / "provisioner.openicf-salesforce.json").read_bytes())
    os.chmod(root / "conf" / "provisioner.openicf-salesforce.json", 0o644)  # as a git checkout leaves it
    project = Project(root)
    config = ProvisionerConfig.load(project)
    config.update_properties(clientSecret=live.client_secret)
    config.save(project)
    assert stat.S_IMODE(project.provisioner_path.stat().st_mode) == 0o600
    leftovers = [p.name for p in (root / "conf").iterdir() if p.name != "provisioner.openicf-salesforce.json"]
    assert leftovers == []  # atomic: no temporary file left beside it


SCANNED_ELSEWHERE = [*sorted((ROOT / "tests").rglob("*.svg")), *sorted((ROOT / "screenshots").rglob("*"))]


@pytest.mark.parametrize("path", [p for p in SCANNED_ELSEWHERE if p.is_file()] or [None],
                         ids=lambda p: str(p.relative_to(ROOT)) if p else "none")
def test_snapshots_and_screenshots_hold_nothing_shaped_like_a_secret(path):
    if path is None:
        pytest.skip("no snapshot or screenshot in the tree yet")
    text = path.read_bytes().decode("utf-8", "replace")
    for kind, shape in SHAPES.items():
        assert not shape.search(text), f"{path.relative_to(ROOT)}: something shaped like a {kind}"
