"""The Mappings screen's Schedules tab: the listing, pause/resume, the add/edit form, and runs fired by a
scheduler in another thread (as ``sfsync scheduler`` would, with its own repository connection) watched live."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from datetime import UTC, datetime

import pytest
from pilot_helpers import wait_for
from textual.widgets import DataTable, Input, Static

from core.config.project import Project
from tests.api.conftest import user_account_mapping
from tests.schedule.conftest import FakeClock, at
from tui.app import make_app
from tui.screens.schedule_form import ScheduleForm

INBOUND = "systemSalesforceUser_managedUser"
T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def write(project: Project, job_id: str, **body) -> None:
    data = {"enabled": True, "type": "cron", "timeZone": "UTC", "invokeService": "sync",
            "invokeContext": {"action": "reconcile", "mapping": INBOUND}, **body}
    (project.conf_dir / f"schedule-{job_id}.json").write_text(json.dumps(data, indent=4))


def seed_schedules(project: Project) -> None:
    """Four files for the inbound mapping (one refused), one for the other mapping; state with fixed times, so
    the next fire times do not depend on the clock."""
    from core.repo import Repository

    write(project, "reconcile_salesforce", schedule="0 0/15 * * * ?")
    write(project, "nightly", schedule="0 0 2 * * ?", timeZone="Europe/Paris")
    write(project, "poll", type="simple", repeatInterval=30000, enabled=False)
    write(project, "bad", schedule="0 0 2 LW * ?")
    write(project, "outbound", schedule="0 0 3 * * ?",
          invokeContext={"action": "reconcile", "mapping": "managedUser_systemSalesforceUser"})
    project.db_dir.mkdir(parents=True, exist_ok=True)
    repo = Repository.for_project(project)
    fired = ms(T0) + 15 * 60_000
    repo.schedules.register("reconcile_salesforce", ms(T0))
    assert repo.schedules.claim("reconcile_salesforce", fired, fired)
    repo.schedules.finish("reconcile_salesforce", fired, {
        "status": "SUCCESS", "message": f"reconcile {INBOUND}: SUCCESS", "reconId": "run-1",
        "fireTime": "2026-05-01T10:15:00.000Z"}, fired + 5000)
    repo.schedules.register("nightly", ms(T0))
    repo.schedules.register("outbound", ms(T0))
    repo.close()


async def open_schedules(pilot) -> None:
    app = pilot.app
    await pilot.press("3")
    await wait_for(pilot, lambda: app.screen.query_one("#mapping-list").option_count == 2, "the mappings")
    app.screen.show_schedules_tab()
    await wait_for(pilot, lambda: app.screen.schedules_loaded, "the schedules")
    await pilot.pause()


def cells(app) -> dict[str, list[str]]:
    table = app.screen.query_one("#schedule-table", DataTable)
    return {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}


async def test_the_selected_mappings_schedules_with_next_fire_time_state_and_last_result(project):
    seed_schedules(project)
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_schedules(pilot)
        shown = cells(app)
        assert sorted(shown) == ["bad", "nightly", "poll", "reconcile_salesforce"]  # not the outbound one
        #        id                       type    when              state     next (UTC)     result     last fire
        assert shown["reconcile_salesforce"] == ["reconcile_salesforce", "cron", "0 0/15 * * * ?", "on",
                                                 "05-01 10:30", "SUCCESS", "05-01 10:15"]
        assert shown["nightly"][3:5] == ["on", "05-02 00:00"]  # 02:00 in Paris (CEST) is 00:00 UTC
        assert shown["poll"][1:5] == ["simple", "30000 ms", "off", "–"]
        assert shown["bad"][3] == "broken"
        table = app.screen.query_one("#schedule-table", DataTable)
        table.move_cursor(row=list(shown).index("reconcile_salesforce"))
        await pilot.pause()
        detail = str(app.screen.query_one("#schedule-detail", Static).render())
        assert "every 15 minutes" in detail and "next 2026-05-01 10:30:00 UTC" in detail
        assert "last 2026-05-01 10:15:00 UTC SUCCESS reconcile systemSalesforceUser_managedUser" in detail
        table.move_cursor(row=list(shown).index("bad"))
        await pilot.pause()
        detail = str(app.screen.query_one("#schedule-detail", Static).render())
        assert "conf/schedule-bad.json:" in detail and 'position 7 (day-of-month "LW")' in detail
        # the other mapping: only its own schedule
        app.screen.query_one("#mapping-list").highlighted = 1
        await pilot.pause()
        assert list(cells(app)) == ["outbound"]


async def test_pause_and_resume_change_the_state_in_the_repository(project):
    seed_schedules(project)
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_schedules(pilot)
        app.screen.query_one("#schedule-table", DataTable).move_cursor(row=list(cells(app)).index("nightly"))
        await pilot.press("p")
        await wait_for(pilot, lambda: cells(app)["nightly"][3] == "paused", "nightly shown paused")
        assert app.backend.repo.schedules.get("nightly")["paused"] is True
        await pilot.press("p")
        await wait_for(pilot, lambda: cells(app)["nightly"][3] == "on", "nightly shown resumed")
        assert app.backend.repo.schedules.get("nightly")["paused"] is False


async def test_schedule_keys_are_shown_on_the_schedules_tab_only(project):
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        assert app.screen.check_action("add_schedule", ()) is False
        await pilot.press("a")  # nothing opens on the Mappings tab
        await pilot.pause()
        assert not isinstance(app.screen, ScheduleForm)
        app.screen.show_schedules_tab()
        await pilot.pause()
        assert app.screen.check_action("add_schedule", ()) is True


async def test_the_command_palette_opens_the_add_form_from_any_screen(project):
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Add a schedule")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ScheduleForm), "the form")
        assert app.current_mode == "mappings"
        assert app.screen.mapping == INBOUND


async def type_into(pilot, selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = ""
    await pilot.press(*text)
    await pilot.pause()


def words(app) -> str:
    return str(app.screen.query_one("#cron-words", Static).render())


async def test_the_add_form_refuses_a_bad_expression_at_its_position_and_writes_a_good_one(project):
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_schedules(pilot)
        assert "No schedule runs this mapping" in str(app.screen.query_one("#schedule-detail", Static).render())
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ScheduleForm), "the form")
        assert app.screen.query_one("#schedule-id", Input).value == f"reconcile_{INBOUND}"
        assert "every 15 minutes" in words(app)  # the default expression
        await type_into(pilot, "#schedule-cron", "0 0 2 LW * ?")
        shown = words(app)
        assert 'position 7 (day-of-month "LW"): LW (last weekday of the month) is not supported' in shown
        caret = shown.splitlines()[0]
        assert caret.index("^") == 18 + 7 - 1  # under the field's 7th character
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ScheduleForm)
        assert "Not saved" in str(app.screen.query_one("#schedule-result", Static).render())
        assert not list(project.conf_dir.glob("schedule-*.json"))
        await type_into(pilot, "#schedule-cron", "0 0 2 * * ?")
        assert "at 02:00 every day" in words(app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ScheduleForm), "the form to close")
        path = project.conf_dir / f"schedule-reconcile_{INBOUND}.json"
        data = json.loads(path.read_text())
        assert data == {"enabled": True, "type": "cron", "schedule": "0 0 2 * * ?", "timeZone": "UTC",
                        "persisted": True, "misfirePolicy": "fireAndProceed", "concurrentExecution": False,
                        "invokeService": "sync", "invokeContext": {"action": "reconcile", "mapping": INBOUND}}
        await wait_for(pilot, lambda: f"reconcile_{INBOUND}" in cells(app), "the new schedule listed")


async def test_the_form_describes_expressions_in_words_or_by_their_next_fire_times(project):
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_schedules(pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ScheduleForm), "the form")
        await type_into(pilot, "#schedule-cron", "0/30 * * * * ?")
        assert "every 30 seconds (UTC)" in words(app)
        await type_into(pilot, "#schedule-cron", "0 30 8 ? * MON-FRI")
        assert "at 08:30 on weekdays" in words(app)
        await type_into(pilot, "#schedule-cron", "0 0/7 * * * ?")  # restarts each hour: no words, three times
        shown = words(app)
        assert shown.count(":") >= 6 and "next: " in shown
        await type_into(pilot, "#schedule-zone", "Mars/Olympus")
        assert "unknown time zone 'Mars/Olympus'" in str(app.screen.query_one("#zone-error").render())
        app.screen.query_one("#schedule-type").value = "simple"
        await pilot.pause()
        await type_into(pilot, "#schedule-interval", "900000")
        assert "every 15 minutes" in str(app.screen.query_one("#interval-words", Static).render())


async def test_editing_keeps_the_files_unknown_keys_and_order_and_can_fix_a_refused_file(project):
    body = {"description": "kept as is", "enabled": True, "type": "cron", "schedule": "0 0 2 LW * ?",
            "invokeService": "sync", "invokeContext": {"action": "reconcile", "mapping": INBOUND}, "x-owner": "ops"}
    (project.conf_dir / "schedule-fixme.json").write_text(json.dumps(body, indent=2))
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_schedules(pilot)
        assert cells(app)["fixme"][3] == "broken"
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ScheduleForm), "the form")
        assert "position 7" in words(app)
        await type_into(pilot, "#schedule-cron", "0 0 2 L * ?")
        assert "at 02:00 on the last day of the month" in words(app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ScheduleForm), "the form to close")
        await wait_for(pilot, lambda: cells(app)["fixme"][3] == "on", "the fixed schedule")
    text = (project.conf_dir / "schedule-fixme.json").read_text()
    assert list(json.loads(text)) == list(body)  # same keys, same order: nothing added, nothing lost
    assert json.loads(text) == {**body, "schedule": "0 0 2 L * ?"}
    assert text.startswith('{\n  "description"')  # the file's own indentation


@pytest.fixture
def managed_project(tmp_path) -> Project:
    """managed/user -> managed/account: a reconcile runs for real, without a network."""
    conf = tmp_path / "conf"
    conf.mkdir()
    shutil.copy(project_root() / "conf" / "managed.json", conf / "managed.json")
    (conf / "sync.json").write_text(json.dumps({"mappings": [user_account_mapping()]}))
    return Project(tmp_path)


def project_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


def fire_in_another_thread(project: Project) -> threading.Thread:
    """What ``sfsync scheduler`` does, on a thread with its own loop, SyncService and repository connection:
    the schedule is first seen at 09:59:30 and fires at 10:00 on a fake clock."""
    from core.schedule import Scheduler
    from core.sync.service import SyncService

    async def main() -> None:
        service = SyncService(project)
        try:
            clock = FakeClock(at("2026-05-01T09:59:30"))
            scheduler = Scheduler.for_project(project, service=service, clock=clock, on_fire=lambda line: None)
            await scheduler.tick()
            clock.set(at("2026-05-01T10:00:00"))
            started = await scheduler.tick()
            assert [f.schedule.id for f in started] == ["recon"]
            await scheduler.drain()
        finally:
            service.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="test-scheduler")
    thread.start()
    return thread


async def test_a_run_fired_by_a_scheduler_elsewhere_shows_in_history_and_the_schedules_tab(managed_project):
    project = managed_project
    from core.repo import Repository

    project.db_dir.mkdir(parents=True, exist_ok=True)
    repo = Repository.for_project(project)
    with repo.transaction():
        repo.create_many([{"userName": f"user{i}", "givenName": "G", "sn": f"S{i}", "mail": f"u{i}@example.com"}
                          for i in range(25)])
    repo.close()
    (project.conf_dir / "schedule-recon.json").write_text(json.dumps({
        "type": "cron", "schedule": "0 0/15 * * * ?", "timeZone": "UTC", "invokeService": "sync",
        "invokeContext": {"action": "reconcile", "mapping": "userAccount"}}))
    app = make_app(project, start_mode="mappings")  # the run watcher on, as for a user
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#mapping-list").option_count == 1, "the mapping")
        thread = fire_in_another_thread(project)
        try:
            history = app.screen.query_one("#run-history", DataTable)

            def listed() -> list[list[str]]:
                return [[str(c) for c in history.get_row_at(i)] for i in range(history.row_count)]

            await wait_for(pilot, lambda: any(r[1] == "userAccount" and r[2] == "SUCCESS" for r in listed()),
                           "the scheduled run in the History tab")
        finally:
            await asyncio.to_thread(thread.join, 60)
        row = next(r for r in listed() if r[1] == "userAccount")
        assert row[3] == "25/25" and row[4] == "25"
        assert app.runs[0]["mapping"] == "userAccount" and app.runs[0]["state"] == "SUCCESS"
        app.screen.show_schedules_tab()
        await wait_for(pilot, lambda: cells(app).get("recon", [""] * 7)[5] == "SUCCESS",
                       "the schedule's last result")
        assert cells(app)["recon"][6] == "05-01 10:00"
