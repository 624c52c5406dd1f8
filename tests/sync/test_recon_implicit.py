"""A reconciliation's writes into managed/user start implicit sync of the other mappings (issue #14 item 5), against
the local org (in-process): batched per page, no Salesforce call for a target that would not change, audited in
audit/sync, never undoing the reconciliation's write, ``enableSync: false`` turns it off, then ``onSync``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.sync.implicit import SYNC_AUDIT_ID
from tests.sync.orgproject import OrgServices

INBOUND = "systemSalesforceUser_managedUser"
OUTBOUND = "managedUser_systemSalesforceUser"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def setup(org_factory, tmp_path):
    orgs = OrgServices(org_factory, tmp_path, seed=5)

    def make(users: int = 30, outbound: dict | None = None):
        """An org and a project of the sample's conf, the outbound mapping's keys replaced by ``outbound``."""
        sync_json = None
        if outbound is not None:
            conf = json.loads((ROOT / "conf" / "sync.json").read_text())
            next(m for m in conf["mappings"] if m["name"] == OUTBOUND).update(outbound)
            sync_json = tmp_path / f"sync{len(orgs.services)}.json"
            sync_json.write_text(json.dumps(conf))
        return orgs.make(users, sync_json)

    yield make
    orgs.close()


def sync_entries(service) -> list[dict]:
    from core.repo.query import QueryRequest

    return service.repo.audit.query(QueryRequest(query_filter=f'reconId eq "{SYNC_AUDIT_ID}"'))["result"]


def stamps(org) -> dict[str, str]:
    return {u["Id"]: u["SystemModstamp"] for u in org.iter_users()}


def people(org, service, n: int) -> list:
    """``n`` links of ordinary people whose first round trip went through (the sample's outbound writes
    ``CommunityNickname = userName``, which Salesforce refuses past 40 characters)."""
    ok = {e["sourceObjectId"].rsplit("/", 1)[1] for e in sync_entries(service) if e["status"] == "SUCCESS"}
    return [link for link in service.repo.iter_links(INBOUND) if link.first_id != org.admin_id
            and link.second_id in ok][:n]


async def test_the_round_trip_back_to_the_same_salesforce_users_costs_no_salesforce_call(setup):
    org, service = setup()
    first = await service.reconcile(INBOUND)
    assert first["state"] == "SUCCESS"
    created = first["progress"]["target"]["created"]
    # the first load: each created user went through the outbound mapping, one audit/sync entry each, and the
    # mapping's defaults (TimeZoneSidKey, CommunityNickname…) were written to those that lacked them
    entries = sync_entries(service)
    assert len(entries) == created and {e["mapping"] for e in entries} == {OUTBOUND}
    assert {(e["situation"], e["action"]) for e in entries} == {("CONFIRMED", "UPDATE")}
    assert all(e["sourceObjectId"].startswith("managed/user/") for e in entries)
    assert all(not e["sourceObjectId"].startswith("managed/user/") for e in service.audit(first["_id"])["result"]
               if e.get("entryType") == "entry")  # recon entries name the Salesforce source, not managed users
    ok = [link for link in service.repo.iter_links(INBOUND) if any(
        e["sourceObjectId"] == f"managed/user/{link.second_id}" and e["status"] == "SUCCESS" for e in entries)]
    assert ok and all(org.user(link.first_id)["CommunityNickname"] == org.user(link.first_id)["Username"]
                      for link in ok)

    # a quiet rerun (nothing written): its cost in API calls is the baseline
    before = org.api_used
    quiet = await service.reconcile(INBOUND)
    baseline = org.api_used - before
    assert quiet["state"] == "SUCCESS" and len(sync_entries(service)) == created

    # three users change in Salesforce: the reconciliation copies them into managed/user, and the outbound mapping
    # would write those very values back: decided from the page's records, no read, no write
    changed = people(org, service, 3)
    for n, link in enumerate(changed):
        org.update_user(link.first_id, {"LastName": f"Roundtrip{n}"})
    before_stamps, before = stamps(org), org.api_used
    run = await service.reconcile(INBOUND)
    assert run["state"] == "SUCCESS" and run["actionSummary"]["UPDATE"] >= 3
    assert org.api_used - before == baseline
    assert stamps(org) == before_stamps
    new = sync_entries(service)[created:]
    assert sorted(e["sourceObjectId"] for e in new) == sorted(f"managed/user/{link.second_id}" for link in changed)
    assert {(e["mapping"], e["situation"], e["action"], e["status"]) for e in new} == {
        (OUTBOUND, "CONFIRMED", "UPDATE", "SUCCESS")}
    assert [service.repo.read(link.second_id)["sn"] for link in changed] == [f"Roundtrip{n}" for n in range(3)]


async def test_only_the_targets_that_would_change_are_written_in_one_bulk_call(setup):
    org, service = setup()
    await service.reconcile(INBOUND)
    before = org.api_used
    await service.reconcile(INBOUND)
    baseline = org.api_used - before
    # three users' Alias drift from the outbound mapping (givenName's first 8 letters) and their LastName changes:
    # the reconciliation writes the LastName into managed/user, implicit sync puts the Alias back, all three in
    # one composite call
    changed = people(org, service, 3)
    for n, link in enumerate(changed):
        org.update_user(link.first_id, {"LastName": f"Drift{n}", "Alias": f"drift{n}"})
    untouched = {i: s for i, s in stamps(org).items() if i not in {link.first_id for link in changed}}
    before = org.api_used
    run = await service.reconcile(INBOUND)
    assert run["state"] == "SUCCESS"
    assert org.api_used - before == baseline + 1
    for link in changed:
        sf, user = org.user(link.first_id), service.repo.read(link.second_id)
        assert sf["Alias"] == user["givenName"][:8] and sf["LastName"] == user["sn"]
    assert {i: s for i, s in stamps(org).items() if i in untouched} == untouched


async def test_enable_sync_false_on_the_other_mapping_turns_it_off(setup):
    org, service = setup(outbound={"enableSync": False})
    before = stamps(org)
    run = await service.reconcile(INBOUND)
    assert run["state"] == "SUCCESS" and run["progress"]["target"]["created"] > 0
    assert sync_entries(service) == [] and stamps(org) == before


async def test_a_failing_implicit_sync_is_audited_in_audit_sync_and_never_undoes_the_reconciliation(setup):
    # the outbound mapping throws for one user (its transform); that user is still created and linked
    org, service = setup(outbound={"properties": [
        {"target": "Username", "source": "userName"},
        {"target": "Alias", "source": "sn", "transform": {
            "type": "text/javascript",
            "source": "if (source === 'Unsyncable') { throw new Error('no alias for ' + source); } source.substring(0,8);"}},
    ]})
    victim = next(u for u in org.iter_users() if u["FirstName"] and not u["Email"].startswith("autoproc")
                  and u["Id"] != org.admin_id)
    org.update_user(victim["Id"], {"LastName": "Unsyncable"})
    run = await service.reconcile(INBOUND)
    assert run["state"] == "SUCCESS"
    link = service.repo.links_by_first(INBOUND, [victim["Id"]])[victim["Id"]]
    assert service.repo.read(link.second_id)["sn"] == "Unsyncable"
    [failed] = [e for e in sync_entries(service) if e["status"] == "FAILURE"]
    assert failed["sourceObjectId"] == f"managed/user/{link.second_id}" and failed["mapping"] == OUTBOUND
    assert "no alias for Unsyncable" in failed["message"]
    recon_entry = next(e for e in service.audit(run["_id"])["result"]
                       if e.get("sourceObjectId") == f"system/salesforce/User/{victim['Id']}")
    assert recon_entry["status"] == "SUCCESS" and recon_entry["action"] == "CREATE"


async def test_on_sync_runs_per_object_with_idms_sync_results(setup):
    org, service = setup(users=10)
    path = service.project.managed_path
    data = json.loads(path.read_text())
    user = next(o for o in data["objects"] if o["name"] == "user")
    user["onSync"] = {"type": "text/javascript", "source":
                      "logger.info('onSync {} {} {} {}', resourceName, syncResults.action, syncResults.success, "
                      "syncResults.syncDetails.map(function(d){ return d.mapping + ':' + d.result + ':' + "
                      "d.situation + ':' + d.action; }).join(','))"}
    path.write_text(json.dumps(data))
    run = await service.reconcile(INBOUND)
    created = run["progress"]["target"]["created"]
    log = (service.project.root / "logs" / "sfsync.log").read_text(encoding="utf-8")
    lines = [line for line in log.splitlines() if "onSync managed/user/" in line]
    assert len(lines) == created
    ok = [line for line in lines if line.endswith(f"notifyCreate true {OUTBOUND}:SUCCESSFUL:CONFIRMED:UPDATE")]
    assert ok and all(" notifyCreate " in line for line in lines)


async def test_livesyncs_writes_run_on_sync_too(setup):
    org, service = setup(users=10)
    await service.reconcile(INBOUND)
    assert (await service.livesync("system/salesforce/User"))["sfsync"]["firstSync"] is True
    path = service.project.managed_path
    data = json.loads(path.read_text())
    next(o for o in data["objects"] if o["name"] == "user")["onSync"] = {
        "type": "text/javascript", "source": "logger.info('onSync {} {} {}', resourceName, syncResults.action, "
                                             "syncResults.syncDetails[0].situation)"}
    path.write_text(json.dumps(data))
    [link] = people(org, service, 1)
    org.update_user(link.first_id, {"LastName": "Live"})
    summary = (await service.livesync("system/salesforce/User"))["sfsync"]
    assert summary["changes"] == 1 and summary["implicitSync"]["SUCCESSFUL"] == 1
    log = (service.project.root / "logs" / "sfsync.log").read_text(encoding="utf-8")
    assert f"onSync managed/user/{link.second_id} notifyUpdate CONFIRMED" in log
