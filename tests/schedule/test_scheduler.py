"""The Scheduler on a fake clock: cron and simple times, misfire policies, overlap, one firing across processes.

No test sleeps: the fake clock jumps to the time the scheduler asks to wake at.
"""

from __future__ import annotations

import asyncio
import json
import threading

from core.repo import Repository
from core.schedule import FireResult, Scheduler

from .conftest import FakeClock, Recorder, at, write_schedule


def fired_at(recorder: Recorder) -> list[str]:
    return [t.strftime("%H:%M:%S") for _, t in recorder.fired]


async def test_cron_every_15_minutes_fires_on_the_quarter_hours(conf, repo, clock, make_scheduler):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")
    scheduler, recorder = make_scheduler(repo)
    clock.stop_at = at("2026-05-01T10:40:00")
    await scheduler.run()
    assert fired_at(recorder) == ["10:00:00", "10:15:00", "10:30:00"]
    state = repo.schedules.get("quarter")
    assert state["lastResult"]["status"] == "SUCCESS"
    assert state["lastResult"]["fireTime"] == "2026-05-01T10:30:00.000Z"
    assert [f["fireTime"] for f in repo.schedules.fires("quarter")] == [
        int(at(f"2026-05-01T10:{m}:00").timestamp() * 1000) for m in ("30", "15", "00")]


async def test_simple_schedule_repeats_count_times_from_its_start_time(conf, repo, clock, make_scheduler):
    write_schedule(conf, "simple", type="simple", repeatInterval=600_000, repeatCount=2,
                   startTime="2026-05-01T12:00:00+02:00")  # 10:00 UTC, then every 10 minutes, 3 times in all
    scheduler, recorder = make_scheduler(repo)
    clock.stop_at = at("2026-05-01T11:00:00")
    await scheduler.run()
    assert fired_at(recorder) == ["10:00:00", "10:10:00", "10:20:00"]


async def test_simple_schedule_stops_at_its_end_time(conf, repo, clock, make_scheduler):
    write_schedule(conf, "ends", type="simple", repeatInterval=300_000, timeZone="UTC",
                   startTime="2026-05-01T10:00:00", endTime="2026-05-01T10:12:00")
    scheduler, recorder = make_scheduler(repo)
    clock.stop_at = at("2026-05-01T11:00:00")
    await scheduler.run()
    assert fired_at(recorder) == ["10:00:00", "10:05:00", "10:10:00"]


async def test_a_simple_schedule_without_start_time_starts_when_first_seen(conf, repo, clock, make_scheduler):
    write_schedule(conf, "now", type="simple", repeatInterval=60_000, repeatCount=1)
    scheduler, recorder = make_scheduler(repo)
    clock.stop_at = at("2026-05-01T10:05:00")
    await scheduler.run()
    assert fired_at(recorder) == ["09:59:30", "10:00:30"]


async def _downtime(conf, repo, clock, make_scheduler, policy: str) -> Recorder:
    """Fires at 10:00, is down from then until 10:50 (10:15, 10:30 and 10:45 missed), comes back at 10:50."""
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?", misfirePolicy=policy)
    first, before = make_scheduler(repo)
    clock.set(at("2026-05-01T09:59:00"))
    await first.tick()  # seen: its times start now
    clock.set(at("2026-05-01T10:00:00"))
    await first.tick()
    await first.drain()
    assert fired_at(before) == ["10:00:00"]
    clock.set(at("2026-05-01T10:50:00"))  # a new process after the downtime
    again, after = make_scheduler(repo)
    await again.tick()
    await again.drain()
    clock.set(at("2026-05-01T11:00:00"))
    await again.tick()
    await again.drain()
    return after


async def test_misfire_fire_and_proceed_fires_once_for_the_missed_times(conf, repo, clock, make_scheduler):
    after = await _downtime(conf, repo, clock, make_scheduler, "fireAndProceed")
    assert fired_at(after) == ["10:50:00", "11:00:00"]
    fires = repo.schedules.fires("quarter")
    assert fires[1]["result"]["missed"] == 2 and fires[1]["result"]["fireTime"] == "2026-05-01T10:45:00.000Z"


async def test_misfire_do_nothing_waits_for_the_next_time(conf, repo, clock, make_scheduler):
    after = await _downtime(conf, repo, clock, make_scheduler, "doNothing")
    assert fired_at(after) == ["11:00:00"]
    assert len(repo.schedules.fires("quarter")) == 2  # 10:00 and 11:00


async def test_a_late_tick_within_the_misfire_threshold_is_not_a_misfire(conf, repo, clock, make_scheduler):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?", misfirePolicy="doNothing")
    scheduler, recorder = make_scheduler(repo)
    await scheduler.tick()
    clock.set(at("2026-05-01T10:00:40"))  # 40 s late (a busy machine): Quartz's threshold is 60 s
    await scheduler.tick()
    await scheduler.drain()
    assert fired_at(recorder) == ["10:00:40"]


async def test_paused_schedules_do_not_fire_and_resume_under_their_misfire_policy(conf, repo, clock, make_scheduler):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?", misfirePolicy="doNothing")
    scheduler, recorder = make_scheduler(repo)
    await scheduler.tick()
    repo.schedules.set_paused("quarter", True, 0)
    for t in ("10:00:00", "10:15:00", "10:30:00"):
        clock.set(at(f"2026-05-01T{t}"))
        await scheduler.tick()
    repo.schedules.set_paused("quarter", False, 0)
    clock.set(at("2026-05-01T10:40:00"))
    await scheduler.tick()
    clock.set(at("2026-05-01T10:45:00"))
    await scheduler.tick()
    await scheduler.drain()
    assert fired_at(recorder) == ["10:45:00"]


async def test_disabled_schedules_do_not_fire(conf, repo, clock, make_scheduler):
    write_schedule(conf, "off", schedule="0 0/15 * * * ?", enabled=False)
    scheduler, recorder = make_scheduler(repo)
    clock.stop_at = at("2026-05-01T10:40:00")
    await scheduler.run()
    assert recorder.fired == [] and repo.schedules.get("off") is None


async def test_two_schedulers_on_one_project_fire_a_due_time_once(conf, tmp_path, clock, make_scheduler):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")
    path = tmp_path / "db" / "sfsync.sqlite3"
    one, two = Repository.open(path), Repository.open(path)  # two connections, as two processes have
    try:
        a, rec_a = make_scheduler(one)
        b, rec_b = make_scheduler(two)
        await a.tick()
        await b.tick()
        for minute in ("00", "15", "30"):
            clock.set(at(f"2026-05-01T10:{minute}:00"))
            await asyncio.gather(b.tick(), a.tick())
            await asyncio.gather(a.drain(), b.drain())
        assert sorted(fired_at(rec_a) + fired_at(rec_b)) == ["10:00:00", "10:15:00", "10:30:00"]
    finally:
        one.close()
        two.close()


def test_two_schedulers_in_threads_racing_fire_once(conf, tmp_path):
    """The claim under real contention: 2 threads x 20 rounds, each its own connection and loop."""
    write_schedule(conf, "race", type="simple", repeatInterval=1000, startTime="2026-05-01T10:00:00Z")
    path = tmp_path / "db" / "sfsync.sqlite3"
    Repository.open(path).close()
    clocks = [FakeClock(at("2026-05-01T09:59:59")) for _ in range(2)]
    fired: list[tuple[str, str]] = []
    barrier = threading.Barrier(2)

    def worker(clock: FakeClock) -> None:
        async def main() -> None:
            repository = Repository.open(path)
            recorder = Recorder(clock)
            scheduler = Scheduler(conf, repository, recorder, clock=clock, on_fire=lambda line: None)
            for second in range(20):
                clock.set(at(f"2026-05-01T10:00:{second:02d}"))
                await asyncio.to_thread(barrier.wait)
                await scheduler.tick()
                await scheduler.drain()
            fired.extend((threading.current_thread().name, t.isoformat()) for _, t in recorder.fired)
            repository.close()

        asyncio.run(main())

    threads = [threading.Thread(target=worker, args=(c,), name=f"node{i}") for i, c in enumerate(clocks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times = sorted(t for _, t in fired)
    assert len(times) == 20 and len(set(times)) == 20


async def test_a_broken_file_is_reported_and_the_others_fire(conf, repo, clock, make_scheduler):
    write_schedule(conf, "good", schedule="0 0/15 * * * ?")
    write_schedule(conf, "bad", schedule="0 0 0 LW * ?")
    (conf / "schedule-script.json").write_text(json.dumps(
        {"schedule": "0 0 * * * ?", "invokeService": "script", "invokeContext": {"script": {}}}))
    (conf / "schedule-json.json").write_text('{"schedule": "0 0 * * * ?",\n  "type": cron}')
    errors = []
    scheduler, recorder = make_scheduler(repo, on_error=errors.append)
    clock.stop_at = at("2026-05-01T10:01:00")
    await scheduler.run()
    assert fired_at(recorder) == ["10:00:00"]
    messages = sorted(str(e) for e in errors)
    assert len(messages) == 3
    assert "schedule-bad.json:" in messages[0] and ": schedule: position 7 (day-of-month \"LW\")" in messages[0]
    assert "schedule-json.json:2:11: not valid JSON" in messages[1]
    assert "schedule-script.json" in messages[2] and "invokeService: 'script' is not supported" in messages[2]


async def test_liveSync_firing_runs_a_livesync_tick_of_its_source(conf, repo, clock, make_scheduler):
    from core.schedule import SyncInvoker

    class Service:  # records the call; the real tick runs in tests/schedule/test_livesync_schedule.py
        sources: list[str] = []

        async def livesync(self, source):
            self.sources.append(source)
            return {"connectorData": {"syncToken": "2026-05-01T10:00:00.000+0000"},
                    "sfsync": {"status": "FAILED", "changes": 1, "message": "1 record(s) failed"}}

    (conf / "schedule-live.json").write_text(json.dumps({
        "type": "simple", "repeatInterval": 60000, "invokeService": "provisioner",
        "invokeContext": {"action": "liveSync", "source": "system/salesforce/User"}}))
    service = Service()
    scheduler, _ = make_scheduler(repo, invoke=SyncInvoker(service=service))
    await scheduler.tick()
    await scheduler.drain()
    assert service.sources == ["system/salesforce/User"]
    result = repo.schedules.get("live")["lastResult"]
    assert result["status"] == "FAILED"
    assert result["message"].startswith("liveSync system/salesforce/User: FAILED, 1 change(s)")
    assert "1 record(s) failed" in result["message"]


async def test_a_firing_that_raises_is_recorded_and_the_scheduler_goes_on(conf, repo, clock, make_scheduler):
    write_schedule(conf, "quarter", schedule="0 0/15 * * * ?")
    calls = []

    async def boom(schedule):
        calls.append(schedule.id)
        if len(calls) == 1:
            raise RuntimeError("disk on fire")
        return FireResult("SUCCESS", "ok")

    scheduler, _ = make_scheduler(repo, invoke=boom)
    clock.stop_at = at("2026-05-01T10:20:00")
    await scheduler.run()
    assert calls == ["quarter", "quarter"]
    results = [f["result"]["status"] for f in repo.schedules.fires("quarter")]
    assert results == ["SUCCESS", "FAILED"]


async def test_a_livesync_firing_while_the_previous_tick_runs_is_skipped(conf, repo, clock):
    from core.schedule import SyncInvoker, load_schedule

    gate = asyncio.Event()

    class Service:
        async def livesync(self, source):
            await gate.wait()
            return {"connectorData": {"syncToken": "t"}, "sfsync": {"status": "SUCCESS", "changes": 0}}

    path = conf / "schedule-live.json"
    path.write_text(json.dumps({"type": "simple", "repeatInterval": 2000, "invokeService": "provisioner",
                                "invokeContext": {"action": "liveSync", "source": "system/salesforce/User"}}))
    schedule = load_schedule(path)
    invoker = SyncInvoker(Service())
    first = asyncio.create_task(invoker(schedule))
    await asyncio.sleep(0)
    second = await invoker(schedule)
    assert (second.status, second.message) == ("SKIPPED", "skipped: liveSync of system/salesforce/User still running")
    gate.set()
    assert (await first).status == "SUCCESS"
