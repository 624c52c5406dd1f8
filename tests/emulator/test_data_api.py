"""The rest of the data API: versions, describe, composite collections, getUpdated/getDeleted, limits,
the Sforce-Limit-Info header and fault injection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .helpers import V
from .test_user_rules import new_user


@pytest.fixture
async def api(org_factory):
    h = org_factory(users=30)
    h.auth = await h.headers()
    return h


async def test_versions_list_needs_no_session_and_spans_31_to_latest(org_factory):
    h = org_factory(users=0)
    r = await h.client.get("/services/data/")
    versions = r.json()
    assert versions[0] == {"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions
    assert [v["version"] for v in versions] == [f"{n}.0" for n in range(31, 31 + len(versions))]
    assert "sforce-limit-info" not in r.headers


async def test_retired_and_unknown_versions(api):
    r = await api.client.get("/services/data/v30.0/limits", headers=api.auth)
    assert r.status_code == 410
    r = await api.client.get("/services/data/v99.0/limits", headers=api.auth)
    assert r.status_code == 404 and r.json()[0]["errorCode"] == "NOT_FOUND"
    assert (await api.client.get("/services/data/v31.0/limits", headers=api.auth)).status_code == 200


async def test_no_or_bad_token_is_invalid_session(api):
    for headers in ({}, {"Authorization": "Bearer nope"}):
        r = await api.client.get(f"{V}/sobjects/User/describe", headers=headers)
        assert r.status_code == 401 and r.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    token = api.auth["Authorization"].split()[1]
    r = await api.client.get(f"{V}/limits", headers={"Authorization": f"OAuth {token}"})
    assert r.status_code == 200


async def test_describe_user_and_profile(api):
    d = (await api.client.get(f"{V}/sobjects/User/describe", headers=api.auth)).json()
    assert d["name"] == "User" and d["keyPrefix"] == "005" and d["createable"] and not d["deletable"]
    fields = {f["name"]: f for f in d["fields"]}
    assert fields["Alias"]["length"] == 8 and fields["Alias"]["createable"] and not fields["Alias"]["nillable"]
    assert fields["Id"]["type"] == "id" and not fields["Id"]["updateable"]
    assert fields["SystemModstamp"]["type"] == "datetime" and not fields["SystemModstamp"]["createable"]
    assert fields["ProfileId"]["referenceTo"] == ["Profile"] and fields["ProfileId"]["relationshipName"] == "Profile"
    assert {"value": "America/Los_Angeles"}.items() <= next(
        p for p in fields["TimeZoneSidKey"]["picklistValues"] if p["value"] == "America/Los_Angeles").items()
    assert fields["Username"]["unique"] and fields["Email"]["type"] == "email"
    p = (await api.client.get(f"{V}/sobjects/Profile/describe", headers=api.auth)).json()
    assert p["keyPrefix"] == "00e" and "Name" in [f["name"] for f in p["fields"]]
    g = (await api.client.get(f"{V}/sobjects", headers=api.auth)).json()
    assert g["maxBatchSize"] == 200 and {s["name"] for s in g["sobjects"]} == {"User", "Profile"}


async def test_limit_header_counts_every_api_call(api):
    first = await api.client.get(f"{V}/limits", headers=api.auth)
    used, limit = map(int, first.headers["sforce-limit-info"].removeprefix("api-usage=").split("/"))
    second = await api.client.get(f"{V}/sobjects/User/describe", headers=api.auth)
    assert second.headers["sforce-limit-info"] == f"api-usage={used + 1}/{limit}"
    bad = await api.client.get(f"{V}/sobjects/User/garbage", headers=api.auth)
    assert bad.headers["sforce-limit-info"] == f"api-usage={used + 2}/{limit}"
    limits = (await api.client.get(f"{V}/limits", headers=api.auth)).json()
    assert limits["DailyApiRequests"] == {"Max": limit, "Remaining": limit - used - 3}


async def test_daily_limit_exhausted_is_request_limit_exceeded(api):
    api.org.api_used = api.org.api_max
    r = await api.client.get(f"{V}/limits", headers=api.auth)
    assert r.status_code == 403
    assert r.json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


async def test_composite_create_and_update_return_results_in_order(api):
    records = [{"attributes": {"type": "User"}, **new_user(api.org, Username=f"c{i}@example.com",
                                                           Email=f"c{i}@example.com", Alias=f"c{i}")}
               for i in range(3)]
    records[1]["Alias"] = "far-too-long"
    r = await api.client.post(f"{V}/composite/sobjects", json={"allOrNone": False, "records": records},
                              headers=api.auth)
    assert r.status_code == 200
    results = r.json()
    assert [x["success"] for x in results] == [True, False, True]
    assert results[1] == {"success": False, "errors": [{"statusCode": "STRING_TOO_LONG", "fields": ["Alias"],
                                                        "message": "Alias: data value too large: far-too-long "
                                                                   "(max length=8)"}]}
    created = [results[0]["id"], results[2]["id"]]
    updates = [{"attributes": {"type": "User"}, "id": created[0], "Title": "One"},
               {"attributes": {"type": "User"}, "id": created[1], "Title": "Two"},
               {"attributes": {"type": "User"}, "Title": "no id"}]
    r = await api.client.patch(f"{V}/composite/sobjects", json={"records": updates}, headers=api.auth)
    results = r.json()
    assert results[0] == {"id": created[0], "success": True, "errors": []}
    assert results[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert api.org.user(created[1])["Title"] == "Two"


async def test_composite_all_or_none_rolls_back(api):
    before = dict(api.org.by_username)
    uid = list(api.org.users)[7]
    old_title = api.org.user(uid)["Title"]
    records = [{"attributes": {"type": "User"}, **new_user(api.org, Username="ok@example.com", Email="ok@example.com")},
               {"attributes": {"type": "User"}, **new_user(api.org, Username="ok@example.com", Email="ok@example.com",
                                                          CommunityNickname="other")}]
    r = await api.client.post(f"{V}/composite/sobjects", json={"allOrNone": True, "records": records},
                              headers=api.auth)
    results = r.json()
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "DUPLICATE_USERNAME"
    assert api.org.by_username == before and api.org.user_by_username("ok@example.com") is None
    updates = [{"attributes": {"type": "User"}, "id": uid, "Title": "Changed"},
               {"attributes": {"type": "User"}, "id": uid, "Alias": "waytoolongalias"}]
    r = await api.client.patch(f"{V}/composite/sobjects", json={"allOrNone": True, "records": updates},
                               headers=api.auth)
    assert [x["success"] for x in r.json()] == [False, False]
    assert api.org.user(uid)["Title"] == old_title


async def test_composite_limits_and_delete_refused(api):
    many = [{"attributes": {"type": "User"}, "id": list(api.org.users)[0], "Title": "x"}] * 201
    r = await api.client.patch(f"{V}/composite/sobjects", json={"records": many}, headers=api.auth)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    uid = list(api.org.users)[3]
    r = await api.client.delete(f"{V}/composite/sobjects", params={"ids": uid}, headers=api.auth)
    assert r.json()[0]["errors"][0]["statusCode"] == "INVALID_TYPE_FOR_OPERATION" and uid in api.org.users


async def test_composite_retrieve_many(api):
    uids = list(api.org.users)[4:7]
    r = await api.client.post(f"{V}/composite/sobjects/User", json={"ids": [*uids, "005Dn00000zzzzz"],
                                                                    "fields": ["Id", "Username"]}, headers=api.auth)
    body = r.json()
    assert [rec["Id"] for rec in body[:3]] == uids and body[3] is None
    assert set(body[0]) == {"attributes", "Id", "Username"}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


async def test_get_updated_and_deleted(api):
    start = datetime.now(UTC) - timedelta(minutes=5)
    uid = list(api.org.users)[9]
    await api.client.patch(f"{V}/sobjects/User/{uid}", json={"Title": "Updated"}, headers=api.auth)
    end = datetime.now(UTC) + timedelta(minutes=2)
    r = await api.client.get(f"{V}/sobjects/User/updated/", params={"start": _iso(start), "end": _iso(end)},
                             headers=api.auth)
    body = r.json()
    assert body["ids"] == [uid]
    assert body["latestDateCovered"] <= _iso(datetime.now(UTC)).replace("+00:00", ".000+0000")
    r = await api.client.get(f"{V}/sobjects/User/deleted/", params={"start": _iso(start), "end": _iso(end)},
                             headers=api.auth)
    assert r.json()["deletedRecords"] == [] and "earliestDateAvailable" in r.json()
    old = datetime.now(UTC) - timedelta(days=40)
    r = await api.client.get(f"{V}/sobjects/User/updated/", params={"start": _iso(old), "end": _iso(end)},
                             headers=api.auth)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    r = await api.client.get(f"{V}/sobjects/User/updated/", params={"start": _iso(end), "end": _iso(start)},
                             headers=api.auth)
    assert r.status_code == 400


async def test_error_rate_answers_503_or_request_limit_on_the_data_api_only(org_factory):
    h = org_factory(users=5, error_rate=1.0)
    token = await h.token()                                 # OAuth is never faulted
    statuses = set()
    for _ in range(40):
        r = await h.client.get(f"{V}/limits", headers={"Authorization": f"Bearer {token}"})
        statuses.add(r.status_code)
        code = r.json()[0]["errorCode"]
        assert (r.status_code, code) in {(503, "SERVER_UNAVAILABLE"), (403, "REQUEST_LIMIT_EXCEEDED")}
    assert statuses == {503, 403}


async def test_partial_error_rate_faults_about_that_fraction(org_factory):
    h = org_factory(users=5, error_rate=0.3)
    headers = await h.headers()
    failures = 0
    for _ in range(200):
        r = await h.client.get(f"{V}/limits", headers=headers)
        failures += r.status_code != 200
    assert 30 <= failures <= 90


async def test_latency_is_added_to_data_calls_only(org_factory, monkeypatch):
    import asyncio

    h = org_factory(users=5, latency_ms=120)
    headers = await h.headers()
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded_sleep(delay: float, *args):
        slept.append(delay)
        return await real_sleep(0)

    monkeypatch.setattr("core.emulator.rest.asyncio.sleep", recorded_sleep)
    assert (await h.client.get(f"{V}/limits", headers=headers)).status_code == 200
    assert slept == [0.12]
    assert (await h.client.get("/.well-known/openid-configuration")).status_code == 200
    assert slept == [0.12], "the OAuth endpoints are never delayed"


def test_bad_fault_settings_are_refused():
    from core.emulator import Org, create_app
    org = Org.generate(users=0)
    with pytest.raises(ValueError, match="error_rate"):
        create_app(org, error_rate=1.5)
    with pytest.raises(ValueError, match="token_ttl"):
        create_app(org, token_ttl=0)


async def test_overlong_uris_and_queries_are_refused_as_salesforce_does(api):
    names = ", ".join(f"'user{i:05d}.with.a.rather.long.name@example.com'" for i in range(400))
    r = await api.client.get(f"{V}/query", params={"q": f"SELECT Id FROM User WHERE Username IN ({names})"},
                             headers=api.auth)
    assert r.status_code == 414 and r.json()[0]["errorCode"] == "URI_TOO_LONG"
    half = ", ".join(f"'user{i:05d}.with.a.rather.long.name@example.com'" for i in range(200))
    r = await api.client.get(f"{V}/query", params={"q": f"SELECT Id FROM User WHERE Username IN ({half})"},
                             headers=api.auth)
    assert r.status_code == 200
