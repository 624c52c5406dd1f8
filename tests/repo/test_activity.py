"""The activity audit's storage (``audit/activity``): IDM's fields, secrets masked, queries, trimming, migration."""

from __future__ import annotations

import json
import sqlite3

import pytest

from core.config.masking import ENCRYPTED_MASK, PASSWORD_MASK, mask_secrets
from core.repo import Repository, ValidationError
from core.repo.activity import TRIM_EVERY, Actor, activity_entry, changed_fields
from core.repo.db import SCHEMA_VERSION

pytestmark = pytest.mark.backends("sqlite", "postgresql")

IDM_FIELDS = {"_id", "timestamp", "eventName", "transactionId", "userId", "runAs", "objectId", "operation",
              "before", "after", "changedFields", "revision", "status", "message", "passwordChanged"}
TOKEN = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJ1dOAr6i0d0MNdJrcaHwwY0Jx5n2SfdJmH2SBH6x.Xy0mr9x7Q2"


def user(**extra):
    return {"userName": "ada", "givenName": "Ada", "sn": "Byron", "mail": "ada@example.com", **extra}


def test_an_entry_has_idms_fields_and_says_who_and_where(tmp_path):
    with Repository.open(tmp_path / "r.sqlite3") as repo:
        before = repo.create(user())
        after = repo.update(before["_id"], user(sn="Lovelace", description="countess"))
        actor = Actor("alice", "cli")
        entry_id = repo.activity.add(activity_entry(f"managed/user/{before['_id']}", "UPDATE", before, after, actor))
        entry = repo.activity.get(entry_id)
    assert IDM_FIELDS | {"origin"} == set(entry)
    assert entry["eventName"] == "activity" and entry["status"] == "SUCCESS"
    assert (entry["userId"], entry["runAs"], entry["origin"]) == ("alice", "alice", "cli")
    assert entry["transactionId"] == actor.transaction_id
    assert entry["objectId"] == f"managed/user/{before['_id']}" and entry["operation"] == "UPDATE"
    assert entry["changedFields"] == ["/sn", "/description"]
    assert entry["before"]["sn"] == "Byron" and entry["after"]["sn"] == "Lovelace"
    assert entry["revision"] == after["_rev"] and entry["passwordChanged"] is False
    assert entry["timestamp"].endswith("Z")


def test_secrets_are_masked_but_a_changed_secret_is_reported(tmp_path):
    before = user(_id="u1", _rev="1", password="hunter2-is-a-long-password")
    after = {**before, "_rev": "2", "password": "correct horse battery staple",
             "config": {"refreshToken": TOKEN, "clientSecret": {"$crypto": {"value": {"data": "c2VjcmV0"}}}}}
    entry = activity_entry("managed/user/u1", "PATCH", before, after, Actor("bob", "rest"))
    text = json.dumps(entry)
    for secret in ("hunter2", "correct horse", TOKEN, "c2VjcmV0", TOKEN[4:-4]):
        assert secret not in text
    assert entry["before"]["password"] == PASSWORD_MASK and entry["after"]["password"] == PASSWORD_MASK
    assert entry["after"]["config"]["refreshToken"] == "5Aep…x7Q2"
    assert entry["after"]["config"]["clientSecret"] == ENCRYPTED_MASK
    assert "/password" in entry["changedFields"] and entry["passwordChanged"] is True


def test_masking_walks_lists_and_any_crypto_object():
    data = {"items": [{"apiKey": "k" * 40}, {"$crypto": {"x": 1}}], "name": "kept", "accessToken": None}
    assert mask_secrets(data) == {"items": [{"apiKey": "kkkk…kkkk"}, ENCRYPTED_MASK], "name": "kept",
                                  "accessToken": None}


def test_changed_fields_are_pointers_and_ignore_id_and_rev():
    assert changed_fields({"_rev": "1", "a": {"b": 1, "c": 2}, "d": [1]},
                          {"_rev": "2", "a": {"b": 1, "c": 3}, "d": [1, 2], "e": 0}) == ["/a/c", "/d", "/e"]
    assert changed_fields({"a": 1}, {"a": 1.0}) == ["/a"]  # a type change is a change (1 -> 1.0)
    assert changed_fields({}, {}) == []


def test_a_bad_entry_is_refused_naming_the_field(tmp_path):
    with Repository.open(tmp_path / "r.sqlite3") as repo:
        with pytest.raises(ValidationError) as caught:
            repo.activity.add({"objectId": "", "operation": "RENAME", "status": "SUCCESS"})
        assert {e.field for e in caught.value.errors} == {"objectId", "operation"}
        assert repo.activity.count() == 0
    with pytest.raises(ValidationError, match="operation"):
        activity_entry("managed/user/x", "UPSERT", None, {}, Actor("a", "cli"))


def test_queries_use_idms_filters_and_paging(tmp_path):
    with Repository.open(tmp_path / "r.sqlite3") as repo:
        tx = Actor("openidm-admin", "rest")
        for i in range(5):
            repo.activity.add(activity_entry(f"managed/user/u{i % 2}", "PATCH", {"_rev": "1", "sn": "a"},
                                             {"_rev": "2", "sn": f"b{i}"}, tx if i < 3 else Actor("eve", "tui")))
        by_object = repo.activity.query('objectId eq "managed/user/u0" and operation eq "PATCH"')
        assert by_object["resultCount"] == 3
        assert repo.activity.query(f'transactionId eq "{tx.transaction_id}"')["resultCount"] == 3
        assert repo.activity.query('userId eq "eve" and origin eq "tui"')["resultCount"] == 2
        assert repo.activity.query('after/sn eq "b4"')["result"][0]["userId"] == "eve"
        page = repo.activity.query("true", page_size=2, sort_keys=("-timestamp",))
        assert page["resultCount"] == 2 and page["pagedResultsCookie"]
        newest = repo.activity.for_object("managed/user/u0", limit=2)
        assert [e["after"]["sn"] for e in newest] == ["b4", "b2"]


def test_the_log_is_trimmed_to_the_newest_entries(tmp_path):
    with Repository.open(tmp_path / "r.sqlite3") as repo:
        entry = activity_entry("managed/user/u", "DELETE", {"_rev": "1"}, None, Actor("a", "cli"))
        repo.activity.add_many([entry] * (TRIM_EVERY - 1))
        assert repo.activity.count() == TRIM_EVERY - 1
        asked = []
        repo.activity.add(entry, keep=lambda: asked.append(1) or 10)  # the TRIM_EVERY-th entry trims
        assert asked == [1] and repo.activity.count() == 10
        repo.activity.add(entry, keep=lambda: asked.append(2) or 10)  # not its turn: the keep is not even read
        assert asked == [1] and repo.activity.count() == 11
        assert repo.activity.keep_newest(3) == 8 and repo.activity.count() == 3


def test_a_version_5_file_gets_the_activity_table_and_keeps_its_data(tmp_path):
    path = tmp_path / "v5.sqlite3"
    with Repository.open(path) as repo:
        created = repo.create(user())
        repo.audit.add({"reconId": "r1", "status": "SUCCESS"})
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE activity_audit; PRAGMA user_version = 5;")
    conn.close()
    with Repository.open(path) as repo:
        conn = repo.db.conn()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert repo.read(created["_id"])["userName"] == "ada" and repo.audit.count("r1") == 1
        entry_id = repo.activity.add(activity_entry(f"managed/user/{created['_id']}", "CREATE", None, created,
                                                    Actor("a", "cli")))
        assert repo.activity.get(entry_id)["changedFields"] == ["/userName", "/givenName", "/sn", "/mail"]
        plan = " ".join(row[3] for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM activity_audit WHERE object_id = ? ORDER BY seq DESC", ("x",)))
        assert "ix_activity_object" in plan and "TEMP B-TREE" not in plan
