"""Filters built from values (``core.repo.search``) parse, and user text cannot break out of a literal."""

from __future__ import annotations

from core.repo import equals_filter, filter_error, looks_like_filter, words_filter
from core.repo.queryfilter import parse


def test_words_become_a_prefix_search_over_the_fields():
    assert words_filter("", ("a", "b")) == "true"
    assert words_filter("ada lo", ("a", "b")) == '(a sw "ada" or b sw "ada") and (a sw "lo" or b sw "lo")'


def test_quotes_and_backslashes_stay_inside_the_literal():
    text = 'x" or true or a eq "\\'
    built = words_filter(text, ("userName",))
    parse(built)  # one well-formed filter
    assert built.count(" sw ") == len(text.split())


def test_equalities_leave_out_fields_without_a_value():
    assert equals_filter({"reconId": "r1", "situation": None, "status": "FAILURE"}) == \
        'reconId eq "r1" and status eq "FAILURE"'
    assert equals_filter({"a": None}) == "true"
    parse(equals_filter({"reconId": 'a"b'}))


def test_filters_and_words_are_told_apart():
    assert looks_like_filter('userName eq "x"') and looks_like_filter("true") and looks_like_filter("(a pr)")
    assert looks_like_filter("mail pr")
    assert not looks_like_filter("ada lovelace") and not looks_like_filter("ada")


def test_a_broken_filter_is_explained_with_its_position():
    assert filter_error('userName eq "x"') is None
    error = filter_error('userName eq "x" and')
    assert error is not None and "at position" in error
