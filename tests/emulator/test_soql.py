"""The SOQL parser and evaluator: valid statements give Salesforce's answers, malformed ones its errors."""

from __future__ import annotations

from datetime import UTC

import pytest

from core.emulator import Org
from core.emulator.errors import DataApiError
from core.emulator.query import QueryEngine
from core.emulator.soql import BoolOp, Compare, Not, SoqlError, parse


@pytest.fixture(scope="module")
def engine() -> QueryEngine:
    org = Org.generate(users=300, seed=7)
    uid = list(org.users)[10]
    org.update_user(uid, {"LastName": "O'Brien", "FirstName": "Seán", "Title": "100% Sales_Lead"})
    return QueryEngine(org)


def run(engine: QueryEngine, soql: str) -> dict:
    return engine.run(soql, "62.0", 2000)


def users(engine: QueryEngine) -> list[dict]:
    return list(engine.org.iter_users())


def test_parser_builds_nested_conditions():
    q = parse("select Id from User where (IsActive = true or Title = null) and not LastName like 'A%' "
              "order by LastName desc nulls first, Id limit 10 offset 5")
    assert q.sobject == "User" and [p.text for p in q.fields] == ["Id"]
    assert isinstance(q.where, BoolOp) and q.where.op == "and"
    assert isinstance(q.where.items[0], BoolOp) and q.where.items[0].op == "or"
    assert isinstance(q.where.items[1], Not) and isinstance(q.where.items[1].item, Compare)
    assert q.order[0].descending and not q.order[0].nulls_last and not q.order[1].descending
    assert (q.limit, q.offset) == (10, 5)


@pytest.mark.parametrize("soql, code, fragment", [
    ("SELECT FROM User", "MALFORMED_QUERY", "unexpected token: 'FROM'"),
    ("SELECT Id FROM User WHERE", "MALFORMED_QUERY", "unexpected token: <EOF>"),
    ("SELECT Id FROM User WHERE IsActive = true AND Title = 'x' OR Alias = 'y'", "MALFORMED_QUERY",
     "unexpected token: 'OR'"),
    ("SELECT Id FROM User WHERE LastName = 'unterminated", "MALFORMED_QUERY", "no viable alternative"),
    ("SELECT Id FROM User WHERE LastName = 'bad \\q escape'", "MALFORMED_QUERY", "Illegal character sequence"),
    ("SELECT Id FROM User LIMIT ten", "MALFORMED_QUERY", "unexpected token: 'ten'"),
    ("SELECT Id FROM User GROUP BY Id", "MALFORMED_QUERY", "unexpected token: 'GROUP'"),
    ("SELECT Id, Nope FROM User", "INVALID_FIELD", "No such column 'Nope' on entity 'User'"),
    ("SELECT Id FROM Account", "INVALID_TYPE", "sObject type 'Account' is not supported"),
    ("SELECT Id FROM User WHERE IsActive = 'true'", "INVALID_FIELD", "must be of type boolean"),
    ("SELECT Id FROM User WHERE CreatedDate > '2020-01-01'", "INVALID_FIELD", "must be of type dateTime"),
    ("SELECT Id FROM User WHERE CreatedDate > 2020-01-01", "INVALID_FIELD", "must be of type dateTime"),
    ("SELECT Id FROM User WHERE Id = 'not-an-id'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field"),
    ("SELECT Id FROM User WHERE AboutMe = 'x'", "INVALID_FIELD", "can not be filtered"),
    ("SELECT Id FROM User ORDER BY AboutMe", "INVALID_FIELD", "can not be sorted"),
    ("SELECT Id FROM User OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000"),
    ("SELECT Id, Owner.Name FROM User", "INVALID_FIELD", "Didn't understand relationship 'Owner'"),
    ("SELECT Id, Id FROM User", "DUPLICATE_FIELD", "duplicate field selected: Id"),
])
def test_malformed_queries_get_salesforce_errors(engine, soql, code, fragment):
    with pytest.raises(DataApiError) as err:
        run(engine, soql)
    assert err.value.status == 400 and err.value.code == code
    assert fragment in err.value.message
    assert "ERROR at Row:1:Column:" in err.value.message


def test_error_message_points_at_the_offending_column():
    with pytest.raises(SoqlError) as err:
        parse("SELECT Id FROM User WHERE Title == 'x'")
    assert err.value.render("SELECT Id FROM User WHERE Title == 'x'").splitlines()[1:4] == [
        "SELECT Id FROM User WHERE Title == 'x'", " " * 33 + "^", "ERROR at Row:1:Column:34"]


def test_equality_on_text_is_case_insensitive_and_escapes_apostrophes(engine):
    r = run(engine, "SELECT Id, LastName FROM User WHERE LastName = 'o\\'brien' AND FirstName = 'SEÁN'")
    assert r["totalSize"] >= 1 and all(rec["LastName"] == "O'Brien" for rec in r["records"])


def test_like_wildcards_and_escaped_percent(engine):
    expected = {u["Id"] for u in users(engine) if (u["LastName"] or "").lower().startswith("o'")}
    got = {rec["Id"] for rec in run(engine, "SELECT Id FROM User WHERE LastName LIKE 'O\\'%'")["records"]}
    assert got == expected and got
    r = run(engine, "SELECT Title FROM User WHERE Title LIKE '100\\% Sales\\_%'")
    assert [rec["Title"] for rec in r["records"]] == ["100% Sales_Lead"]
    assert run(engine, "SELECT Id FROM User WHERE Title LIKE '100\\% Sales\\_Leax'")["totalSize"] == 0
    assert run(engine, "SELECT Id FROM User WHERE Title LIKE '100_ Sales%'")["totalSize"] == 1


def test_in_not_in_null_and_boolean(engine):
    all_users = users(engine)
    r = run(engine, "SELECT Id FROM User WHERE Department IN ('Sales', 'legal')")
    assert r["totalSize"] == sum(1 for u in all_users if u["Department"] in ("Sales", "Legal"))
    r = run(engine, "SELECT Id FROM User WHERE Department NOT IN ('Sales')")
    assert r["totalSize"] == sum(1 for u in all_users if u["Department"] != "Sales")
    r = run(engine, "SELECT Id FROM User WHERE FirstName = null")
    assert r["totalSize"] == sum(1 for u in all_users if u["FirstName"] is None) == 3
    r = run(engine, "SELECT Id FROM User WHERE IsActive = false")
    assert r["totalSize"] == sum(1 for u in all_users if not u["IsActive"]) > 0
    r = run(engine, "SELECT Id FROM User WHERE NOT (IsActive = true)")
    assert r["totalSize"] == sum(1 for u in all_users if not u["IsActive"])


def test_datetime_literals_compare_instants(engine):
    all_users = users(engine)
    cut = sorted(u["SystemModstamp"] for u in all_users)[100]
    literal = cut[:19] + "Z"
    r = run(engine, f"SELECT Id FROM User WHERE SystemModstamp > {literal}")
    assert r["totalSize"] == sum(1 for u in all_users if u["SystemModstamp"] > cut)
    from datetime import datetime, timedelta, timezone
    moment = datetime.strptime(cut[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    shifted = moment.astimezone(timezone(timedelta(hours=2))).strftime("%Y-%m-%dT%H:%M:%S+02:00")
    r2 = run(engine, f"SELECT Id FROM User WHERE SystemModstamp > {shifted}")
    assert r2["totalSize"] == r["totalSize"]


def test_date_constants(engine):
    r = run(engine, "SELECT Id FROM User WHERE LastModifiedDate = LAST_N_DAYS:3650")
    assert r["totalSize"] == len(engine.org.users)
    assert run(engine, "SELECT Id FROM User WHERE CreatedDate > TODAY")["totalSize"] == 0


def test_order_by_limit_offset(engine):
    all_users = users(engine)
    names = sorted((u["LastName"].lower(), u["Id"]) for u in all_users)
    r = run(engine, "SELECT Id, LastName FROM User ORDER BY LastName ASC, Id LIMIT 5 OFFSET 3")
    assert [rec["Id"] for rec in r["records"]] == [i for _, i in names[3:8]]
    r = run(engine, "SELECT Id, FirstName FROM User ORDER BY FirstName DESC NULLS FIRST LIMIT 3")
    assert [rec["FirstName"] for rec in r["records"]] == [None, None, None]
    r = run(engine, "SELECT Id, FirstName FROM User ORDER BY FirstName LIMIT 3")
    assert [rec["FirstName"] for rec in r["records"]] == [None, None, None]
    r = run(engine, "SELECT Id, FirstName FROM User ORDER BY FirstName NULLS LAST")
    assert r["records"][-1]["FirstName"] is None and r["records"][0]["FirstName"] is not None


def test_id_literals_accept_15_characters(engine):
    uid = list(engine.org.users)[20]
    r = run(engine, f"SELECT Id FROM User WHERE Id = '{uid[:15]}'")
    assert [rec["Id"] for rec in r["records"]] == [uid]
    r = run(engine, f"SELECT Id FROM User WHERE Id IN ('{uid}', '{list(engine.org.users)[21]}')")
    assert r["totalSize"] == 2


def test_relationship_fields_nest_like_salesforce(engine):
    r = run(engine, "SELECT Id, Profile.Name, User.Username FROM User WHERE Username LIKE 'admin@%'")
    rec = r["records"][0]
    assert rec["Profile"]["Name"] == "System Administrator"
    assert rec["Profile"]["attributes"]["type"] == "Profile" and rec["Username"].startswith("admin@")
    r = run(engine, "SELECT Id FROM User WHERE Profile.Name = 'Chatter Free User'")
    profile_id = engine.org.profile_id("Chatter Free User")
    assert r["totalSize"] == sum(1 for u in users(engine) if u["ProfileId"] == profile_id) > 0


def test_profiles_are_queryable_and_count_works(engine):
    r = run(engine, "SELECT Id, Name, UserType FROM Profile ORDER BY Name")
    assert "System Administrator" in [rec["Name"] for rec in r["records"]]
    assert all(rec["Id"].startswith("00e") for rec in r["records"])
    r = run(engine, "SELECT COUNT() FROM User WHERE IsActive = true")
    assert r["records"] == [] and r["totalSize"] == sum(1 for u in users(engine) if u["IsActive"])
    r = run(engine, "SELECT COUNT(Id) total FROM User")
    assert r["records"] == [{"attributes": {"type": "AggregateResult"}, "total": len(engine.org.users)}]


def test_fields_standard_selects_every_field(engine):
    r = run(engine, "SELECT FIELDS(STANDARD) FROM User LIMIT 1")
    assert {"Id", "Username", "SystemModstamp", "IsActive"} <= set(r["records"][0])
