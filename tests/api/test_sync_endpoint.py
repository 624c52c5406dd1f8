"""``sync?_action=getLinkedResources`` and ``sync?_action=performAction``: IDM's answers, through the same
SyncOperation as implicit sync (audited in ``audit/sync``)."""

from __future__ import annotations


def person(name: str) -> dict:
    return {"userName": name, "givenName": name.title(), "sn": "Sync", "mail": f"{name}@example.org"}


async def linked(client, resource: str) -> list[dict]:
    answer = await client.post("/openidm/sync", params={"_action": "getLinkedResources", "resourceName": resource})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def perform(client, **params):
    return await client.post("/openidm/sync", params={"_action": "performAction", "mapping": "userAccount", **params})


async def test_get_linked_resources_answers_idm_array_from_both_sides(api):
    client, backend = api
    ada = (await client.post("/openidm/managed/user?_action=create", json=person("ada"))).json()
    [entry] = await linked(client, f"managed/user/{ada['_id']}")
    account_id = entry["resourceName"].rsplit("/", 1)[1]
    assert entry["resourceName"] == f"managed/account/{account_id}"
    assert (entry["linkQualifier"], entry["linkType"]) == ("default", "userAccount")
    assert entry["content"] == backend.repo.read(account_id, resource="account")
    assert entry["mappings"] == [{"name": "userAccount", "type": "source"}]
    [back] = await linked(client, f"managed/account/{account_id}")
    assert back["resourceName"] == f"managed/user/{ada['_id']}" and back["content"]["userName"] == "ada"
    assert back["mappings"] == [{"name": "userAccount", "type": "target"}]
    assert await linked(client, "managed/user/nobody") == []


async def test_perform_action_unlink_link_and_delete_answer_status_ok(api):
    client, backend = api
    ada = (await client.post("/openidm/managed/user?_action=create", json=person("ada"))).json()
    [entry] = await linked(client, f"managed/user/{ada['_id']}")
    account_id = entry["resourceName"].rsplit("/", 1)[1]

    unlinked = await perform(client, sourceId=ada["_id"], action="UNLINK")
    assert unlinked.status_code == 200 and unlinked.json() == {"status": "OK"}
    assert await linked(client, f"managed/user/{ada['_id']}") == []
    assert backend.repo.read(account_id, resource="account")["login"] == "ada"  # UNLINK changes nothing else

    no_target = await perform(client, sourceId=ada["_id"], action="LINK")  # no link, no correlation query
    assert no_target.status_code == 409 and "no target object to link" in no_target.json()["message"]
    relinked = await perform(client, sourceId=ada["_id"], action="LINK", targetId=account_id)
    assert relinked.json() == {"status": "OK"}
    assert [e["resourceName"] for e in await linked(client, f"managed/user/{ada['_id']}")] == [
        f"managed/account/{account_id}"]

    deleted = await perform(client, sourceId=ada["_id"], action="DELETE")  # whatever the situation (CONFIRMED)
    assert deleted.json() == {"status": "OK"}
    assert await linked(client, f"managed/user/{ada['_id']}") == []
    assert backend.repo.query({"_queryFilter": "true"}, resource="account")["resultCount"] == 0
    assert backend.repo.read(ada["_id"])["userName"] == "ada"  # the source stays

    events = (await client.get("/openidm/audit/sync", params={
        "_queryFilter": f'sourceObjectId eq "managed/user/{ada["_id"]}"', "_sortKeys": "timestamp"})).json()
    actions = [e["action"] for e in events["result"]]
    assert actions.count("UNLINK") == 1 and actions.count("DELETE") == 1 and "LINK" in actions


async def test_perform_action_create_for_an_unlinked_source(api):
    client, backend = api
    bob = backend.repo.create(person("bob"))  # no implicit sync: no account yet
    lower = await perform(client, sourceId=bob["_id"], action="create")  # an action's exact name, as IDM's enum
    assert lower.status_code == 400 and "action" in lower.json()["message"]
    assert (await perform(client, sourceId=bob["_id"], action="CREATE")).json() == {"status": "OK"}
    [entry] = await linked(client, f"managed/user/{bob['_id']}")
    assert entry["content"]["login"] == "bob"
    again = await perform(client, sourceId=bob["_id"], action="CREATE")
    assert again.status_code == 409 and "already exists" in again.json()["message"]


async def test_sync_errors_are_idm_shaped(api):
    client, _ = api
    cases = [
        ({"_action": "notifyEverything"}, "not supported"),
        ({"_action": "notifyCreate"}, "resourceContainer"),
        ({"_action": "notifyCreate", "resourceContainer": "managed/user"}, "resourceId"),
        ({"_action": "getLinkedResources"}, "resourceName"),
        ({"_action": "getLinkedResources", "resourceName": "nobody"}, "resourceName"),
        ({"_action": "performAction", "mapping": "userAccount", "action": "LINK"}, "sourceId"),
        ({"_action": "performAction", "mapping": "nope", "sourceId": "x", "action": "LINK"}, "no mapping named"),
        ({"_action": "performAction", "mapping": "userAccount", "sourceId": "x", "action": "JUMP"}, "JUMP"),
        ({"_action": "performAction", "mapping": "userAccount", "sourceId": "x", "action": "LINK",
          "linkQualifier": "other"}, "linkQualifier"),
    ]
    for params, says in cases:
        answer = await client.post("/openidm/sync", params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert answer.json()["code"] == 400 and says in answer.json()["message"], params


async def test_the_samples_two_mappings_share_one_link_and_read_salesforce(org_factory, tmp_path, asgi_client):
    from core.api import create_app
    from core.api.backend import ApiBackend
    from tests.sync.orgproject import in_process_service, make_project

    handle = org_factory(users=6, seed=7)
    project = make_project(tmp_path / "p", handle.org, "http://localhost")
    service = in_process_service(project, handle.app)
    try:
        assert (await service.reconcile("systemSalesforceUser_managedUser"))["state"] == "SUCCESS"
        link = next(iter(service.repo.iter_links("systemSalesforceUser_managedUser")))
        app = create_app(project, services=ApiBackend(project, sync=service))
        admin = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}
        async with asgi_client(app, headers=admin) as client:
            [entry] = await linked(client, f"managed/user/{link.second_id}")
            assert entry["resourceName"] == f"system/salesforce/User/{link.first_id}"
            assert entry["linkType"] == "systemSalesforceUser_managedUser"
            assert entry["content"]["Id"] == link.first_id and entry["content"]["_id"] == link.first_id
            assert sorted((m["name"], m["type"]) for m in entry["mappings"]) == [
                ("managedUser_systemSalesforceUser", "source"), ("systemSalesforceUser_managedUser", "target")]
            unlinked = await client.post("/openidm/sync", params={
                "_action": "performAction", "mapping": "managedUser_systemSalesforceUser",
                "sourceId": link.second_id, "action": "UNLINK"})
            assert unlinked.json() == {"status": "OK"}
            assert await linked(client, f"managed/user/{link.second_id}") == []
            assert await linked(client, f"system/salesforce/User/{link.first_id}") == []
    finally:
        service.close()
