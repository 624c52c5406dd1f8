"""managed.json hooks over REST: a hook that throws answers IDM's error shape and status, nothing written; the
sample's hooks shape what REST answers (onCreate's defaults, the virtual properties)."""

from __future__ import annotations

import json

from core.config.project import Project


def person(name: str, **fields) -> dict:
    return {"userName": name, "givenName": name.title(), "sn": "Tester", "mail": f"{name}@example.com", **fields}


def set_hook(project: Project, hook: str, source: str) -> None:
    path = project.managed_path
    data = json.loads(path.read_text())
    next(o for o in data["objects"] if o["name"] == "user")[hook] = {"type": "text/javascript", "source": source}
    path.write_text(json.dumps(data))


async def test_the_samples_on_create_answers_an_active_user_with_its_virtual_properties(api):
    client, _ = api
    created = (await client.post("/openidm/managed/user?_action=create", json=person("ada"))).json()
    assert created["accountStatus"] == "active"
    assert (created["effectiveRoles"], created["effectiveAssignments"]) == ([], [])


async def test_a_hook_throwing_a_code_answers_that_status_and_writes_nothing(api, managed_project):
    client, backend = api
    set_hook(managed_project, "onCreate", "if (object.userName === 'eve') { throw {code: 403, message: 'no eve'}; }")
    response = await client.post("/openidm/managed/user?_action=create", json=person("eve"))
    assert response.status_code == 403
    body = response.json()
    assert (body["code"], body["reason"]) == (403, "Forbidden") and "no eve" in body["message"]
    assert backend.sync.repo.count() == 0
    assert backend.sync.repo.query({"_queryFilter": "true"}, resource="account")["result"] == []


async def test_a_hook_throwing_anything_else_is_a_500_naming_the_hook(api, managed_project):
    client, backend = api
    created = (await client.post("/openidm/managed/user?_action=create", json=person("ada"))).json()
    set_hook(managed_project, "onUpdate", "null.x = 1")
    response = await client.put(f"/openidm/managed/user/{created['_id']}", json=person("ada", sn="Changed"),
                                headers={"If-Match": created["_rev"]})
    assert response.status_code == 500
    assert "managed/user.onUpdate" in response.json()["message"] and "TypeError" in response.json()["message"]
    assert backend.sync.repo.read(created["_id"])["sn"] == "Tester"


async def test_on_read_runs_for_a_rest_read(api, managed_project):
    client, _ = api
    created = (await client.post("/openidm/managed/user?_action=create", json=person("ada"))).json()
    set_hook(managed_project, "onRead", "object.readVia = request.method")
    read = (await client.get(f"/openidm/managed/user/{created['_id']}")).json()
    assert read["readVia"] == "read"


async def test_a_query_asking_for_on_retrieve_is_refused_not_ignored(api):
    client, _ = api
    refused = await client.get("/openidm/managed/user", params={"_queryFilter": "true", "executeOnRetrieve": "true"})
    assert refused.status_code == 400 and "executeOnRetrieve" in refused.json()["message"]
    plain = await client.get("/openidm/managed/user", params={"_queryFilter": "true", "executeOnRetrieve": "false"})
    assert plain.status_code == 200
