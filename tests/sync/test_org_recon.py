"""The two sample mappings against the local Salesforce org (in-process), as the issue's "done" list asks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.sync.implicit import FAILED, SUCCESSFUL
from tests.sync.orgproject import in_process_service, make_project

INBOUND = "systemSalesforceUser_managedUser"
OUTBOUND = "managedUser_systemSalesforceUser"
URL = "http://localhost"


@pytest.fixture
def setup(org_factory, tmp_path):
    services = []

    def make(users: int = 40, sync_json: Path | None = None):
        handle = org_factory(users=users, seed=7, instant_jobs=True)  # a Bulk job completes at once
        project = make_project(tmp_path / f"p{len(services)}", handle.org, URL, sync_json=sync_json)
        service = in_process_service(project, handle.app)
        services.append(service)
        return handle.org, service

    yield make
    for s in services:
        s.close()


def without_implicit_sync(tmp_path: Path) -> Path:
    """The sample's sync.json with the outbound mapping's ``enableSync: false`` (IDM's switch): the inbound runs'
    writes into managed/user then start no implicit sync back to Salesforce (which would write the outbound
    mapping's defaults to the users and stamp them), for tests that count or compare what the org holds."""
    conf = json.loads((Path(__file__).resolve().parents[2] / "conf" / "sync.json").read_text())
    next(m for m in conf["mappings"] if m["name"] == OUTBOUND)["enableSync"] = False
    path = tmp_path / "no-implicit-sync.json"
    path.write_text(json.dumps(conf))
    return path


def managed(service):
    return service.repo.query({"_queryFilter": "true"})["result"]


def importable(org):
    """The org's users the inbound mapping should bring in: validSource drops autoproc…; managed/user
    requires givenName, so users without FirstName are that record's FAILURE."""
    users = list(org.iter_users())
    valid = [u for u in users if not u["Email"].startswith("autoproc")]
    return users, valid, [u for u in valid if u["FirstName"]]


async def test_inbound_creates_exactly_the_valid_users(setup):
    org, service = setup()
    users, valid, ok = importable(org)
    run = await service.reconcile(INBOUND)
    assert run["state"] == "SUCCESS"
    assert sorted(u["userName"] for u in managed(service)) == sorted(u["Username"] for u in ok)
    assert run["situationSummary"]["SOURCE_IGNORED"] == len(users) - len(valid) >= 1
    assert run["statusSummary"] == {"SUCCESS": len(users) - (len(valid) - len(ok)), "FAILURE": len(valid) - len(ok)}
    assert run["progress"]["source"]["existing"] == {"processed": len(users), "total": str(len(users))}
    links = list(service.repo.iter_links(INBOUND))
    by_sf = {u["Username"]: u["Id"] for u in ok}
    assert {link.first_id for link in links} == set(by_sf.values())
    user = service.repo.read(links[0].second_id)
    sf = org.user(links[0].first_id)
    assert (user["mail"], user["sn"], user["givenName"], user["profileId"]) == (
        sf["Email"], sf["LastName"], sf["FirstName"], sf["ProfileId"])


async def test_second_inbound_run_is_confirmed_with_zero_writes(setup):
    org, service = setup()
    await service.reconcile(INBOUND)
    revs = {u["_id"]: u["_rev"] for u in managed(service)}
    run = await service.reconcile(INBOUND)
    _, valid, ok = importable(org)
    assert run["situationSummary"]["CONFIRMED"] == len(ok)
    assert run["situationSummary"]["ABSENT"] == len(valid) - len(ok)  # the ones managed/user refuses
    assert {u["_id"]: u["_rev"] for u in managed(service)} == revs
    assert run["progress"]["target"]["created"] == 0 and run["progress"]["links"]["created"] == 0


async def test_an_edit_in_salesforce_arrives_on_the_next_run(setup):
    org, service = setup()
    await service.reconcile(INBOUND)
    link = next(link for link in service.repo.iter_links(INBOUND) if link.first_id != org.admin_id)
    before = {u["_id"]: u["_rev"] for u in managed(service)}
    org.update_user(link.first_id, {"LastName": "Ångström-Renamed", "Email": "renamed@example.com"})
    await service.reconcile(INBOUND)
    after = {u["_id"]: u["_rev"] for u in managed(service)}
    changed = [i for i in after if after[i] != before[i]]
    assert changed == [link.second_id]
    user = service.repo.read(link.second_id)
    assert (user["sn"], user["mail"]) == ("Ångström-Renamed", "renamed@example.com")


async def test_incremental_run_processes_only_the_changes(setup, tmp_path):
    org, service = setup(users=60, sync_json=without_implicit_sync(tmp_path))
    await service.reconcile(INBOUND)
    links = list(service.repo.iter_links(INBOUND))[:3]
    for n, link in enumerate(links):
        org.update_user(link.first_id, {"Title": "unmapped change"} if n == 0 else {"LastName": f"Changed{n}"})
    run = await service.reconcile(INBOUND, changed_only=True)
    assert run["state"] == "SUCCESS" and run["changedOnly"] is True
    # the three changes, plus any record stamped in the watermark's own second (the overlap is harmless)
    assert 3 <= run["progress"]["source"]["existing"]["processed"] <= 5
    audited = {e["sourceObjectId"].rsplit("/", 1)[1] for e in service.audit(run["_id"])["result"]
               if e.get("entryType") == "entry"}
    assert {link.first_id for link in links} <= audited
    assert service.repo.read(links[2].second_id)["sn"] == "Changed2"
    again = await service.reconcile(INBOUND, changed_only=True)
    assert again["progress"]["source"]["existing"]["processed"] <= 3  # only the overlap second, if any
    assert again["situationSummary"]["ABSENT"] == 0


async def test_update_user_reaches_salesforce(setup):
    org, service = setup()
    await service.reconcile(INBOUND)
    link = next(link for link in service.repo.iter_links(INBOUND)
                if len(org.user(link.first_id)["Username"]) <= 40)
    user = service.repo.read(link.second_id)
    body = {k: v for k, v in user.items() if not k.startswith("_")}
    updated, results = await service.update_user(user["_id"], {**body, "sn": "Pushed", "givenName": "Grace"},
                                                 rev=user["_rev"])
    assert updated["sn"] == "Pushed"
    result = results[OUTBOUND]
    assert (result.result, result.situation, result.action) == (SUCCESSFUL, "CONFIRMED", "UPDATE"), result
    sf = org.user(link.first_id)
    assert (sf["LastName"], sf["FirstName"], sf["Alias"]) == ("Pushed", "Grace", "Grace")


async def test_created_user_is_created_in_salesforce_with_the_mapping_defaults(setup):
    org, service = setup()
    await service.reconcile(INBOUND)
    profile = managed(service)[0]["profileId"]
    created, results = await service.create_user({"userName": "new.person@example.com", "givenName": "Nouvelle",
                                                   "sn": "Personne", "mail": "new.person@example.com",
                                                   "profileId": profile})
    assert results[OUTBOUND].result == SUCCESSFUL and results[OUTBOUND].action == "CREATE"
    sf = org.user_by_username("new.person@example.com")
    assert (sf["LocaleSidKey"], sf["TimeZoneSidKey"], sf["Alias"], sf["IsActive"]) == (
        "en_US", "America/Los_Angeles", "Nouvelle", True)
    assert service.repo.links_by_second(INBOUND, [created["_id"]])[created["_id"]].first_id == sf["Id"]


async def test_a_refused_salesforce_write_is_a_failed_result_and_the_managed_change_stays(setup):
    org, service = setup()
    await service.reconcile(INBOUND)
    created, results = await service.create_user({"userName": "no.profile@example.com", "givenName": "No",
                                                  "sn": "Profile", "mail": "no.profile@example.com"})
    assert results[OUTBOUND].result == FAILED and "ProfileId" in results[OUTBOUND].message
    assert service.repo.read(created["_id"])["sn"] == "Profile"  # never rolled back
    assert org.user_by_username("no.profile@example.com") is None


async def test_outbound_after_inbound_has_nothing_absent(setup):
    org, service = setup()
    await service.reconcile(INBOUND)
    run = await service.reconcile(OUTBOUND)
    assert run["state"] == "SUCCESS"
    assert run["situationSummary"]["ABSENT"] == 0
    assert run["situationSummary"]["CONFIRMED"] == len(managed(service))


async def test_outbound_delete_deactivates_the_salesforce_user(setup, tmp_path):
    conf = json.loads((Path(__file__).resolve().parents[2] / "conf" / "sync.json").read_text())
    conf["mappings"][1]["validSource"] = {"type": "text/javascript", "source": "source.accountStatus !== 'inactive'"}
    path = tmp_path / "sync.json"
    path.write_text(json.dumps(conf))
    org, service = setup(sync_json=path)
    await service.reconcile(INBOUND)
    # not the org's admin: Salesforce refuses to deactivate the user the API runs as
    link = next(link for link in service.repo.iter_links(INBOUND) if link.first_id != org.admin_id)
    user = service.repo.read(link.second_id)
    _, results = await service.update_user(user["_id"], {**{k: v for k, v in user.items() if k[0] != "_"},
                                                         "accountStatus": "inactive"})
    assert (results[OUTBOUND].result, results[OUTBOUND].situation, results[OUTBOUND].action) == (
        SUCCESSFUL, "UNQUALIFIED", "DELETE"), results[OUTBOUND]
    assert org.user(link.first_id)["IsActive"] is False  # Salesforce users cannot be deleted
    assert service.repo.links_by_second(INBOUND, [user["_id"]]) == {}


async def test_dry_run_against_the_org_changes_nothing(setup, tmp_path):
    org, service = setup(sync_json=without_implicit_sync(tmp_path))
    before = sorted((u["Id"], u["SystemModstamp"]) for u in org.iter_users())
    run = await service.reconcile(INBOUND, dry_run=True)
    assert run["situationSummary"]["ABSENT"] > 0 and run["dryRun"]
    assert managed(service) == [] and list(service.repo.iter_links(INBOUND)) == []
    await service.reconcile(INBOUND)
    user = managed(service)[0]
    service.repo.update(user["_id"], {**{k: v for k, v in user.items() if k[0] != "_"}, "sn": "Local"})
    await service.reconcile(OUTBOUND, dry_run=True)
    assert sorted((u["Id"], u["SystemModstamp"]) for u in org.iter_users()) == before


REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "idm-6.5-sample-conf" / "sync.json"


async def test_the_idm_sample_sync_json_runs_unchanged(setup):
    org, service = setup(sync_json=REFERENCE)
    first = await service.reconcile(INBOUND)
    _, _, ok = importable(org)
    assert first["state"] == "SUCCESS" and first["progress"]["target"]["created"] == len(ok)
    second = await service.reconcile(INBOUND)
    assert second["situationSummary"]["CONFIRMED"] == len(ok)
    outbound = await service.reconcile(OUTBOUND)
    assert outbound["state"] == "SUCCESS" and outbound["situationSummary"]["ABSENT"] == 0


async def test_a_username_taken_between_decision_and_write_fails_that_record_only(setup, monkeypatch):
    """A page's creates are prepared (ids, rows, audit) before its transaction; when another writer takes a
    userName in between, the insert refuses that one record, which is then reported as it happened: FAILURE,
    no link, no target id, the rest of the page created. The next run links it to the other writer's user."""
    from core.sync import recon

    org, service = setup()
    _, _, ok = importable(org)
    commit = recon.ReconEngine._commit
    taken: list[str] = []

    def commit_after_a_rival(self, records, plan):
        if not taken:
            victim = next(r for r in records if r.created)
            taken.append(victim.source_id)
            service.repo.create({**victim.new_target, "userName": victim.new_target["userName"].upper()})
        return commit(self, records, plan)

    monkeypatch.setattr(recon.ReconEngine, "_commit", commit_after_a_rival)
    run = await service.reconcile(INBOUND)
    assert run["state"] == "SUCCESS"
    assert run["statusSummary"]["FAILURE"] == 1 + len([u for u in importable(org)[1] if not u["FirstName"]])
    assert run["progress"]["target"]["created"] == run["progress"]["links"]["created"] == len(ok) - 1
    entry = next(e for e in service.audit(run["_id"])["result"] if e.get("sourceObjectId", "").endswith(taken[0]))
    assert entry["status"] == "FAILURE" and "userName" in entry["exception"] and "targetObjectId" not in entry
    assert len(managed(service)) == len(ok)  # the rival's user and the rest; nothing created twice

    monkeypatch.setattr(recon.ReconEngine, "_commit", commit)
    again = await service.reconcile(INBOUND)
    assert again["situationSummary"]["FOUND"] == 1 and again["statusSummary"]["FAILURE"] == len(
        [u for u in importable(org)[1] if not u["FirstName"]])
    assert len(managed(service)) == len(list(service.repo.iter_links(INBOUND))) + 0 == len(ok)


@pytest.mark.parametrize("threshold", [1, 0], ids=["bulk-api", "rest-pages"])
async def test_inbound_through_a_bulk_api_job_equals_the_rest_pages(setup, threshold, tmp_path):
    """From ``bulk_query_threshold`` records on, a full run reads Salesforce through one Bulk API 2.0 job (the
    first REST page, which tells the size, is dropped); the run is the same either way."""
    org, service = setup(users=4500, sync_json=without_implicit_sync(tmp_path))
    (service.project.conf_dir / "sfsync.toml").write_text(f"bulk_query_threshold = {threshold}\n"
                                                          'bulk_query = "always"\n')  # not only when quicker
    before = org.api_used
    run = await service.reconcile(INBOUND)
    calls = org.api_used - before
    _, valid, ok = importable(org)
    assert run["state"] == "SUCCESS"
    assert sorted(u["userName"] for u in managed(service)) == sorted(u["Username"] for u in ok)
    assert run["progress"]["source"]["existing"] == {"processed": 4504, "total": "4504"}
    assert run["situationSummary"]["ABSENT"] == len(valid)
    # rest: 3 query pages + the watermark; bulk: the first REST page and the one fetched ahead of it (both
    # dropped), describe, job, poll, the resultPages listing, one result page, the watermark
    assert calls == (8 if threshold else 4)
