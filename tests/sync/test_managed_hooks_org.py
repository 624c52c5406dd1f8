"""managed.json hooks against the local org (in-process): the sample's managed.json unchanged in a
reconciliation from Salesforce, and a hook on liveSync's writes into managed/user."""

from __future__ import annotations

import json

from tests.sync.test_livesync import SOURCE, loaded, person_links, setup  # noqa: F401 - setup is a fixture


async def test_the_samples_hooks_run_in_a_reconciliation_and_a_hook_runs_on_livesync(setup):  # noqa: F811
    org, service = await loaded(setup)
    users = service.repo.query({"_queryFilter": "true"})["result"]
    # the sample's onCreate (sfsync's bundled onCreateUser.setDefaultFields) made every created user active
    assert users and all(u["accountStatus"] == "active" for u in users)
    path = service.project.managed_path
    data = json.loads(path.read_text())
    user = next(o for o in data["objects"] if o["name"] == "user")
    user["onUpdate"] = {"type": "text/javascript",
                        "source": "object.updatedBy = [context.trigger.origin, request.method, oldObject.sn,"
                                  " newObject.sn, resourceName].join('|')"}
    path.write_text(json.dumps(data))
    [link] = person_links(org, service, 1)
    old_sn = service.repo.read(link.second_id)["sn"]
    org.update_user(link.first_id, {"LastName": "Hooked"})
    summary = (await service.livesync(SOURCE))["sfsync"]
    assert summary["statusSummary"]["FAILURE"] == 0, summary
    stored = service.repo.read(link.second_id)
    assert stored["sn"] == "Hooked"
    assert stored["updatedBy"] == f"liveSync|update|{old_sn}|Hooked|managed/user/{link.second_id}"
