"""query / queryAll paging through nextRecordsUrl, batch sizes, locators."""

from __future__ import annotations

from .helpers import V


async def _all_pages(h, path: str, soql: str, headers: dict, extra: dict | None = None) -> list[dict]:
    pages = []
    r = await h.client.get(f"{V}/{path}", params={"q": soql}, headers={**headers, **(extra or {})})
    assert r.status_code == 200, r.text
    pages.append(r.json())
    while not pages[-1]["done"]:
        r = await h.client.get(pages[-1]["nextRecordsUrl"], headers=headers)
        assert r.status_code == 200, r.text
        pages.append(r.json())
    return pages


async def test_full_query_pages_at_2000_and_returns_every_user_once(org_factory):
    h = org_factory(users=4500)
    headers = await h.headers()
    pages = await _all_pages(h, "query", "SELECT Id, Username FROM User", headers)
    assert [len(p["records"]) for p in pages] == [2000, 2000, 504]
    assert all(p["totalSize"] == 4504 for p in pages)
    ids = [rec["Id"] for p in pages for rec in p["records"]]
    assert len(set(ids)) == 4504 == len(h.org.users)
    assert pages[0]["nextRecordsUrl"].startswith(f"{V}/query/01g")
    assert pages[0]["nextRecordsUrl"].endswith("-2000")
    assert "nextRecordsUrl" not in pages[-1]
    first = pages[0]["records"][0]
    assert first["attributes"] == {"type": "User", "url": f"{V}/sobjects/User/{first['Id']}"}


async def test_batch_size_header_is_honoured_and_clamped(org_factory):
    h = org_factory(users=600)
    headers = await h.headers()
    pages = await _all_pages(h, "queryAll", "SELECT Id FROM User", headers, {"Sforce-Query-Options": "batchSize=250"})
    assert [len(p["records"]) for p in pages] == [250, 250, 104]
    pages = await _all_pages(h, "query", "SELECT Id FROM User", headers, {"Sforce-Query-Options": "batchSize=10"})
    assert len(pages[0]["records"]) == 200


async def test_unknown_locator_is_invalid_query_locator(org_factory):
    h = org_factory()
    r = await h.client.get(f"{V}/query/01gDn0000000000AAA-2000", headers=await h.headers())
    assert r.status_code == 400
    assert r.json() == [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]


async def test_pages_show_current_values_of_records(org_factory):
    h = org_factory(users=300)
    headers = await h.headers()
    r = await h.client.get(f"{V}/query", params={"q": "SELECT Id, Title FROM User ORDER BY Id"},
                           headers={**headers, "Sforce-Query-Options": "batchSize=200"})
    first = r.json()
    last_id = list(h.org.users)[-1]
    h.org.update_user(last_id, {"Title": "Changed mid-query"})
    second = (await h.client.get(first["nextRecordsUrl"], headers=headers)).json()
    assert second["records"][-1]["Title"] == "Changed mid-query"


async def test_count_query_and_empty_result(org_factory):
    h = org_factory(users=20)
    headers = await h.headers()
    r = await h.client.get(f"{V}/query", params={"q": "SELECT COUNT() FROM User"}, headers=headers)
    assert r.json() == {"totalSize": 24, "done": True, "records": []}
    r = await h.client.get(f"{V}/query", params={"q": "SELECT Id FROM User WHERE Username = 'nobody@x.org'"},
                           headers=headers)
    assert r.json() == {"totalSize": 0, "done": True, "records": []}
