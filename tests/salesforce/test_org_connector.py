"""The connector against the local org: paging through expiring sessions and injected faults loses nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.salesforce import soql
from core.salesforce.connector import SalesforceConnector
from core.salesforce.errors import RecordError, RecordNotFound

Connect = Callable[..., Awaitable[SalesforceConnector]]


def new_user(i: int, tag: str) -> dict[str, Any]:
    return {"Username": f"{tag}{i}@sfsync-test.example.com", "LastName": f"Tester{i}", "FirstName": "Zoë",
            "Email": f"{tag}{i}@example.com", "Alias": f"t{i}"[:8], "TimeZoneSidKey": "America/Los_Angeles",
            "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US"}


async def profile_id(conn: SalesforceConnector) -> str:
    async for page in conn.select_pages("Profile", ["Id", "Name"]):
        for record in page.records:
            if record["Name"] in ("Standard User", "System Administrator"):
                return record["Id"]
    raise AssertionError("no standard profile in the org")


async def test_token_expiry_in_a_10000_user_query_loses_no_record(org_factory: Any, org_connector: Connect) -> None:
    org = org_factory(users=10000, auto_approve=True, token_ttl=0.25, latency_ms=120)  # pages come 6 at once
    async with await org_connector(org) as conn:
        ids: list[str] = []
        total = None
        async for page in conn.select_pages("User", ["Id", "Username"], batch_size=1000):
            ids.extend(r["Id"] for r in page.records)
            total = page.total_size
        assert conn.session.stats["refreshes"] >= 2, "the token never expired: the test proved nothing"
    assert total == len(org.org.users) >= 10000
    assert len(ids) == len(set(ids)) == total


async def test_five_percent_injected_errors_lose_no_record(org_factory: Any, org_connector: Connect) -> None:
    org = org_factory(users=3000, auto_approve=True, error_rate=0.05)
    async with await org_connector(org) as conn:
        ids: set[str] = set()
        pages = 0
        async for page in conn.select_pages("User", ["Id"], batch_size=200):
            ids.update(r["Id"] for r in page.records)
            pages += 1
        assert ids == set(org.org.users) and pages >= 15
        profile = await profile_id(conn)
        created = await conn.create_many("User", [dict(new_user(i, "faulty"), ProfileId=profile)
                                                  for i in range(450)])
        assert all(r.success for r in created), [r.message for r in created if not r.success][:3]
        updated = await conn.update_many("User", [(r.id, {"Title": "Engineer"}) for r in created])
        assert all(r.success for r in updated)
        found = await conn.get_many("User", [r.id for r in created], ["Title", "Username"])
        assert len(found) == 450 and {f["Title"] for f in found.values()} == {"Engineer"}
        assert conn.session.stats["retries"] > 0, "no fault was injected: the test proved nothing"


async def test_create_update_get_and_deactivate_a_user(org_factory: Any, org_connector: Connect) -> None:
    org = org_factory(users=20, auto_approve=True)
    async with await org_connector(org) as conn:
        profile = await profile_id(conn)
        user_id = await conn.create("User", dict(new_user(1, "crud"), ProfileId=profile))
        await conn.update("User", user_id, {"Title": "O'Neil's \"boss\""})
        record = await conn.get("User", user_id, ["Id", "Title", "IsActive"])
        assert record == {"Id": user_id, "Title": "O'Neil's \"boss\"", "IsActive": True}
        await conn.deactivate_user(user_id)
        assert (await conn.get("User", user_id, ["IsActive"]))["IsActive"] is False
        assert await conn.get("User", "005000000000000AAA", ["Id"]) is None
        with pytest.raises(RecordError) as info:
            await conn.create("User", dict(new_user(1, "crud"), ProfileId=profile))
        assert info.value.error_code == "DUPLICATE_USERNAME"
        with pytest.raises(RecordNotFound):
            await conn.describe("NoSuchObject")
        # values with quotes reach SOQL escaped, and find exactly that user
        pages = [p async for p in conn.select_pages("User", ["Id"], soql.eq("Title", "O'Neil's \"boss\""))]
        assert [r["Id"] for p in pages for r in p.records] == [user_id]


async def test_describe_usage_and_changes_since(org_factory: Any, org_connector: Connect) -> None:
    org = org_factory(users=30, auto_approve=True)
    async with await org_connector(org) as conn:
        described = await conn.describe("User")
        assert described["name"] == "User" and any(f["name"] == "Username" for f in described["fields"])
        assert conn.api_usage is not None and conn.api_usage[1] > 0
        some = [p async for p in conn.select_pages("User", ["Id"], order_by="Username", )][0].records[:3]
        since = datetime.now(UTC) - timedelta(seconds=1)
        await conn.update("User", some[0]["Id"], {"Department": "R&D"})
        await conn.deactivate_user(some[1]["Id"])
        changes = await conn.changed_since("User", since, ["Department"])
        changed = {r["Id"] for r in changes.updated}
        assert {some[0]["Id"], some[1]["Id"]} <= changed and some[2]["Id"] not in changed
        assert changes.deactivated == [some[1]["Id"]]
        assert changes.latest >= since.replace(microsecond=0)
