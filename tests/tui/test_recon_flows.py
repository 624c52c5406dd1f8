"""Reconciliation in the app against a live local org: totals, cancel, audit, runs started elsewhere."""

from __future__ import annotations

from pilot_helpers import wait_for

from tui.app import make_app
from tui.messages import RunFinished, RunProgress
from tui.widgets.recon_progress import ReconProgress
from tui.widgets.users_table import UsersTable

INBOUND = "systemSalesforceUser_managedUser"


async def test_reconcile_reaches_the_right_totals(logged_in):
    project, org = logged_in
    people = len(org.org.users)
    messages = []
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 32), message_hook=messages.append) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: app.screen.query_one("#mapping-list").option_count == 2, "the mappings")
        await pilot.press("r")
        await wait_for(pilot, lambda: any(isinstance(m, RunFinished) for m in messages), "the run to end")
        await pilot.pause()
        run = app.screen.query_one(ReconProgress).run
        assert run["state"] == "SUCCESS", run
        source = run["progress"]["source"]["existing"]
        assert source["processed"] == people and int(source["total"]) == people
        situations = run["situationSummary"]
        assert sum(situations.values()) == people  # first run, empty repository: every source decided once
        status = run["statusSummary"]
        assert status["SUCCESS"] + status["FAILURE"] == people
        failures = app.backend.audit(run["_id"], None, "FAILURE")
        assert len(failures) == status["FAILURE"]
        assert all(entry.get("message") for entry in failures)
        created = app.backend.audit(run["_id"], "ABSENT", "SUCCESS")
        assert app.backend.repo.count() == len(created) > 0
        assert any(isinstance(m, RunProgress) for m in messages)
        shown = app.export_screenshot().replace("&#160;", " ")
        assert "SUCCESS" in shown and f"{people}/{people}" in shown


async def test_dry_run_from_the_command_palette_decides_but_changes_nothing(logged_in):
    project, org = logged_in
    messages = []
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 32), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.mapping_names, "the mapping names")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Dry run systemSalesforceUser")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(isinstance(m, RunFinished) for m in messages), "the dry run")
        run = next(m.run for m in messages if isinstance(m, RunFinished))
        assert run["mapping"] == INBOUND and run["dryRun"] is True and run["state"] == "SUCCESS"
        assert run["situationSummary"]["ABSENT"] > 0
        assert app.backend.repo.count() == 0
        assert app.current_mode == "mappings"


async def test_the_users_screen_shows_the_users_a_reconciliation_created(logged_in):
    project, org = logged_in
    messages = []
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 32), message_hook=messages.append) as pilot:
        await pilot.press("4")  # the Users screen opens on an empty repository
        await wait_for(pilot, lambda: app.screen.query(UsersTable) and app.screen.query_one(UsersTable).counted,
                       "the empty users table")
        assert app.screen.query_one(UsersTable).total == 0
        await pilot.press("3")
        await wait_for(pilot, lambda: app.screen.query_one("#mapping-list").option_count == 2, "the mappings")
        await pilot.press("r")
        await wait_for(pilot, lambda: any(isinstance(m, RunFinished) for m in messages), "the run to end")
        await pilot.press("4")
        created = app.backend.repo.count()
        assert created > 0
        await wait_for(pilot, lambda: app.screen.query_one(UsersTable).counted
                       and app.screen.query_one(UsersTable).total == created, "the users the run created")


async def test_held_deletions_are_shown_and_applied_only_when_confirmed(logged_in):
    """The deletion safeguard in the app: how many, a few by name, and `y` reconciles again allowing them."""
    import json

    from tui.screens.confirm_deletions import ConfirmDeletions

    project, org = logged_in
    (project.conf_dir / "sfsync.toml").write_text("deletion_threshold = 1\n")
    messages = []
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 32), message_hook=messages.append) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: app.screen.query_one("#mapping-list").option_count == 2, "the mappings")
        await pilot.press("r")
        await wait_for(pilot, lambda: any(isinstance(m, RunFinished) for m in messages), "the first run")
        before = app.backend.repo.count()
        links = [link for link in app.backend.repo.iter_links(INBOUND) if link.first_id != org.org.admin_id]
        for link in links[:3]:
            org.org.update_user(link.first_id, {"IsActive": False})
        conf = json.loads(project.sync_path.read_text())
        conf["mappings"][0]["sourceCondition"] = "/source/IsActive eq true"
        project.sync_path.write_text(json.dumps(conf))
        messages.clear()
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDeletions), "the question")
        held = app.screen.held
        assert held["count"] >= 3 and held["threshold"] == 1
        assert app.backend.repo.count() == before  # nothing deleted yet
        shown = app.export_screenshot().replace("&#160;", " ")
        assert f"{held['count']:,} users" in shown and held["examples"][0]["name"] in shown
        messages.clear()
        await pilot.press("y")
        await wait_for(pilot, lambda: any(isinstance(m, RunFinished) for m in messages), "the allowed run")
        run = next(m.run for m in messages if isinstance(m, RunFinished))
        assert run["state"] == "SUCCESS", run
        assert app.backend.repo.count() == before - held["count"]
        assert not isinstance(app.screen, ConfirmDeletions)


async def test_a_runs_audit_names_who_and_shows_a_failures_whole_message(logged_in):
    """The audit screen shows the managed userName beside the ids (through the link for a Salesforce id) and
    the highlighted entry's whole message, however long."""
    from textual.widgets import DataTable, Static

    from tui.screens.audit import AuditScreen

    project, org = logged_in
    messages = []
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(120, 36), message_hook=messages.append) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: app.screen.query_one("#mapping-list").option_count == 2, "the mappings")
        await pilot.press("r")
        await wait_for(pilot, lambda: any(isinstance(m, RunFinished) for m in messages), "the run")
        run = next(m.run for m in messages if isinstance(m, RunFinished))
        link = next(iter(app.backend.repo.iter_links(INBOUND)))
        name = app.backend.repo.read(link.second_id)["userName"]
        long = "x" * 50 + " the end of a long failure message " + "y" * 300
        app.backend.repo.audit.add_many([{
            "reconId": run["_id"], "entryType": "entry", "situation": "CONFIRMED", "action": "UPDATE",
            "status": "FAILURE", "sourceObjectId": f"system/salesforce/User/{link.first_id}",
            "timestamp": "2026-12-04T00:00:00Z", "message": long}])
        app.push_screen(AuditScreen(run))
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen) and app.screen.entries, "the audit")
        screen = app.screen
        screen.query_one("#audit-status").value = "FAILURE"
        await wait_for(pilot, lambda: any(e.get("message") == long for e in screen.entries), "the failure")
        table = screen.query_one("#audit-table", DataTable)
        row = [e.get("message") for e in screen.entries].index(long)
        assert str(table.get_row_at(row)[3]) == name
        table.focus()
        table.move_cursor(row=row)
        await pilot.pause()
        await wait_for(pilot, lambda: str(screen.query_one("#audit-message", Static).render()).replace("\n", "")
                       == long, "the whole message")
