"""Edit a managed user in the app: validation against managed.json, then implicit sync into the org."""

from __future__ import annotations

import asyncio

import pytest
from pilot_helpers import wait_for
from textual.widgets import Input, Label, Static

from core.sync.service import SyncService
from tui.app import make_app
from tui.screens.user_detail import UserDetailScreen
from tui.widgets.users_table import UsersTable


@pytest.fixture
def reconciled(logged_in):
    """Managed users created and linked from the org by one headless reconciliation."""
    project, org = logged_in
    service = SyncService(project)
    run = asyncio.run(service.reconcile("systemSalesforceUser_managedUser"))
    service.close()
    assert run["state"] == "SUCCESS"
    return project, org


async def open_first_user(pilot) -> UserDetailScreen:
    app = pilot.app
    await pilot.press("4")
    await wait_for(pilot, lambda: app.screen.query(UsersTable) and app.screen.query_one(UsersTable).loaded,
                   "the users table")
    app.screen.query_one(UsersTable).focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, UserDetailScreen) and app.screen.user, "the user")
    screen = app.screen
    await wait_for(pilot, lambda: "Loading" not in str(screen.query_one("#user-remote-table", Static).render()),
                   "the Salesforce record")
    return screen


async def test_edit_runs_implicit_sync_and_the_org_sees_it(reconciled):
    project, org = reconciled
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first_user(pilot)
        link = str(screen.query_one("#user-link", Static).render())
        assert link.startswith("linked to ")
        remote_id = link.removeprefix("linked to ")
        assert screen.detail is not None and screen.detail.remote is not None
        screen.query_one("#user-givenName", Input).value = "Zoë-Renée"
        await pilot.press("ctrl+s")
        result = screen.query_one("#user-result", Static)
        await wait_for(pilot, lambda: "Implicit sync" in str(result.render()) or "Not saved" in str(result.render()),
                       "the save")
        text = str(result.render())
        assert "managedUser_systemSalesforceUser: SUCCESSFUL" in text, text
        assert org.org.user(remote_id)["FirstName"] == "Zoë-Renée"
        await wait_for(pilot, lambda: screen.detail and screen.detail.remote and screen.detail.remote.get("FirstName") == "Zoë-Renée",
                       "the refreshed Salesforce record")


async def test_an_invalid_edit_is_refused_per_field_and_nothing_changes(reconciled):
    project, org = reconciled
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first_user(pilot)
        before = dict(screen.user)
        screen.query_one("#user-mail", Input).value = "not an email"
        screen.query_one("#user-sn", Input).value = ""
        await pilot.press("ctrl+s")
        result = screen.query_one("#user-result", Static)
        await wait_for(pilot, lambda: "Not saved" in str(result.render()), "the refusal")
        assert screen.query_one("#user-mail-error", Label).has_class("-shown")
        assert screen.query_one("#user-sn-error", Label).has_class("-shown")
        assert app.backend.repo.read(before["_id"])["mail"] == before["mail"]


async def test_an_edit_racing_a_change_elsewhere_is_refused_and_the_other_change_survives(reconciled):
    project, org = reconciled
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first_user(pilot)
        user_id = screen.user["_id"]
        # a reconciliation (or a REST client) changes the user after the form read it
        elsewhere = app.backend.repo.read(user_id)
        app.backend.repo.update(user_id, {**elsewhere, "sn": "ChangedElsewhere"}, rev=elsewhere["_rev"])
        screen.query_one("#user-givenName", Input).value = "Mine"
        await pilot.press("ctrl+s")
        result = screen.query_one("#user-result", Static)
        await wait_for(pilot, lambda: "Not saved" in str(result.render()), "the refusal")
        assert "changed since it was opened" in str(result.render())
        stored = app.backend.repo.read(user_id)
        assert stored["sn"] == "ChangedElsewhere" and stored["givenName"] != "Mine"


async def test_reconcile_this_user_brings_a_salesforce_edit_in(reconciled):
    """ctrl+r on a user: reconById through every mapping that touches the user (inbound by its linked
    Salesforce id, outbound by its own id); the screen reloads with the result."""
    project, org = reconciled
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first_user(pilot)
        remote_id = str(screen.query_one("#user-link", Static).render()).removeprefix("linked to ")
        org.org.update_user(remote_id, {"LastName": "Reconciled-ById"})
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.user.get("sn") == "Reconciled-ById", "the reconciled user")
        assert screen.query_one("#user-sn", Input).value == "Reconciled-ById"
        runs = app.backend.runs(5)
        assert {r["mapping"] for r in runs[:2]} == {"systemSalesforceUser_managedUser",
                                                     "managedUser_systemSalesforceUser"}
        assert all(r["parameters"].get("reconById") for r in runs[:2])
