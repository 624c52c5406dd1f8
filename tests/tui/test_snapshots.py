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
        if not tables or tables.first().loaded:
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
