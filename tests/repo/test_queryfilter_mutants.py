"""Query filters: the edges mutation testing found untested (``scripts/mutation.py --module queryfilter``).

Error messages (reason, the text, the position, what was found), escapes at the end of a string, the
canonical text ``render`` writes, a field named ``true``, and the SQL answers for ``_id``, booleans on indexed
fields, ``sw`` against ``co``, backslashes in ``co`` and ``to_sql`` on its own (its defaults).
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from core.repo import FilterSyntaxError
from core.repo.queryfilter import (
    And,
    Comparison,
    Literal,
    Not,
    Or,
    Presence,
    parse,
    parse_pointer,
    render,
    to_sql,
)


def _error(text: str) -> FilterSyntaxError:
    with pytest.raises(FilterSyntaxError) as info:
        parse(text)
    assert info.value.text == text  # the error quotes the filter it is about
    return info.value


# --------------------------------------------------------------------------------------------- messages

@pytest.mark.parametrize(("text", "message"), [
    ("userName eq", "_queryFilter: expected a value after 'eq' (a \"string\", number, true or false), found the end "
                    "at position 11: 'userName eq'"),
    ("userName pr junk", "_queryFilter: expected 'and', 'or' or the end, found 'junk' at position 12: "
                         "'userName pr junk'"),
    ("userName", "_queryFilter: expected an operator after 'userName', found the end at position 8: 'userName'"),
    ("(a pr", "_queryFilter: expected ')', found the end at position 5: '(a pr'"),
    (") a pr", "_queryFilter: expected a field, '(' , '!', true or false, found ')' at position 0: ') a pr'"),
])
def test_a_syntax_error_says_what_it_found_there(text, message):
    assert str(_error(text)) == message


@pytest.mark.parametrize(("text", "reason", "position"), [
    ("", "empty filter", 0),
    ("a pr !b pr", "expected 'and', 'or' or the end, found '!'", 5),
    ('"abc" eq 1', "expected a field, '(' , '!', true or false, found '\"abc\"'", 0),
    ("or b pr", "expected a field before 'or'", 0),
    ("5 eq 1", "expected a field, '(' , '!', true or false, found '5'", 0),
    ("a pr and AND b pr", "expected a field before 'AND'", 9),
    ("a pr or Or b pr", "expected a field before 'Or'", 8),
    ("a eq bob", "expected a value after 'eq' (a \"string\", number, true or false), found 'bob'", 5),
    ("x pr and /a//b pr", "bad field pointer '/a//b'", 9),
    ('/s eq "\\q"', "unknown escape \\q in string", 7),
    ('/s eq "open', "unterminated string", 6),
])
def test_a_syntax_error_names_its_reason_and_position(text, reason, position):
    exc = _error(text)
    assert (exc.reason, exc.position) == (reason, position)


@pytest.mark.parametrize(("text", "position"), [
    ('/s eq "\\u12g4"', 7),   # four characters, one not hexadecimal
    ('/s eq "\\uXXXX"', 7),  # a placeholder never filled in
    ('/s eq "\\u12"', 7),     # too short: the closing quote is no digit
    ('/s eq "\\u', 7),        # the text ends inside the escape
])
def test_a_bad_unicode_escape_is_a_syntax_error_naming_the_escape(text, position):
    exc = _error(text)
    assert exc.reason == "bad \\u escape in string"
    assert exc.position == position


def test_unicode_escapes_take_upper_and_lower_case_hex_digits():
    assert parse('/s eq "\\u00C9\\u00e9\\u00Ff"').value == "Ééÿ"


@pytest.mark.parametrize(("escapes", "char"), [
    ("\\ud800\\udc00", "\U00010000"),  # the first pair and the last
    ("\\udbff\\udfff", "\U0010ffff"),
    ("\\ud83d\\ude00", "\U0001f600"),
    ("\\ud7ff", "\ud7ff"),  # just below the surrogates, and just above
    ("\\ue000", "\ue000"),
])
def test_utf16_pairs_decode_to_one_character_at_both_ends_of_the_range(escapes, char):
    assert parse(f'/s eq "{escapes}x"').value == char + "x"


@pytest.mark.parametrize("escapes", ["\\ud800", "\\udbff\\u0041", "\\udc00", "\\udfff", "\\ud800\\ud800",
                                     "\\udc00\\udc00", "\\ud800\\ue000"])
def test_a_surrogate_without_its_pair_is_refused_where_it_stands(escapes):
    exc = _error(f'/s eq "{escapes}"')
    assert (exc.reason, exc.position) == ("unpaired surrogate in \\u escape", 7)


@pytest.mark.parametrize(("raw", "value"), [
    ("1E3", 1000.0), ("1e3", 1000.0), ("2.5", 2.5), ("-7", -7),
    ("-9223372036854775808", -2**63),  # SQLite's integer range stays int
    ("9223372036854775807", 2**63 - 1),
    ("-9223372036854775809", float(-2**63 - 1)),  # beyond it, a float (as JSON's numbers are)
    ("9223372036854775808", float(2**63)),
])
def test_numbers_keep_their_type_within_sqlites_integer_range(raw, value):
    parsed = parse(f"/n eq {raw}").value
    assert parsed == value and type(parsed) is type(value)


def test_field_names_may_start_with_any_letter():
    assert parse("XMLName eq 1") == Comparison("eq", ("XMLName",), 1)
    assert parse("/X pr and /x pr") == And((Presence(("X",)), Presence(("x",))))


@pytest.mark.parametrize("text", ['/s eq "abc\\', '/s eq "\\'])
def test_a_backslash_ending_the_text_is_an_unterminated_string(text):
    exc = _error(text)
    assert exc.reason == "unterminated string"
    assert exc.position == 6  # where the string opens


def test_an_unknown_escape_as_the_last_character_is_named():
    exc = _error('/s eq "\\q')
    assert exc.reason == "unknown escape \\q in string" and exc.position == 7


@pytest.mark.parametrize("raw", ["/", "", "a//b", "/a/", "//a"])
def test_a_pointer_with_an_empty_step_is_refused_on_its_own(raw):
    """``parse_pointer`` alone (``_fields``, ``_sortKeys``, patch paths): the pointer is the text, at 0."""
    with pytest.raises(FilterSyntaxError) as info:
        parse_pointer(raw)
    assert (info.value.reason, info.value.text, info.value.position) == (f"bad field pointer {raw!r}", raw, 0)


# ------------------------------------------------------------------------------------ a field named true

@pytest.mark.parametrize(("text", "tree"), [
    ("true eq 1", Comparison("eq", ("true",), 1)),
    ("TRUE EQ 1", Comparison("eq", ("TRUE",), 1)),
    ("true pr", Presence(("true",))),
    ("false PR", Presence(("false",))),
    ("true and false", And((Literal(True), Literal(False)))),
    ("(true)", Literal(True)),
])
def test_true_followed_by_an_operator_is_a_field_otherwise_the_literal(text, tree):
    assert parse(text) == tree


# ------------------------------------------------------------------------------------ canonical text

@pytest.mark.parametrize(("tree", "text"), [
    (Literal(True), "true"),
    (Literal(False), "false"),
    (Comparison("eq", ("active",), True), "/active eq true"),
    (Not(Comparison("eq", ("active",), False)), "!(/active eq false)"),
    (Comparison("eq", ("sn",), "Zoë Ångström"), '/sn eq "Zoë Ångström"'),  # readable, not \u escapes
    (And((Presence(("a",)), Presence(("b",)))), "/a pr and /b pr"),
    (Or((Presence(("a",)), And((Presence(("b",)), Presence(("c",)))))), "/a pr or (/b pr and /c pr)"),
    (And((Or((Presence(("a",)), Presence(("b",)))), Presence(("c",)))), "(/a pr or /b pr) and /c pr"),
])
def test_render_writes_the_canonical_text(tree, text):
    """Lower-case keywords, literal non-ASCII characters, parentheses only around a nested and/or: the text
    written into audit entries, messages and ``filters`` skeletons."""
    assert render(tree) == text
    assert parse(text) == tree


# --------------------------------------------------------------------------------------------- SQL

def test_id_and_rev_are_queried_through_their_columns(repo, new_user):
    user = repo.create(new_user())
    repo.create(new_user())

    def ids(query: str) -> list[str]:
        return [u["_id"] for u in repo.query({"_queryFilter": query})["result"]]

    assert ids(f'_id eq "{user["_id"]}"') == [user["_id"]]
    assert ids(f'_rev eq "{user["_rev"]}" and _id eq "{user["_id"]}"') == [user["_id"]]
    assert ids("_id eq true") == [] and ids("_rev eq false") == []  # an id is text, never a boolean
    assert len(ids("!(_id eq true)")) == 2


def test_a_boolean_in_an_indexed_field_is_found_by_eq_true(bare_repo):
    """``userName`` has a column of its own (a searchable field); a boolean stored there is still a boolean."""
    flagged = bare_repo.create({"userName": True, "sn": "flagged"})
    bare_repo.create({"userName": "true", "sn": "text"})
    found = bare_repo.query({"_queryFilter": "userName eq true"})["result"]
    assert [u["_id"] for u in found] == [flagged["_id"]]


def test_ordering_operators_never_match_a_boolean(repo, new_user):
    repo.create(new_user(sn="On", flag=True))
    repo.create(new_user(sn="Off", flag=False))
    for op in ("lt", "le", "gt", "ge", "co", "sw"):
        assert repo.query({"_queryFilter": f"/flag {op} true"})["result"] == []
        assert {u["sn"] for u in repo.query({"_queryFilter": f"!(/flag {op} false)"})["result"]} == {"On", "Off"}


def test_sw_matches_at_the_start_only_and_co_anywhere(repo, new_user):
    repo.create(new_user(sn="Anderson"))
    repo.create(new_user(sn="Sanders"))

    def found(query: str) -> list[str]:
        return sorted(u["sn"] for u in repo.query({"_queryFilter": query})["result"])

    assert found('/sn sw "and"') == ["Anderson"]
    assert found('/sn co "and"') == ["Anderson", "Sanders"]


def test_a_backslash_in_co_is_a_literal_character(repo, new_user):
    repo.create(new_user(sn="back\\slash"))
    repo.create(new_user(sn="per%cent"))
    repo.create(new_user(sn="plain"))
    found = [u["sn"] for u in repo.query({"_queryFilter": 'sn co "\\\\"'})["result"]]
    assert found == ["back\\slash"]
    found = [u["sn"] for u in repo.query({"_queryFilter": 'sn sw "back\\\\s"'})["result"]]
    assert found == ["back\\slash"]


def test_a_field_name_sqlite_cannot_address_is_a_syntax_error_naming_it(repo):
    with pytest.raises(FilterSyntaxError) as info:
        repo.query({"_queryFilter": 'a\\b eq 1'})
    exc = info.value
    assert (exc.reason, exc.text, exc.position) == ("field name 'a\\\\b' cannot be queried", "/a\\b", 0)


def test_to_sql_alone_queries_a_data_column_of_json():
    """Without a resolver every field is read from the ``data`` column's JSON."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id TEXT, data TEXT)")
    rows = {"a": {"sn": "Jensen", "n": 3}, "b": {"sn": "Smith", "n": 7}, "c": {"n": 3}}
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(k, json.dumps(v)) for k, v in rows.items()])

    def ids(text: str) -> list[str]:
        where, params = to_sql(parse(text))
        return sorted(r[0] for r in conn.execute(f"SELECT id FROM t WHERE {where}", params))  # noqa: S608

    assert ids('sn eq "jensen"') == ["a"]
    assert ids("n eq 3") == ["a", "c"]
    assert ids("n gt 3 or sn pr") == ["a", "b"]
    where, _ = to_sql(parse("n eq 3"), data_column="doc")
    assert "json_extract(doc," in where
