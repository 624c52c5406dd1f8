"""liveSync of system/salesforce/User against the local org (in-process), as issue #15 item 4's done-list asks:
updates, deactivations, a crash between fetch and commit, a failed record retried, the cost of a tick with
nothing changed, a token older than the replication window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.repo.stages import stage_id
from core.sync.livesync import LIVESYNC_AUDIT_ID, OVERLAP, format_stamp
from tests.sync.orgproject import in_process_service, make_project

INBOUND = "systemSalesforceUser_managedUser"
OUTBOUND = "managedUser_systemSalesforceUser"
SOURCE = "system/salesforce/User"
SID = stage_id(SOURCE)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def setup(org_factory, tmp_path):
    services = []

    def make(users: int = 30, sync_json: Path | None = None, toml: str | None = None):
        handle = org_factory(users=users, seed=11)
        project = make_project(tmp_path / f"p{len(services)}", handle.org, "http://localhost", sync_json=sync_json)
        if toml is not None:
            project.settings_path.write_text(toml)
        service = in_process_service(project, handle.app)
        services.append(service)
        return handle.org, service

    yield make
    for s in services:
        s.close()


def active_only_sync_json(tmp_path: Path) -> Path:
    """The sample's sync.json with ``sourceCondition`` IsActive: a deactivated user is UNQUALIFIED -> DELETE."""
    conf = json.loads((ROOT / "conf" / "sync.json").read_text())
    conf["mappings"][0]["sourceCondition"] = "/source/IsActive eq true"
    path = tmp_path / "active-only.json"
    path.write_text(json.dumps(conf))
    return path


def person_links(org, service, n: int):
    """``n`` links of ordinary people (not the admin the API runs as)."""
    return [link for link in service.repo.iter_links(INBOUND) if link.first_id != org.admin_id][:n]


def sync_entries(service, recon_id: str = LIVESYNC_AUDIT_ID) -> list[dict]:
    from core.repo.query import QueryRequest

    return service.repo.audit.query(QueryRequest(query_filter=f'reconId eq "{recon_id}"'))["result"]


async def settle(service) -> None:
    """Ticks until one finds nothing: the sample's outbound mapping writes its defaults back to a user that
    changed (implicit sync), which Salesforce stamps again, and that echo comes back once."""
    for _ in range(3):
        if (await service.livesync(SOURCE))["sfsync"]["changes"] == 0:
            return
    raise AssertionError("liveSync did not settle")


def api_calls(service) -> int:
    return service.implicit_connector.current.session.stats["requests"]


async def loaded(setup_fn, **kw):
    """An org reconciled into the repository, then liveSync's first tick (it stores the token)."""
    org, service = setup_fn(**kw)
    assert (await service.reconcile(INBOUND))["state"] == "SUCCESS"
    first = await service.livesync(SOURCE)
    assert first["sfsync"]["firstSync"] is True and first["sfsync"]["changes"] == 0
    return org, service


async def test_first_livesync_stores_the_newest_stamp_and_processes_nothing(setup):
    org, service = setup()
    answer = await service.livesync(SOURCE)
    assert answer["_id"] == "SYSTEMSALESFORCEUSER" and answer["_rev"] == "1"
    assert answer["connectorData"]["nativeType"] == "string"
    # the org's newest stamp, or now less the overlap when the org has been quiet (the seeded org has)
    token = datetime.strptime(answer["connectorData"]["syncToken"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert timedelta(0) <= datetime.now(UTC) - OVERLAP - token < timedelta(seconds=30)
    org.update_user(person := next(u["Id"] for u in org.iter_users() if u["Id"] != org.admin_id),
                    {"Title": "stamped now"})
    again = await service.livesync(SOURCE)
    assert again["connectorData"]["syncToken"] == org.user(person)["SystemModstamp"]
    assert answer["sfsync"]["status"] == "SUCCESS" and answer["sfsync"]["firstSync"] is True
    assert "reconciliation" in answer["sfsync"]["message"]
    assert service.repo.query({"_queryFilter": "true"})["result"] == []  # nothing processed
    assert "sfsyncState" not in answer  # sfsync's bookkeeping stays out of the answer


async def test_updates_arrive_with_a_sync_audit_and_implicit_sync(setup):
    org, service = await loaded(setup)
    a, b = person_links(org, service, 2)
    org.update_user(a.first_id, {"LastName": "Livesynced"})
    org.update_user(b.first_id, {"Email": "moved@example.com"})
    stamps = [org.user(a.first_id)["SystemModstamp"], org.user(b.first_id)["SystemModstamp"]]
    answer = await service.livesync(SOURCE)
    summary = answer["sfsync"]
    assert summary["status"] == "SUCCESS", summary
    assert summary["changes"] == 2 and summary["situationSummary"] == {"CONFIRMED": 2}
    assert summary["statusSummary"] == {"SUCCESS": 2, "FAILURE": 0}
    assert service.repo.read(a.second_id)["sn"] == "Livesynced"
    assert service.repo.read(b.second_id)["mail"] == "moved@example.com"
    assert answer["connectorData"]["syncToken"] == max(stamps)
    entries = sync_entries(service)
    assert {(e["eventName"], e["mapping"], e["situation"], e["action"], e["status"]) for e in entries} == {
        ("sync", INBOUND, "CONFIRMED", "UPDATE", "SUCCESS")}
    assert {e["sourceObjectId"] for e in entries} == {f"{SOURCE}/{a.first_id}", f"{SOURCE}/{b.first_id}"}
    assert all(e["transactionId"] == summary["_id"] for e in entries)
    # the managed writes went through implicit sync (managed/user -> Salesforce): the reconciliation that loaded the
    # repository already wrote the sample outbound mapping's defaults (TimeZoneSidKey, CommunityNickname…) to the
    # users, so the round trip back to the two users changes nothing there: no write, no echo
    assert summary["implicitSync"]["SUCCESSFUL"] == 2 and summary["implicitSync"]["FAILED"] == 0
    implicit = [e for e in sync_entries(service, "implicit-sync")
                if e["sourceObjectId"] in {f"managed/user/{a.second_id}", f"managed/user/{b.second_id}"}]
    assert {(e["mapping"], e["situation"], e["action"]) for e in implicit} == {(OUTBOUND, "CONFIRMED", "UPDATE")}
    assert [org.user(a.first_id)["SystemModstamp"], org.user(b.first_id)["SystemModstamp"]] == stamps
    revs = {link.second_id: service.repo.read(link.second_id)["_rev"] for link in (a, b)}
    echo = (await service.livesync(SOURCE))["sfsync"]
    assert echo["changes"] == 0 and echo["implicitSync"] == {"SUCCESSFUL": 0, "FAILED": 0, "SKIPPED": 0}
    assert {i: service.repo.read(i)["_rev"] for i in revs} == revs
    # processed once: the next tick finds nothing although both are inside the overlap
    again = await service.livesync(SOURCE)
    assert again["sfsync"]["changes"] == 0 and again["sfsync"]["status"] == "SUCCESS"


async def test_a_new_salesforce_user_is_created_and_linked(setup):
    org, service = await loaded(setup)
    profile = next(iter(org.iter_users()))["ProfileId"]
    new_id = org.create_user({"Username": "fresh.hire@example.com", "LastName": "Hire", "FirstName": "Fresh",
                              "Email": "fresh.hire@example.com", "Alias": "fhire", "CommunityNickname": "fhire",
                              "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US",
                              "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US", "ProfileId": profile})
    summary = (await service.livesync(SOURCE))["sfsync"]
    assert summary["situationSummary"] == {"ABSENT": 1} and summary["actionSummary"] == {"CREATE": 1}
    link = service.repo.links_by_first(INBOUND, [new_id])[new_id]
    assert service.repo.read(link.second_id)["userName"] == "fresh.hire@example.com"


async def test_a_tick_with_nothing_changed_costs_at_most_two_api_calls(setup):
    org, service = await loaded(setup)
    a, = person_links(org, service, 1)
    org.update_user(a.first_id, {"LastName": "Warm"})
    await settle(service)  # the access token is fetched and kept
    before = api_calls(service)
    answer = await service.livesync(SOURCE)
    assert api_calls(service) - before <= 2
    assert answer["sfsync"]["apiCalls"] == api_calls(service) - before == 1
    assert answer["sfsync"]["changes"] == 0


async def test_deactivation_with_the_sample_policies_is_a_confirmed_no_op(setup):
    org, service = await loaded(setup)
    a, = person_links(org, service, 1)
    rev = service.repo.read(a.second_id)["_rev"]
    org.update_user(a.first_id, {"IsActive": False})
    summary = (await service.livesync(SOURCE))["sfsync"]
    # the sample maps no IsActive: the change is seen (CONFIRMED) and writes nothing
    assert summary["changes"] == 1 and summary["situationSummary"] == {"CONFIRMED": 1}
    assert service.repo.read(a.second_id)["_rev"] == rev


async def test_deactivation_with_an_active_only_mapping_deletes_the_managed_user(setup, tmp_path):
    org, service = await loaded(setup, sync_json=active_only_sync_json(tmp_path))
    a, = person_links(org, service, 1)
    org.update_user(a.first_id, {"IsActive": False})
    summary = (await service.livesync(SOURCE))["sfsync"]
    assert summary["status"] == "SUCCESS", summary
    assert summary["situationSummary"] == {"UNQUALIFIED": 1} and summary["actionSummary"] == {"DELETE": 1}
    assert service.repo.read_many([a.second_id]) == {}
    assert service.repo.links_by_first(INBOUND, [a.first_id]) == {}


async def test_deletions_beyond_the_threshold_are_held_then_applied_when_allowed(setup, tmp_path):
    org, service = await loaded(setup, sync_json=active_only_sync_json(tmp_path), toml="deletion_threshold = 2\n")
    links = person_links(org, service, 3)
    for link in links:
        org.update_user(link.first_id, {"IsActive": False})
    held = (await service.livesync(SOURCE))["sfsync"]
    assert held["status"] == "FAILED" and "deletion_threshold 2" in held["message"] and "--allow-deletions" in held["message"]
    assert held["deletionsHeld"]["count"] == 3 and held["retrying"] == 3
    assert len(service.repo.read_many([link.second_id for link in links])) == 3  # none applied
    again = (await service.livesync(SOURCE))["sfsync"]  # still held: the retry list keeps them
    assert again["status"] == "FAILED" and again["deletionsHeld"]["count"] == 3
    allowed = (await service.livesync(SOURCE, allow_deletions=True))["sfsync"]
    assert allowed["status"] == "SUCCESS", allowed
    assert allowed["actionSummary"] == {"DELETE": 3} and allowed["retrying"] == 0
    assert service.repo.read_many([link.second_id for link in links]) == {}


async def test_deletions_within_the_threshold_are_applied_in_the_same_tick(setup, tmp_path):
    org, service = await loaded(setup, sync_json=active_only_sync_json(tmp_path), toml="deletion_threshold = 5\n")
    links = person_links(org, service, 2)
    for link in links:
        org.update_user(link.first_id, {"IsActive": False})
    summary = (await service.livesync(SOURCE))["sfsync"]
    assert summary["status"] == "SUCCESS" and summary["actionSummary"] == {"DELETE": 2} and summary["retrying"] == 0
    assert service.repo.read_many([link.second_id for link in links]) == {}


async def test_a_crash_between_fetch_and_commit_leaves_the_token_and_the_next_tick_processes(setup, monkeypatch):
    org, service = await loaded(setup)
    a, = person_links(org, service, 1)
    token = service.repo.stages.get(SID)["connectorData"]["syncToken"]
    org.update_user(a.first_id, {"LastName": "AfterCrash"})
    stages = service.repo.stages
    real_put = stages.put

    def crash(*args, **kwargs):  # inside the page's transaction, after the managed write
        raise OSError("simulated crash before COMMIT")

    monkeypatch.setattr(stages, "put", crash)
    failed = (await service.livesync(SOURCE))["sfsync"]
    assert failed["status"] == "FAILED" and "simulated crash" in failed["message"]
    assert service.repo.read(a.second_id)["sn"] != "AfterCrash"  # the page's write was rolled back
    assert stages.get(SID)["connectorData"]["syncToken"] == token  # and the token did not move
    assert sync_entries(service) == []
    monkeypatch.setattr(stages, "put", real_put)
    again = (await service.livesync(SOURCE))["sfsync"]
    assert again["status"] == "SUCCESS" and again["changes"] == 1
    assert service.repo.read(a.second_id)["sn"] == "AfterCrash"


async def test_a_crash_after_commit_before_implicit_sync_pushes_on_the_next_tick(setup, monkeypatch):
    org, service = await loaded(setup)
    a, = person_links(org, service, 1)
    org.update_user(a.first_id, {"LastName": "Pending"})
    from core.sync import livesync

    def crash(self, items):
        raise RuntimeError("simulated crash before implicit sync")

    monkeypatch.setattr(livesync.LiveSyncEngine, "_push", crash)
    failed = (await service.livesync(SOURCE))["sfsync"]
    assert failed["status"] == "FAILED"
    assert service.repo.read(a.second_id)["sn"] == "Pending"  # committed with the token
    state = service.repo.stages.get(SID)["sfsyncState"]
    assert state["pendingImplicit"] == [["managed/user", a.second_id]]
    monkeypatch.undo()
    again = (await service.livesync(SOURCE))["sfsync"]
    assert again["status"] == "SUCCESS"
    assert again["implicitSync"]["SUCCESSFUL"] == 1
    assert service.repo.stages.get(SID)["sfsyncState"]["pendingImplicit"] == []


async def test_a_failed_record_is_retried_on_the_next_tick_until_it_goes_through(setup):
    org, service = await loaded(setup)
    a, b = person_links(org, service, 2)
    org.update_user(a.first_id, {"FirstName": None})  # managed.json requires givenName: this record fails
    org.update_user(b.first_id, {"LastName": "Fine"})
    first = await service.livesync(SOURCE)
    summary = first["sfsync"]
    assert summary["status"] == "FAILED" and summary["statusSummary"] == {"SUCCESS": 1, "FAILURE": 1}
    assert summary["retrying"] == 1 and a.first_id in summary["message"]
    assert "lastException" in first
    assert service.repo.read(b.second_id)["sn"] == "Fine"
    # the token moved past both; the failed one waits on the retry list, read again by Id
    assert first["connectorData"]["syncToken"] >= org.user(a.first_id)["SystemModstamp"]
    retry = service.repo.stages.get(SID)["sfsyncState"]["retry"]
    assert list(retry) == [a.first_id] and retry[a.first_id]["attempts"] == 1
    second = (await service.livesync(SOURCE))["sfsync"]
    assert second["retried"] == 1 and second["statusSummary"]["FAILURE"] == 1
    assert service.repo.stages.get(SID)["sfsyncState"]["retry"][a.first_id]["attempts"] == 2
    org.update_user(a.first_id, {"FirstName": "Back"})
    third = (await service.livesync(SOURCE))
    assert third["sfsync"]["status"] == "SUCCESS" and third["sfsync"]["retrying"] == 0
    assert "lastException" not in third
    assert service.repo.read(a.second_id)["givenName"] == "Back"


async def test_sync_failure_handler_max_retries_gives_up_with_logged_ignore(setup):
    org, service = setup()
    path = service.project.provisioner_path
    data = json.loads(path.read_text())
    data["syncFailureHandler"] = {"maxRetries": 1, "postRetryAction": "logged-ignore"}
    path.write_text(json.dumps(data))
    await service.reconcile(INBOUND)
    await service.livesync(SOURCE)
    a, = person_links(org, service, 1)
    org.update_user(a.first_id, {"FirstName": None})
    assert (await service.livesync(SOURCE))["sfsync"]["retrying"] == 1
    gave_up = (await service.livesync(SOURCE))["sfsync"]
    assert gave_up["ignored"] == 1 and gave_up["retrying"] == 0


async def test_a_token_older_than_the_replication_window_falls_back_to_a_full_reconciliation(setup):
    org, service = await loaded(setup)
    stage = service.repo.stages.get(SID)
    old = format_stamp(datetime.now(UTC) - timedelta(days=31))
    service.repo.stages.put(SID, {**stage, "connectorData": {"nativeType": "string", "syncToken": old}},
                            stage["_rev"])
    a, = person_links(org, service, 1)
    org.update_user(a.first_id, {"LastName": "Caught"})
    answer = await service.livesync(SOURCE)
    summary = answer["sfsync"]
    assert summary["status"] == "SUCCESS", summary
    full = summary["fullReconciliation"]
    assert "30-day replication window" in full["reason"] and "full" in summary["message"]
    assert [(r["mapping"], r["state"]) for r in full["runs"]] == [(INBOUND, "SUCCESS")]
    assert service.run(full["runs"][0]["_id"])["situationSummary"]["CONFIRMED"] > 0
    assert service.repo.read(a.second_id)["sn"] == "Caught"
    assert answer["connectorData"]["syncToken"] == max(u["SystemModstamp"] for u in org.iter_users())
    # and liveSync goes on from the new token
    assert (await service.livesync(SOURCE))["sfsync"]["changes"] == 0


async def test_a_change_committed_late_inside_the_overlap_is_still_found(setup):
    org, service = await loaded(setup)
    a, b = person_links(org, service, 2)
    org.update_user(a.first_id, {"LastName": "Later"})
    await settle(service)
    # b's change carries a stamp before the token (its transaction committed after a's was read)
    token = service.repo.stages.get(SID)["connectorData"]["syncToken"]
    org.update_user(b.first_id, {"LastName": "Earlier"})
    late = datetime.strptime(token, "%Y-%m-%dT%H:%M:%S.%f%z") - OVERLAP / 2
    from core.emulator.schema import USER

    org.users[b.first_id][USER.pos("SystemModstamp")] = format_stamp(late)
    summary = (await service.livesync(SOURCE))["sfsync"]
    assert summary["changes"] == 1 and service.repo.read(b.second_id)["sn"] == "Earlier"


async def test_unknown_source_is_a_usage_error_naming_it(setup):
    from core.errors import UsageError

    _, service = setup()
    with pytest.raises(UsageError, match="source: 'managed/user'"):
        await service.livesync("managed/user")
