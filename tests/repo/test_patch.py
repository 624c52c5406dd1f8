"""IDM patch operations on plain objects (no repository): arrays, nesting, and refusals that name the op."""

from __future__ import annotations

import pytest

from core.repo import ValidationError
from core.repo.patch import apply_patch

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def test_add_to_an_absent_array_creates_it():
    assert apply_patch({}, [{"operation": "add", "field": "/roles/-", "value": "r1"}]) == {"roles": ["r1"]}


def test_add_of_a_list_to_an_array_appends_its_items():
    assert apply_patch({"roles": ["a"]}, [{"operation": "add", "field": "/roles", "value": ["b", "c"]}]) == \
        {"roles": ["a", "b", "c"]}


def test_replace_and_remove_by_index_and_by_value():
    doc = {"roles": ["a", "b", "c"]}
    assert apply_patch(doc, [{"operation": "replace", "field": "/roles/1", "value": "B"}])["roles"] == ["a", "B", "c"]
    assert apply_patch(doc, [{"operation": "remove", "field": "/roles/0"}])["roles"] == ["b", "c"]
    assert apply_patch(doc, [{"operation": "remove", "field": "/roles", "value": "c"}])["roles"] == ["a", "b"]
    assert doc == {"roles": ["a", "b", "c"]}  # the input is never modified


def test_copy_and_move_between_fields():
    doc = {"mail": "a@b.c", "sn": "X"}
    assert apply_patch(doc, [{"operation": "copy", "from": "/mail", "field": "/description"}])["description"] == "a@b.c"
    moved = apply_patch(doc, [{"operation": "move", "from": "/sn", "field": "/lastName"}])
    assert "sn" not in moved and moved["lastName"] == "X"


@pytest.mark.parametrize(("ops", "message"), [
    ([{"operation": "replace", "field": "/roles/5", "value": 1}], "bad array index"),
    ([{"operation": "frobnicate", "field": "/sn"}], "unknown operation"),
    ([{"operation": "replace", "field": "/_rev", "value": "1"}], "cannot be patched"),
    ([{"operation": "replace", "field": "/sn"}], "needs a 'value'"),
    ([{"operation": "increment", "field": "/sn", "value": 1}], "is not a number"),
    ([{"operation": "move", "from": "/nope", "field": "/x"}], "no such field"),
    ([{"operation": "add", "field": "", "value": 1}], "must be a field pointer"),
    ({"operation": "add"}, "must be a list"),
])
def test_bad_operations_are_validation_errors_naming_the_operation(ops, message):
    with pytest.raises(ValidationError, match=message):
        apply_patch({"sn": "S", "roles": ["a"]}, ops)
