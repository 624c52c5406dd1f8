"""IDM patch operations, case by case: array positions, nesting, increments, and refusals that name the
operation's position and say what is wrong (each case here was once a mutant no test noticed)."""

from __future__ import annotations

import pytest

from core.repo import ValidationError
from core.repo.patch import apply_patch

pytestmark = pytest.mark.backends("sqlite", "postgresql")

DOC = {"sn": "S", "roles": ["a", "b"], "accounts": [{"id": 1}], "count": 5, "flag": True, "name": {"x": 1}}
FIRST = {"operation": "replace", "field": "/sn", "value": "S2"}  # a valid op, so the bad one is patch[1]


def patched(*ops: dict) -> dict:
    return apply_patch(DOC, list(ops))


@pytest.mark.parametrize(("ops", "message"), [
    ({"operation": "add"}, "patch: patch: must be a list of operations"),
    ([FIRST, "add"], "patch: patch[1]: must be an object"),
    ([FIRST, {"operation": "frob", "field": "/sn"}],
     "patch: patch[1]: unknown operation 'frob' (use add, remove, replace, increment, copy, move)"),
    ([FIRST, {"operation": "add", "field": "/", "value": 1}],
     "patch: patch[1]: 'field' must be a field pointer such as \"/mail\""),
    ([FIRST, {"operation": "copy", "field": "/x"}],
     "patch: patch[1]: 'from' must be a field pointer such as \"/mail\""),
    ([FIRST, {"operation": "replace", "field": "/_id", "value": "u2"}], "patch: patch[1]: /_id cannot be patched"),
    ([FIRST, {"operation": "replace", "field": "/sn"}], "patch: patch[1]: 'replace' needs a 'value'"),
    ([FIRST, {"operation": "increment", "field": "/count", "value": "1"}],
     "patch: patch[1]: 'increment' needs a numeric 'value'"),
    ([FIRST, {"operation": "increment", "field": "/count", "value": True}],
     "patch: patch[1]: 'increment' needs a numeric 'value'"),
    ([FIRST, {"operation": "increment", "field": "/name/x/y", "value": 1}],
     "patch: patch[1]: /name/x/y: parent is not an object"),
    ([FIRST, {"operation": "increment", "field": "/flag", "value": 1}], "patch: patch[1]: /flag is not a number"),
    ([FIRST, {"operation": "increment", "field": "/roles/0", "value": 1}], "patch: patch[1]: /roles/0 is not a number"),
    ([FIRST, {"operation": "replace", "field": "/roles/2", "value": "c"}], "patch: patch[1]: /roles/2: bad array index"),
    ([FIRST, {"operation": "copy", "from": "/sn", "field": "/roles/9"}], "patch: patch[1]: /roles/9: bad array index"),
    ([FIRST, {"operation": "add", "field": "/name/-", "value": 1}], "patch: patch[1]: /name/-: not an array (dict)"),
    ([FIRST, {"operation": "replace", "field": "/sn/a", "value": 1}], "patch: patch[1]: /sn/a: parent is not an object"),
    ([FIRST, {"operation": "replace", "field": "/sn/a/b", "value": 1}], "patch: patch[1]: /sn/a/b: no such field"),
    ([FIRST, {"operation": "replace", "field": "/accounts/1/id", "value": 1}],
     "patch: patch[1]: /accounts/1/id: no such field"),
    ([FIRST, {"operation": "remove", "field": "/sn/a/b"}], "patch: patch[1]: /sn/a/b: no such field"),
    ([FIRST, {"operation": "copy", "from": "/roles/2", "field": "/x"}], "patch: patch[1]: /roles/2: no such field"),
    ([FIRST, {"operation": "move", "from": "/name/y/z", "field": "/x"}], "patch: patch[1]: /name/y/z: no such field"),
])
def test_a_refused_operation_is_named_by_its_position_with_the_reason(ops, message):
    """The error names the resource, the operation's index and the field, and says what is wrong."""
    with pytest.raises(ValidationError) as err:
        apply_patch(DOC, ops)
    assert str(err.value) == message


def test_a_field_named_like_a_pointer_character_is_patchable():
    """Only an empty pointer is refused: ``/X`` is a field like any other."""
    assert patched({"operation": "replace", "field": "/X", "value": 1})["X"] == 1


def test_add_inserts_at_an_index_or_appends_at_the_end():
    """``/roles/0`` inserts in front, ``/roles/1`` in the middle, ``/roles/2`` (the length) at the end."""
    assert patched({"operation": "add", "field": "/roles/0", "value": "z"})["roles"] == ["z", "a", "b"]
    assert patched({"operation": "add", "field": "/roles/1", "value": "z"})["roles"] == ["a", "z", "b"]
    assert patched({"operation": "add", "field": "/roles/2", "value": "z"})["roles"] == ["a", "b", "z"]


def test_add_builds_missing_objects_and_arrays_on_the_way():
    """A missing parent becomes an array when the next step is ``-`` or an index, an object otherwise."""
    assert apply_patch({}, [{"operation": "add", "field": "/a/b/-", "value": "x"}]) == {"a": {"b": ["x"]}}
    assert apply_patch({}, [{"operation": "add", "field": "/a/0", "value": "x"}]) == {"a": ["x"]}
    assert apply_patch({"a": None}, [{"operation": "add", "field": "/a/b", "value": 1}]) == {"a": {"b": 1}}


def test_add_sets_a_single_valued_or_absent_field_and_appends_a_list_value_whole_with_dash():
    """``add`` of a list to an absent field sets it; ``add`` on a single-valued field replaces it; ``/-``
    appends the list as one item."""
    assert patched({"operation": "add", "field": "/tags", "value": ["t"]})["tags"] == ["t"]
    assert patched({"operation": "add", "field": "/sn", "value": "T"})["sn"] == "T"
    assert patched({"operation": "add", "field": "/roles/-", "value": ["c"]})["roles"] == ["a", "b", ["c"]]


def test_replace_of_an_array_with_a_list_replaces_it():
    """Unlike ``add``, ``replace`` with a list value does not extend the array."""
    assert patched({"operation": "replace", "field": "/roles", "value": ["c"]})["roles"] == ["c"]


def test_operations_after_an_array_extension_still_apply():
    """Extending an array does not end the patch: later operations are applied too."""
    out = patched({"operation": "add", "field": "/roles", "value": ["c"]}, {"operation": "replace", "field": "/sn",
                                                                            "value": "T"})
    assert out["roles"] == ["a", "b", "c"] and out["sn"] == "T"


def test_nested_fields_inside_array_items_are_reachable():
    """A pointer can go through an array item: ``/accounts/0/id``, for writing and for reading."""
    assert patched({"operation": "replace", "field": "/accounts/0/id", "value": 2})["accounts"] == [{"id": 2}]
    assert patched({"operation": "copy", "from": "/accounts/0/id", "field": "/first"})["first"] == 1
    assert patched({"operation": "copy", "from": "/roles/1", "field": "/second"})["second"] == "b"


def test_increment_adds_to_a_number_or_starts_from_zero():
    """``increment`` adds to the current number (also inside an array), or sets the amount on an absent field."""
    assert patched({"operation": "increment", "field": "/count", "value": 2})["count"] == 7
    assert patched({"operation": "increment", "field": "/count", "value": -2.5})["count"] == 2.5
    assert patched({"operation": "increment", "field": "/logins", "value": 3})["logins"] == 3
    assert apply_patch({"n": [5, 6]}, [{"operation": "increment", "field": "/n/0", "value": 1}]) == {"n": [6, 6]}


def test_remove_drops_a_field_an_item_or_a_value_and_ignores_what_is_absent():
    """``remove`` without a value drops the whole field (an array too); an absent field, item or parent is
    no error and changes nothing."""
    assert "roles" not in patched({"operation": "remove", "field": "/roles"})
    assert patched({"operation": "remove", "field": "/roles/1"})["roles"] == ["a"]
    for field in ("/absent", "/absent/b", "/roles/2", "/roles/x", "/name/y"):
        assert patched({"operation": "remove", "field": field}) == DOC, field


def test_copy_and_move_can_append_to_an_array():
    """``copy`` and ``move`` may target ``/-`` like ``add``."""
    assert patched({"operation": "copy", "from": "/sn", "field": "/roles/-"})["roles"] == ["a", "b", "S"]
    moved = patched({"operation": "move", "from": "/sn", "field": "/roles/0"})
    assert moved["roles"] == ["S", "a", "b"] and "sn" not in moved


def test_the_result_shares_nothing_with_the_operations():
    """Values are copied in: changing an operation's value afterwards does not change the result."""
    value = [{"k": 1}]
    for op in ({"operation": "add", "field": "/roles", "value": value},
               {"operation": "replace", "field": "/v", "value": value}):
        out = apply_patch({"roles": []}, [op])
        value[0]["k"] = 2
        assert out[op["field"][1:]] == [{"k": 1}]
        value[0]["k"] = 1
    doc = {"src": {"k": {"deep": 1}}}
    out = apply_patch(doc, [{"operation": "copy", "from": "/src", "field": "/dst"}])
    out["src"]["k"]["deep"] = 2
    assert out["dst"] == {"k": {"deep": 1}}
