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


def test_false_and_dates_are_literals_too() -> None:
    """``false`` is lowercase like ``true``; a date is ``YYYY-MM-DD``."""
    from datetime import date

    assert soql.quote(False) == "false"
    assert soql.quote(date(2026, 5, 1)) == "2026-05-01"


def test_datetimes_are_sent_in_utc_with_milliseconds() -> None:
    """A naive datetime is taken as UTC, an aware one is converted to UTC, and sub-second parts are
    kept to the millisecond."""
    from datetime import timedelta, timezone

    assert soql.datetime_literal(datetime(2026, 5, 1, 12, 0)) == "2026-05-01T12:00:00Z"
    paris = timezone(timedelta(hours=2))
    assert soql.datetime_literal(datetime(2026, 5, 1, 14, 30, 5, tzinfo=paris)) == "2026-05-01T12:30:05Z"
    assert soql.datetime_literal(datetime(2026, 5, 1, 12, 0, 1, 987654, tzinfo=UTC)) == \
        "2026-05-01T12:00:01.987Z"
    assert soql.datetime_literal(datetime(2026, 5, 1, 12, 0, 1, 5000, tzinfo=UTC)) == \
        "2026-05-01T12:00:01.005Z"


def test_in_lists_every_value_quoted() -> None:
    """``Field IN ('a','b')``: each value escaped, separated by commas."""
    assert soql.in_("Id", ["005A", "O'B", 3]) == r"Id IN ('005A','O\'B',3)"
    assert soql.quote_list([]) == "()"


def test_order_by_takes_several_keys() -> None:
    """Several ORDER BY keys, each with its own direction, are kept in order."""
    assert soql.select("User", ["Id"], order_by="SystemModstamp asc,Id") == \
        "SELECT Id FROM User ORDER BY SystemModstamp ASC, Id"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"fields": []}, r"^a query needs at least one field$"),
    ({"fields": ["Id"], "order_by": "Name,"}, r"^not an ORDER BY clause: 'Name,'$"),
    ({"fields": ["Id"], "order_by": "Name SIDEWAYS"}, r"^not an ORDER BY clause: 'Name SIDEWAYS'$"),
])
def test_a_refused_query_says_why(kwargs, message) -> None:
    """No field, an empty ORDER BY key or an unknown direction: the error says what is wrong."""
    with pytest.raises(ValueError, match=message):
        soql.select("User", **kwargs)


def test_datetimes_do_not_depend_on_the_machine_zone(monkeypatch) -> None:
    """A naive datetime means UTC and an aware one is sent in UTC, whatever zone the machine runs in."""
    import time
    from datetime import timedelta, timezone

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        naive = soql.datetime_literal(datetime(2026, 5, 1, 12, 0))
        aware = soql.datetime_literal(datetime(2026, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert naive == aware == "2026-05-01T12:00:00Z"
