"""Login end to end against the local org: the real callback server, the real CLI, the saved file."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from core.config import Project, ProvisionerConfig
from core.salesforce.errors import LoginError
from core.salesforce.oauth import LoginFlow

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "conf" / "provisioner.openicf-salesforce.json"


def make_project(tmp_path: Path, org: Any, **props: Any) -> Project:
    (tmp_path / "conf").mkdir(exist_ok=True)
    project = Project(tmp_path)
    project.provisioner_path.write_bytes(SAMPLE.read_bytes())
    config = ProvisionerConfig.load(project)
    config.update_properties(loginUrl=org.login_url, clientId=org.client_id, clientSecret=org.client_secret,
                             **props)
    config.save(project)
    return project


def sfsync(*args: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("SSL_CERT_FILE", None)
    return subprocess.Popen([sys.executable, "-m", "tui", *args], cwd=REPO, env=env, text=True,
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def read_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("http"):
            return line.strip()
    raise AssertionError(f"no URL printed; stderr: {proc.stderr.read() if proc.stderr else ''}")


def forge_state(url: str) -> str:
    parts = urlsplit(url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    params["state"] = "forged" + params["state"][6:]
    return urlunsplit(parts._replace(query=urlencode(params)))


def test_cli_login_with_no_browser_saves_tokens_0600_and_prints_no_secret(tmp_path: Path, live_org: Any) -> None:
    project = make_project(tmp_path, live_org)
    proc = sfsync("-p", str(tmp_path), "login", "--no-browser", "--port", "0", "--timeout", "30")
    try:
        url = read_url(proc)
        page = httpx.get(url, follow_redirects=True, timeout=30)  # any HTTP client that follows redirects
        assert page.status_code == 200 and "Login successful" in page.text
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "ssh -L" in err and "/OauthRedirect" in err
    config = ProvisionerConfig.load(project)
    refresh = config.properties.refresh_token
    assert refresh and config.properties.instanceUrl == live_org.url and config.enabled
    assert stat.S_IMODE(project.provisioner_path.stat().st_mode) == 0o600
    assert "Logged in as" in out and f"{refresh[:4]}…{refresh[-4:]}" in out
    for secret in (refresh, live_org.client_secret):
        assert secret not in out and secret not in err

    test = subprocess.run([sys.executable, "-m", "tui", "-p", str(tmp_path), "test"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert test.returncode == 0, test.stdout + test.stderr
    result = json.loads(test.stdout)
    assert result["ok"] is True and result["name"] == "salesforce" and "error" not in result
    assert result["objectTypes"] == ["__ALL__", "User"] and result["displayName"] == "Salesforce Connector"
    assert result["config"] == "config/provisioner.openicf/salesforce"
    assert refresh not in test.stdout + test.stderr


def test_cli_login_with_a_forged_state_does_not_log_in(tmp_path: Path, live_org: Any) -> None:
    project = make_project(tmp_path, live_org)
    before = project.provisioner_path.read_bytes()
    proc = sfsync("-p", str(tmp_path), "login", "--no-browser", "--port", "0", "--timeout", "3")
    try:
        url = read_url(proc)
        page = httpx.get(forge_state(url), follow_redirects=True, timeout=30)
        assert page.status_code == 400
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1 and "timed out" in err
    assert project.provisioner_path.read_bytes() == before


def test_cli_login_completes_from_a_pasted_url(tmp_path: Path, live_org: Any) -> None:
    project = make_project(tmp_path, live_org)
    proc = sfsync("-p", str(tmp_path), "login", "--no-browser", "--port", "0", "--timeout", "30",
                  stdin=subprocess.PIPE)
    try:
        url = read_url(proc)
        # the browser is "elsewhere": its redirect to localhost never arrives; the user copies the URL
        location = httpx.get(url, follow_redirects=False, timeout=30).headers["location"]
        assert proc.stdin is not None
        proc.stdin.write("http://localhost:1/OauthRedirect?code=x&state=wrong\n")  # refused, wait goes on
        proc.stdin.write(location + "\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "does not belong to this login" in err
    assert ProvisionerConfig.load(project).properties.refresh_token


def test_busy_callback_port_is_reported_by_the_cli(tmp_path: Path, live_org: Any) -> None:
    import socket

    make_project(tmp_path, live_org)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "tui", "-p", str(tmp_path), "login", "--no-browser",
                                 "--port", str(port)], cwd=REPO, capture_output=True, text=True, timeout=60,
                                stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert f"port {port} is busy" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name") and a.get("type") == "hidden":
            self.fields[a["name"] or ""] = a.get("value") or ""


async def test_denial_on_the_consent_page_ends_the_login(live_org_factory: Any, tmp_path: Path) -> None:
    org = live_org_factory(users=5)  # login and consent pages, no auto-approve
    config = make_project(tmp_path, org)
    props = ProvisionerConfig.load(config).properties
    async with LoginFlow(props, port=0) as flow, httpx.AsyncClient(follow_redirects=True, timeout=30) as browser:
        login = asyncio.create_task(flow.login(timeout=30))
        page = await browser.get(flow.authorize_url)
        form = _Form()
        form.feed(page.text)
        consent = await browser.post(f"{org.url}/services/oauth2/authorize",
                                     data={**form.fields, "username": org.username, "password": org.password})
        form = _Form()
        form.feed(consent.text)
        assert "ticket" in form.fields, consent.text[:500]
        denied = await browser.post(f"{org.url}/services/oauth2/authorize", data={**form.fields, "action": "deny"})
        assert "end-user denied authorization" in denied.text
        with pytest.raises(LoginError, match="access_denied"):
            await login


async def test_login_through_the_callback_then_the_connector_works(live_org: Any, tmp_path: Path) -> None:
    from core.salesforce.connector import SalesforceConnector

    project = make_project(tmp_path, live_org)
    props = ProvisionerConfig.load(project).properties
    async with LoginFlow(props, port=0) as flow, httpx.AsyncClient(follow_redirects=True, timeout=30) as browser:
        login = asyncio.create_task(flow.login(timeout=30))
        page = await browser.get(flow.authorize_url)
        token, who = await login
        assert "Login successful" in page.text
    assert who.username == live_org.username and who.org_id and who.org_id.startswith("00D")
    config = ProvisionerConfig.load(project)
    config.update_properties(refreshToken=token.refresh_token, instanceUrl=token.instance_url)
    config.enabled = True
    config.save(project)
    async with SalesforceConnector.from_project(project) as conn:
        result = await conn.test()
        assert result["ok"] is True, result
        pages = [p async for p in conn.select_pages("User", ["Id"])]
        assert sum(len(p.records) for p in pages) == pages[0].total_size > 5


def test_ctrl_c_cancels_the_cli_login_and_frees_the_port(tmp_path: Path, live_org: Any) -> None:
    import signal
    import socket

    make_project(tmp_path, live_org)
    proc = sfsync("-p", str(tmp_path), "login", "--no-browser", "--port", "0", "--timeout", "60")
    try:
        url = read_url(proc)
        port = int(urlsplit(parse_qs(urlsplit(url).query)["redirect_uri"][0]).port or 0)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # free again
