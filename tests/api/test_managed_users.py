"""``managed/user`` over REST: IDM's create/read/update/patch/delete with revisions, each running implicit
sync (here into ``managed/account`` through the ``userAccount`` mapping, on the real SQLite repository)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.backends("sqlite", "postgresql")  # tests/fixtures/pg.py


def person(name: str, **fields) -> dict:
    return {"userName": name, "givenName": name.title(), "sn": "Tester", "mail": f"{name}@example.com", **fields}


def accounts(backend) -> dict[str, dict]:
    rows = backend.sync.repo.query({"_queryFilter": "true"}, resource="account")["result"]
    return {row["login"]: row for row in rows}


async def test_create_action_answers_201_with_the_object_and_syncs_it(api):
    client, backend = api
    response = await client.post("/openidm/managed/user?_action=create", json=person("ada"))
    assert response.status_code == 201
    created = response.json()
    assert created["userName"] == "ada" and created["_id"] and created["_rev"]
    assert response.headers["ETag"] == f'"{created["_rev"]}"'
    assert response.headers["Location"].endswith(f"/openidm/managed/user/{created['_id']}")
    sync = json.loads(response.headers["X-Sfsync-Implicit-Sync"])
    assert sync["userAccount"]["result"] == "SUCCESSFUL"
    assert accounts(backend)["ada"]["email"] == "ada@example.com"


async def test_read_answers_the_object_and_404_for_an_unknown_id(api):
    client, _ = api
    created = (await client.post("/openidm/managed/user?_action=create", json=person("bob"))).json()
    read = await client.get(f"/openidm/managed/user/{created['_id']}")
    assert read.status_code == 200 and read.json() == created
    only = await client.get(f"/openidm/managed/user/{created['_id']}?_fields=mail")
    assert only.json() == {"_id": created["_id"], "_rev": created["_rev"], "mail": "bob@example.com"}
    missing = await client.get("/openidm/managed/user/nobody")
    assert missing.status_code == 404
    assert missing.json()["code"] == 404 and missing.json()["reason"] == "Not Found"


async def test_put_with_if_none_match_creates_once_then_conflicts(api):
    client, backend = api
    first = await client.put("/openidm/managed/user/carol", json=person("carol"), headers={"If-None-Match": "*"})
    assert first.status_code == 201 and first.json()["_id"] == "carol"
    again = await client.put("/openidm/managed/user/carol", json=person("carol"), headers={"If-None-Match": "*"})
    assert again.status_code == 409 and again.json()["code"] == 409
    assert "carol" in accounts(backend)


async def test_put_with_if_match_replaces_and_a_stale_rev_is_412(api):
    client, backend = api
    created = (await client.put("/openidm/managed/user/dan", json=person("dan"),
                                headers={"If-None-Match": "*"})).json()
    updated = await client.put("/openidm/managed/user/dan", json=person("dan", mail="dan@new.example"),
                               headers={"If-Match": f'"{created["_rev"]}"'})
    assert updated.status_code == 200
    assert updated.json()["mail"] == "dan@new.example" and updated.json()["_rev"] != created["_rev"]
    assert accounts(backend)["dan"]["email"] == "dan@new.example"
    stale = await client.put("/openidm/managed/user/dan", json=person("dan", mail="lost@example.com"),
                             headers={"If-Match": created["_rev"]})
    assert stale.status_code == 412 and stale.json()["reason"] == "Precondition Failed"
    assert (await client.get("/openidm/managed/user/dan")).json()["mail"] == "dan@new.example"


async def test_put_without_conditions_creates_or_replaces(api):
    client, _ = api
    made = await client.put("/openidm/managed/user/erin", json=person("erin"))
    assert made.status_code == 201
    replaced = await client.put("/openidm/managed/user/erin", json=person("erin", sn="Other"))
    assert replaced.status_code == 200 and replaced.json()["sn"] == "Other"
    missing = await client.put("/openidm/managed/user/nobody", json=person("nobody"), headers={"If-Match": "*"})
    assert missing.status_code == 404


async def test_patch_applies_idm_operations_and_checks_the_revision(api):
    client, backend = api
    created = (await client.post("/openidm/managed/user?_action=create", json=person("fay"))).json()
    url = f"/openidm/managed/user/{created['_id']}"
    patched = await client.patch(url, json=[{"operation": "replace", "field": "/mail", "value": "fay@x.example"},
                                            {"operation": "add", "field": "/description", "value": "hi"}],
                                 headers={"If-Match": created["_rev"]})
    assert patched.status_code == 200
    assert patched.json()["mail"] == "fay@x.example" and patched.json()["description"] == "hi"
    assert accounts(backend)["fay"]["email"] == "fay@x.example"
    stale = await client.patch(url, json=[{"operation": "remove", "field": "/description"}],
                               headers={"If-Match": created["_rev"]})
    assert stale.status_code == 412
    bad_op = await client.patch(url, json=[{"operation": "explode", "field": "/mail"}])
    assert bad_op.status_code == 400 and "explode" in bad_op.json()["message"]
    not_a_list = await client.patch(url, json={"operation": "replace"})
    assert not_a_list.status_code == 400


async def test_delete_answers_the_deleted_object_and_syncs_the_deletion(api):
    client, backend = api
    created = (await client.post("/openidm/managed/user?_action=create", json=person("gus"))).json()
    assert "gus" in accounts(backend)
    url = f"/openidm/managed/user/{created['_id']}"
    stale = await client.delete(url, headers={"If-Match": '"not-the-rev"'})
    assert stale.status_code == 412
    deleted = await client.delete(url, headers={"If-Match": created["_rev"]})
    assert deleted.status_code == 200 and deleted.json()["_id"] == created["_id"]
    assert json.loads(deleted.headers["X-Sfsync-Implicit-Sync"])["userAccount"]["result"] == "SUCCESSFUL"
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url)).status_code == 404


async def test_invalid_user_is_400_naming_each_failing_field(api):
    client, _ = api
    response = await client.post("/openidm/managed/user?_action=create", json={"userName": "hal"})
    assert response.status_code == 400
    body = response.json()
    failed = {f["property"] for f in body["detail"]["failedPolicyRequirements"]}
    assert {"givenName", "sn", "mail"} <= failed


async def test_bodies_that_are_not_a_json_object_are_400(api):
    client, _ = api
    url = "/openidm/managed/user?_action=create"
    for content in (b"", b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"):
        response = await client.post(url, content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, content
        assert set(response.json()) == {"code", "reason", "message"}


async def test_unknown_or_missing_action_is_400(api):
    client, _ = api
    assert (await client.post("/openidm/managed/user?_action=explode", json=person("ivy"))).status_code == 400
    assert (await client.post("/openidm/managed/user", json=person("ivy"))).status_code == 400


async def test_a_used_unique_value_is_a_409_naming_the_field_and_a_unicode_id_a_percent_encoded_location(api):
    """Whether a userName is free depends on the stored users: a conflict with what is stored (409), not a
    malformed request; the answer still lists the failing field as IDM's failedPolicyRequirements."""
    client, _ = api
    first = await client.post("/openidm/managed/user?_action=create", json={**person("cy"), "_id": "ü/\U000f4cdf"})
    assert first.status_code == 400  # "/" cannot be in an id
    first = await client.post("/openidm/managed/user?_action=create", json={**person("cy"), "_id": "ü\U000f4cdf"})
    assert first.status_code == 201
    assert first.headers["Location"].endswith("/openidm/managed/user/%C3%BC%F3%B4%B3%9F")
    again = await client.post("/openidm/managed/user?_action=create", json=person("cy"))
    assert again.status_code == 409 and again.json()["reason"] == "Conflict"
    assert again.json()["detail"]["failedPolicyRequirements"][0]["property"] == "userName"
    other = (await client.post("/openidm/managed/user?_action=create", json=person("di"))).json()
    patched = await client.patch(f"/openidm/managed/user/{other['_id']}",
                                 json=[{"operation": "replace", "field": "/userName", "value": "cy"}])
    assert patched.status_code == 409
