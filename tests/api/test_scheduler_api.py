"""``/openidm/scheduler/job``: IDM's shapes, and every change written to ``conf/schedule-<id>.json``."""

from __future__ import annotations

import json

RECON = {"enabled": True, "type": "cron", "schedule": "0 0/15 * * * ?", "persisted": True,
         "misfirePolicy": "fireAndProceed", "invokeService": "sync",
         "invokeContext": {"action": "reconcile", "mapping": "userAccount"}, "x-note": "kept"}


async def test_put_writes_the_file_and_get_list_delete_answer_in_idm_shapes(api, managed_project):
    client, backend = api
    path = managed_project.conf_dir / "schedule-nightly.json"
    created = await client.put("/openidm/scheduler/job/nightly", json=RECON)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["_id"] == "nightly" and job["invokeService"] == "org.forgerock.openidm.sync"
    assert job["concurrentExecution"] is False and job["repeatCount"] == -1  # IDM's defaults filled in
    assert job["nextRunDate"].endswith(":00.000Z") and job["triggers"][0]["state"] == "NORMAL"
    assert json.loads(path.read_text()) == RECON  # the file holds what was sent, unknown keys too

    text = path.read_text()
    got = (await client.get("/openidm/scheduler/job/nightly")).json()
    again = await client.put("/openidm/scheduler/job/nightly", json=got)  # GET then PUT: the file unchanged
    assert again.status_code == 200 and path.read_text() == text

    edited = dict(got, schedule="0 0 2 * * ?")
    assert (await client.put("/openidm/scheduler/job/nightly", json=edited)).status_code == 200
    saved = json.loads(path.read_text())
    assert saved["schedule"] == "0 0 2 * * ?" and list(saved) == list(RECON)  # key order kept

    listed = (await client.get("/openidm/scheduler/job?_queryFilter=true&_fields=_id,enabled,nextRunDate")).json()
    assert listed["resultCount"] == 1 and set(listed["result"][0]) == {"_id", "enabled", "nextRunDate"}

    deleted = await client.delete("/openidm/scheduler/job/nightly")
    assert deleted.status_code == 200 and deleted.json()["_id"] == "nightly" and not path.exists()
    assert (await client.get("/openidm/scheduler/job/nightly")).status_code == 404


async def test_create_action_and_if_none_match(api, managed_project):
    client, _ = api
    made = await client.post("/openidm/scheduler/job?_action=create", json=RECON)
    assert made.status_code == 201
    job_id = made.json()["_id"]
    assert (managed_project.conf_dir / f"schedule-{job_id}.json").is_file()
    clash = await client.put(f"/openidm/scheduler/job/{job_id}", json=RECON, headers={"If-None-Match": "*"})
    assert clash.status_code == 412


async def test_a_bad_body_is_a_400_naming_the_field_and_nothing_is_written(api, managed_project):
    client, _ = api
    bad = await client.put("/openidm/scheduler/job/bad", json=dict(RECON, schedule="0 0 0 LW * ?"))
    assert bad.status_code == 400
    assert "schedule: position 7 (day-of-month \"LW\")" in bad.json()["message"]
    script = await client.put("/openidm/scheduler/job/bad", json=dict(RECON, invokeService="script"))
    assert script.status_code == 400 and "invokeService" in script.json()["message"]
    assert not (managed_project.conf_dir / "schedule-bad.json").exists()


async def test_pause_and_resume_are_seen_by_the_scheduler(api, managed_project):
    client, backend = api
    await client.put("/openidm/scheduler/job/nightly", json=RECON)
    paused = await client.post("/openidm/scheduler/job/nightly?_action=pause")
    assert paused.json() == {"success": True}
    job = (await client.get("/openidm/scheduler/job/nightly")).json()
    assert job["triggers"][0]["state"] == "PAUSED"
    assert backend.repo.schedules.get("nightly")["paused"] is True
    await client.post("/openidm/scheduler/job/nightly?_action=resume")
    assert backend.repo.schedules.get("nightly")["paused"] is False
    assert (await client.post("/openidm/scheduler/job/none?_action=pause")).status_code == 404


async def test_list_currently_executing_jobs(api, managed_project):
    client, backend = api
    await client.put("/openidm/scheduler/job/nightly", json=RECON)
    assert (await client.post("/openidm/scheduler/job?_action=listCurrentlyExecutingJobs")).json() == []
    backend.repo.schedules.register("nightly", 0)
    assert backend.repo.schedules.claim("nightly", 900_000, 1_000_000)  # a firing in progress (this process)
    executing = (await client.post("/openidm/scheduler/job?_action=listCurrentlyExecutingJobs")).json()
    assert [j["_id"] for j in executing] == ["nightly"]
    assert executing[0]["firing"]["fireTime"] == "1970-01-01T00:15:00.000Z"


async def test_validate_quartz_cron_expression(api):
    client, _ = api
    ok = await client.post("/openidm/scheduler?_action=validateQuartzCronExpression",
                           json={"cronExpression": "0 15 10 ? * MON-FRI"})
    assert ok.json() == {"valid": True}
    bad = await client.post("/openidm/scheduler?_action=validateQuartzCronExpression",
                            json={"cronExpression": "0 15 10 * * MON-FRI"})
    assert bad.json()["valid"] is False and "position" in bad.json()["message"]
