"""Salesforce's User rules on create and update, through the REST API."""

from __future__ import annotations

import pytest

from .helpers import V


def new_user(org, **overrides) -> dict:
    body = {"Username": "grace.hopper@example.com", "LastName": "Hopper", "FirstName": "Grace",
            "Email": "grace.hopper@example.com", "Alias": "ghopper", "TimeZoneSidKey": "America/New_York",
            "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
            "ProfileId": org.profile_id("Standard User")}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.fixture
async def api(org_factory):
    h = org_factory(users=30)
    h.auth = await h.headers()
    return h


async def test_create_get_update_user(api):
    r = await api.client.post(f"{V}/sobjects/User", json=new_user(api.org), headers=api.auth)
    assert r.status_code == 201
    body = r.json()
    assert body["success"] is True and body["errors"] == [] and body["id"].startswith("005")
    got = (await api.client.get(f"{V}/sobjects/User/{body['id']}", headers=api.auth)).json()
    assert got["attributes"] == {"type": "User", "url": f"{V}/sobjects/User/{body['id']}"}
    assert got["Name"] == "Grace Hopper" and got["IsActive"] is True and got["CommunityNickname"] == "grace.hopper"
    assert got["CreatedDate"] == got["SystemModstamp"] and got["CreatedById"] == api.org.admin_id
    r = await api.client.patch(f"{V}/sobjects/User/{body['id']}", json={"Title": "Rear Admiral"}, headers=api.auth)
    assert r.status_code == 204 and r.content == b""
    again = (await api.client.get(f"{V}/sobjects/User/{body['id'][:15]}?fields=Title,SystemModstamp",
                                  headers=api.auth)).json()
    assert again["Title"] == "Rear Admiral" and set(again) == {"attributes", "Title", "SystemModstamp"}
    assert again["SystemModstamp"] >= got["SystemModstamp"]
    assert api.org.user_by_username("GRACE.HOPPER@example.com")["Title"] == "Rear Admiral"


async def test_update_stamps_last_modified_and_system_modstamp(api):
    uid = list(api.org.users)[10]
    before = api.org.user(uid)
    await api.client.patch(f"{V}/sobjects/User/{uid}", json={"Department": "R&D"}, headers=api.auth)
    after = api.org.user(uid)
    assert after["SystemModstamp"] > before["SystemModstamp"]
    assert after["LastModifiedDate"] == after["SystemModstamp"]


@pytest.mark.parametrize("overrides, status, code, fields", [
    ({"Username": ..., "Alias": ...}, 400, "REQUIRED_FIELD_MISSING", ["Username", "Alias"]),
    ({"LastName": ""}, 400, "REQUIRED_FIELD_MISSING", ["LastName"]),
    ({"Username": "not-an-email"}, 400, "INVALID_NEW_USERNAME", ["Username"]),
    ({"Email": "nope@"}, 400, "INVALID_EMAIL_ADDRESS", ["Email"]),
    ({"Alias": "ninechars"}, 400, "STRING_TOO_LONG", ["Alias"]),
    ({"LocaleSidKey": "xx_YY"}, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["LocaleSidKey"]),
    ({"TimeZoneSidKey": "Mars/Olympus"}, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["TimeZoneSidKey"]),
    ({"ProfileId": "001Dn0000000001"}, 400, "FIELD_INTEGRITY_EXCEPTION", ["ProfileId"]),
    ({"ProfileId": "00eDn000000zzzz"}, 400, "INVALID_CROSS_REFERENCE_KEY", ["ProfileId"]),
    ({"ProfileId": "garbage"}, 400, "MALFORMED_ID", ["ProfileId"]),
    ({"CreatedDate": "2020-01-01T00:00:00.000+0000"}, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", ["CreatedDate"]),
    ({"IsActive": "yes"}, 400, "JSON_PARSER_ERROR", ["IsActive"]),
])
async def test_create_is_refused_with_salesforce_errors(api, overrides, status, code, fields):
    r = await api.client.post(f"{V}/sobjects/User", json=new_user(api.org, **overrides), headers=api.auth)
    assert r.status_code == status
    [error] = r.json()
    assert error["errorCode"] == code and error["fields"] == fields


async def test_required_fields_are_listed_in_salesforce_order(api):
    r = await api.client.post(f"{V}/sobjects/User", json={"FirstName": "X"}, headers=api.auth)
    assert r.json() == [{"message": "Required fields are missing: [Username, LastName, Email, Alias, "
                         "TimeZoneSidKey, LocaleSidKey, EmailEncodingKey, ProfileId, LanguageLocaleKey]",
                         "errorCode": "REQUIRED_FIELD_MISSING",
                         "fields": ["Username", "LastName", "Email", "Alias", "TimeZoneSidKey", "LocaleSidKey",
                                    "EmailEncodingKey", "ProfileId", "LanguageLocaleKey"]}]


async def test_unknown_field_and_id_in_body(api):
    r = await api.client.post(f"{V}/sobjects/User", json=new_user(api.org, Shoe_Size__c=42), headers=api.auth)
    assert r.json()[0]["errorCode"] == "INVALID_FIELD" and "Shoe_Size__c" in r.json()[0]["message"]
    r = await api.client.post(f"{V}/sobjects/User", json=new_user(api.org, Id="005Dn0000000001AAA"),
                              headers=api.auth)
    assert r.json() == [{"message": "The Id field should not be specified in the sobject data.",
                         "errorCode": "INVALID_FIELD"}]


async def test_username_is_unique_case_insensitively(api):
    existing = api.org.user(list(api.org.users)[8])["Username"]
    r = await api.client.post(f"{V}/sobjects/User", json=new_user(api.org, Username=existing.upper()),
                              headers=api.auth)
    assert r.status_code == 400
    [error] = r.json()
    assert error["errorCode"] == "DUPLICATE_USERNAME" and error["fields"] == ["Username"]
    assert error["message"].startswith("Duplicate Username.<br>")


async def test_community_nickname_is_unique(api):
    nick = api.org.user(list(api.org.users)[8])["CommunityNickname"]
    r = await api.client.post(f"{V}/sobjects/User", json=new_user(api.org, CommunityNickname=nick.upper()),
                              headers=api.auth)
    assert r.json()[0]["errorCode"] == "DUPLICATE_COMM_NICKNAME"
    other = list(api.org.users)[9]
    r = await api.client.patch(f"{V}/sobjects/User/{other}", json={"CommunityNickname": nick}, headers=api.auth)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "DUPLICATE_COMM_NICKNAME"


async def test_read_only_fields_refused_on_update(api):
    uid = list(api.org.users)[12]
    r = await api.client.patch(f"{V}/sobjects/User/{uid}", json={"SystemModstamp": "2020-01-01T00:00:00Z",
                                                                  "Name": "X"}, headers=api.auth)
    [error] = r.json()
    assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE" and error["fields"] == ["SystemModstamp", "Name"]


async def test_update_cannot_null_a_required_field(api):
    uid = list(api.org.users)[12]
    r = await api.client.patch(f"{V}/sobjects/User/{uid}", json={"Email": None}, headers=api.auth)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


async def test_delete_is_refused_and_deactivation_works(api):
    uid = list(api.org.users)[15]
    r = await api.client.delete(f"{V}/sobjects/User/{uid}", headers=api.auth)
    assert r.status_code == 400
    assert r.json() == [{"message": "entity type cannot be deleted", "errorCode": "INVALID_TYPE_FOR_OPERATION"}]
    assert uid in api.org.users
    r = await api.client.patch(f"{V}/sobjects/User/{uid}", json={"IsActive": False}, headers=api.auth)
    assert r.status_code == 204 and api.org.user(uid)["IsActive"] is False
    q = await api.client.get(f"{V}/query", params={"q": f"SELECT IsActive FROM User WHERE Id = '{uid}'"},
                             headers=api.auth)
    assert q.json()["records"][0]["IsActive"] is False


async def test_cannot_deactivate_yourself(api):
    r = await api.client.patch(f"{V}/sobjects/User/{api.org.admin_id}", json={"IsActive": False}, headers=api.auth)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


async def test_missing_records_and_bad_ids(api):
    r = await api.client.get(f"{V}/sobjects/User/005Dn00000zzzzz", headers=api.auth)
    assert r.status_code == 404 and r.json()[0]["errorCode"] == "NOT_FOUND"
    r = await api.client.get(f"{V}/sobjects/User/garbage", headers=api.auth)
    assert r.status_code == 404 and "garbage" in r.json()[0]["message"]
    r = await api.client.patch(f"{V}/sobjects/User/005Dn00000zzzzz", json={"Title": "x"}, headers=api.auth)
    assert r.status_code == 404
    r = await api.client.get(f"{V}/sobjects/Account/001Dn0000000001AAA", headers=api.auth)
    assert r.status_code == 404


async def test_http_method_override_patch(api):
    uid = list(api.org.users)[5]
    r = await api.client.post(f"{V}/sobjects/User/{uid}?_HttpMethod=PATCH", json={"Title": "Overridden"},
                              headers=api.auth)
    assert r.status_code == 204 and api.org.user(uid)["Title"] == "Overridden"
