"""SOQL values are always escaped; names are always checked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.salesforce import soql


def test_quote_escapes_quotes_backslashes_and_control_characters() -> None:
    assert soql.quote("O'Brien") == r"'O\'Brien'"
    assert soql.quote("a\\' OR Id != null --") == r"'a\\\' OR Id != null --'"
    assert soql.quote('x"\n\t') == r"'x\"\n\t'"
    assert soql.quote("Zoë 山田") == "'Zoë 山田'"


def test_quote_renders_other_types_as_literals() -> None:
    assert soql.quote(None) == "null" and soql.quote(True) == "true" and soql.quote(3) == "3"
    assert soql.quote(datetime(2026, 5, 1, 12, 0, tzinfo=UTC)) == "2026-05-01T12:00:00Z"


def test_select_builds_checked_queries() -> None:
    where = soql.eq("Username", "a'b@x.com")
    assert soql.select("User", ["Id", "Email", "Id"], where, "LastName desc nulls last", 10) == \
        r"SELECT Id,Email FROM User WHERE Username = 'a\'b@x.com' ORDER BY LastName DESC NULLS LAST LIMIT 10"


@pytest.mark.parametrize("bad", ["Id, (SELECT Id FROM Users)", "Id FROM Account --", "", "1abc", "a b"])
def test_bad_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        soql.select("User", [bad])


def test_bad_order_by_is_refused() -> None:
    with pytest.raises(ValueError):
        soql.select("User", ["Id"], order_by="Name; DELETE")


@pytest.mark.parametrize("bad", ["Name;DELETE", "Name,1abc", "(SELECT", "Id)--", "1abc", "Name' DESC",
                                 "Name,(SELECT Id FROM Users) DESC"])
def test_an_unsafe_order_by_field_is_refused_even_with_a_valid_direction(bad: str) -> None:
    """The ORDER BY field itself is checked as a name: text that is not one never reaches the query, whether
    or not a valid ``ASC|DESC NULLS …`` follows it."""
    with pytest.raises(ValueError, match="not a Salesforce field or object name"):
        soql.select("User", ["Id"], order_by=bad)
