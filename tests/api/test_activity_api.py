"""``/openidm/audit/activity`` over REST: each kind of managed write (and scheduler job write) made over REST
is recorded as the authenticated admin, and the log is queried with IDM's filters in IDM's shapes."""

from __future__ import annotations

import urllib.parse

from core.api import create_app
from core.api.auth import Credentials, hash_password
from core.api.backend import ApiBackend

RECON = {"enabled": True, "type": "cron", "schedule": "0 0/15 * * * ?", "invokeService": "sync",
         "invokeContext": {"action": "reconcile", "mapping": "userAccount"}}


def person(name: str, **fields) -> dict:
    return {"userName": name, "givenName": name.title(), "sn": "Tester", "mail": f"{name}@example.com", **fields}


async def query(client, text: str, **params) -> dict:
    url = "/openidm/audit/activity?" + urllib.parse.urlencode({"_queryFilter": text, **params})
    response = await client.get(url)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_kind_of_managed_write_over_rest_is_recorded_as_the_admin(api):
    client, _ = api
    created = (await client.post("/openidm/managed/user?_action=create", json=person("ada"))).json()
    uid = created["_id"]
    put = await client.put(f"/openidm/managed/user/{uid}", json=person("ada", sn="Lovelace"),
                           headers={"If-Match": created["_rev"]})
    assert put.status_code == 200
    patched = await client.patch(f"/openidm/managed/user/{uid}",
                                 json=[{"operation": "replace", "field": "/description", "value": "countess"}])
    assert patched.status_code == 200
    upsert = await client.put("/openidm/managed/user/grace", json=person("grace"))  # PUT, neither header
    assert upsert.status_code == 201
    assert (await client.delete(f"/openidm/managed/user/{uid}")).status_code == 200

    log = await query(client, f'objectId eq "managed/user/{uid}"')
    assert log["resultCount"] == 4 and log["pagedResultsCookie"] is None
    assert [e["operation"] for e in log["result"]] == ["CREATE", "UPDATE", "PATCH", "DELETE"]
    for entry in log["result"]:
        assert (entry["userId"], entry["runAs"], entry["origin"]) == ("openidm-admin", "openidm-admin", "rest")
        assert entry["eventName"] == "activity" and entry["status"] == "SUCCESS" and entry["_id"]
    update, patch = log["result"][1:3]
    assert update["changedFields"] == ["/sn", "/accountStatus"]  # the PUT replaced the whole object
    assert patch["changedFields"] == ["/description"] and patch["after"]["description"] == "countess"
    assert len({e["transactionId"] for e in log["result"]}) == 4  # one transaction per request
    (grace,) = (await query(client, 'objectId eq "managed/user/grace"'))["result"]
    assert grace["operation"] == "CREATE"


async def test_a_refused_write_is_not_recorded(api):
    client, _ = api
    created = (await client.post("/openidm/managed/user?_action=create", json=person("bob"))).json()
    stale = await client.put(f"/openidm/managed/user/{created['_id']}", json=person("bob", sn="X"),
                             headers={"If-Match": "00000000deadbeef"})
    assert stale.status_code == 412
    invalid = await client.patch(f"/openidm/managed/user/{created['_id']}",
                                 json=[{"operation": "replace", "field": "/mail", "value": "not mail"}])
    assert invalid.status_code in (400, 403)
    log = await query(client, f'objectId eq "managed/user/{created["_id"]}"')
    assert [e["operation"] for e in log["result"]] == ["CREATE"]


async def test_filters_fields_sorting_paging_and_one_entry_by_id(api):
    client, _ = api
    for name in ("a1", "a2", "a3"):
        await client.post("/openidm/managed/user?_action=create", json=person(name))
    page = await query(client, 'operation eq "CREATE" and after/userName sw "a"', _pageSize="2",
                       _sortKeys="-timestamp", _fields="objectId,after/userName")
    assert page["resultCount"] == 2 and page["pagedResultsCookie"]
    assert set(page["result"][0]) == {"_id", "objectId", "after"}
    rest = await query(client, 'operation eq "CREATE" and after/userName sw "a"', _pageSize="2",
                       _sortKeys="-timestamp", _pagedResultsCookie=page["pagedResultsCookie"])
    assert rest["resultCount"] == 1 and rest["pagedResultsCookie"] is None
    assert (await query(client, 'userId eq "someone-else"'))["resultCount"] == 0
    one = page["result"][0]
    got = await client.get(f"/openidm/audit/activity/{one['_id']}")
    assert got.status_code == 200 and got.json()["_id"] == one["_id"] and got.json()["eventName"] == "activity"
    missing = await client.get("/openidm/audit/activity/nope")
    assert missing.status_code == 404 and "audit/activity/nope" in missing.json()["message"]
    bad = await client.get("/openidm/audit/activity?_queryFilter=operation%20eq")
    assert bad.status_code == 400 and bad.json()["code"] == 400


async def test_the_admin_name_set_in_sfsync_toml_is_who_is_recorded(managed_project, asgi_client):
    backend = ApiBackend(managed_project)
    app = create_app(managed_project, services=backend,
                     credentials=lambda: Credentials("ops-admin", hash_password("a long passphrase")))
    headers = {"X-OpenIDM-Username": "ops-admin", "X-OpenIDM-Password": "a long passphrase"}
    try:
        async with asgi_client(app, headers=headers) as client:
            created = (await client.post("/openidm/managed/user?_action=create", json=person("eve"))).json()
            (entry,) = (await query(client, f'objectId eq "managed/user/{created["_id"]}"'))["result"]
    finally:
        await backend.aclose()
        backend.sync.close()
    assert entry["userId"] == "ops-admin"


async def test_scheduler_job_writes_are_recorded(api):
    client, _ = api
    assert (await client.put("/openidm/scheduler/job/nightly", json=RECON)).status_code == 201
    got = (await client.get("/openidm/scheduler/job/nightly")).json()
    assert (await client.put("/openidm/scheduler/job/nightly", json=got)).status_code == 200  # unchanged
    edited = await client.put("/openidm/scheduler/job/nightly", json=dict(got, schedule="0 0 2 * * ?"))
    assert edited.status_code == 200
    assert (await client.delete("/openidm/scheduler/job/nightly")).status_code == 200
    log = (await query(client, 'objectId eq "scheduler/job/nightly"'))["result"]
    assert [e["operation"] for e in log] == ["CREATE", "UPDATE", "DELETE"]
    assert log[1]["changedFields"] == ["/schedule"]
    assert "nextRunDate" not in log[0]["after"]  # the job's state is not its configuration
    assert all(e["userId"] == "openidm-admin" and e["origin"] == "rest" for e in log)
