"""Managed users: ids, revisions, If-Match, validation, uniqueness, bulk paths, transactions."""

from __future__ import annotations

import sqlite3
import threading
import uuid

import pytest

from core.repo import Conflict, NotFound, PreconditionFailed, Repository, ValidationError

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def test_create_assigns_a_time_ordered_uuid_and_a_revision(repo, new_user):
    user = repo.create(new_user())
    assert uuid.UUID(user["_id"]).version == 7
    assert len(user["_rev"]) == 16 and int(user["_rev"], 16) >= 0
    assert repo.read(user["_id"]) == user


def test_revision_changes_on_every_write_even_without_changes(repo, new_user):
    user = repo.create(new_user())
    revs = {user["_rev"]}
    for _ in range(3):
        user = repo.update(user["_id"], user)
        revs.add(user["_rev"])
    assert len(revs) == 4


def test_stale_if_match_is_refused_and_the_newer_write_survives(repo, new_user):
    user = repo.create(new_user())
    newer = repo.update(user["_id"], {**user, "sn": "Newer"}, rev=user["_rev"])
    with pytest.raises(PreconditionFailed):
        repo.update(user["_id"], {**user, "sn": "Stale"}, rev=user["_rev"])
    assert repo.read(user["_id"])["sn"] == "Newer"
    assert repo.update(user["_id"], {**newer, "sn": "Any"}, rev="*")["sn"] == "Any"


def test_read_of_an_absent_user_is_not_found(repo):
    with pytest.raises(NotFound, match="managed/user/nope not found"):
        repo.read("nope")


def test_create_with_a_used_id_is_a_conflict(repo, new_user):
    repo.create(new_user(), id="fixed")
    with pytest.raises(Conflict, match="fixed already exists"):
        repo.create(new_user(), id="fixed")


def test_missing_required_fields_and_bad_mail_are_named_per_field(repo):
    with pytest.raises(ValidationError) as info:
        repo.create({"userName": "x", "givenName": "", "mail": "not-an-address"})
    fields = {e.field: e.message for e in info.value.errors}
    assert fields == {"givenName": "is required", "sn": "is required", "mail": "is not a valid email address"}
    assert "managed/user" in str(info.value)


def test_wrong_type_is_refused(repo, new_user):
    with pytest.raises(ValidationError, match="sn: must be of type string"):
        repo.create(new_user(sn=42))


def test_undeclared_properties_are_kept(repo, new_user):
    user = repo.create(new_user(profileId="00e000000000001"))
    assert repo.read(user["_id"])["profileId"] == "00e000000000001"


def test_the_repository_stores_what_it_is_given_defaults_are_the_on_create_hooks(repo, new_user):
    # accountStatus "active" is managed.json's onCreate (core/sync/managed_hooks.py, tests/sync/test_managed_hooks.py)
    user = repo.create(new_user())
    assert "accountStatus" not in user
    assert repo.create(new_user(accountStatus="inactive"))["accountStatus"] == "inactive"


def test_user_name_is_unique_ignoring_ascii_case(repo, new_user):
    repo.create(new_user(userName="bjensen"))
    with pytest.raises(ValidationError, match="userName: must be unique"):
        repo.create(new_user(userName="BJensen"))


def test_update_may_keep_its_own_user_name_but_not_take_another(repo, new_user):
    a = repo.create(new_user(userName="a"))
    repo.create(new_user(userName="b"))
    assert repo.update(a["_id"], {**a, "sn": "X"})["userName"] == "a"
    with pytest.raises(ValidationError, match="userName"):
        repo.update(a["_id"], {**a, "userName": "B"})


def test_create_many_reports_each_refusal_and_stores_the_rest(repo, new_user):
    repo.create(new_user(userName="taken"))
    results = repo.create_many([new_user(), new_user(mail="bad"), new_user(userName="TAKEN"),
                                new_user(userName="twice"), new_user(userName="twice")])
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["dict", "ValidationError", "UniqueConflict", "dict", "UniqueConflict"]  # a clash: a ValidationError too
    assert repo.count() == 3


def test_update_many_applies_if_match_per_object(repo, new_user):
    a, b = repo.create(new_user()), repo.create(new_user())
    results = repo.update_many([(a["_id"], {**a, "sn": "A"}, a["_rev"]), (b["_id"], b, "0000"),
                                ("absent", new_user(), None)])
    assert results[0]["sn"] == "A"
    assert isinstance(results[1], PreconditionFailed)
    assert isinstance(results[2], NotFound)


def test_delete_returns_the_object_and_honours_if_match(repo, new_user):
    user = repo.create(new_user())
    with pytest.raises(PreconditionFailed):
        repo.delete(user["_id"], rev="00000000deadbeef")
    assert repo.delete(user["_id"], rev=user["_rev"]) == user
    with pytest.raises(NotFound):
        repo.delete(user["_id"])


def test_read_many_answers_only_the_ids_that_exist_across_chunks(repo, new_user):
    created = repo.create_many([new_user() for _ in range(1200)])
    ids = [u["_id"] for u in created]
    found = repo.read_many([*ids, "absent"])
    assert set(found) == set(ids)


def test_find_by_groups_matches_per_requested_value(repo, new_user):
    a = repo.create(new_user(userName="alice", sn="Same"))
    b = repo.create(new_user(userName="bob", sn="Same"))
    by_name = repo.find_by("userName", ["ALICE", "bob", "carol"])
    assert [u["_id"] for u in by_name["ALICE"]] == [a["_id"]]
    assert [u["_id"] for u in by_name["bob"]] == [b["_id"]]
    assert by_name["carol"] == []
    assert {u["_id"] for u in repo.find_by("sn", ["same"])["same"]} == {a["_id"], b["_id"]}
    assert repo.find_by("city", ["Paris"])["Paris"] == []


def test_iter_ids_and_count_cover_every_user(repo, new_user):
    created = repo.create_many([new_user() for _ in range(25)])
    assert sorted(repo.managed("user").iter_ids(batch=7)) == sorted(u["_id"] for u in created)
    assert repo.count() == 25


def test_patch_operations_apply_in_order(repo, new_user):
    user = repo.create(new_user(roles=["a"]))
    patched = repo.patch(user["_id"], [
        {"operation": "replace", "field": "/sn", "value": "Patched"},
        {"operation": "add", "field": "/roles/-", "value": "b"},
        {"operation": "add", "field": "/preferences/updates", "value": True},
        {"operation": "increment", "field": "/logins", "value": 2},
        {"operation": "remove", "field": "/description"},
    ], rev=user["_rev"])
    assert (patched["sn"], patched["roles"], patched["preferences"], patched["logins"]) == \
        ("Patched", ["a", "b"], {"updates": True}, 2)
    with pytest.raises(PreconditionFailed):
        repo.patch(user["_id"], [{"operation": "replace", "field": "/sn", "value": "x"}], rev=user["_rev"])


def test_patch_that_breaks_the_schema_changes_nothing(repo, new_user):
    user = repo.create(new_user())
    with pytest.raises(ValidationError, match="mail"):
        repo.patch(user["_id"], [{"operation": "remove", "field": "/mail"}])
    assert repo.read(user["_id"]) == user


@pytest.mark.backends("sqlite")  # SQLite's connection settings
def test_the_file_is_in_wal_mode_with_a_busy_timeout(repo):
    conn = repo.db.conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


@pytest.mark.backends("sqlite")  # SQLite's connection settings
def test_each_thread_gets_its_own_connection(repo, new_user):
    seen = []
    done = threading.Event()

    def work():
        seen.append(repo.db.conn())
        repo.create(new_user())
        done.set()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert done.is_set() and seen[0] is not repo.db.conn()
    assert repo.count() == 1


def test_a_failed_transaction_rolls_back_every_write_in_it(repo, new_user):
    with pytest.raises(RuntimeError):
        with repo.transaction():
            repo.create(new_user())
            with repo.transaction():  # nested: joins the outer one
                repo.link("m", "sf1", "u1")
            raise RuntimeError("boom")
    assert repo.count() == 0
    assert repo.links_by_first("m", ["sf1"]) == {}


def test_two_processes_writing_at_once_both_succeed(tmp_path, schema):
    """WAL and the busy timeout: concurrent writers wait for each other instead of failing."""
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "shared.sqlite3"
    Repository.open(path, schema).close()
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from core.config.project import Project\n"
        "from core.repo import ManagedSchema, Repository\n"
        f"schema = ManagedSchema.load(Project(Path({str(Path(__file__).resolve().parents[2])!r})))\n"
        f"repo = Repository.open({str(path)!r}, schema)\n"
        "tag = sys.argv[1]\n"
        "for page in range(10):\n"
        "    with repo.transaction():\n"
        "        repo.create_many([{'userName': f'{tag}-{page}-{i}', 'givenName': 'G', 'sn': 'S',\n"
        "                           'mail': f'{tag}{page}{i}@example.com'} for i in range(50)])\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, tag]) for tag in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with Repository.open(path, schema) as repo:
        assert repo.count() == 1000


def test_a_second_process_sees_committed_writes(tmp_path, schema, new_user):
    path = tmp_path / "r.sqlite3"
    with Repository.open(path, schema) as one:
        user = one.create(new_user())
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT count(*) FROM managed_user WHERE id = ?", (user["_id"],)).fetchone() == (1,)


def test_the_same_user_twice_in_one_update_batch_is_refused_the_second_time(repo, new_user):
    user = repo.create(new_user())
    first, second = repo.update_many([(user["_id"], {**user, "sn": "One"}, user["_rev"]),
                                      (user["_id"], {**user, "sn": "Two"}, user["_rev"])])
    assert first["sn"] == "One" and isinstance(second, Conflict)
    assert repo.read(user["_id"])["sn"] == "One"


def test_a_writer_blocked_past_the_busy_timeout_gets_a_clear_error(tmp_path, schema, new_user, monkeypatch):
    from core.repo import RepoError
    from core.repo import db as dbmod

    path = tmp_path / "busy.sqlite3"
    repo = Repository.open(path, schema)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        conn = repo.db.conn()
        conn.execute("PRAGMA busy_timeout = 50")
        monkeypatch.setattr(dbmod, "BUSY_TIMEOUT_MS", 50)
        with pytest.raises(RepoError, match="cannot start a write"):
            repo.create(new_user())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert repo.create(new_user())["_id"]
    repo.close()


def test_opening_an_existing_repository_takes_no_write_lock(tmp_path, schema):
    """The TUI or `sfsync users` can open the file while a reconciliation elsewhere holds the write lock."""
    path = tmp_path / "r.sqlite3"
    Repository.open(path, schema).close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        with Repository.open(path, schema) as reader:
            reader.db.conn().execute("PRAGMA busy_timeout = 100")
            assert reader.query({"_fields": "_id"})["resultCount"] == 0
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_revisions_count_writes_like_the_seeds_and_if_match_accepts_etag_quotes():
    from core.repo.ids import matches_rev, new_ids, next_rev

    first = next_rev(None, '{"a":1}')
    assert first.startswith("00000000") and next_rev(first, '{"a":1}').startswith("00000001")
    assert matches_rev(first, f'"{first}"') and matches_rev(first, "*") and not matches_rev(first, "0")
    ids = [i for n in (1000, 1, 3, 5000) for i in new_ids(n)]  # several calls, most in the same millisecond
    assert len(set(ids)) == len(ids) and all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122
                                             for i in ids)
    assert ids == sorted(ids), "ids are made in ascending order, so index inserts append"


def test_ids_stay_ordered_across_a_counter_block_and_a_clock_that_did_not_move(monkeypatch):
    from core.repo import ids as idmod

    monkeypatch.setattr(idmod, "_last_ms", 2**44)  # "now" is behind the last id made: the counter carries on
    monkeypatch.setattr(idmod, "_last_counter", (1 << 14) - 3)  # 2 ids left in this block of the third group
    made = idmod.new_ids(5) + idmod.new_ids(3)
    assert made == sorted(made) and len(set(made)) == 8
    assert len({i.split("-")[2] for i in made}) == 2  # the third group moved on after the block
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in made)
    monkeypatch.setattr(idmod, "_last_counter", idmod._COUNTER_MAX - 1)  # the counter is full: the next ms
    more = idmod.new_ids(4)
    assert more == sorted(more) and more[0] > made[-1]


def test_an_insert_the_database_refuses_without_unique_fields_is_an_error_not_a_silent_success(tmp_path):
    """No unique field means no second, checked pass: a refusal must surface (it was reported as created)."""
    with Repository.open(tmp_path / "plain.sqlite3") as repo:  # no schema: no unique fields
        repo.create({"userName": "first"})
        repo.db.conn().execute("CREATE TRIGGER refuse BEFORE INSERT ON managed_user "
                               "BEGIN SELECT RAISE(ABORT, 'refused by a constraint'); END")
        with pytest.raises(Conflict, match="refused by a constraint"):
            repo.create_many([{"userName": "second"}, {"userName": "third"}])
        assert repo.count() == 1
