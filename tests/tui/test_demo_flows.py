"""The flows a newcomer runs in `sfsync demo`, against a live local org on loopback (no fakes)."""

from __future__ import annotations

import json

from pilot_helpers import wait_for
from textual.widgets import Input, Static

from tui.app import make_app
from tui.widgets.status_header import StatusHeader


async def test_login_against_the_local_org_saves_tokens_and_shows_who(demo):
    project, org = demo
    app = make_app(project, watch_runs=False, demo_org=org)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("ctrl+l")
        outcome = app.screen.query_one("#login-outcome", Static)
        await wait_for(pilot, lambda: "Logged in" in str(outcome.render()) or "Not logged" in str(outcome.render()),
                       "the login outcome")
        assert "Logged in as" in str(outcome.render()), str(outcome.render())
        assert org.username in str(outcome.render())
        assert "/services/oauth2/authorize" in str(app.screen.query_one("#authorize-url", Static).render())
        header = app.screen.query_one(StatusHeader)
        assert header.logged_in and header.org == org.url.split("://")[1]
        await pilot.press("1")  # the Connector screen shows what the login wrote
        instance = app.screen.query_one("#instanceUrl", Input)
        await wait_for(pilot, lambda: instance.value == org.url, "the instance URL on the Connector screen")
    props = json.loads(project.provisioner_path.read_text())["configurationProperties"]
    assert props["refreshToken"] and props["instanceUrl"] == org.url


async def test_connector_test_shows_ok_and_object_types_after_login(logged_in):
    project, org = logged_in
    app = make_app(project, watch_runs=False, demo_org=org)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.connection.logged_in, "the header to read the connector")
        await pilot.press("ctrl+t")
        result = app.screen.query_one("#connector-result", Static)
        await wait_for(pilot, lambda: "✔" in str(result.render()) or "✘" in str(result.render()), "the test")
        assert "is ok" in str(result.render()) and "User" in str(result.render())
        assert app.connection.api_usage is not None


def test_demo_project_points_at_the_org_and_is_rebuilt_unless_kept(tmp_path, demo):
    from tui.commands.demo import MARKER, prepare_project

    project, org = demo
    props = json.loads(project.provisioner_path.read_text())
    assert props["enabled"] is True
    conf = props["configurationProperties"]
    assert conf["loginUrl"] == f"{org.url}/services/oauth2/token"
    assert conf["clientId"] == org.client_id and "$crypto" in conf["clientSecret"]  # sealed at rest
    assert org.client_secret not in project.provisioner_path.read_text()
    from core.config.provisioner import ProvisionerConfig

    assert ProvisionerConfig.load(project).properties.client_secret == org.client_secret
    assert (project.root / MARKER).exists()
    assert project.provisioner_path.stat().st_mode & 0o777 == 0o600
    (project.root / "db").mkdir(exist_ok=True)
    (project.root / "db" / "leftover").write_text("x")
    kept = prepare_project(project.root, org, keep=True)
    assert (kept.root / "db" / "leftover").exists()
    fresh = prepare_project(project.root, org)
    assert not (fresh.root / "db").exists()


def test_demo_refuses_to_wipe_a_folder_it_did_not_make(tmp_path, demo):
    import pytest

    from core.errors import UsageError
    from tui.commands.demo import prepare_project

    _, org = demo
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not a demo project"):
        prepare_project(precious, org)
    assert (precious / "notes.txt").read_text() == "keep me"


async def _start_login_without_browser(pilot, project, port: int) -> None:
    from core.config.settings import Settings

    settings = Settings.load(project)
    settings.callback_port = port
    settings.save(project)
    await pilot.press("2")
    await pilot.pause()
    await pilot.press("ctrl+l")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_pasting_the_url_the_browser_ended_on_completes_the_login(demo):
    import httpx

    project, org = demo
    app = make_app(project, watch_runs=False)  # not the demo: nobody visits the URL for us
    async with app.run_test(size=(100, 32)) as pilot:
        await _start_login_without_browser(pilot, project, _free_port())
        screen = app.screen
        await wait_for(pilot, lambda: screen.authorize_url, "the authorize URL")
        # be the browser on another machine: follow the org's answer, but do not reach our callback
        async with httpx.AsyncClient() as client:
            answer = await client.get(screen.authorize_url)
        ended_on = answer.headers["location"]
        assert "/OauthRedirect?code=" in ended_on
        box = screen.query_one("#pasted-url", Input)
        box.value = "http://localhost:1/not-the-redirect"
        box.focus()
        await pilot.press("enter")  # a wrong URL is refused and the wait goes on
        box.value = ended_on
        await pilot.press("enter")
        outcome = screen.query_one("#login-outcome", Static)
        await wait_for(pilot, lambda: "Logged in" in str(outcome.render()) or "Not logged" in str(outcome.render()),
                       "the login outcome")
        assert "Logged in as" in str(outcome.render())
    assert json.loads(project.provisioner_path.read_text())["configurationProperties"]["refreshToken"]


async def test_cancel_ends_a_waiting_login_and_frees_the_port(demo):
    import socket

    project, org = demo
    port = _free_port()
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await _start_login_without_browser(pilot, project, port)
        screen = app.screen
        await wait_for(pilot, lambda: screen.authorize_url, "the authorize URL")
        assert f"localhost:{port}" in str(screen.query_one("#callback", Static).render())
        await pilot.press("escape")
        outcome = screen.query_one("#login-outcome", Static)
        await wait_for(pilot, lambda: "Not logged in" in str(outcome.render()), "the cancellation")
        assert "cancel" in str(outcome.render())
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # the callback listener is gone
    assert json.loads(project.provisioner_path.read_text())["configurationProperties"]["refreshToken"] is None
