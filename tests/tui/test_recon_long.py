"""Long runs (a slowed org with several pages): cancel from the screen, and a CLI run watched live."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pilot_helpers import wait_for

from tui.app import make_app
from tui.messages import RunFinished, RunProgress


@pytest.fixture
def org_options() -> dict:
    """Two 2,000-record pages, each API call slowed, so the run is seen while it goes."""
    return {"users": 2500, "latency_ms": 150}


@pytest.mark.parametrize("org_options", [{"users": 12_000, "latency_ms": 300}])  # 6 slow pages
async def test_a_run_can_be_cancelled_from_the_screen(logged_in):
    project, org = logged_in
    messages = []
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 32), message_hook=messages.append) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: app.screen.query_one("#mapping-list").option_count == 2, "the mappings")
        await pilot.press("r")
        await wait_for(pilot, lambda: any(isinstance(m, RunProgress) and m.run.get("state") == "ACTIVE"
                                          for m in messages), "the run to start")
        await pilot.press("c")
        await wait_for(pilot, lambda: any(isinstance(m, RunFinished) for m in messages), "the run to end")
        final = next(m.run for m in messages if isinstance(m, RunFinished))
        assert final["state"] == "CANCELED"
        assert final["progress"]["source"]["existing"]["processed"] < len(org.org.users)
        assert app.backend.run(final["_id"])["state"] == "CANCELED"


async def test_a_run_started_by_the_cli_is_watched_live(logged_in):
    project, org = logged_in
    app = make_app(project)  # the runs watcher polls the repository, as for any run started elsewhere
    seen: list[str] = []
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        app.run_signal.subscribe(app.screen, lambda run: seen.append(f"{run.get('state')}:"
                                 f"{run['progress']['source']['existing']['processed']}"))
        cli = subprocess.Popen([sys.executable, "-m", "tui", "-p", str(project.root), "recon",
                                "systemSalesforceUser_managedUser"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            await wait_for(pilot, lambda: any(s.startswith(("SUCCESS", "FAILED")) for s in seen),
                           "the CLI's run to finish on screen", timeout=120)
        finally:
            _, err = cli.communicate(timeout=60)
        assert cli.returncode == 0, err.decode()
        active = [s for s in seen if s.startswith("ACTIVE")]
        assert active, seen  # it was shown while running, not only at the end
        assert seen[-1] == f"SUCCESS:{len(org.org.users)}"
        panel_text = app.export_screenshot().replace("&#160;", " ")
        assert "SUCCESS" in panel_text
