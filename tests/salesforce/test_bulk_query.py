"""Bulk API 2.0 query reads: the same records as the REST query in a few calls (local org), and the wire
shapes of the job, its polling, its failure and its result chunks (respx)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from core.salesforce import bulk
from core.salesforce.connector import SalesforceConnector
from core.salesforce.errors import SalesforceError

LOGIN_URL = "https://login.salesforce.com/services/oauth2/token"
INSTANCE = "https://acme.my.salesforce.com"
TOKEN = {"access_token": "00Dxx!ACCESS1", "instance_url": INSTANCE, "id": "https://x/id/00D/005"}
FIELDS = ["Id", "Username", "FirstName", "Title", "IsActive", "SystemModstamp", "Profile.Name"]


async def _all(pages: Any) -> list[dict[str, Any]]:
    return [r async for page in pages for r in page.records]


async def test_bulk_reads_exactly_what_the_rest_query_reads_in_a_few_calls(org_factory: Any, org_connector: Any):
    org = org_factory(users=4500, auto_approve=True, instant_jobs=True)
    org.org.update_user(org.org.admin_id, {"Title": 'Quote " comma, newline\n and Zoë'})
    async with await org_connector(org) as conn:
        rest = await _all(conn.select_pages("User", FIELDS, order_by="Id"))
        before = org.org.api_used
        pages = [p async for p in conn.bulk_select_pages("User", FIELDS, order_by="Id", page_size=2000)]
        calls = org.org.api_used - before
    assert [r for p in pages for r in p.records] == rest  # typed values, nulls, nested Profile: identical
    assert [len(p.records) for p in pages] == [2000, 2000, 504] and [p.done for p in pages] == [False, False, True]
    assert all(p.total_size == 4504 for p in pages)
    assert calls == 5  # describe, create, one poll, one resultPages listing, one result page (10,000 records)
    assert any(r["Title"] is None for r in rest) and any(r["IsActive"] is False for r in rest)


@pytest.fixture
def wire(config_factory: Any):
    with respx.mock(assert_all_called=False) as router:
        router.post(LOGIN_URL).mock(return_value=httpx.Response(200, json=TOKEN))
        yield router, config_factory(version=44)


async def test_an_org_without_result_pages_is_read_by_following_locators(wire: Any, monkeypatch: Any):
    router, config = wire
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(bulk.asyncio, "sleep", sleep)
    api = f"{INSTANCE}/services/data/v58.0"  # 44.0 has no parallel results: the job is made in 58.0
    router.get(f"{INSTANCE}/services/data/v44.0/sobjects/User/describe").mock(return_value=httpx.Response(
        200, json={"fields": [{"name": "Id", "type": "id"}, {"name": "IsActive", "type": "boolean"},
                              {"name": "NumberOfFailedLogins", "type": "int"}]}))
    create = router.post(f"{api}/jobs/query").mock(return_value=httpx.Response(200, json={"id": "750JOB", "state": "UploadComplete"}))
    router.get(f"{api}/jobs/query/750JOB").mock(side_effect=[
        httpx.Response(200, json={"state": "InProgress"}), httpx.Response(200, json={"state": "InProgress"}),
        httpx.Response(200, json={"state": "JobComplete", "numberRecordsProcessed": 3})])
    router.get(f"{api}/jobs/query/750JOB/resultPages").mock(return_value=httpx.Response(
        404, json=[{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]))
    results = router.get(f"{api}/jobs/query/750JOB/results").mock(side_effect=[
        httpx.Response(200, text='"Id","IsActive","NumberOfFailedLogins"\n"005A","true","2"\n"005B","false",""\n',
                       headers={"Sforce-Locator": "Mg", "Sforce-NumberOfRecords": "2"}),
        httpx.Response(200, text='"Id","IsActive","NumberOfFailedLogins"\n"005C","true","0"\n',
                       headers={"Sforce-Locator": "null", "Sforce-NumberOfRecords": "1"})])
    async with SalesforceConnector(config) as conn:
        records = await _all(conn.bulk_select_pages("User", ["Id", "IsActive", "NumberOfFailedLogins"]))
    assert records == [{"Id": "005A", "IsActive": True, "NumberOfFailedLogins": 2},
                       {"Id": "005B", "IsActive": False, "NumberOfFailedLogins": None},
                       {"Id": "005C", "IsActive": True, "NumberOfFailedLogins": 0}]
    assert json.loads(create.calls[0].request.content) == {
        "operation": "query", "query": "SELECT Id,IsActive,NumberOfFailedLogins FROM User", "contentType": "CSV"}
    assert waits == [bulk.POLL_FIRST, bulk.POLL_FIRST * 2]  # backing off between polls
    assert [dict(c.request.url.params) for c in results.calls] == [
        {"maxRecords": str(bulk.CHUNK_RECORDS)}, {"maxRecords": str(bulk.CHUNK_RECORDS), "locator": "Mg"}]


async def test_a_failed_job_is_an_error_naming_the_job_and_its_reason(wire: Any):
    router, config = wire
    api = f"{INSTANCE}/services/data/v58.0"
    router.get(f"{INSTANCE}/services/data/v44.0/sobjects/User/describe").mock(
        return_value=httpx.Response(200, json={"fields": []}))
    router.post(f"{api}/jobs/query").mock(return_value=httpx.Response(200, json={"id": "750BAD"}))
    router.get(f"{api}/jobs/query/750BAD").mock(return_value=httpx.Response(
        200, json={"state": "Failed", "errorMessage": "INVALID_FIELD: No such column 'Nope'"}))
    async with SalesforceConnector(config) as conn:
        with pytest.raises(SalesforceError, match="750BAD failed: INVALID_FIELD: No such column 'Nope'"):
            await _all(conn.bulk_select_pages("User", ["Id"]))
