"""The scheduler's glue: the edges mutation testing found untested (``scripts/mutation.py --module scheduler``).

What a firing records when the run it starts fails or cannot start, the liveSync message, and when the loop
asks to be woken. The service is a recording double (as in test_scheduler.py's liveSync test): the invoker's
answer is under test; real firings run in test_firing.py and test_livesync_schedule.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time

import pytest

from core.errors import SfsyncError
from core.schedule import FireResult, Scheduler, SyncInvoker, iso
from core.schedule.config import load_schedule

from .conftest import Recorder, at, write_schedule


class Service:
    """Answers ``reconcile``/``livesync`` with what the test gives: a dict, or an exception to raise."""

    def __init__(self, answer) -> None:
        self.answer = answer

    async def _answer(self):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    async def reconcile(self, mapping):
        return await self._answer()

    async def livesync(self, source):
        return await self._answer()


def recon_schedule(conf):
    return load_schedule(write_schedule(conf, "recon", schedule="0 0/15 * * * ?"))


def live_schedule(conf):
    path = conf / "schedule-live.json"
    path.write_text(json.dumps({"type": "simple", "repeatInterval": 60000, "invokeService": "provisioner",
                                "invokeContext": {"action": "liveSync", "source": "system/salesforce/User"}}))
    return load_schedule(path)


async def test_a_reconcile_that_cannot_start_is_a_failed_firing_with_the_reason(conf):
    result = await SyncInvoker(Service(SfsyncError("sync.json: no mapping 'userAccount'")))(recon_schedule(conf))
    assert (result.status, result.message) == ("FAILED", "sync.json: no mapping 'userAccount'")


async def test_a_failed_run_is_a_failed_firing_naming_the_run_and_its_reason(conf):
    run = {"_id": "run-1", "state": "FAILED", "failureReason": "Salesforce unreachable"}
    result = await SyncInvoker(Service(run))(recon_schedule(conf))
    assert result.to_dict() == {"status": "FAILED", "reconId": "run-1",
                                "message": "reconcile userAccount: FAILED (Salesforce unreachable)"}
    result = await SyncInvoker(Service({"_id": "run-2", "state": "SUCCESS"}))(recon_schedule(conf))
    assert result.to_dict() == {"status": "SUCCESS", "reconId": "run-2", "message": "reconcile userAccount: SUCCESS"}


async def test_a_livesync_tick_that_cannot_start_is_a_failed_firing_with_the_reason(conf):
    result = await SyncInvoker(Service(SfsyncError("no Salesforce connection")))(live_schedule(conf))
    assert (result.status, result.message) == ("FAILED", "no Salesforce connection")


async def test_a_livesync_message_gives_status_changes_and_token(conf):
    answer = {"connectorData": {"syncToken": "2026-05-01T10:00:00.000+0000"}, "sfsync": {"status": "SUCCESS"}}
    result = await SyncInvoker(Service(answer))(live_schedule(conf))
    assert (result.status, result.message) == (
        "SUCCESS", "liveSync system/salesforce/User: SUCCESS, 0 change(s), token 2026-05-01T10:00:00.000+0000")
    result = await SyncInvoker(Service({"sfsync": {"status": "SUCCESS", "changes": 2}}))(live_schedule(conf))
    assert result.message == "liveSync system/salesforce/User: SUCCESS, 2 change(s), token None"


async def test_the_loop_sleeps_until_the_next_fire_time(conf, repo, clock, make_scheduler):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")  # the clock starts at 09:59:30
    scheduler, recorder = make_scheduler(repo)
    clock.stop_at = at("2026-05-01T10:00:00")
    await scheduler.run()
    assert clock.sleeps[0] == at("2026-05-01T09:59:35")  # the poll (5 s) comes first
    write_schedule(conf, "soon", type="simple", repeatInterval=60_000, startTime="2026-05-01T09:59:32",
                   timeZone="UTC")
    clock.set(at("2026-05-01T09:59:30"))
    clock.sleeps.clear()
    clock.stop_at = at("2026-05-01T09:59:32")
    scheduler2, _ = make_scheduler(repo)
    await scheduler2.run()
    assert clock.sleeps[0] == at("2026-05-01T09:59:32")  # a fire time before the poll: woken for it


async def test_stopping_cancels_a_firing_still_running_and_records_why(conf, repo, clock, make_scheduler):
    never = asyncio.Event()

    async def hangs(schedule):
        await never.wait()  # a run that would go on past the scheduler's end

    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")
    scheduler, _ = make_scheduler(repo, invoke=hangs)
    clock.stop_at = at("2026-05-01T10:00:05")
    await scheduler.run()
    assert scheduler.running == {}
    result = repo.schedules.get("quarter")["lastResult"]
    assert (result["status"], result["message"]) == ("FAILED", "stopped with the scheduler")


async def test_the_firing_line_says_how_many_fire_times_were_missed(conf, repo, clock):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?", misfirePolicy="fireAndProceed")
    lines: list[str] = []
    scheduler = Scheduler(conf, repo, Recorder(clock), clock=clock, on_fire=lines.append)
    clock.set(at("2026-05-01T09:59:00"))
    for moment in ("2026-05-01T09:59:00", "2026-05-01T10:00:00", "2026-05-01T10:35:00", "2026-05-01T11:20:00"):
        clock.set(at(moment))
        await scheduler.tick()
        await scheduler.drain()
    firing = [line for line in lines if ": firing " in line]
    assert firing == [
        "2026-05-01T10:00:00.000Z quarter: firing reconcile userAccount for 2026-05-01T10:00:00.000Z",
        "2026-05-01T10:35:00.000Z quarter: firing reconcile userAccount for 2026-05-01T10:30:00.000Z "
        "(late: 1 missed fire time, misfirePolicy fireAndProceed)",
        "2026-05-01T11:20:00.000Z quarter: firing reconcile userAccount for 2026-05-01T11:15:00.000Z "
        "(late: 2 missed fire times, misfirePolicy fireAndProceed)",
    ]


def test_the_next_fire_time_asked_without_a_time_is_by_the_schedulers_clock(conf, repo, clock, make_scheduler):
    """``sfsync scheduler --check`` asks ``next_fire(schedule)``: the time is the scheduler's clock, not the
    machine's (the fake clock is in 2026)."""
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")
    scheduler, _ = make_scheduler(repo)
    scheduler.load()
    [schedule] = scheduler.schedules.values()
    assert scheduler.next_fire(schedule) == at("2026-05-01T10:00:00")  # the clock says 09:59:30
    clock.set(at("2026-05-01T10:20:00"))
    assert scheduler.next_fire(schedule) == at("2026-05-01T10:30:00")  # never seen firing: its times start now


# ------------------------------------------------------------------------------------ when times start

async def test_a_schedule_first_seen_just_after_one_of_its_times_waits_for_the_next(conf, repo, clock, make_scheduler):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")
    scheduler, recorder = make_scheduler(repo)
    clock.set(at("2026-05-01T10:00:00.001"))  # 1 ms after 10:00: that time was before the schedule was seen
    assert await scheduler.tick() == []
    assert scheduler.next_fire(scheduler.schedules["quarter"]) == at("2026-05-01T10:15:00")
    clock.set(at("2026-05-01T10:15:00"))
    await scheduler.tick()
    await scheduler.drain()
    assert [t for _, t in recorder.fired] == [at("2026-05-01T10:15:00")]


def test_times_are_written_in_utc_whatever_the_machines_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    try:
        assert iso(at("2026-05-01T10:00:00")) == "2026-05-01T10:00:00.000Z"
    finally:
        monkeypatch.undo()
        time.tzset()
    assert os.environ.get("TZ") != "Europe/Paris"


# ------------------------------------------------------------------------------------------ misfires

async def test_exactly_60_seconds_late_is_still_on_time(conf, repo, clock, make_scheduler):
    """Quartz's threshold: a time is misfired when it is more than 60 s late."""
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?", misfirePolicy="doNothing")
    scheduler, recorder = make_scheduler(repo)
    await scheduler.tick()
    clock.set(at("2026-05-01T10:01:00"))
    await scheduler.tick()
    await scheduler.drain()
    assert [t for _, t in recorder.fired] == [at("2026-05-01T10:01:00")]
    assert repo.schedules.get("quarter")["lastResult"]["fireTime"] == "2026-05-01T10:00:00.000Z"
    clock.set(at("2026-05-01T10:31:00"))  # 10:15 long missed, but the newest, 10:30, is exactly 60 s late
    await scheduler.tick()
    await scheduler.drain()
    assert [t for _, t in recorder.fired][-1] == at("2026-05-01T10:31:00")
    assert repo.schedules.fires("quarter")[0]["result"]["fireTime"] == "2026-05-01T10:30:00.000Z"


@pytest.mark.parametrize(("back_at", "missed", "next_time"), [
    ("10:50:00", "missed 3 fire times from 2026-05-01T10:15:00.000Z to 2026-05-01T10:45:00.000Z", "11:00:00"),
    ("10:32:00", "missed 2 fire times from 2026-05-01T10:15:00.000Z to 2026-05-01T10:30:00.000Z", "10:45:00"),
    ("10:17:00", "missed 1 fire time from 2026-05-01T10:15:00.000Z to 2026-05-01T10:15:00.000Z", "10:30:00"),
])
async def test_do_nothing_records_and_says_which_times_it_dropped(conf, repo, clock, back_at, missed, next_time):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?", misfirePolicy="doNothing")
    lines: list[str] = []
    recorder = Recorder(clock)
    scheduler = Scheduler(conf, repo, recorder, clock=clock, on_fire=lines.append)
    for moment in ("09:59:00", "10:00:00", back_at):
        clock.set(at(f"2026-05-01T{moment}"))
        await scheduler.tick()
        await scheduler.drain()
    message = f"{missed} (misfirePolicy doNothing: waiting for the next time)"
    last = missed.rsplit(" to ", 1)[1]
    assert repo.schedules.get("quarter")["lastResult"] == {
        "status": "SKIPPED", "fireTime": last, "ended": f"2026-05-01T{back_at}.000Z", "message": message}
    assert lines[-1] == f"2026-05-01T{back_at}.000Z quarter: {message}"
    assert [t for _, t in recorder.fired] == [at("2026-05-01T10:00:00")]
    clock.set(at(f"2026-05-01T{next_time}"))  # the next time fires on time: nothing missed any more
    await scheduler.tick()
    await scheduler.drain()
    assert [t for _, t in recorder.fired][-1] == at(f"2026-05-01T{next_time}")
    on_time = f"2026-05-01T{next_time}.000Z"
    assert repo.schedules.fires("quarter")[0]["result"] == {
        "status": "SUCCESS", "message": "fired quarter", "fireTime": on_time, "started": on_time, "ended": on_time}


async def test_a_late_firing_says_what_it_missed_while_it_runs(conf, repo, clock):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?", misfirePolicy="fireAndProceed")
    gate = asyncio.Event()

    async def slow(schedule):
        await gate.wait()
        return FireResult("SUCCESS", "done")

    scheduler = Scheduler(conf, repo, slow, clock=clock, on_fire=lambda line: None)
    await scheduler.tick()
    clock.set(at("2026-05-01T10:35:00"))  # 10:00 and 10:15 missed, 10:30 fires late
    await scheduler.tick()
    await asyncio.sleep(0)
    [running] = repo.schedules.fires("quarter")
    assert (running["fireTime"], running["ended"], running["result"]) == (
        int(at("2026-05-01T10:30:00").timestamp() * 1000), None, {"missed": 2})
    gate.set()
    await scheduler.drain()
    assert repo.schedules.fires("quarter")[0]["result"]["missed"] == 2


# ------------------------------------------------------------------------------------ what a firing records

async def test_a_firing_records_when_it_started_and_ended(conf, repo, clock, make_scheduler):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")
    lines: list[str] = []

    async def takes_two_minutes(schedule):
        clock.set(clock.now() + (at("2026-05-01T10:02:00") - at("2026-05-01T10:00:00")))
        return FireResult("SUCCESS", "done", "run-7")

    scheduler = Scheduler(conf, repo, takes_two_minutes, clock=clock, on_fire=lines.append)
    await scheduler.tick()
    clock.set(at("2026-05-01T10:00:05"))
    [firing] = await scheduler.tick()
    assert firing.task is not None and firing.task.get_name() == "sfsync-schedule-quarter"
    await scheduler.drain()
    assert scheduler.running == {}
    expected = {"status": "SUCCESS", "message": "done", "reconId": "run-7", "fireTime": "2026-05-01T10:00:00.000Z",
                "started": "2026-05-01T10:00:05.000Z", "ended": "2026-05-01T10:02:05.000Z"}
    assert repo.schedules.get("quarter")["lastResult"] == expected
    [fire] = repo.schedules.fires("quarter")
    assert (fire["result"], fire["started"], fire["ended"]) == (
        expected, int(at("2026-05-01T10:00:05").timestamp() * 1000), int(at("2026-05-01T10:02:05").timestamp() * 1000))
    assert lines == ["2026-05-01T10:00:05.000Z quarter: firing reconcile userAccount for 2026-05-01T10:00:00.000Z",
                     "2026-05-01T10:02:05.000Z quarter: SUCCESS done"]


async def test_a_firing_that_raises_is_logged_with_its_traceback_and_recorded_by_type(conf, repo, clock, caplog):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")

    async def boom(schedule):
        raise RuntimeError("disk on fire")

    lines: list[str] = []
    scheduler = Scheduler(conf, repo, boom, clock=clock, on_fire=lines.append)
    await scheduler.tick()
    clock.set(at("2026-05-01T10:00:00"))
    with caplog.at_level(logging.ERROR, logger="sfsync.schedule"):
        await scheduler.tick()
        await scheduler.drain()
    [record] = [r for r in caplog.records if r.name == "sfsync.schedule"]
    assert (record.levelno, record.getMessage()) == (logging.ERROR, "schedule quarter failed")
    assert record.exc_info is not None and "disk on fire" in str(record.exc_info[1])
    assert repo.schedules.get("quarter")["lastResult"]["message"] == "RuntimeError: disk on fire"
    assert lines[-1] == "2026-05-01T10:00:00.000Z quarter: FAILED RuntimeError: disk on fire"


async def test_without_callbacks_firings_and_broken_files_go_to_the_log(conf, repo, clock, caplog):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")
    write_schedule(conf, "bad", schedule="0 0 0 LW * ?")
    scheduler = Scheduler(conf, repo, Recorder(clock), clock=clock)
    with caplog.at_level(logging.INFO, logger="sfsync.schedule"):
        await scheduler.tick()
        clock.set(at("2026-05-01T10:00:00"))
        await scheduler.tick()
        await scheduler.drain()
    logged = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "sfsync.schedule"]
    assert logged == [
        (logging.ERROR, str(scheduler.errors["bad"])),
        (logging.INFO, "2026-05-01T10:00:00.000Z quarter: firing reconcile userAccount for 2026-05-01T10:00:00.000Z"),
        (logging.INFO, "2026-05-01T10:00:00.000Z quarter: SUCCESS fired quarter"),
    ]
    assert "schedule-bad.json" in logged[0][1]


# ------------------------------------------------------------------------------------------- the files

async def test_every_schedule_file_fires_under_its_own_name(conf, repo, clock, make_scheduler):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")
    write_schedule(conf, "hourly", schedule="0 0 * * * ?")
    scheduler, recorder = make_scheduler(repo)
    await scheduler.tick()
    assert sorted(scheduler.schedules) == ["hourly", "quarter"]
    clock.set(at("2026-05-01T10:00:00"))
    await scheduler.tick()
    await scheduler.drain()
    assert sorted(recorder.fired) == [("hourly", at("2026-05-01T10:00:00")), ("quarter", at("2026-05-01T10:00:00"))]


async def test_an_edited_file_is_read_again(conf, repo, clock, make_scheduler):
    write_schedule(conf, "job", schedule="0 0 * * * ?")  # hourly
    scheduler, recorder = make_scheduler(repo)
    await scheduler.tick()
    write_schedule(conf, "job", schedule="0 0/15 * * * ?")  # now every quarter hour (another size)
    for moment in ("10:00:00", "10:15:00"):
        clock.set(at(f"2026-05-01T{moment}"))
        await scheduler.tick()
        await scheduler.drain()
    assert scheduler.schedules["job"].config.schedule == "0 0/15 * * * ?"
    assert [t for _, t in recorder.fired] == [at("2026-05-01T10:00:00"), at("2026-05-01T10:15:00")]


async def test_a_broken_file_is_reported_once_and_again_when_it_changes(conf, repo, clock, make_scheduler):
    errors: list = []
    write_schedule(conf, "bad", schedule="0 0 0 LW * ?")
    scheduler, _ = make_scheduler(repo, on_error=errors.append)
    first = scheduler.load()
    assert [str(e) for e in first] == [str(e) for e in errors] and len(errors) == 1
    assert scheduler.errors == {"bad": errors[0]} and scheduler.schedules == {}
    write_schedule(conf, "good", schedule="0 0/15 * * * ?")  # another file changes: the broken one is not new
    assert scheduler.load() == [] and len(errors) == 1 and sorted(scheduler.schedules) == ["good"]
    assert scheduler.load() == []  # nothing changed: nothing read
    write_schedule(conf, "bad", schedule="0 0 0 ? * MON#6")  # edited, still broken: reported again
    again = scheduler.load()
    assert len(errors) == 2 and again == [errors[1]] and "MON#6" in str(errors[1])
    assert scheduler.errors == {"bad": errors[1]}


async def test_a_file_removed_while_the_folder_is_read_is_left_out(conf, repo, clock, make_scheduler, monkeypatch):
    """The listing names a file that is gone when its size is read (removed in between): the others load."""
    import core.schedule.scheduler as scheduler_module

    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")
    listed = scheduler_module.schedule_files
    monkeypatch.setattr(scheduler_module, "schedule_files", lambda d: [*listed(d), d / "schedule-gone.json"])
    scheduler, _ = make_scheduler(repo)
    assert scheduler.load() == [] and sorted(scheduler.schedules) == ["quarter"]


async def test_disabling_a_schedule_drops_its_state_so_it_starts_afresh(conf, repo, clock, make_scheduler):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")
    write_schedule(conf, "other", schedule="0 0/15 * * * ?")
    scheduler, recorder = make_scheduler(repo)
    await scheduler.tick()
    clock.set(at("2026-05-01T10:00:00"))
    await scheduler.tick()
    await scheduler.drain()
    assert repo.schedules.get("quarter")["lastFire"] is not None
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?", enabled=False)
    clock.set(at("2026-05-01T10:10:00"))
    await scheduler.tick()
    assert repo.schedules.get("quarter") is None and repo.schedules.fires("quarter") == []
    assert repo.schedules.get("other")["lastFire"] is not None  # only the disabled one's
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?", misfirePolicy="fireAndProceed")
    clock.set(at("2026-05-01T11:02:00"))
    await scheduler.tick()  # enabled again: its times start now, so 10:15 to 11:00 are not missed
    await scheduler.drain()
    assert [t for s, t in recorder.fired if s == "quarter"] == [at("2026-05-01T10:00:00")]


# ------------------------------------------------------------------------------------------- the loop

async def test_stop_wakes_the_loop_from_its_sleep(conf, repo):
    """A clock that sleeps until woken (no time passes): run() ends only because stop() wakes its sleep."""

    class Asleep:
        def __init__(self) -> None:
            self.sleeping = asyncio.Event()

        def now(self):
            return at("2026-05-01T09:59:30")

        async def sleep_until(self, when, wake):
            self.sleeping.set()
            await wake.wait()

    clock = Asleep()
    scheduler = Scheduler(conf, repo, Recorder(clock), clock=clock, on_fire=lambda line: None)
    loop = asyncio.create_task(scheduler.run())
    await clock.sleeping.wait()
    scheduler.stop()
    await asyncio.wait_for(loop, 60)  # bounds only: it ends as soon as the wake is seen
    assert loop.done() and loop.exception() is None


async def test_a_scheduler_stopped_before_it_runs_ends_at_once_firing_nothing(conf, repo, clock):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")
    recorder = Recorder(clock)
    scheduler = Scheduler(conf, repo, recorder, clock=clock, on_fire=lambda line: None)
    assert (scheduler.schedules, scheduler.errors, scheduler.running) == ({}, {}, {})  # no file read yet
    scheduler.stop()
    clock.set(at("2026-05-01T10:00:00"))
    await scheduler.run()
    assert recorder.fired == [] and clock.sleeps == []
