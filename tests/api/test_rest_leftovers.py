"""IDM endpoints beyond the sample's use: sync?_action=notifyCreate|notifyUpdate|notifyDelete, GET sync/mappings,
repo/link?_action=command (delete-mapping-links) and PATCH on system/salesforce/User/ID."""

from __future__ import annotations

import pytest

from core.api import create_app
from core.api.backend import ApiBackend
from tests.sync.orgproject import in_process_service, make_project

ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}


def person(name: str, **fields) -> dict:
    return {"userName": name, "givenName": name.title(), "sn": "Notify", "mail": f"{name}@example.org", **fields}


def accounts(backend) -> dict[str, dict]:
    rows = backend.sync.repo.query({"_queryFilter": "true"}, resource="account")["result"]
    return {row["login"]: row for row in rows}


async def notify(client, action: str, object_id: str, body: dict | None, container: str = "managed/user"):
    return await client.post("/openidm/sync", params={"_action": action, "resourceContainer": container,
                                                      "resourceId": object_id}, json=body)


async def test_notify_create_update_delete_run_the_objects_implicit_sync(api):
    client, backend = api
    created = await notify(client, "notifyCreate", "u1", {"newValue": person("ada")})
    assert created.status_code == 200, created.text
    [detail] = created.json()
    assert (detail["mapping"], detail["result"], detail["situation"], detail["action"]) == (
        "userAccount", "SUCCESSFUL", "ABSENT", "CREATE")
    assert accounts(backend)["ada"]["email"] == "ada@example.org"
    assert backend.sync.repo.count() == 0  # notify syncs; it writes no managed object itself
    updated = await notify(client, "notifyUpdate", "u1", {"oldValue": person("ada"),
                                                          "newValue": person("ada", mail="ada2@example.org")})
    assert [d["action"] for d in updated.json()] == ["UPDATE"]
    assert accounts(backend)["ada"]["email"] == "ada2@example.org"
    deleted = await notify(client, "notifyDelete", "u1", {"oldValue": person("ada", mail="ada2@example.org")})
    assert [(d["situation"], d["action"]) for d in deleted.json()] == [("SOURCE_MISSING", "DELETE")]
    assert accounts(backend) == {}
    assert (await notify(client, "notifyCreate", "x", {"newValue": {}}, container="managed/nothing")).json() == []


@pytest.mark.parametrize(("action", "body", "says"), [
    ("notifyCreate", None, "newValue"),
    ("notifyCreate", {"newValue": person("a"), "oldValue": person("a")}, "oldValue"),
    ("notifyDelete", {"newValue": person("a")}, "newValue"),
    ("notifyUpdate", {"newValue": "text"}, "newValue"),
    ("notifyUpdate", {"newValue": person("a"), "extra": 1}, "extra"),
])
async def test_a_malformed_notify_is_a_400_naming_the_field(api, action, body, says):
    client, backend = api
    answer = await notify(client, action, "u1", body)
    assert answer.status_code == 400 and says in answer.json()["message"], answer.text
    assert accounts(backend) == {}


async def test_sync_mappings_lists_the_mappings_in_order_and_filters_them(api):
    client, _ = api
    everything = (await client.get("/openidm/sync/mappings", params={"_queryFilter": "true"})).json()
    assert [m["name"] for m in everything["result"]] == ["userAccount"] and everything["resultCount"] == 1
    none = (await client.get("/openidm/sync/mappings", params={"_queryFilter": 'source eq "system/x"'})).json()
    assert none["result"] == []
    for params, says in (({}, "_queryFilter"), ({"_queryFilter": "source eq"}, "_queryFilter"),
                         ({"_queryFilter": "true", "_pageSize": "2"}, "_pageSize")):
        answer = await client.get("/openidm/sync/mappings", params=params)
        assert answer.status_code == 400 and says in answer.json()["message"]


async def test_delete_mapping_links_deletes_that_mappings_links(api):
    client, backend = api
    for name in ("ada", "bob"):
        assert (await client.post("/openidm/managed/user?_action=create", json=person(name))).status_code == 201
    links = (await client.get("/openidm/repo/link", params={"_queryFilter": "true"})).json()["result"]
    assert len(links) == 2
    answer = await client.post("/openidm/repo/link", params={"_action": "command", "commandId": "delete-mapping-links",
                                                             "mapping": "userAccount"})
    assert answer.status_code == 200 and answer.json() == {"result": 2}
    assert (await client.get("/openidm/repo/link", params={"_queryFilter": "true"})).json()["result"] == []
    other = await client.post("/openidm/repo/link", params={"_action": "command", "commandId": "purge",
                                                            "mapping": "userAccount"})
    assert other.status_code == 400 and "delete-mapping-links" in other.json()["message"]


@pytest.fixture
def served(org_factory, tmp_path):
    handle = org_factory(users=12, seed=5)
    project = make_project(tmp_path / "p", handle.org, "http://localhost")
    service = in_process_service(project, handle.app)
    backend = ApiBackend(project, sync=service)
    yield handle.org, create_app(project, services=backend)
    service.close()


async def test_patch_on_a_salesforce_user_sends_the_changed_attributes(served, asgi_client):
    org, app = served
    user = next(u for u in org.iter_users() if u["Id"] != org.admin_id and u["IsActive"])
    url = f"/openidm/system/salesforce/User/{user['Id']}"
    async with asgi_client(app, headers=ADMIN) as client:
        patched = await client.patch(url, json=[{"operation": "replace", "field": "/Title", "value": "Patched"}])
        assert patched.status_code == 200, patched.text
        assert patched.json()["Title"] == "Patched" and org.user(user["Id"])["Title"] == "Patched"
        bad = await client.patch(url, json=[{"operation": "jump", "field": "/Title"}])
        assert bad.status_code == 400 and "jump" in bad.json()["message"]
        moved = await client.patch(url, json=[{"operation": "replace", "field": "/_id", "value": "x"}])
        assert moved.status_code == 400
        absent = await client.patch("/openidm/system/salesforce/User/005000000000000AAA",
                                    json=[{"operation": "replace", "field": "/Title", "value": "x"}])
        assert absent.status_code == 404
