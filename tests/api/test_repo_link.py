"""``repo/link``: IDM's link objects, queried with the filters IDM's engine uses."""

from __future__ import annotations

LINK_FIELDS = ["_id", "_rev", "linkType", "linkQualifier", "firstId", "secondId"]


def person(name: str) -> dict:
    return {"userName": name, "givenName": name.title(), "sn": "Link", "mail": f"{name}@example.org"}


async def test_links_made_by_implicit_sync_are_queried_as_idm_link_objects(api):
    client, backend = api
    ada = (await client.post("/openidm/managed/user?_action=create", json=person("ada"))).json()
    bob = (await client.post("/openidm/managed/user?_action=create", json=person("bob"))).json()
    answer = await client.get("/openidm/repo/link", params={
        "_queryFilter": f'linkType eq "userAccount" and firstId eq "{ada["_id"]}"'})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["resultCount"] == 1 and body["pagedResultsCookie"] is None
    link = body["result"][0]
    assert list(link) == LINK_FIELDS
    assert (link["linkType"], link["linkQualifier"], link["firstId"]) == ("userAccount", "default", ada["_id"])
    account = backend.repo.read(link["secondId"], resource="account")
    assert account["login"] == "ada"
    by_second = (await client.get("/openidm/repo/link", params={
        "_queryFilter": f'/linkType eq "userAccount" and linkQualifier eq "default" and secondId eq "{link["secondId"]}"'})).json()
    assert by_second["result"] == [link]
    one = await client.get(f"/openidm/repo/link/{link['_id']}")
    assert one.status_code == 200 and one.json() == link
    every = (await client.get("/openidm/repo/link", params={"_queryFilter": 'linkType eq "userAccount"',
                                                            "_fields": "firstId", "_pageSize": "1"})).json()
    assert every["resultCount"] == 1 and set(every["result"][0]) == {"_id", "_rev", "firstId"}
    rest = (await client.get("/openidm/repo/link", params={
        "_queryFilter": 'linkType eq "userAccount"', "_fields": "firstId", "_pageSize": "1",
        "_pagedResultsCookie": every["pagedResultsCookie"]})).json()
    assert {every["result"][0]["firstId"], rest["result"][0]["firstId"]} == {ada["_id"], bob["_id"]}
    assert (await client.get("/openidm/repo/link", params={"_queryId": "query-all-ids"})).json()["resultCount"] == 2


async def test_repo_link_errors_are_idm_shaped(api):
    client, _ = api
    missing = await client.get("/openidm/repo/link/nope")
    assert missing.status_code == 404 and set(missing.json()) == {"code", "reason", "message"}
    bad = await client.get("/openidm/repo/link", params={"_queryFilter": "firstId eq"})
    assert bad.status_code == 400 and "_queryFilter" in bad.json()["message"]
    none = await client.get("/openidm/repo/link")
    assert none.status_code == 400
