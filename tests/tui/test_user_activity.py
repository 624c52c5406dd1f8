"""The activity audit from the app: an edit, a Connector save and a login are recorded as the OS user (origin
tui), secrets masked, and the user screen shows who changed the user, when and what."""

from __future__ import annotations

import getpass
import io
import json

from pilot_helpers import wait_for
from rich.console import Console
from textual.widgets import Input, Select, Static

from core.config.provisioner import ProvisionerConfig
from core.config.urls import LoginUrlKind
from core.repo import Repository
from core.repo.activity import PROVISIONER_OBJECT, Actor, activity_entry
from tui.app import make_app
from tui.screens.user_detail import UserDetailScreen
from tui.widgets.users_table import UsersTable

SECRET = "a-very-secret-consumer-secret-value-0123456789"


async def open_first_user(pilot) -> UserDetailScreen:
    app = pilot.app
    await pilot.press("4")
    await wait_for(pilot, lambda: app.screen.query(UsersTable) and app.screen.query_one(UsersTable).loaded,
                   "the users table")
    app.screen.query_one(UsersTable).focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, UserDetailScreen) and app.screen.user, "the user")
    return app.screen


def panel(screen) -> str:
    """The activity panel as plain text (a Rich table, rendered as the terminal would, wide enough)."""
    content = screen.query_one("#user-activity", Static).content
    if isinstance(content, str):
        return content
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


async def test_the_user_screen_shows_who_changed_the_user_and_an_edit_is_recorded(project, seed_users):
    seed_users(project, 3)
    with Repository.for_project(project) as repo:  # every user changed once over REST (whichever opens first)
        users = {u["_id"]: u for u in repo.query({"_queryFilter": "true"})["result"]}
        for user in users.values():
            after = repo.update(user["_id"], {**user, "sn": "Byron-Test"})
            repo.activity.add(activity_entry(f"managed/user/{user['_id']}", "UPDATE", user, after,
                                             Actor("openidm-admin", "rest")))
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_first_user(pilot)
        first = users[screen.user_id]
        await wait_for(pilot, lambda: "Loading" not in panel(screen), "the activity panel")
        shown = panel(screen)
        assert "openidm-admin (rest)" in shown and "UPDATE" in shown
        assert f"sn: {first['sn']} → Byron-Test" in shown, shown

        screen.query_one("#user-givenName", Input).value = "Augusta"
        await pilot.press("ctrl+s")
        result = screen.query_one("#user-result", Static)
        await wait_for(pilot, lambda: "Saved" in str(result.render()) or "Not saved" in str(result.render()),
                       "the save")
        assert "Saved" in str(result.render()), str(result.render())
        await wait_for(pilot, lambda: "Augusta" in panel(screen), "the new entry in the panel")
        shown = panel(screen)
        assert f"{getpass.getuser()} (tui)" in shown and "PATCH" in shown
        assert shown.index("PATCH") < shown.index("UPDATE")  # newest first
    with Repository.for_project(project) as repo:
        newest = repo.activity.for_object(f"managed/user/{first['_id']}")[0]
    assert (newest["userId"], newest["origin"], newest["operation"]) == (getpass.getuser(), "tui", "PATCH")
    assert newest["changedFields"] == ["/givenName"] and newest["after"]["givenName"] == "Augusta"


async def test_a_user_nobody_changed_says_so(project, seed_users):
    seed_users(project, 2)
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_first_user(pilot)
        await wait_for(pilot, lambda: "Loading" not in panel(screen), "the activity panel")
        assert "No changes recorded." in panel(screen)


async def test_a_connector_save_is_recorded_with_the_secret_masked(project):
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        screen.query_one("#login-kind", Select).value = LoginUrlKind.CUSTOM
        await pilot.pause()
        screen.query_one("#customUrl", Input).value = "http://127.0.0.1:8555"
        screen.query_one("#clientSecret", Input).value = SECRET
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert ProvisionerConfig.load(project).properties.client_secret == SECRET
    with Repository.for_project(project) as repo:
        (entry,) = repo.activity.for_object(PROVISIONER_OBJECT)
    assert (entry["userId"], entry["origin"], entry["operation"]) == (getpass.getuser(), "tui", "UPDATE")
    assert set(entry["changedFields"]) == {"/configurationProperties/loginUrl",
                                           "/configurationProperties/clientSecret"}
    assert entry["passwordChanged"] is True
    assert entry["after"]["configurationProperties"]["clientSecret"] == f"{SECRET[:4]}…{SECRET[-4:]}"
    text = json.dumps(entry)
    assert SECRET not in text and SECRET[4:-4] not in text
    for path in project.db_dir.iterdir():  # nor anywhere in the repository's files
        assert SECRET.encode() not in path.read_bytes()


async def test_a_login_in_the_app_is_recorded_with_the_token_masked(demo):
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
    token = ProvisionerConfig.load(project).properties.refresh_token
    assert token
    with Repository.for_project(project) as repo:
        (entry,) = repo.activity.for_object(PROVISIONER_OBJECT)
    assert (entry["userId"], entry["origin"]) == (getpass.getuser(), "tui")
    assert "/configurationProperties/refreshToken" in entry["changedFields"] and entry["passwordChanged"]
    assert token not in json.dumps(entry) and token[4:-4] not in json.dumps(entry)
