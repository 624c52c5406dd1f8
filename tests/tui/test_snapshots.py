"""Each screen in a meaningful state at a fixed size (80x24, the smallest supported terminal).

Stable run after run: animations off, cursor blink off (conftest), no toasts, workers awaited, data seeded
deterministically. Update with ``pytest tests/tui/test_snapshots.py --snapshot-update`` after looking at the
report.
"""

from __future__ import annotations

from textual.widgets import Input

from tui.app import make_app
from tui.widgets.recon_progress import ReconProgress
from tui.widgets.users_table import UsersTable

SIZE = (80, 24)


def quiet(project, **kwargs):
    app = make_app(project, watch_runs=False, **kwargs)
    app.animation_level = "none"
    return app


async def settle(pilot) -> None:
    for _ in range(50):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        tables = pilot.app.screen.query(UsersTable)
        if not tables or (tables.first().loaded and tables.first().counted):
            break
    pilot.app.clear_notifications()
    await pilot.pause()


def test_connector_screen_with_an_invalid_field(project, snap_compare):
    async def run_before(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#connectTimeout", Input).value = "two minutes"
        pilot.app.screen.query_one("#clientId", Input).value = "3MVG9-demo-consumer-key"
        await settle(pilot)

    assert snap_compare(quiet(project), terminal_size=SIZE, run_before=run_before)


def test_login_screen_before_starting(project, snap_compare):
    async def run_before(pilot):
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(quiet(project), terminal_size=SIZE, run_before=run_before)


def test_mappings_screen_lists_sync_json(project, snap_compare):
    async def run_before(pilot):
        await pilot.press("3")
        await settle(pilot)

    assert snap_compare(quiet(project), terminal_size=SIZE, run_before=run_before)


def test_mappings_progress_panel_mid_run(project, snap_compare, sample_run):
    async def run_before(pilot):
        await pilot.press("3")
        await settle(pilot)
        pilot.app.screen.query_one("#mapping-tabs").active = "tab-progress"
        pilot.app.screen.query_one(ReconProgress).run = sample_run
        await settle(pilot)

    assert snap_compare(quiet(project), terminal_size=SIZE, run_before=run_before)


def test_users_screen_filtered(project, snap_compare, seed_users):
    seed_users(project, 300)

    async def run_before(pilot):
        await pilot.press("4")
        await settle(pilot)
        box = pilot.app.screen.query_one("#users-filter", Input)
        box.value = "ada"
        box.focus()
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("down", "down")
        await settle(pilot)

    assert snap_compare(quiet(project), terminal_size=SIZE, run_before=run_before)


def _finished_run_with_audit(project, sample_run) -> None:
    from core.repo import Repository

    project.db_dir.mkdir(parents=True, exist_ok=True)
    repo = Repository.for_project(project)
    run = {**sample_run, "state": "SUCCESS", "stage": "COMPLETED_SUCCESS", "ended": "2026-11-27T21:00:02Z",
           "stageDescription": "reconciliation completed."}
    repo.runs.create(run)
    entries = [{"reconId": run["_id"], "entryType": "entry", "situation": "ABSENT", "action": "CREATE",
                "status": "SUCCESS", "sourceObjectId": f"system/salesforce/User/005Dn00000000{i:02d}AAA",
                "targetObjectId": f"managed/user/u-{i:02d}", "timestamp": "2026-11-27T21:00:01Z", "message": ""}
               for i in range(6)]
    entries.append({"reconId": run["_id"], "entryType": "entry", "situation": "ABSENT", "action": "CREATE",
                    "status": "FAILURE", "sourceObjectId": "system/salesforce/User/005Dn0000000099AAA",
                    "timestamp": "2026-11-27T21:00:01Z",
                    "message": "managed/user: mail: not a valid email address"})
    repo.audit.add_many(entries)
    repo.close()


def test_audit_of_a_run_filtered_to_failures(project, snap_compare, sample_run):
    _finished_run_with_audit(project, sample_run)

    async def run_before(pilot):
        from textual.widgets import Select

        await pilot.press("3")
        await settle(pilot)
        app = pilot.app
        app.runs = app.backend.runs(20)
        app.runs_signal.publish(app.runs)
        app.screen.query_one("#mapping-tabs").active = "tab-history"
        await settle(pilot)
        app.screen.query_one("#run-history").focus()
        await pilot.press("enter")
        await settle(pilot)
        app.screen.query_one("#audit-status", Select).value = "FAILURE"
        await settle(pilot)

    assert snap_compare(quiet(project), terminal_size=SIZE, run_before=run_before)


def test_user_detail_of_an_unlinked_user_with_an_edit(project, snap_compare, seed_users):
    seed_users(project, 5)

    async def run_before(pilot):
        await pilot.press("4")
        await settle(pilot)
        pilot.app.screen.query_one(UsersTable).focus()
        await pilot.press("enter")
        await settle(pilot)
        pilot.app.screen.query_one("#user-sn", Input).value = "Lovelace-King"
        await settle(pilot)

    assert snap_compare(quiet(project), terminal_size=SIZE, run_before=run_before)


def test_mappings_schedules_tab(project, snap_compare):
    """The selected mapping's schedules: a refused file, a paused one, a disabled one, one with a last result
    (fixed state in the repository, so the next fire times do not depend on the clock)."""
    from test_schedules import seed_schedules

    from core.repo import Repository

    seed_schedules(project)
    repo = Repository.for_project(project)
    repo.schedules.set_paused("nightly", True, 0)
    repo.close()

    async def run_before(pilot):
        await pilot.press("3")
        await settle(pilot)
        pilot.app.screen.show_schedules_tab()
        await settle(pilot)
        await pilot.press("down", "down", "down")
        await settle(pilot)

    assert snap_compare(quiet(project), terminal_size=SIZE, run_before=run_before)
