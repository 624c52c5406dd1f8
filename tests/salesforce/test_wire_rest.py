"""Wire shapes of REST calls: retries and Retry-After, typed errors, pagination, collections, usage."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from core.config import ProvisionerConfig
from core.salesforce.connector import SalesforceConnector
from core.salesforce.errors import RecordError, RecordNotFound, SalesforceError, TransientError
from core.salesforce.retry import RetryPolicy

LOGIN_URL = "https://login.salesforce.com/services/oauth2/token"
INSTANCE = "https://acme.my.salesforce.com"
API = f"{INSTANCE}/services/data/v62.0"
TOKEN = {"access_token": "00Dxx!ACCESS1", "instance_url": INSTANCE, "id": "https://x/id/00D/005"}
Factory = Callable[..., ProvisionerConfig]


@pytest.fixture
def org() -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:
        router.post(LOGIN_URL).mock(return_value=httpx.Response(200, json=TOKEN))
        yield router


def sf_error(status: int, code: str, message: str, fields: list[str] | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
    item: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        item["fields"] = fields
    return httpx.Response(status, json=[item], headers=headers)


def soql_of(request: httpx.Request) -> str:
    return parse_qs(urlsplit(str(request.url)).query)["q"][0]


async def test_503_with_retry_after_waits_at_least_that_long(org: respx.MockRouter, policy: RetryPolicy,
                                                            sleeps: Any, config_factory: Factory) -> None:
    route = org.get(f"{API}/sobjects/User/describe").mock(side_effect=[
        httpx.Response(503, text="maintenance", headers={"Retry-After": "7"}),
        httpx.Response(200, json={"name": "User"}),
    ])
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        await conn.describe()
    assert route.call_count == 2
    assert sleeps.waits and sleeps.waits[0] >= 7


async def test_request_limit_and_row_lock_are_retried_with_growing_backoff(
        org: respx.MockRouter, policy: RetryPolicy, sleeps: Any, config_factory: Factory) -> None:
    org.get(f"{API}/sobjects/User/describe").mock(side_effect=[
        sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
        sf_error(400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"),
        httpx.Response(500, text="oops"),
        httpx.Response(200, json={"name": "User"}),
    ])
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        await conn.describe()
        assert conn.session.stats["retries"] == 3
    assert len(sleeps.waits) == 3
    # full jitter in [ceiling/2, ceiling] with ceilings 0.5, 1, 2
    assert 0.25 <= sleeps.waits[0] <= 0.5 and 0.5 <= sleeps.waits[1] <= 1 and 1 <= sleeps.waits[2] <= 2


async def test_retries_stop_at_the_count_bound(org: respx.MockRouter, policy: RetryPolicy, sleeps: Any,
                                               config_factory: Factory) -> None:
    route = org.get(f"{API}/sobjects/User/describe").mock(return_value=httpx.Response(502, text="bad gateway"))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        with pytest.raises(TransientError, match="gave up after 4 tries"):
            await conn.describe()
    assert route.call_count == 4 and len(sleeps.waits) == 3


async def test_retries_stop_at_the_time_bound(org: respx.MockRouter, sleeps: Any, config_factory: Factory) -> None:
    policy = RetryPolicy(attempts=50, base_delay=1, max_delay=10, max_elapsed=15, sleep=sleeps.sleep,
                         clock=sleeps.clock)
    org.get(f"{API}/sobjects/User/describe").mock(
        return_value=httpx.Response(503, text="x", headers={"Retry-After": "6"}))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        with pytest.raises(TransientError):
            await conn.describe()
    assert sum(sleeps.waits) <= 15 and len(sleeps.waits) == 2


async def test_permanent_errors_are_typed_and_not_retried(org: respx.MockRouter, policy: RetryPolicy,
                                                          sleeps: Any, config_factory: Factory) -> None:
    org.get(f"{API}/query").mock(return_value=sf_error(400, "MALFORMED_QUERY", "unexpected token: 'FORM'"))
    org.get(f"{API}/sobjects/User/describe").mock(
        return_value=sf_error(404, "NOT_FOUND", "The requested resource does not exist"))
    dup = ("Duplicate Username.<br>The username already exists in this or another Salesforce organization.")
    org.post(f"{API}/sobjects/User").mock(return_value=sf_error(400, "DUPLICATE_USERNAME", dup, ["Username"]))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        with pytest.raises(SalesforceError) as info:
            async for _ in conn.query_pages("SELECT Id FORM User"):
                pass
        assert (info.value.status, info.value.error_code) == (400, "MALFORMED_QUERY")
        with pytest.raises(RecordNotFound):
            await conn.describe()
        with pytest.raises(RecordError) as rec:
            await conn.create("User", {"Username": "a@b.c"})
    assert rec.value.error_code == "DUPLICATE_USERNAME" and rec.value.fields == ["Username"]
    assert "Duplicate Username" in rec.value.message
    assert sleeps.waits == []


async def test_post_is_not_resent_after_a_read_timeout(org: respx.MockRouter, policy: RetryPolicy,
                                                       config_factory: Factory) -> None:
    route = org.post(f"{API}/sobjects/User").mock(side_effect=httpx.ReadTimeout("slow"))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        with pytest.raises(TransientError):
            await conn.create("User", {"Username": "a@b.c"})
    assert route.call_count == 1


def page(records: list[dict[str, Any]], total: int, next_url: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"totalSize": total, "done": next_url is None,
                            "records": [{"attributes": {"type": "User", "url": f"/x/{r['Id']}"}, **r} for r in records]}
    if next_url:
        body["nextRecordsUrl"] = next_url
    return body


async def test_query_follows_next_records_url_and_strips_attributes(org: respx.MockRouter, policy: RetryPolicy,
                                                                    config_factory: Factory) -> None:
    first = org.get(f"{API}/query").mock(return_value=httpx.Response(200, json=page(
        [{"Id": "005000000000001AAA", "Manager": {"attributes": {"type": "User"}, "Name": "Boss"}}], 3,
        "/services/data/v62.0/query/01gxx-1")))
    org.get(f"{INSTANCE}/services/data/v62.0/query/01gxx-1").mock(return_value=httpx.Response(200, json=page(
        [{"Id": "005000000000002AAA"}], 3, "/services/data/v62.0/query/01gxx-2")))
    org.get(f"{INSTANCE}/services/data/v62.0/query/01gxx-2").mock(return_value=httpx.Response(200, json=page(
        [{"Id": "005000000000003AAA"}], 3, None)))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        pages = [p async for p in conn.select_pages("User", ["Id", "Manager.Name"], batch_size=500)]
    assert [len(p.records) for p in pages] == [1, 1, 1] and [p.done for p in pages] == [False, False, True]
    assert pages[0].records[0] == {"Id": "005000000000001AAA", "Manager": {"Name": "Boss"}}
    assert all(p.total_size == 3 for p in pages)
    assert soql_of(first.calls.last.request) == "SELECT Id,Manager.Name FROM User"
    assert first.calls.last.request.headers["Sforce-Query-Options"] == "batchSize=500"


async def test_next_page_is_fetched_while_the_caller_works(org: respx.MockRouter, policy: RetryPolicy,
                                                           config_factory: Factory) -> None:
    second_requested = asyncio.Event()

    def second(request: httpx.Request) -> httpx.Response:
        second_requested.set()
        return httpx.Response(200, json=page([{"Id": "005000000000002AAA"}], 2, None))

    org.get(f"{API}/query").mock(return_value=httpx.Response(200, json=page(
        [{"Id": "005000000000001AAA"}], 2, "/services/data/v62.0/query/01gxx-1")))
    org.get(f"{API}/query/01gxx-1").mock(side_effect=second)
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        pages = conn.query_pages("SELECT Id FROM User")
        await anext(pages)
        await asyncio.wait_for(second_requested.wait(), 5)  # requested before we asked for page 2
        rest = [p async for p in pages]
    assert [r["Id"] for r in rest[0].records] == ["005000000000002AAA"]


async def test_query_restarts_when_its_cursor_dies_with_the_session(org: respx.MockRouter, policy: RetryPolicy,
                                                                    config_factory: Factory) -> None:
    org.post(LOGIN_URL).mock(side_effect=[httpx.Response(200, json=TOKEN),
                                          httpx.Response(200, json=dict(TOKEN, access_token="00Dxx!ACCESS2"))])
    expired = sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
    locator_gone = sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    first_page = page([{"Id": "005000000000001AAA"}, {"Id": "005000000000002AAA"}], 3,
                      "/services/data/v62.0/query/01gxx-2")
    start = org.get(f"{API}/query").mock(side_effect=[httpx.Response(200, json=first_page),
                                                      httpx.Response(200, json=first_page)])
    org.get(f"{API}/query/01gxx-2").mock(side_effect=[
        expired, locator_gone, httpx.Response(200, json=page([{"Id": "005000000000003AAA"}], 3, None))])
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        pages = [p async for p in conn.query_pages("SELECT Id FROM User")]
        assert conn.query_restarts == 1
    ids = [r["Id"] for p in pages for r in p.records]
    assert ids == ["005000000000001AAA", "005000000000002AAA", "005000000000003AAA"]
    assert start.call_count == 2 and pages[-1].restarted


async def test_api_usage_comes_from_the_limit_header(org: respx.MockRouter, policy: RetryPolicy,
                                                     config_factory: Factory) -> None:
    org.get(f"{API}/sobjects/User/describe").mock(return_value=httpx.Response(
        200, json={}, headers={"Sforce-Limit-Info": "api-usage=18/5000"}))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        assert conn.api_usage is None
        await conn.describe()
        assert conn.api_usage == (18, 5000)


async def test_get_many_escapes_ids_and_skips_malformed_ones(org: respx.MockRouter, policy: RetryPolicy,
                                                             config_factory: Factory) -> None:
    route = org.get(f"{API}/query").mock(return_value=httpx.Response(200, json=page(
        [{"Id": "005000000000001AAA", "Email": "a@x"}], 1, None)))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        found = await conn.get_many("User", ["005000000000001AAA", "x' OR Name != '", "005000000000009AAA"],
                                    ["Email"])
    assert found == {"005000000000001AAA": {"Id": "005000000000001AAA", "Email": "a@x"}}
    assert soql_of(route.calls.last.request) == \
        "SELECT Id,Email FROM User WHERE Id IN ('005000000000001AAA','005000000000009AAA')"


async def test_get_returns_none_for_a_missing_record(org: respx.MockRouter, policy: RetryPolicy,
                                                     config_factory: Factory) -> None:
    org.get(f"{API}/sobjects/User/005000000000001AAA").mock(
        return_value=sf_error(404, "NOT_FOUND", "The requested resource does not exist"))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        assert await conn.get("User", "005000000000001AAA", ["Id"]) is None
        assert await conn.get("User", "../../limits", ["Id"]) is None


async def test_update_patches_only_the_changes_and_deactivate_sets_is_active_false(
        org: respx.MockRouter, policy: RetryPolicy, config_factory: Factory) -> None:
    route = org.patch(f"{API}/sobjects/User/005000000000001AAA").mock(return_value=httpx.Response(204))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        await conn.update("User", "005000000000001AAA", {"Title": "CTO"})
        await conn.deactivate_user("005000000000001AAA")
        await conn.update("User", "005000000000001AAA", {})
    import json as _json
    assert [_json.loads(c.request.content) for c in route.calls] == [{"Title": "CTO"}, {"IsActive": False}]


async def test_create_many_sends_200_a_call_and_keeps_input_order(org: respx.MockRouter, policy: RetryPolicy,
                                                                  config_factory: Factory) -> None:
    import json as _json

    lock_once: set[str] = set()

    def collection(request: httpx.Request) -> httpx.Response:
        body = _json.loads(request.content)
        assert body["allOrNone"] is False and len(body["records"]) <= 200
        out = []
        for rec in body["records"]:
            name = rec["Username"]
            if name.endswith("#dup"):
                out.append({"success": False, "errors": [
                    {"statusCode": "DUPLICATE_USERNAME", "message": "Duplicate Username.", "fields": ["Username"]}]})
            elif name.endswith("#lock") and name not in lock_once:
                lock_once.add(name)
                out.append({"success": False, "errors": [
                    {"statusCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access", "fields": []}]})
            else:
                out.append({"id": "005" + name.split("#")[0].zfill(15), "success": True, "errors": []})
        return httpx.Response(200, json=out)

    route = org.post(f"{API}/composite/sobjects").mock(side_effect=collection)
    names = [f"{i}" + ("#dup" if i == 7 else "#lock" if i == 301 else "") for i in range(450)]
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        results = await conn.create_many("User", [{"Username": n} for n in names])
    assert len(results) == 450
    assert results[0].success and results[0].id == "005" + "0".zfill(15)
    assert not results[7].success and results[7].errors[0].error_code == "DUPLICATE_USERNAME"
    assert results[301].success
    assert route.call_count == 4  # 200 + 200 + 50, plus one resend of the locked record
    first_body = _json.loads(route.calls[0].request.content)
    assert first_body["records"][0] == {"attributes": {"type": "User"}, "Username": "0"}


async def test_update_many_patches_collections_with_ids(org: respx.MockRouter, policy: RetryPolicy,
                                                        config_factory: Factory) -> None:
    import json as _json

    route = org.patch(f"{API}/composite/sobjects").mock(return_value=httpx.Response(200, json=[
        {"id": "005000000000001AAA", "success": True, "errors": []}]))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        results = await conn.update_many("User", [("005000000000001AAA", {"Title": "CTO"})])
    assert results[0].success
    assert _json.loads(route.calls.last.request.content)["records"] == [
        {"attributes": {"type": "User"}, "id": "005000000000001AAA", "Title": "CTO"}]


async def test_changed_since_queries_system_modstamp(org: respx.MockRouter, policy: RetryPolicy,
                                                     config_factory: Factory) -> None:
    route = org.get(f"{API}/query").mock(return_value=httpx.Response(200, json=page([
        {"Id": "005000000000001AAA", "Email": "a@x", "SystemModstamp": "2026-01-02T03:04:05.000+0000",
         "IsActive": True},
        {"Id": "005000000000002AAA", "Email": "b@x", "SystemModstamp": "2026-01-02T03:05:00.000+0000",
         "IsActive": False},
    ], 2, None)))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        changes = await conn.changed_since("User", datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=UTC), ["Email"])
    assert soql_of(route.calls.last.request) == ("SELECT Id,Email,SystemModstamp,IsActive FROM User "
                                                 "WHERE SystemModstamp >= 2026-01-01T12:00:00Z "
                                                 "ORDER BY SystemModstamp ASC")
    assert [r["Id"] for r in changes.updated] == ["005000000000001AAA", "005000000000002AAA"]
    assert changes.deactivated == ["005000000000002AAA"]
    assert changes.latest == datetime(2026, 1, 2, 3, 5, tzinfo=UTC)
