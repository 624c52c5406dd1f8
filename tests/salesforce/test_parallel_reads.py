"""Reads fetched in parallel where Salesforce allows it: Bulk API results through resultPages and REST query
pages fetched ahead; complete, in order, none lost or doubled, under faults, expiring tokens and URLs, and a
job that ends mid-download."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from core.emulator import bulk as org_bulk
from core.salesforce.connector import SalesforceConnector
from core.salesforce.errors import SalesforceError

FIELDS = ["Id", "Username", "IsActive"]


class InFlight:
    """An ASGI wrapper counting the org's data calls in progress at once (the most seen)."""

    def __init__(self, app: Any) -> None:
        self.app, self.now, self.most = app, 0, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        counted = scope["type"] == "http" and scope["path"].startswith("/services/data/")
        if counted:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            await self.app(scope, receive, send)
        finally:
            if counted:
                self.now -= 1


def _ids(pages: list[Any]) -> list[str]:
    return [r["Id"] for p in pages for r in p.records]


async def test_bulk_results_download_in_parallel_complete_and_in_order_under_faults_and_expiring_tokens(
        org_factory: Any, org_connector: Any, monkeypatch: Any):
    monkeypatch.setattr(org_bulk, "RESULT_PAGE_RECORDS", 1_000)   # 21 result pages, five listings
    org = org_factory(users=20_000, auto_approve=True, instant_jobs=True, error_rate=0.05, latency_ms=100,
                      token_ttl=0.4)
    org.app = counted = InFlight(org.app)
    async with await org_connector(org) as conn:
        pages = [p async for p in conn.bulk_select_pages("User", FIELDS, order_by="Id")]
        stats = conn.session.stats
    ids = _ids(pages)
    assert ids == sorted(org.org.users) and len(set(ids)) == len(ids) == 20_004   # none lost, none doubled
    assert [p.done for p in pages] == [False] * (len(pages) - 1) + [True]
    assert conn.bulk_stats["results"] == "resultPages" and conn.bulk_stats["pages"] == 21
    assert stats["retries"] > 0 and stats["refreshes"] >= 2   # faults were met, tokens ended on the way
    assert counted.most > 1                                    # several downloads at once


async def test_rest_pages_are_fetched_ahead_in_order_under_faults_and_expiring_tokens(
        org_factory: Any, org_connector: Any):
    org = org_factory(users=30_000, auto_approve=True, error_rate=0.25, latency_ms=100, token_ttl=0.4)
    org.app = counted = InFlight(org.app)
    async with await org_connector(org) as conn:
        pages = [p async for p in conn.select_pages("User", FIELDS, order_by="Id")]
        stats = conn.session.stats
    ids = _ids(pages)
    assert ids == sorted(org.org.users) and len(set(ids)) == len(ids)
    assert stats["retries"] > 0 and stats["refreshes"] >= 2
    assert counted.most > 1 and conn.prefetch_pages > 1


async def test_a_job_that_ends_mid_download_is_an_error_naming_it(org_factory: Any, org_connector: Any,
                                                                  monkeypatch: Any):
    monkeypatch.setattr(org_bulk, "RESULT_PAGE_RECORDS", 500)
    for ending in ("deleted", "failed"):
        org = org_factory(users=6_000, auto_approve=True, instant_jobs=True)
        state = org.app.state.emulator
        async with await org_connector(org) as conn:
            seen: list[str] = []
            with pytest.raises(SalesforceError) as caught:
                async for page in conn.bulk_select_pages("User", FIELDS, order_by="Id"):
                    if not seen:   # the job ends while later pages still wait to be downloaded
                        job_id = next(iter(state.bulk.jobs))
                        if ending == "deleted":
                            state.bulk.delete(job_id)
                        else:
                            state.bulk.fail(job_id, "QUERY_TIMEOUT: the query took too long")
                    seen += [r["Id"] for r in page.records]
        assert caught.value.error_code == "BULK_JOB_FAILED" and job_id in str(caught.value), ending
        assert seen == sorted(org.org.users)[:len(seen)] and len(seen) < 6_004


async def test_an_expired_result_url_is_replaced_from_a_new_listing(org_factory: Any, org_connector: Any,
                                                                    monkeypatch: Any):
    monkeypatch.setattr(org_bulk, "RESULT_PAGE_RECORDS", 1_000)
    base = org_bulk._wall()
    shift = [0.0]
    monkeypatch.setattr(org_bulk, "_wall", lambda: base + shift[0])
    org = org_factory(users=12_000, auto_approve=True, instant_jobs=True, result_ttl=150)
    listings = 0
    inner = org.app

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal listings
        listing = scope["type"] == "http" and scope["path"].endswith("/resultPages")
        await inner(scope, receive, send)
        if listing:
            listings += 1
            if listings == 1:
                shift[0] = 151.0     # the first listing's URLs expire before any is used

    org.app = app
    async with await org_connector(org) as conn:
        pages = [p async for p in conn.bulk_select_pages("User", FIELDS, order_by="Id")]
    ids = _ids(pages)
    assert ids == sorted(org.org.users) and len(set(ids)) == len(ids)
    assert listings > 3   # 13 pages need three listings; the expired URLs were asked for again


@respx.mock
async def test_rest_pages_follow_the_org_where_its_paging_differs_from_the_plan(config_factory: Any):
    instance = "https://acme.my.salesforce.com"
    respx.post("https://login.salesforce.com/services/oauth2/token").mock(return_value=httpx.Response(
        200, json={"access_token": "00D!A", "instance_url": instance, "id": "https://x/id/00D/005"}))
    base = f"{instance}/services/data/v62.0/query/01gQ"

    def page(ids: list[str], next_offset: int | None) -> httpx.Response:
        body: dict[str, Any] = {"totalSize": 7, "done": next_offset is None,
                                "records": [{"attributes": {"type": "User"}, "Id": i} for i in ids]}
        if next_offset is not None:
            body["nextRecordsUrl"] = f"/services/data/v62.0/query/01gQ-{next_offset}"
        return httpx.Response(200, json=body)

    respx.get(f"{instance}/services/data/v62.0/query").mock(return_value=page(["a", "b"], 2))
    respx.get(f"{base}-2").mock(return_value=page(["c"], 3))        # a smaller page than the first
    respx.get(f"{base}-3").mock(return_value=page(["d", "e"], 5))
    respx.get(f"{base}-4").mock(return_value=page(["e", "f"], 6))   # planned, then not the org's paging
    respx.get(f"{base}-5").mock(return_value=page(["f", "g"], None))
    respx.get(f"{base}-6").mock(return_value=page(["g"], None))
    async with SalesforceConnector(config_factory()) as conn:
        pages = [p async for p in conn.query_pages("SELECT Id FROM User")]
    assert _ids(pages) == ["a", "b", "c", "d", "e", "f", "g"]


async def test_collections_go_several_at_once_with_results_in_input_order_under_faults(
        org_factory: Any, org_connector: Any):
    org = org_factory(users=2_500, auto_approve=True, error_rate=0.05, latency_ms=50)
    org.app = counted = InFlight(org.app)
    people = sorted(i for i in org.org.users if (org.org.user(i) or {}).get("IsActive"))[:2_000]
    async with await org_connector(org) as conn:
        for round_ in range(3):     # 30 calls of 200, 10 at once
            results = await conn.update_many("User", [(i, {"Title": f"T{round_}.{n}"}) for n, i in enumerate(people)])
            assert [r.id for r in results] == people and all(r.success for r in results)   # one each, in order
            assert [(org.org.user(i) or {}).get("Title") for i in people] == [f"T{round_}.{n}" for n in range(2_000)]
        stats = conn.session.stats
    assert stats["retries"] > 0 and counted.most > 1 and conn.batch_concurrency > 1


@respx.mock
@pytest.mark.parametrize(("bulk_from", "fetched_ahead"), [(0, 3), (9, 3), (8, 1)])
async def test_pages_after_the_first_are_fetched_deep_unless_the_caller_may_switch_to_bulk(
        config_factory: Any, bulk_from: int, fetched_ahead: int):
    import asyncio

    instance = "https://acme.my.salesforce.com"
    respx.post("https://login.salesforce.com/services/oauth2/token").mock(return_value=httpx.Response(
        200, json={"access_token": "00D!A", "instance_url": instance, "id": "https://x/id/00D/005"}))
    base = f"{instance}/services/data/v62.0/query/01gQ"
    ids = list("abcdefgh")

    def page(offset: int) -> httpx.Response:
        body: dict[str, Any] = {"totalSize": 8, "done": offset + 2 >= 8,
                                "records": [{"attributes": {"type": "User"}, "Id": i} for i in ids[offset:offset + 2]]}
        if offset + 2 < 8:
            body["nextRecordsUrl"] = f"/services/data/v62.0/query/01gQ-{offset + 2}"
        return httpx.Response(200, json=body)

    respx.get(f"{instance}/services/data/v62.0/query").mock(return_value=page(0))
    following = [respx.get(f"{base}-{offset}").mock(return_value=page(offset)) for offset in (2, 4, 6)]
    async with SalesforceConnector(config_factory()) as conn:
        pages = conn.query_pages("SELECT Id FROM User", bulk_from=bulk_from)
        got = [await pages.__anext__()]
        await asyncio.sleep(0.05)     # the loop runs the fetches launched ahead; the caller has not asked yet
        assert sum(route.called for route in following) == fetched_ahead
        got += [p async for p in pages]
    assert _ids(got) == ids and all(route.call_count == 1 for route in following)
