"""Cancel from the Mappings screen: the run stops at a page boundary and is recorded CANCELED."""

from __future__ import annotations

import pytest
from conftest import wait_for

from tui.app import make_app
from tui.messages import RunFinished, RunProgress


@pytest.fixture
def org_options() -> dict:
    """Several 2,000-record pages, each API call slowed, so the run is surely still going when we cancel."""
    return {"users": 4500, "latency_ms": 150}


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
