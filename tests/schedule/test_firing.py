"""Real firings through SyncService: a reconcile runs, and one whose mapping is still running is skipped."""

from __future__ import annotations

import json
import shutil

import pytest

from core.config.project import Project
from core.schedule import Scheduler
from core.sync.service import SyncService

from .conftest import ROOT, at, user_account_mapping, write_schedule


@pytest.fixture
def project(tmp_path) -> Project:
    """The sample's managed.json with a managed-to-managed mapping: reconciles run for real, no network."""
    conf = tmp_path / "conf"
    conf.mkdir(exist_ok=True)
    shutil.copy(ROOT / "conf" / "managed.json", conf / "managed.json")
    (conf / "sync.json").write_text(json.dumps({"mappings": [user_account_mapping()]}))
    return Project(tmp_path)


@pytest.fixture
def service(project):
    svc = SyncService(project)
    yield svc
    svc.close()


def scheduler_for(project, service, clock) -> Scheduler:
    scheduler = Scheduler.for_project(project, service=service, clock=clock, on_fire=lambda line: None)
    clock.scheduler = scheduler
    return scheduler


async def test_a_fired_reconcile_runs_the_mapping(project, service, clock):
    for i in range(20):
        service.repo.create({"userName": f"user{i}", "givenName": "G", "sn": f"S{i}", "mail": f"u{i}@example.com"})
    write_schedule(project.conf_dir, "recon", schedule="0 0/15 * * * ?")
    scheduler = scheduler_for(project, service, clock)
    await scheduler.tick()
    clock.set(at("2026-05-01T10:00:00"))
    started = await scheduler.tick()
    assert [f.schedule.id for f in started] == ["recon"]
    await scheduler.drain()  # (run() would cancel a firing still running when it stops: its run ends CANCELED)
    result = service.repo.schedules.get("recon")["lastResult"]
    assert result["status"] == "SUCCESS", result
    run = service.run(result["reconId"])
    assert run["mapping"] == "userAccount" and run["state"] == "SUCCESS"
    assert run["situationSummary"]["ABSENT"] == 20
    assert service.repo.count(resource="account") == 20


async def test_overlap_is_skipped_while_the_mapping_runs_elsewhere(project, service, clock):
    write_schedule(project.conf_dir, "recon", schedule="0 0/15 * * * ?", concurrentExecution=False)
    service.repo.runs.acquire("userAccount", "a-run-in-another-process")
    scheduler = scheduler_for(project, service, clock)
    clock.stop_at = at("2026-05-01T10:01:00")
    await scheduler.run()
    result = service.repo.schedules.get("recon")["lastResult"]
    assert result["status"] == "SKIPPED"
    assert result["message"] == "skipped: userAccount still running"
    assert service.runs(10) == []  # no run was started
    service.repo.runs.release("a-run-in-another-process")


async def test_concurrent_execution_true_reports_the_lock_as_a_failure(project, service, clock):
    write_schedule(project.conf_dir, "recon", schedule="0 0/15 * * * ?", concurrentExecution=True)
    service.repo.runs.acquire("userAccount", "a-run-in-another-process")
    scheduler = scheduler_for(project, service, clock)
    clock.stop_at = at("2026-05-01T10:01:00")
    await scheduler.run()
    result = service.repo.schedules.get("recon")["lastResult"]
    assert result["status"] == "FAILED" and "already has an active reconciliation" in result["message"]


async def test_an_unknown_mapping_is_refused_at_load(project, service, clock):
    write_schedule(project.conf_dir, "recon", schedule="0 0/15 * * * ?",
                   invokeContext={"action": "reconcile", "mapping": "nope"})
    errors = []
    scheduler = Scheduler.for_project(project, service=service, clock=clock, on_error=errors.append)
    scheduler.load()
    assert scheduler.schedules == {}
    assert "invokeContext.mapping: no mapping named 'nope' in conf/sync.json (known: userAccount)" in str(errors[0])


async def test_a_scheduler_given_no_service_fires_through_its_own(project, clock):
    """``Scheduler.for_project(project)`` alone: it opens the project's own SyncService, and a firing reconciles
    the project's repository with it."""
    write_schedule(project.conf_dir, "recon", schedule="0 0/15 * * * ?")
    scheduler = Scheduler.for_project(project, clock=clock, on_fire=lambda line: None)
    try:
        scheduler.repo.create({"userName": "ada", "givenName": "Ada", "sn": "Lovelace", "mail": "ada@example.com"})
        await scheduler.tick()
        clock.set(at("2026-05-01T10:00:00"))
        assert [f.schedule.id for f in await scheduler.tick()] == ["recon"]
        await scheduler.drain()
        result = scheduler.repo.schedules.get("recon")["lastResult"]
        assert (result["status"], result["message"]) == ("SUCCESS", "reconcile userAccount: SUCCESS"), result
        assert scheduler.repo.count(resource="account") == 1
    finally:
        scheduler.invoke.service.close()
