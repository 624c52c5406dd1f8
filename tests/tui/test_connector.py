"""The Connector screen: inline validation, Save writes only what changed, the secret is never shown."""

from __future__ import annotations

import json

from textual.widgets import Input, Label, Select

from core.config.provisioner import ProvisionerConfig
from core.config.urls import LoginUrlKind
from tui.app import make_app


def _props(project):
    return json.loads(project.provisioner_path.read_text())["configurationProperties"]


async def _ready(pilot):
    app = pilot.app
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_bad_value_is_refused_inline_and_nothing_is_written(project):
    before = project.provisioner_path.read_bytes()
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        await _ready(pilot)
        timeout = app.screen.query_one("#connectTimeout", Input)
        timeout.value = "soon"
        await pilot.pause()
        error = app.screen.query_one("#connectTimeout-error", Label)
        assert "whole number" in str(error.render())
        assert error.has_class("-shown")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any("Fix 1 field" in n.message for n in app._notifications), [n.message for n in app._notifications]
    assert project.provisioner_path.read_bytes() == before


async def test_good_values_are_saved_and_the_secret_is_masked_afterwards(project):
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        await _ready(pilot)
        screen = app.screen
        screen.query_one("#login-kind", Select).value = LoginUrlKind.CUSTOM
        await pilot.pause()
        screen.query_one("#customUrl", Input).value = "http://127.0.0.1:8555"
        screen.query_one("#clientId", Input).value = "3MVG9-key"
        screen.query_one("#clientSecret", Input).value = "a-very-secret-consumer-secret-value"
        screen.query_one("#connectTimeout", Input).value = "30000"
        await pilot.press("ctrl+s")
        await _ready(pilot)
        props = _props(project)
        assert props["loginUrl"] == "http://127.0.0.1:8555/services/oauth2/token"
        assert props["clientId"] == "3MVG9-key"
        assert "$crypto" in props["clientSecret"]  # sealed at rest
        assert ProvisionerConfig.load(project).properties.client_secret == "a-very-secret-consumer-secret-value"
        assert props["connectTimeout"] == 30000
        assert props["version"] == 44  # untouched values keep their JSON type
        secret = screen.query_one("#clientSecret", Input)
        assert secret.value == ""
        assert "a-very-secret" not in secret.placeholder and "…" in secret.placeholder
        assert "a-very-secret" not in app.export_screenshot()
    assert project.provisioner_path.stat().st_mode & 0o777 == 0o600


async def test_custom_login_url_without_a_host_is_refused(project):
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        await _ready(pilot)
        app.screen.query_one("#login-kind", Select).value = LoginUrlKind.CUSTOM
        await pilot.pause()
        app.screen.query_one("#customUrl", Input).value = "http://example.com"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "localhost" in str(app.screen.query_one("#customUrl-error", Label).render())
    assert _props(project)["loginUrl"] == "https://test.salesforce.com/services/oauth2/token"


async def test_a_theme_chosen_in_the_app_is_remembered_in_sfsync_toml(project):
    from core.config.settings import Settings

    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(pilot)
        app.theme = "nord"
        await _ready(pilot)
    assert Settings.load(project).theme == "nord"
    again = make_app(project, watch_runs=False)
    async with again.run_test(size=(100, 40)) as pilot:
        await _ready(pilot)
        assert again.theme == "nord"


async def test_a_broken_config_file_is_a_readable_notice_not_a_crash(project):
    project.provisioner_path.write_text('{"enabled": true,\n  "configurationProperties": {')
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        await _ready(pilot)
        messages = [n.message for n in app._notifications]
        assert any("provisioner.openicf-salesforce.json" in m and ":2:" in m for m in messages), messages
        assert not any("Traceback" in m for m in messages)
        assert app.is_running
        await pilot.press("3")  # the rest of the app still works
        await pilot.pause()
        assert app.screen.query_one("#mapping-list")


async def test_the_help_panel_points_to_the_salesforce_app_steps(project):
    from textual.widgets import HelpPanel, Markdown

    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(140, 50)) as pilot:
        await _ready(pilot)
        assert not app.screen.query(HelpPanel)  # not on the screen until asked for
        app.action_show_help_panel()  # what the command palette's "Keys" does
        app.screen.query_one("#clientId", Input).focus()
        await pilot.pause()
        text = app.screen.query_one(HelpPanel).query_one(Markdown).source
        for needle in ("External Client App", "http://localhost:1717/OauthRedirect", "`api`",
                       "`refresh_token offline_access`", "`id`", "PKCE", "Salesforce app setup"):
            assert needle in text, needle


async def test_the_palette_opens_the_salesforce_app_steps(project):
    from textual.widgets import Markdown

    from tui.screens.connector_help import SalesforceAppHelp

    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(pilot)
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Salesforce app setup")
        command.callback()
        await pilot.pause()
        assert isinstance(app.screen, SalesforceAppHelp)
        text = app.screen.query_one(Markdown).source
        for needle in ("External Client App Manager", "Enable OAuth", "http://localhost:1717/OauthRedirect",
                       "(`api`)", "(`refresh_token`, `offline_access`)", "(`id`", "Require Proof Key for Code Exchange",
                       "Refresh Token Policy", "Consumer Key and Secret", "existing Connected App",
                       "Manage Consumer Details"):
            assert needle in text, needle
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SalesforceAppHelp)


def test_the_readme_and_the_help_give_the_same_essentials():
    from pathlib import Path

    from tui.screens.connector_help import SALESFORCE_APP_STEPS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = " ".join(readme.split("### Creating the Salesforce app", 1)[1].split("\n## ", 1)[0].split())
    steps = " ".join(SALESFORCE_APP_STEPS.split())  # line breaks fall anywhere
    for needle in ("External Client App Manager", "Enable OAuth", "http://localhost:1717/OauthRedirect", "(`api`)",
                   "(`refresh_token`, `offline_access`)", "(`id`", "Require Proof Key for Code Exchange (PKCE)",
                   "Refresh Token Policy", "Consumer Key and Secret", "App Manager", "Manage Consumer Details",
                   "Edit Policies"):
        assert needle in section and needle in steps, needle
