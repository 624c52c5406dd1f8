"""The scheduler's glue: the edges mutation testing found untested (``scripts/mutation.py --module scheduler``).

What a firing records when the run it starts fails or cannot start, the liveSync message, and when the loop
asks to be woken. The service is a recording double (as in test_scheduler.py's liveSync test): the invoker's
answer is under test; real firings run in test_firing.py and test_livesync_schedule.py.
"""

from __future__ import annotations

import asyncio
import json

from core.errors import SfsyncError
from core.schedule import Scheduler, SyncInvoker
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
