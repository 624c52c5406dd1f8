"""managed.json: the user schema's rules, searchable and unique fields, and config errors that name the file."""

from __future__ import annotations

import json

import pytest

from core.config.project import Project
from core.errors import ConfigError
from core.repo import ManagedSchema
from core.repo.schema import DEFAULT_SEARCHABLE


def test_the_sample_schema_requires_the_four_fields_and_indexes_the_searchable_ones(schema):
    assert schema.required == ("userName", "givenName", "sn", "mail")
    assert set(schema.searchable) == {"userName", "givenName", "sn", "mail", "accountStatus", "description"}
    assert schema.unique == ("userName",)


def test_a_valid_user_has_no_errors(schema):
    assert schema.validate({"userName": "a", "givenName": "A", "sn": "B", "mail": "a@b.co",
                            "telephoneNumber": "+1 (555) 010-0000", "preferences": {"updates": True}}) == []


@pytest.mark.parametrize(("field", "value", "message"), [
    ("mail", "a@b", "is not a valid email address"),
    ("mail", "a b@c.de", "is not a valid email address"),
    ("userName", "a/b", "cannot contain the characters /"),
    ("telephoneNumber", "call me", "does not match the pattern"),
    ("password", "Short1", "at least 8 characters"),
    ("preferences", "yes", "must be of type object"),
    ("sn", True, "must be of type string"),
])
def test_each_rule_names_its_field(schema, field, value, message):
    user = {"userName": "a", "givenName": "A", "sn": "B", "mail": "a@b.co", field: value}
    [error] = schema.validate(user)
    assert error.field == field and message in error.message


def test_null_optional_fields_are_allowed_but_null_required_ones_are_not(schema):
    errors = schema.validate({"userName": None, "givenName": "A", "sn": "B", "mail": "a@b.co",
                              "telephoneNumber": None})
    assert [(e.field, e.message) for e in errors] == [("userName", "is required")]


def test_a_broken_managed_json_names_the_file_and_line(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "managed.json").write_text('{\n  "objects": [\n    {"name": "user",,}\n  ]\n}\n')
    with pytest.raises(ConfigError, match=r"managed\.json:3"):
        ManagedSchema.load(Project(tmp_path))


def test_a_managed_json_without_user_says_so(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "managed.json").write_text(json.dumps({"objects": [{"name": "role", "schema": {}}]}))
    with pytest.raises(ConfigError, match="no managed object named 'user'"):
        ManagedSchema.load(Project(tmp_path))


def test_without_properties_the_default_searchable_fields_apply():
    assert ManagedSchema().searchable == DEFAULT_SEARCHABLE
