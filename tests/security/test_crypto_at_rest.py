"""Secrets at rest: after a real session nothing secret is in plain text anywhere in the project.

``tests/security/test_secret_scan.py`` scans every file but the provisioner file; here the provisioner file
is scanned too, since its secrets are ``$crypto`` objects now. A login through the loopback callback (the
browser played by httpx), the connector test, both recons with 1-second access tokens and rotating refresh
tokens (so the connector saves rotated ones), an implicit sync, ``sfsync secrets rotate-key`` and another
recon: then every secret the org handed out (client secret, authorization codes, access and refresh tokens,
rotated ones) is looked for, whole or as any 12-character piece, in every file under the project, and the
key's own bytes only in ``security/sfsync.key`` (0600, in a 0700 folder, never in ``conf/`` or ``db/``).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import httpx

from core.config.project import Project
from core.config.provisioner import ProvisionerConfig
from core.config.secrets import KEY_FILE, KeyStore
from tests.reliability.helpers import INBOUND, OUTBOUND, cli, sfsync
from tests.sync.orgproject import REPO_ROOT

WINDOW = 12


def _pieces(values: set[str]) -> set[str]:
    """Every 12-character piece; an access token's ``<org id>!`` prefix is public."""
    cut = [v.split("!", 1)[1] if "!" in v[:20] else v for v in values if isinstance(v, str)]
    return {v[i:i + WINDOW] for v in cut if len(v) >= WINDOW for i in range(len(v) - WINDOW + 1)}


def _found(text: str, pieces: set[str]) -> list[str]:
    return sorted({text[i:i + WINDOW] for i in range(len(text) - WINDOW + 1)} & pieces)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _login(root: Path) -> subprocess.CompletedProcess:
    proc = sfsync(root, "login", "--no-browser", "--port", str(_free_port()), "--timeout", "60",
                  stdin=subprocess.DEVNULL)
    seen: list[bytes] = []
    url = None
    deadline = time.monotonic() + 60
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(rb"https?://\S+/services/oauth2/authorize\S*", line)
        url = match.group(0).decode() if match else None
    assert url, b"".join(seen).decode() + proc.stderr.read().decode()
    quiet = logging.getLogger("httpx")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # the test's browser would log the callback URL, code included
    try:
        with httpx.Client(follow_redirects=True, timeout=30) as browser:
            assert browser.get(url).status_code == 200
    finally:
        quiet.setLevel(level)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, b"".join(seen).decode() + out.decode(),
                                       err.decode())


def _props(project: Project) -> dict:
    return json.loads(project.provisioner_path.read_text())["configurationProperties"]


def _key_text(project: Project) -> str:
    return (project.root / "security" / KEY_FILE).read_text().strip()


def test_no_plaintext_secret_anywhere_after_login_recon_and_rotation(live_org_factory, tmp_path, capsys):
    live = live_org_factory(users=40, seed=61, auto_approve=True, token_ttl=1)
    live.org.auth.client.rotate_refresh_tokens = True  # the connector saves each rotated refresh token
    root = tmp_path / "p"
    (root / "conf").mkdir(parents=True)
    for name in ("managed.json", "provisioner.openicf-salesforce.json", "sync.json"):
        shutil.copyfile(REPO_ROOT / "conf" / name, root / "conf" / name)
    project = Project(root)
    config = ProvisionerConfig.load(project)
    config.update_properties(loginUrl=live.login_url, clientId=live.client_id, clientSecret=live.client_secret)
    config.enabled = True
    config.save(project)

    result = _login(root)
    assert result.returncode == 0, result.stderr
    assert "encrypted" in result.stdout
    outputs = {"login": result.stdout + result.stderr}
    for name, args in {"test": ("test",), "recon in": ("recon", INBOUND, "--json"),
                       "recon out": ("recon", OUTBOUND, "--json")}.items():
        done = cli(capsys, root, *args)
        assert done.returncode == 0, (name, done.stderr[-500:])
        outputs[name] = done.stdout + done.stderr
    users = json.loads(cli(capsys, root, "users", "--page-size", "3").stdout)["result"]
    done = cli(capsys, root, "user", "update", users[0]["_id"], "sn=Sealed")
    assert done.returncode == 0, done.stderr
    old_key = _key_text(project)
    done = cli(capsys, root, "secrets", "rotate-key")
    assert done.returncode == 0, done.stderr
    outputs["rotate-key"] = done.stdout + done.stderr
    done = cli(capsys, root, "recon", INBOUND, "--json")  # the rotated key opens the secrets
    assert done.returncode == 0, done.stderr
    outputs["recon after rotation"] = done.stdout + done.stderr

    auth = live.org.auth
    assert auth.rotated, "refresh tokens must have rotated (and been saved) during the session"
    secrets = {live.client_secret, *auth.refresh_tokens, *auth.rotated, *auth.access_tokens, *auth.codes}
    pieces = _pieces(secrets)
    new_key = _key_text(project)
    assert new_key != old_key
    key_pieces = _pieces({old_key, new_key})
    found: dict[str, list[str]] = {name: _found(text, pieces | key_pieces) for name, text in outputs.items()}
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    assert project.provisioner_path in files and any(p.parent == project.db_dir for p in files)
    for path in files:
        data = path.read_bytes()
        texts = (data.decode("latin-1"), data.decode("utf-8", "replace"))
        hits = [hit for text in texts for hit in _found(text, pieces)]
        if path != project.root / "security" / KEY_FILE:
            hits += [hit for text in texts for hit in _found(text, key_pieces)]
            hits += [raw for raw in (base64.b64decode(old_key), base64.b64decode(new_key)) if raw in data]
        found[str(path.relative_to(root))] = hits
    assert not {k: v for k, v in found.items() if v}, "plaintext secret or key found"

    # the provisioner file holds $crypto objects sealed by the current key, which opens them
    current = KeyStore.for_config(project.provisioner_path).current()
    for name in ("clientSecret", "refreshToken"):
        value = _props(project)[name]["$crypto"]
        assert value["type"] == "x-simple-encryption" and value["value"]["stableId"] == current.stable_id
    saved = ProvisionerConfig.load(project).properties
    assert saved.client_secret == live.client_secret and saved.refresh_token in auth.refresh_tokens

    # the key: only security/sfsync.key, 0600 in a 0700 folder; nothing key-like in conf/ or db/
    assert stat.S_IMODE((root / "security").stat().st_mode) == 0o700
    assert [p.name for p in (root / "security").iterdir()] == [KEY_FILE]
    assert stat.S_IMODE((root / "security" / KEY_FILE).stat().st_mode) == 0o600
    assert not [p for p in files if p.suffix == ".key" and p.parent != root / "security"]
    assert stat.S_IMODE(project.provisioner_path.stat().st_mode) == 0o600


def test_the_demo_project_stores_its_client_secret_sealed(tmp_path):
    from tui.commands.demo import prepare_project

    secret = "C9760BF3944A0B1988B140521F2A24556D1EABAB4407B109F240A969B85AA71E"
    org = SimpleNamespace(url="http://127.0.0.1:9", login_url="http://127.0.0.1:9/services/oauth2/token",
                          client_id="3MVG9demo", client_secret=secret)
    project = prepare_project(tmp_path / "demo", org)
    assert "$crypto" in _props(project)["clientSecret"]
    for path in project.root.rglob("*"):
        if path.is_file():
            assert not _found(path.read_bytes().decode("latin-1"), _pieces({secret})), path
    assert ProvisionerConfig.load(project).properties.client_secret == secret
    project = prepare_project(tmp_path / "demo", org, keep=True)  # a kept demo project reopens its secrets
    assert ProvisionerConfig.load(project).properties.client_secret == secret


def test_the_rest_test_object_names_an_unreadable_secret_without_showing_one(tmp_path):
    """A lost key: REST's system?_action=test is ok false with the reason and the recovery, no secret."""
    import asyncio

    from core.api.backend import ApiBackend

    root = tmp_path / "p"
    (root / "conf").mkdir(parents=True)
    for name in ("managed.json", "provisioner.openicf-salesforce.json", "sync.json"):
        shutil.copyfile(REPO_ROOT / "conf" / name, root / "conf" / name)
    project = Project(root)
    config = ProvisionerConfig.load(project)
    config.update_properties(clientId="3MVG9x", refreshToken="5Aep" + "q" * 60, instanceUrl="http://127.0.0.1:9")
    config.save(project)
    shutil.rmtree(root / "security")
    backend = ApiBackend(project)
    try:
        result = asyncio.run(backend.test_connector())
    finally:
        asyncio.run(backend.aclose())
    assert result["ok"] is False
    assert "refreshToken" in result["error"] and "sfsync login" in result["error"]
    assert "qqqqqqqqqqqq" not in json.dumps(result)
