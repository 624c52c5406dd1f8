"""IDM query filter grammar: parsing, errors with positions, round-trips, and values that stay values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.repo import FilterSyntaxError
from core.repo.queryfilter import (
    OPERATORS,
    And,
    Comparison,
    Literal,
    Not,
    Or,
    Presence,
    parse,
    render,
    to_sql,
)


def test_a_comparison_parses_with_or_without_the_leading_slash():
    assert parse('userName eq "bjensen"') == Comparison("eq", ("userName",), "bjensen")
    assert parse('/userName eq "bjensen"') == parse('userName eq "bjensen"')


def test_and_binds_tighter_than_or_and_parentheses_override():
    a, b, c = (Presence((n,)) for n in "abc")
    assert parse("a pr or b pr and c pr") == Or((a, And((b, c))))
    assert parse("(a pr or b pr) and c pr") == And((Or((a, b)), c))


def test_not_literals_nested_pointers_and_value_types():
    assert parse('!(/preferences/updates eq true)') == Not(Comparison("eq", ("preferences", "updates"), True))
    assert parse("true") == Literal(True) and parse("FALSE") == Literal(False)
    assert parse("/n ge -1.5e2").value == -150.0
    assert parse("/n lt 3").value == 3 and isinstance(parse("/n lt 3").value, int)
    assert parse("/s eq 'single'").value == "single"


def test_string_escapes_are_decoded():
    assert parse(r'/s eq "a\"b\\c\u00e9\n"').value == 'a"b\\cé\n'


def test_pointer_escapes_follow_rfc_6901():
    assert parse("/a~1b/c~0d pr") == Presence(("a/b", "c~d"))
    assert render(Presence(("a/b", "c~d"))) == "/a~1b/c~0d pr"


def test_a_field_name_the_grammar_cannot_spell_is_not_rendered():
    with pytest.raises(ValueError, match="cannot be written"):
        render(Presence(("has space",)))


@pytest.mark.parametrize(("text", "position", "reason"), [
    ('userName eq', 11, "expected a value"),
    ('userName xx "a"', 9, "unknown operator"),
    ('(userName pr', 12, "expected ')'"),
    ('userName eq "open', 12, "unterminated string"),
    ('userName pr junk', 12, "expected 'and', 'or'"),
    ('', 0, "empty filter"),
    ('userName pr and', 15, "expected a field"),
    ('userName eq "\\q"', 13, "unknown escape"),
])
def test_a_bad_filter_names_the_position(text, position, reason):
    with pytest.raises(FilterSyntaxError) as info:
        parse(text)
    assert info.value.position == position
    assert reason in str(info.value) and f"position {position}" in str(info.value)


# --------------------------------------------------------------------------------- properties

# field names the grammar can spell: no whitespace, parentheses or quotes (a pointer ends at those)
_names = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"),
                                        blacklist_characters="()\"'\x1c\x1d\x1e\x1f\x85"),
                 min_size=1, max_size=8)
_pointers = st.lists(_names, min_size=1, max_size=3).map(tuple)
_values = st.one_of(st.text(max_size=12), st.integers(-10**12, 10**12), st.booleans(),
                    st.floats(allow_nan=False, allow_infinity=False))
_leaves = st.one_of(
    st.builds(Literal, st.booleans()),
    st.builds(Presence, _pointers),
    st.builds(Comparison, st.sampled_from(OPERATORS), _pointers, _values),
)
_filters = st.recursive(_leaves, lambda inner: st.one_of(
    st.builds(Not, inner),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
), max_leaves=8)


def _same(a, b) -> bool:
    """AST equality that also tells True from 1 and 1 from 1.0 (Python's == does not)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Comparison):
        return a.op == b.op and a.pointer == b.pointer and type(a.value) is type(b.value) and a.value == b.value
    if isinstance(a, Not):
        return _same(a.operand, b.operand)
    if isinstance(a, And | Or):
        return len(a.operands) == len(b.operands) and all(map(_same, a.operands, b.operands))
    return a == b


@settings(max_examples=300, deadline=None)
@given(_filters)
def test_render_then_parse_gives_the_same_tree(filt):
    assert _same(parse(render(filt)), filt)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_text_either_parses_or_raises_filter_syntax_error(text):
    try:
        parse(text)
    except FilterSyntaxError as exc:
        assert 0 <= exc.position <= len(text)


_INJECTIONS = ["'; DROP TABLE managed_user; --", '" OR 1=1 --', "x') OR ('1'='1", "%", "_", "\\",
               "Robert'); DELETE FROM links;--"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(_INJECTIONS), st.text(max_size=30)), st.sampled_from(OPERATORS),
       _pointers.filter(lambda p: not any("\\" in part for part in p)))
def test_the_sql_text_never_depends_on_the_value(value, op, pointer):
    """Values (and field names) only ever reach SQL as parameters: the SQL text is the same for any value."""
    def sql_for(v: str) -> tuple[str, list]:
        return to_sql(parse(render(Comparison(op, pointer, v))), lambda p: "f_userName" if p == ("userName",) else None)

    sql, params = sql_for(value)
    assert sql == sql_for("plain")[0]
    like_escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    assert value in params or like_escaped in "".join(str(p) for p in params)


def test_an_injection_attempt_in_a_query_is_just_a_value(repo, new_user):
    for text in _INJECTIONS:
        repo.create(new_user(sn=text))
    for text in _INJECTIONS:
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        result = repo.query({"_queryFilter": f'sn eq "{escaped}"'})
        assert [u["sn"] for u in result["result"]] == [text]
    assert repo.count() == len(_INJECTIONS)
    for text in ("%", "_"):  # LIKE wildcards are literal characters in co/sw
        found = {u["sn"] for u in repo.query({"_queryFilter": f'sn co "{text}"'})["result"]}
        assert found == {t for t in _INJECTIONS if text in t}


def test_utf16_escape_pairs_decode_to_one_character_and_lone_halves_are_refused():
    assert parse('/s eq "\\ud83d\\ude00"').value == "😀"  # what json.dumps(ensure_ascii=True) writes
    with pytest.raises(FilterSyntaxError, match="unpaired surrogate"):
        parse('/s eq "\\ud83d"')


def test_a_raw_unpaired_surrogate_is_a_syntax_error_not_a_crash():
    with pytest.raises(FilterSyntaxError, match="position 7"):
        parse('/s eq "\ud800"')


def test_co_and_sw_match_strings_only_never_numbers_or_booleans(repo, new_user):
    """``co``/``sw`` are substring tests of strings (the ``typeof(...) = 'text'`` guard in ``to_sql``): a number
    or a boolean whose SQL text would contain the value (12345 contains "23"; true is stored as 1) never
    matches, while the same characters in a string do. Deterministic: the property test met this only by luck."""
    as_text = repo.create(new_user(sn="Text", employeeNumber="12345", flag="1"))
    repo.create(new_user(sn="Number", employeeNumber=12345, flag=1))
    repo.create(new_user(sn="Boolean", employeeNumber=1.23, flag=True, preferences={"updates": True}))

    def found(query: str) -> list[str]:
        return sorted(u["sn"] for u in repo.query({"_queryFilter": query})["result"])

    assert found('/employeeNumber co "23"') == ["Text"]
    assert found('/employeeNumber sw "123"') == ["Text"]
    assert found('/employeeNumber sw "1"') == ["Text"]
    assert found('/flag co "1"') == ["Text"]
    assert found('/flag sw "1"') == ["Text"]
    assert found('/preferences/updates co "1"') == []
    assert found('/preferences/updates sw "t"') == []
    # the guard is on the type, not the operator: eq still compares numbers and booleans
    assert found("/employeeNumber eq 12345") == ["Number"]
    assert found("/flag eq true") == ["Boolean"]
    assert as_text["employeeNumber"] == "12345"
