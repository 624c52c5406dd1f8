"""A schedule with ``action: liveSync`` firing real liveSync ticks against the local org, on a fake clock
(no sleeping): a change in Salesforce reaches the managed user at the next firing."""

from __future__ import annotations

import json

import pytest

from core.schedule import Scheduler
from tests.sync.orgproject import in_process_service, make_project

from .conftest import at

INBOUND = "systemSalesforceUser_managedUser"


@pytest.fixture
def org_service(org_factory, tmp_path):
    handle = org_factory(users=20, seed=5)
    project = make_project(tmp_path / "p", handle.org, "http://localhost")
    service = in_process_service(project, handle.app)
    yield handle.org, project, service
    service.close()


async def test_a_livesync_schedule_brings_a_salesforce_change_to_the_managed_user(org_service, clock):
    org, project, service = org_service
    assert (await service.reconcile(INBOUND))["state"] == "SUCCESS"
    (project.conf_dir / "schedule-livesync_salesforce.json").write_text(json.dumps({
        "enabled": True, "type": "simple", "repeatInterval": 2000, "persisted": True,
        "concurrentExecution": False, "invokeService": "provisioner",
        "invokeContext": {"action": "liveSync", "source": "system/salesforce/User"}}))
    scheduler = Scheduler.for_project(project, service=service, clock=clock, on_fire=lambda line: None)
    clock.scheduler = scheduler
    clock.set(at("2026-05-01T10:00:00"))
    await scheduler.tick()  # first seen: the first firing stores the token
    await scheduler.drain()
    first = service.repo.schedules.get("livesync_salesforce")["lastResult"]
    assert first["status"] == "SUCCESS" and "first liveSync" in first["message"]

    link = next(link for link in service.repo.iter_links(INBOUND) if link.first_id != org.admin_id)
    org.update_user(link.first_id, {"LastName": "Scheduled"})
    clock.set(at("2026-05-01T10:00:02"))
    fired = await scheduler.tick()
    await scheduler.drain()
    assert [f.schedule.id for f in fired] == ["livesync_salesforce"]
    result = service.repo.schedules.get("livesync_salesforce")["lastResult"]
    assert result["status"] == "SUCCESS", result
    assert "1 change(s)" in result["message"]
    assert service.repo.read(link.second_id)["sn"] == "Scheduled"
