"""Implicit sync: a managed user change runs the mappings whose source is managed/user, in order."""

from __future__ import annotations

import asyncio

from core.sync.implicit import FAILED, SKIPPED, SUCCESSFUL
from tests.sync.conftest import account_mapping


def run(coro):
    return asyncio.run(coro)


def body(obj):
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def test_create_runs_the_mapping_and_links(make_env):
    env = make_env()
    created, results = run(env.service.create_user({"userName": "ada", "givenName": "Ada", "sn": "L",
                                                    "mail": "ada@example.com"}))
    result = results["userAccount"]
    assert (result.result, result.situation, result.action) == (SUCCESSFUL, "ABSENT", "CREATE")
    [acct] = env.accounts()
    assert env.links() == [(created["_id"], acct["_id"])] and result.targetId == acct["_id"]
    entries = env.repo.audit.query('eventName eq "sync"')["result"]
    assert [(e["situation"], e["action"], e["status"]) for e in entries] == [("ABSENT", "CREATE", "SUCCESS")]


def test_update_pushes_the_change_and_an_unchanged_update_syncs_nothing(make_env):
    env = make_env()
    ada, _ = run(env.service.create_user({"userName": "ada", "givenName": "Ada", "sn": "L", "mail": "a@x.org"}))
    updated, results = run(env.service.update_user(ada["_id"], {**body(ada), "mail": "new@x.org"}, rev=ada["_rev"]))
    assert (results["userAccount"].situation, results["userAccount"].action) == ("CONFIRMED", "UPDATE")
    assert env.accounts()[0]["email"] == "new@x.org"
    _, results = run(env.service.update_user(ada["_id"], body(updated)))
    assert results["userAccount"].result == SKIPPED and results["userAccount"].message == "no change"


def test_after_a_failing_mapping_the_rest_are_skipped_and_the_change_stays(make_env):
    failing = account_mapping(name="first", properties=[
        {"source": "userName", "target": "login"},
        {"source": "description", "target": "d", "transform": {"type": "text/javascript",
                                                                "source": "source.toUpperCase()"}}])
    second = account_mapping(name="second", target="managed/other")
    disabled = account_mapping(name="third", target="managed/third", enableSync=False)
    env = make_env(failing, second, disabled)
    created, results = run(env.service.create_user({"userName": "ada", "givenName": "A", "sn": "L",
                                                    "mail": "a@x.org"}))
    assert list(results) == ["first", "second"]  # sync.json order; enableSync false does not run
    assert results["first"].result == FAILED and "first.properties.d.transform" in results["first"].message
    assert results["second"].result == SKIPPED
    assert env.repo.read(created["_id"])["userName"] == "ada"  # never rolled back


def test_deleting_a_linked_user_is_source_missing(make_env):
    env = make_env()
    ada, _ = run(env.service.create_user({"userName": "ada", "givenName": "A", "sn": "L", "mail": "a@x.org"}))
    _, results = run(env.service.delete_user(ada["_id"]))
    result = results["userAccount"]
    assert (result.result, result.situation, result.action) == (FAILED, "SOURCE_MISSING", "EXCEPTION")
    assert "Situation SOURCE_MISSING marked as EXCEPTION" in result.message
    assert env.repo.count() == 0 and len(env.accounts()) == 1  # the managed delete stands


def test_source_missing_delete_policy_deletes_the_target(make_env):
    env = make_env(account_mapping(policies=[{"situation": "SOURCE_MISSING", "action": "DELETE"}]))
    ada, _ = run(env.service.create_user({"userName": "ada", "givenName": "A", "sn": "L", "mail": "a@x.org"}))
    _, results = run(env.service.delete_user(ada["_id"]))
    assert results["userAccount"].result == SUCCESSFUL
    assert env.accounts() == [] and env.links() == []


def test_link_only_when_the_target_is_already_gone(make_env):
    env = make_env(account_mapping(policies=[{"situation": "LINK_ONLY", "action": "UNLINK"}]))
    ada, _ = run(env.service.create_user({"userName": "ada", "givenName": "A", "sn": "L", "mail": "a@x.org"}))
    env.repo.delete(env.accounts()[0]["_id"], resource="account")
    _, results = run(env.service.delete_user(ada["_id"]))
    assert (results["userAccount"].situation, results["userAccount"].action) == ("LINK_ONLY", "UNLINK")
    assert env.links() == []


def test_all_gone_when_nothing_was_linked_or_correlated(make_env):
    env = make_env(account_mapping(validSource={"type": "text/javascript", "source": "false"}))
    ada, results = run(env.service.create_user({"userName": "ada", "givenName": "A", "sn": "L", "mail": "a@x.org"}))
    assert results["userAccount"].situation == "SOURCE_IGNORED"
    _, results = run(env.service.delete_user(ada["_id"]))
    assert (results["userAccount"].result, results["userAccount"].situation, results["userAccount"].action) == (
        SUCCESSFUL, "ALL_GONE", "NOREPORT")


def test_the_implicit_sync_log_is_trimmed_with_the_runs(make_env, monkeypatch):
    """It belongs to no run, so a reconciliation's end trims it to keep_runs x SYNC_ENTRIES_PER_RUN entries."""
    from core.sync import service as service_module

    env = make_env()
    monkeypatch.setattr(service_module, "SYNC_ENTRIES_PER_RUN", 2)
    (env.root / "conf" / "sfsync.toml").write_text("keep_runs = 2\n")
    ids = []
    for name in ("ada", "bob", "cy", "dee", "eve", "fay"):
        created, _ = run(env.service.create_user({"userName": name, "givenName": name, "sn": "L",
                                                  "mail": f"{name}@x.org"}))
        ids.append(created["_id"])
    assert env.repo.audit.count("implicit-sync") == 6
    run(env.service.reconcile("userAccount"))
    entries = env.repo.audit.query('reconId eq "implicit-sync"')["result"]
    assert sorted(e["sourceObjectId"].rsplit("/", 1)[1] for e in entries) == sorted(ids[-4:])  # the newest 4
