"""``GET managed/user?_queryFilter=…`` with IDM's CREST parameters and IDM's query result object."""

from __future__ import annotations

import pytest

PAGING_KEYS = {"result", "resultCount", "pagedResultsCookie", "totalPagedResultsPolicy", "totalPagedResults",
               "remainingPagedResults"}


@pytest.fixture
async def people(api):
    client, backend = api
    names = ["amy", "ben", "cat", "dov", "eve"]
    backend.sync.repo.create_many([{"userName": n, "givenName": n.title(), "sn": "Q", "mail": f"{n}@q.example"}
                                   for n in names])
    return client, names


async def test_seed_query_answers_ids_and_revs_only_with_idm_paging_fields(people):
    client, names = people
    body = (await client.get("/openidm/managed/user?_queryFilter=true&_fields=_id")).json()
    assert set(body) == PAGING_KEYS
    assert body["resultCount"] == len(names) == len(body["result"])
    assert all(set(row) == {"_id", "_rev"} for row in body["result"])
    assert (body["pagedResultsCookie"], body["totalPagedResultsPolicy"], body["totalPagedResults"],
            body["remainingPagedResults"]) == (None, "NONE", -1, -1)


async def test_filter_sort_and_fields(people):
    client, _ = people
    body = (await client.get('/openidm/managed/user', params={
        "_queryFilter": 'userName sw "b" or /mail eq "eve@q.example"', "_fields": "userName,mail",
        "_sortKeys": "-userName"})).json()
    assert [row["userName"] for row in body["result"]] == ["eve", "ben"]
    assert set(body["result"][0]) == {"_id", "_rev", "userName", "mail"}


async def test_paging_with_cookies_visits_every_user_once_and_exact_total(people):
    client, names = people
    seen, cookie = [], None
    while True:
        params = {"_queryFilter": "true", "_pageSize": "2", "_sortKeys": "userName",
                  "_totalPagedResultsPolicy": "EXACT"}
        if cookie:
            params["_pagedResultsCookie"] = cookie
        body = (await client.get("/openidm/managed/user", params=params)).json()
        assert body["totalPagedResults"] == len(names)
        seen += [row["userName"] for row in body["result"]]
        cookie = body["pagedResultsCookie"]
        if not cookie:
            break
    assert seen == names


async def test_offset_paging_and_query_all_ids(people):
    client, names = people
    page = (await client.get("/openidm/managed/user", params={
        "_queryFilter": "true", "_pageSize": "2", "_pagedResultsOffset": "2", "_sortKeys": "userName"})).json()
    assert [row["userName"] for row in page["result"]] == names[2:4]
    ids = (await client.get("/openidm/managed/user?_queryId=query-all-ids")).json()
    assert ids["resultCount"] == len(names) and all(set(r) == {"_id", "_rev"} for r in ids["result"])


@pytest.mark.parametrize("query", [
    "_queryFilter=userName%20eq",                    # incomplete filter
    "_queryFilter=(userName%20eq%20%22a%22",          # unbalanced parenthesis
    "",                                               # no filter at all
    "_queryFilter=true&_pageSize=many",
    "_queryFilter=true&_pageSize=-1",
    "_queryFilter=true&_totalPagedResultsPolicy=SOME",
    "_queryFilter=true&_pagedResultsCookie=%%%garbage",
    "_queryFilter=true&_pagedResultsCookie=abc&_pagedResultsOffset=3",
    "_queryId=query-everything",
])
async def test_bad_query_parameters_are_400_naming_the_problem(people, query):
    client, _ = people
    response = await client.get(f"/openidm/managed/user?{query}")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400 and body["reason"] == "Bad Request" and body["message"]


async def test_pretty_print_indents(people):
    client, _ = people
    response = await client.get("/openidm/managed/user?_queryFilter=true&_fields=_id&_prettyPrint=true")
    assert response.text.startswith('{\n  "result"')


@pytest.mark.parametrize(("fields", "ok"), [
    ("userName,/mail", True), ("", True), (",userName,", True),
    ("user\x1dName", True),      # U+001D: white space to Python's \s, not to JSON Schema's (ECMA-262) \s
    ("user\u00a0Name", False),   # U+00A0: white space to both
    ("userName\n", False),       # Python's $ would match before the final newline; ECMA-262's does not
    ("a//b", False), ("us'er", False),
])
async def test_fields_are_checked_with_the_documents_pattern_as_json_schema_reads_it(people, fields, ok):
    client, _ = people
    for url in ("/openidm/managed/user", "/openidm/audit/recon"):
        response = await client.get(url, params={"_queryFilter": "true", "_fields": fields,
                                                 "_sortKeys": fields.replace("/mail", "-mail")})
        assert (response.status_code == 200) is ok, response.text


async def test_numbers_past_sqlites_integers_are_answered_not_a_500(people):
    client, _ = people
    huge = str(10**30)
    for url in ("/openidm/managed/user", "/openidm/audit/recon"):
        filtered = await client.get(url, params={"_queryFilter": f"userName lt {huge}"})
        offset = await client.get(url, params={"_queryFilter": "true", "_pageSize": "5",
                                               "_pagedResultsOffset": huge})
        assert filtered.status_code == 200 and offset.status_code == 200
        assert offset.json()["result"] == []
