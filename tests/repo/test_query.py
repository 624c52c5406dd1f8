"""CREST queries over managed users: IDM's result shape, fields, sorting, keyset paging, totals."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.repo import FilterSyntaxError, QueryRequest, ValidationError
from core.repo.queryfilter import OPERATORS, And, Comparison, Literal, Not, Or, Presence, render

pytestmark = pytest.mark.backends("sqlite", "postgresql")

SHAPE = ["result", "resultCount", "pagedResultsCookie", "totalPagedResultsPolicy", "totalPagedResults",
         "remainingPagedResults"]


def names(result) -> list[str]:
    return [u["userName"] for u in result["result"]]


def test_fields_id_gives_the_seeds_shape(repo, new_user):
    created = [repo.create(new_user()) for _ in range(3)]
    result = repo.query({"_queryFilter": "true", "_fields": "_id"})
    assert list(result) == SHAPE
    assert sorted(result["result"], key=lambda u: u["_id"]) == \
        sorted(({"_id": u["_id"], "_rev": u["_rev"]} for u in created), key=lambda u: u["_id"])
    assert (result["resultCount"], result["pagedResultsCookie"], result["totalPagedResultsPolicy"],
            result["totalPagedResults"], result["remainingPagedResults"]) == (3, None, "NONE", -1, -1)


def test_query_all_ids_answers_ids_and_revisions(repo, new_user):
    user = repo.create(new_user())
    assert repo.query({"_queryId": "query-all-ids"})["result"] == [{"_id": user["_id"], "_rev": user["_rev"]}]
    with pytest.raises(ValidationError, match="_queryId"):
        repo.query({"_queryId": "query-by-name"})


def test_fields_always_include_id_and_rev_and_nest_pointers(repo, new_user):
    repo.create(new_user(userName="a", preferences={"updates": True, "marketing": False}))
    [user] = repo.query({"_fields": "mail,/preferences/updates,absent"})["result"]
    assert set(user) == {"_id", "_rev", "mail", "preferences"} and user["preferences"] == {"updates": True}


def test_filters_over_indexed_and_unindexed_fields(repo, new_user):
    repo.create(new_user(userName="ann", sn="Smith", city="Paris", age=30, preferences={"updates": True}))
    repo.create(new_user(userName="bob", sn="Smythe", city="Lyon", age=40, preferences={"updates": False}))
    repo.create(new_user(userName="cy", sn="Jones", age=50))

    def q(text):
        return sorted(names(repo.query({"_queryFilter": text})))

    assert q('sn sw "sm"') == ["ann", "bob"]  # ASCII case-insensitive, as IDM's DS repository
    assert q('/city eq "PARIS"') == ["ann"]
    assert q('/age ge 40') == ["bob", "cy"]
    assert q('/age gt 30 and /age lt 50') == ["bob"]
    assert q('/city pr') == ["ann", "bob"]
    assert q('!(/city pr)') == ["cy"]
    assert q('/preferences/updates eq true') == ["ann"]
    assert q('/preferences/updates eq false or sn co "ONE"') == ["bob", "cy"]
    assert q('!(/city eq "Paris")') == ["bob", "cy"]  # a missing field is "not equal"
    assert q("false") == []


def test_an_accented_field_name_and_value_are_found(repo, new_user):
    repo.create(new_user(userName="z", prénom="Zoé"))
    assert names(repo.query({"_queryFilter": '/prénom eq "Zoé"'})) == ["z"]


def test_sort_keys_ascending_descending_and_nulls(repo, new_user):
    for name, city in [("a", "Lyon"), ("b", None), ("c", "avignon"), ("d", "Paris")]:
        repo.create(new_user(userName=name, **({"city": city} if city else {})))
    assert names(repo.query({"_sortKeys": "city"})) == ["b", "c", "a", "d"]  # NULL first, then NOCASE
    assert names(repo.query({"_sortKeys": "-city"})) == ["d", "a", "c", "b"]
    assert names(repo.query({"_sortKeys": "-userName"})) == ["d", "c", "b", "a"]


def test_cookie_pages_through_everything_once_even_with_inserts_between_pages(repo, new_user):
    for i in range(25):
        repo.create(new_user(userName=f"u{i:02d}", sn=f"S{i % 4}"))
    seen: list[str] = []
    request = {"_pageSize": "10", "_sortKeys": "sn,-userName"}
    page = repo.query(request)
    while True:
        seen.extend(names(page))
        repo.create(new_user(userName=f"a-new-{len(seen)}", sn="S0"))  # sorts before the current page
        if page["pagedResultsCookie"] is None:
            break
        page = repo.query({**request, "_pagedResultsCookie": page["pagedResultsCookie"]})
    assert sorted(seen) == sorted(f"u{i:02d}" for i in range(25))
    assert len(seen) == 25


def test_the_last_full_page_has_no_cookie(repo, new_user):
    for _ in range(4):
        repo.create(new_user())
    first = repo.query({"_pageSize": "2"})
    second = repo.query({"_pageSize": "2", "_pagedResultsCookie": first["pagedResultsCookie"]})
    assert first["pagedResultsCookie"] and second["pagedResultsCookie"] is None
    assert second["resultCount"] == 2


def test_offset_paging_and_exact_totals(repo, new_user):
    for i in range(7):
        repo.create(new_user(userName=f"u{i}"))
    page = repo.query({"_pageSize": "3", "_pagedResultsOffset": "3", "_sortKeys": "userName",
                       "_totalPagedResultsPolicy": "EXACT", "_queryFilter": 'userName sw "u"'})
    assert names(page) == ["u3", "u4", "u5"]
    assert (page["totalPagedResultsPolicy"], page["totalPagedResults"]) == ("EXACT", 7)


@pytest.mark.parametrize(("params", "field"), [
    ({"_pageSize": "ten"}, "_pageSize"),
    ({"_pageSize": "-1"}, "_pageSize"),
    ({"_pagedResultsCookie": "garbage"}, "_pagedResultsCookie"),
    ({"_pagedResultsCookie": "x", "_pagedResultsOffset": "2"}, "_pagedResultsOffset"),
    ({"_totalPagedResultsPolicy": "SOME"}, "_totalPagedResultsPolicy"),
    ({"_sortKeys": "+"}, "_sortKeys"),
])
def test_bad_query_parameters_name_the_parameter(repo, params, field):
    with pytest.raises(ValidationError, match=field):
        repo.query(params)


def test_a_cookie_from_another_sort_order_is_refused(repo, new_user):
    for _ in range(3):
        repo.create(new_user())
    cookie = repo.query({"_pageSize": "1", "_sortKeys": "sn"})["pagedResultsCookie"]
    with pytest.raises(ValidationError, match="_pagedResultsCookie"):
        repo.query({"_pageSize": "1", "_sortKeys": "mail", "_pagedResultsCookie": cookie})


def test_a_bad_filter_is_a_filter_syntax_error(repo):
    with pytest.raises(FilterSyntaxError, match="position 9"):
        repo.query(QueryRequest(query_filter='userName zz "x"'))


def test_audit_entries_are_queried_with_the_same_filters(repo):
    repo.audit.add_many([
        {"reconId": "r1", "situation": "ABSENT", "action": "CREATE", "status": "SUCCESS", "entryType": "entry",
         "sourceObjectId": "system/salesforce/User/005A"},
        {"reconId": "r1", "situation": "CONFIRMED", "action": "UPDATE", "status": "FAILURE",
         "exception": "boom", "entryType": "entry"},
        {"reconId": "r2", "situation": "ABSENT", "action": "CREATE", "status": "SUCCESS", "entryType": "entry"},
    ])
    result = repo.audit.query('/reconId eq "r1" and situation eq "ABSENT"')
    assert [(e["reconId"], e["sourceObjectId"]) for e in result["result"]] == [("r1", "system/salesforce/User/005A")]
    assert set(result["result"][0]) >= {"_id", "timestamp", "eventName", "situation", "action", "status"}
    assert "_rev" not in result["result"][0]
    assert repo.audit.query('status eq "FAILURE"')["result"][0]["exception"] == "boom"
    assert repo.audit.count("r1") == 2 and repo.audit.count("r1", "ABSENT") == 1


def test_audit_refuses_an_entry_without_recon_id_or_with_a_bad_status(repo):
    with pytest.raises(ValidationError, match=r"entries\[0\].reconId"):
        repo.audit.add_many([{"situation": "ABSENT"}])
    with pytest.raises(ValidationError, match="SUCCESS or FAILURE"):
        repo.audit.add_many([{"reconId": "r", "status": "OK"}])
    with pytest.raises(ValidationError, match="source or target"):
        repo.audit.add_many([{"reconId": "r", "reconciling": "both"}])
    assert repo.audit.count("r") == 0


# ------------------------------------------------------------------------- against a reference model

_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_STR = st.text(alphabet="aAbBzZé_%", max_size=3)
_FIELDS = {"sn": _STR, "city": _STR, "age": st.integers(-3, 3), "flag": st.booleans()}
_rows = st.lists(st.fixed_dictionaries({}, optional=_FIELDS), min_size=0, max_size=12)


def _leaf():
    strings = st.builds(Comparison, st.sampled_from(OPERATORS), st.sampled_from([("sn",), ("city",)]), _STR)
    numbers = st.builds(Comparison, st.sampled_from(OPERATORS), st.just(("age",)), st.integers(-3, 3))
    booleans = st.builds(Comparison, st.just("eq"), st.just(("flag",)), st.booleans())
    presence = st.builds(Presence, st.sampled_from([("sn",), ("city",), ("age",), ("flag",)]))
    return st.one_of(strings, numbers, booleans, presence, st.builds(Literal, st.booleans()))


_filters = st.recursive(_leaf(), lambda inner: st.one_of(
    st.builds(Not, inner),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs)))), max_leaves=6)


def _matches(f, row) -> bool:
    """IDM's meaning: a comparison on a missing field is false; strings compare ASCII case-insensitively."""
    if isinstance(f, Literal):
        return f.value
    if isinstance(f, Presence):
        return row.get(f.pointer[0]) is not None
    if isinstance(f, Not):
        return not _matches(f.operand, row)
    if isinstance(f, And):
        return all(_matches(o, row) for o in f.operands)
    if isinstance(f, Or):
        return any(_matches(o, row) for o in f.operands)
    v = row.get(f.pointer[0])
    if v is None:
        return False
    if isinstance(f.value, bool):
        return v is f.value
    a, b = (v.translate(_FOLD), f.value.translate(_FOLD)) if isinstance(v, str) else (v, f.value)
    return {"eq": a == b, "co": isinstance(a, str) and b in a, "sw": isinstance(a, str) and a.startswith(b),
            "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[f.op]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows, filt=_filters)
def test_sql_answers_what_the_reference_model_answers(bare_repo, rows, filt):
    repo = bare_repo
    with repo.transaction():
        repo.delete_many(list(repo.iter_ids()))
        ids = [repo.create(row, id=f"id{i:02d}")
               ["_id"] for i, row in enumerate(rows)]
    by_id = dict(zip(ids, rows, strict=True))
    got = {u["_id"] for u in repo.query({"_queryFilter": render(filt), "_fields": "_id"})["result"]}
    assert got == {i for i, row in by_id.items() if _matches(filt, row)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows, keys=st.lists(st.sampled_from(["sn", "-sn", "city", "-city", "age", "-age"]), min_size=1,
                                 max_size=2, unique_by=lambda k: k.lstrip("-")),
       page=st.integers(1, 5))
def test_paging_with_any_sort_order_returns_every_row_once_in_order(bare_repo, rows, keys, page):
    repo = bare_repo
    with repo.transaction():
        repo.delete_many(list(repo.iter_ids()))
        for i, row in enumerate(rows):
            repo.create(row, id=f"id{i:02d}")
    whole = [u["_id"] for u in repo.query({"_sortKeys": ",".join(keys)})["result"]]
    paged, cookie = [], None
    while True:
        params = {"_sortKeys": ",".join(keys), "_pageSize": str(page)}
        if cookie:
            params["_pagedResultsCookie"] = cookie
        result = repo.query(params)
        paged.extend(u["_id"] for u in result["result"])
        cookie = result["pagedResultsCookie"]
        if cookie is None:
            break
    assert paged == whole and sorted(whole) == sorted(f"id{i:02d}" for i in range(len(rows)))


def test_a_sort_key_sqlite_cannot_address_is_a_bad_parameter(repo):
    with pytest.raises(ValidationError, match="_sortKeys"):
        repo.query({"_sortKeys": 'a"b'})


def test_star_fields_give_the_whole_object(repo, new_user):
    user = repo.create(new_user(city="Oslo"))
    assert repo.query({"_fields": "*"})["result"] == [user]
