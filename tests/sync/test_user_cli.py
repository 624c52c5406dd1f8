"""``sfsync user create FIELD=VALUE…`` and ``sfsync user delete ID [--rev REV]``: implicit sync per mapping,
printed as ``user update`` prints it, with its exit codes."""

from __future__ import annotations

import json

from tests.sync.conftest import account_mapping
from tui.cli import main


def cli(env, capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["-p", str(env.root), "user", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_create_saves_the_user_and_prints_implicit_sync_per_mapping(make_env, capsys):
    env = make_env()
    code, printed, _ = cli(env, capsys, "create", "userName=ada", "givenName=Ada", "sn=Lovelace",
                           "mail=ada@example.com", "preferences/updates:=true", "description=")
    assert code == 0
    user = printed["user"]
    # answered with the sample's virtual properties (property-level onRetrieve), stored without them; the
    # sample's onCreate (sfsync's bundled onCreateUser.setDefaultFields) made the user active
    virtual = {"effectiveRoles": [], "effectiveAssignments": []}
    assert env.repo.read(user["_id"]) | virtual == user and user["accountStatus"] == "active"
    assert (user["userName"], user["preferences"], "description" in user) == ("ada", {"updates": True}, False)
    [sync] = printed["sync"]
    assert (sync["mapping"], sync["result"], sync["situation"], sync["action"]) == (
        "userAccount", "SUCCESSFUL", "ABSENT", "CREATE")
    assert [a["login"] for a in env.accounts()] == ["ada"]


def test_create_with_an_id_and_its_errors(make_env, capsys):
    env = make_env()
    person = ["userName=bob", "givenName=Bob", "sn=B", "mail=bob@example.com"]
    code, printed, _ = cli(env, capsys, "create", "--id", "bob-1", *person)
    assert code == 0 and printed["user"]["_id"] == "bob-1"
    code, _, err = cli(env, capsys, "create", "--id", "bob-1", *person)
    assert code == 1 and "bob-1" in err  # already exists
    code, _, err = cli(env, capsys, "create", "userName=cy", "givenName=C", "sn=C", "mail=nope")
    assert code == 2 and "mail: is not a valid email address" in err
    code, _, err = cli(env, capsys, "create", "userName")
    assert code == 2 and "expected FIELD=VALUE" in err
    code, _, err = cli(env, capsys, "create", "_id=x", *person)
    assert code == 2 and "cannot be changed" in err


def test_delete_removes_the_user_runs_implicit_sync_and_honours_rev(make_env, capsys):
    env = make_env(account_mapping(policies=[{"situation": "SOURCE_MISSING", "action": "DELETE"}]))
    ada = env.user("ada")
    _, created, _ = cli(env, capsys, "create", "userName=dee", "givenName=Dee", "sn=D", "mail=dee@example.com")
    dee = created["user"]
    code, _, err = cli(env, capsys, "delete", dee["_id"], "--rev", "999")
    assert code != 0 and env.repo.read(dee["_id"])["_id"] == dee["_id"]
    code, printed, _ = cli(env, capsys, "delete", dee["_id"], "--rev", dee["_rev"])
    assert code == 0, (printed, _)
    assert printed["user"]["_id"] == dee["_id"]
    [sync] = printed["sync"]
    assert (sync["result"], sync["situation"], sync["action"]) == ("SUCCESSFUL", "SOURCE_MISSING", "DELETE")
    assert env.accounts() == []
    code, printed, _ = cli(env, capsys, "delete", ada["_id"])  # no --rev: any revision
    assert code == 0 and printed["user"]["userName"] == "ada"
    code, _, err = cli(env, capsys, "delete", ada["_id"])
    assert code == 1 and "FAILED" not in err and f"managed/user/{ada['_id']} not found" in err


def test_a_failed_mapping_exits_1_and_says_the_deletion_stands(make_env, capsys):
    env = make_env()  # no policies: SOURCE_MISSING is IDM's default EXCEPTION
    _, created, _ = cli(env, capsys, "create", "userName=eve", "givenName=Eve", "sn=E", "mail=eve@example.com")
    code, printed, err = cli(env, capsys, "delete", created["user"]["_id"])
    assert code == 1 and printed["sync"][0]["result"] == "FAILED"
    assert "was deleted, but mapping userAccount FAILED" in err
