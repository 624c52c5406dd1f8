"""``system/salesforce/User`` over REST against the local org (in-process): read, query (IDM filters as safe
SOQL), create, update, deactivate, in IDM's object shape and error shape."""

from __future__ import annotations

import pytest

from core.api import create_app
from core.api.backend import ApiBackend
from core.salesforce.systemobjects import declared, parse_filter, to_soql
from tests.sync.orgproject import in_process_service, make_project

ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}
USERS = "/openidm/system/salesforce/User"


@pytest.fixture
def served(org_factory, tmp_path):
    handle = org_factory(users=12, seed=5)
    project = make_project(tmp_path / "p", handle.org, "http://localhost")
    service = in_process_service(project, handle.app)
    backend = ApiBackend(project, sync=service)
    yield handle.org, create_app(project, services=backend)
    service.close()


def a_person(org) -> dict:
    return next(u for u in org.iter_users() if u["Id"] != org.admin_id and u["IsActive"]
                and not u["Email"].startswith("autoproc"))


async def test_read_answers_the_record_with_id_and_404s_in_idm_shape(served, asgi_client):
    org, app = served
    person = a_person(org)
    async with asgi_client(app, headers=ADMIN) as client:
        whole = await client.get(f"{USERS}/{person['Id']}")
        some = await client.get(f"{USERS}/{person['Id']}", params={"_fields": "Username,Email"})
        missing = await client.get(f"{USERS}/005000000000000AAA")
        malformed = await client.get(f"{USERS}/not-an-id")
        other_type = await client.get("/openidm/system/salesforce/Account/001000000000000AAA")
    assert whole.status_code == 200, whole.text
    body = whole.json()
    assert list(body)[0] == "_id" and body["_id"] == body["Id"] == person["Id"]
    assert body["Username"] == person["Username"] and body["LastName"] == person["LastName"]
    assert some.json() == {"_id": person["Id"], "Username": person["Username"], "Email": person["Email"]}
    for answer in (missing, malformed, other_type):
        assert answer.status_code == 404 and set(answer.json()) == {"code", "reason", "message"}


async def test_query_translates_idm_filters_and_pages_by_id(served, asgi_client):
    org, app = served
    person = a_person(org)
    active = sorted(u["Id"] for u in org.iter_users() if u["IsActive"])
    async with asgi_client(app, headers=ADMIN) as client:
        eq = (await client.get(USERS, params={"_queryFilter": f'Username eq "{person["Username"]}"',
                                              "_fields": "Username"})).json()
        assert eq["result"] == [{"_id": person["Id"], "Username": person["Username"]}]
        sw = (await client.get(USERS, params={
            "_queryFilter": f'/LastName sw "{person["LastName"][:3]}" and IsActive eq true', "_fields": "LastName"})).json()
        assert person["Id"] in [r["_id"] for r in sw["result"]]
        assert all(r["LastName"].lower().startswith(person["LastName"][:3].lower()) for r in sw["result"])
        co = (await client.get(USERS, params={"_queryFilter": f'Email co "{person["Email"][2:8]}" or false',
                                              "_fields": "Email"})).json()
        assert person["Id"] in [r["_id"] for r in co["result"]]
        negated = (await client.get(USERS, params={"_queryFilter": "!(IsActive eq true) and Id pr",
                                                   "_fields": "IsActive"})).json()
        assert all(r["IsActive"] is False for r in negated["result"])
        pages, cookie = [], None
        while True:
            params = {"_queryFilter": "IsActive eq true", "_fields": "_id", "_pageSize": "5"}
            if cookie:
                params["_pagedResultsCookie"] = cookie
            page = (await client.get(USERS, params=params)).json()
            pages.extend(r["_id"] for r in page["result"])
            cookie = page["pagedResultsCookie"]
            if cookie is None:
                break
        assert pages == active
        everyone = (await client.get(USERS, params={"_queryId": "query-all-ids"})).json()
        assert everyone["resultCount"] == len(list(org.iter_users()))
        quoted = (await client.get(USERS, params={"_queryFilter": "Username eq \"x' OR Name != '\""})).json()
        assert quoted["resultCount"] == 0  # a quote in a value stays a value
        wildcard = (await client.get(USERS, params={"_queryFilter": 'LastName co "%"'})).json()
        assert wildcard["resultCount"] == 0  # % matches itself, not everything


@pytest.mark.parametrize(("text", "position", "says"), [
    ('Username gt "a"', 9, "operator 'gt'"),
    ('Nope eq "a"', 0, "'Nope' is not an attribute"),
    ('IsActive eq true and /Address/City eq "x"', 21, "not an attribute"),
    ('IsActive eq "yes"', 12, "boolean"),
    ('IsActive co "t"', 12, "string attribute"),
    ("Username eq", 11, "expected a value"),
])
async def test_unsupported_filters_are_400_naming_the_position(served, asgi_client, text, position, says):
    _, app = served
    async with asgi_client(app, headers=ADMIN) as client:
        answer = await client.get(USERS, params={"_queryFilter": text})
    assert answer.status_code == 400 and answer.json()["code"] == 400
    assert f"at position {position}" in answer.json()["message"] and says in answer.json()["message"]


def test_the_soql_is_built_by_the_soql_module_only_from_checked_parts():
    import json
    from pathlib import Path

    conf = json.loads((Path(__file__).resolve().parents[2] / "conf" / "provisioner.openicf-salesforce.json"
                       ).read_text())
    attributes = declared(conf["objectTypes"]["User"])
    assert "__NAME__" not in attributes and attributes["_id"].native == "Id"
    where = to_soql(parse_filter('(Email co "a_b" or !(IsActive eq false)) and _id pr and LastName eq "O\'Hara"',
                                 attributes), attributes)
    assert where == ("((Email LIKE '%a\\_b%' OR (NOT IsActive = false)) AND Id != null AND LastName = 'O\\'Hara')")
    assert to_soql(parse_filter("true", attributes), attributes) is None


async def test_create_update_and_deactivate_through_the_connector(served, asgi_client):
    org, app = served
    template = a_person(org)
    record = {"Username": "new.person@example.org", "Email": "new.person@example.org", "LastName": "Newton",
              "FirstName": "Nia", "Alias": "nnewt", "ProfileId": template["ProfileId"],
              "TimeZoneSidKey": "Europe/Paris", "LocaleSidKey": "fr_FR", "EmailEncodingKey": "UTF-8",
              "LanguageLocaleKey": "fr"}
    async with asgi_client(app, headers=ADMIN) as client:
        created = await client.post(f"{USERS}?_action=create", json=record)
        assert created.status_code == 201, created.text
        obj = created.json()
        assert obj["_id"] == obj["Id"] and org.user(obj["_id"])["LastName"] == "Newton"
        assert created.headers["Location"].endswith(f"/system/salesforce/User/{obj['_id']}")
        duplicate = await client.post(f"{USERS}?_action=create", json=record)
        assert duplicate.status_code == 409 and "DUPLICATE" in duplicate.json()["message"]
        incomplete = await client.post(f"{USERS}?_action=create", json={"Username": "x@example.org"})
        assert incomplete.status_code == 400 and incomplete.json()["code"] == 400
        unknown = await client.post(f"{USERS}?_action=create", json={**record, "Shoe": 42})
        assert unknown.status_code == 400 and "Shoe" in unknown.json()["message"]

        obj["Title"] = "Engineer"  # a GET-modify-PUT round trip: read-only fields sent back unchanged are fine
        updated = await client.put(f"{USERS}/{obj['_id']}", json=obj)
        assert updated.status_code == 200, updated.text
        assert updated.json()["Title"] == "Engineer" and org.user(obj["_id"])["Title"] == "Engineer"
        readonly = await client.put(f"{USERS}/{obj['_id']}", json={"CreatedDate": "2001-01-01T00:00:00.000+0000"})
        assert readonly.status_code == 400 and "CreatedDate" in readonly.json()["message"]
        other_id = await client.put(f"{USERS}/{obj['_id']}", json={"_id": template["Id"], "Title": "x"})
        assert other_id.status_code == 400
        absent = await client.put(f"{USERS}/005000000000000AAA", json={"Title": "x"})
        assert absent.status_code == 404

        deleted = await client.delete(f"{USERS}/{obj['_id']}")
        assert deleted.status_code == 200 and deleted.json()["IsActive"] is False
        assert org.user(obj["_id"])["IsActive"] is False


async def test_a_disabled_connector_is_404_in_idm_shape(sample_project, asgi_client):
    app = create_app(sample_project)
    async with asgi_client(app, headers=ADMIN) as client:
        answer = await client.get(USERS, params={"_queryFilter": "true"})
    assert answer.status_code == 404 and "disabled" in answer.json()["message"]


async def test_a_project_without_a_provisioner_file_has_no_system_objects(api):
    client, _ = api  # managed_project: managed.json and sync.json only
    answer = await client.get(USERS, params={"_queryFilter": "true"})
    assert answer.status_code == 404 and "no connector is configured" in answer.json()["message"]
