"""``audit/sync``: implicit sync's (and liveSync's) events in IDM's sync event shape, apart from ``audit/recon``."""

from __future__ import annotations

from core.repo.audit import SYNC_EVENT_FIELDS, SYNC_STREAMS
from core.sync.implicit import SYNC_AUDIT_ID
from core.sync.livesync import LIVESYNC_AUDIT_ID


def person(name: str) -> dict:
    return {"userName": name, "givenName": name.title(), "sn": "Sync", "mail": f"{name}@example.org"}


def test_the_sync_streams_are_the_engines():
    assert set(SYNC_STREAMS) == {SYNC_AUDIT_ID, LIVESYNC_AUDIT_ID}


async def test_implicit_sync_events_are_served_by_audit_sync_with_idm_fields(api):
    client, _ = api
    created = (await client.post("/openidm/managed/user?_action=create", json=person("ada"))).json()
    await client.post("/openidm/managed/user?_action=create", json=person("bob"))
    answer = await client.get("/openidm/audit/sync", params={
        "_queryFilter": f'/sourceObjectId eq "managed/user/{created["_id"]}"'})
    assert answer.status_code == 200
    body = answer.json()
    assert body["resultCount"] == 1
    event = body["result"][0]
    assert list(event) == list(SYNC_EVENT_FIELDS)  # every IDM field, nothing recon-only
    assert event["eventName"] == "sync" and event["mapping"] == "userAccount"
    assert (event["situation"], event["action"], event["status"]) == ("ABSENT", "CREATE", "SUCCESS")
    assert event["targetObjectId"].startswith("managed/account/") and event["linkQualifier"] == "default"
    one = await client.get(f"/openidm/audit/sync/{event['_id']}")
    assert one.status_code == 200 and one.json() == event
    by_mapping = (await client.get("/openidm/audit/sync", params={
        "_queryFilter": 'mapping eq "userAccount" and situation eq "ABSENT"', "_fields": "sourceObjectId"})).json()
    assert by_mapping["resultCount"] == 2
    assert all(set(e) == {"_id", "sourceObjectId"} for e in by_mapping["result"])


async def test_audit_recon_no_longer_serves_sync_events_and_each_side_404s_the_other(api):
    client, backend = api
    await client.post("/openidm/managed/user?_action=create", json=person("cy"))
    run_id = (await client.post("/openidm/recon?_action=recon&mapping=userAccount&waitForCompletion=true")
              ).json()["_id"]
    recon = (await client.get("/openidm/audit/recon", params={"_queryFilter": "true"})).json()
    assert recon["resultCount"] > 0 and {e["reconId"] for e in recon["result"]} == {run_id}
    assert (await client.get("/openidm/audit/recon", params={
        "_queryFilter": f'reconId eq "{SYNC_AUDIT_ID}"'})).json()["resultCount"] == 0
    sync = (await client.get("/openidm/audit/sync", params={"_queryFilter": "true"})).json()
    assert sync["resultCount"] == 1 and "reconId" not in sync["result"][0]
    assert (await client.get(f"/openidm/audit/recon/{sync['result'][0]['_id']}")).status_code == 404
    missing = await client.get(f"/openidm/audit/sync/{recon['result'][0]['_id']}")
    assert missing.status_code == 404 and set(missing.json()) >= {"code", "reason", "message"}


async def test_livesync_events_are_sync_events_too(api):
    client, backend = api
    backend.repo.audit.add({"reconId": LIVESYNC_AUDIT_ID, "eventName": "sync", "mapping": "m", "status": "FAILURE",
                            "transactionId": "t1", "userId": "sfsync", "entryType": "entry",
                            "sourceObjectId": "system/salesforce/User/005x", "action": "DELETE"})
    body = (await client.get("/openidm/audit/sync", params={"_queryFilter": 'transactionId eq "t1"'})).json()
    assert body["resultCount"] == 1 and body["result"][0]["userId"] == "sfsync"
    assert body["result"][0]["sourceObjectId"] == "system/salesforce/User/005x"


async def test_audit_sync_errors_are_idm_shaped(api):
    client, _ = api
    bad = await client.get("/openidm/audit/sync", params={"_queryFilter": "mapping eq"})
    assert bad.status_code == 400 and bad.json()["code"] == 400 and "_queryFilter" in bad.json()["message"]
