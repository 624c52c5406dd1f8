"""Reconciliation in the app against a live local org: totals, cancel, audit, runs started elsewhere."""

from __future__ import annotations

import threading

from conftest import wait_for

from tui.app import make_app
from tui.messages import RunFinished, RunProgress
from tui.widgets.recon_progress import ReconProgress

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


async def test_a_run_started_elsewhere_is_watched_live(logged_in):
    from core.sync.service import SyncService

    project, org = logged_in
    app = make_app(project)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        other = SyncService(project)  # another front end: its own service and repository connection
        done = threading.Event()

        def run_elsewhere() -> None:
            import asyncio

            try:
                asyncio.run(other.reconcile(INBOUND))
            finally:
                done.set()

        threading.Thread(target=run_elsewhere, daemon=True).start()
        panel = app.screen.query_one(ReconProgress)
        await wait_for(pilot, lambda: panel.run is not None and panel.run.get("state") == "SUCCESS",
                       "the other run to show as finished", rounds=1000)
        assert panel.run["mapping"] == INBOUND
        assert done.wait(10)
        other.close()
        history = app.screen.query_one("#run-history")
        assert history.row_count >= 1
