"""Every situation and action through the real engine and the real SQLite repository.

The mapping is managed/user -> managed/account (IDM supports mappings between any two object sets), so each
rule is tested without a network; the Salesforce mappings are tested against the local org elsewhere.
"""

from __future__ import annotations

import threading

import pytest

from tests.sync.conftest import account_mapping

pytestmark = pytest.mark.backends("sqlite", "postgresql")  # tests/fixtures/pg.py


def policies(**pairs: str) -> list[dict]:
    return [{"situation": s, "action": a} for s, a in pairs.items()]


def only(run: dict, situation: str, n: int = 1) -> None:
    nonzero = {k: v for k, v in run["situationSummary"].items() if v}
    assert nonzero == {situation: n}, nonzero


def test_absent_user_is_created_and_linked(make_env):
    env = make_env()
    ada = env.user("ada")
    run = env.recon()
    only(run, "ABSENT")
    [acct] = env.accounts()
    assert (acct["login"], acct["email"], acct["kind"]) == ("ada", "ada@example.com", "person")
    assert env.links() == [(ada["_id"], acct["_id"])]
    assert run["progress"]["target"]["created"] == 1 and run["progress"]["links"]["created"] == 1
    assert run["statusSummary"] == {"SUCCESS": 1, "FAILURE": 0}
    [entry] = env.audit(run)
    assert (entry["situation"], entry["action"], entry["status"]) == ("ABSENT", "CREATE", "SUCCESS")
    assert entry["sourceObjectId"] == f"managed/user/{ada['_id']}"


def test_confirmed_update_writes_only_when_something_changed(make_env):
    env = make_env()
    env.user("ada")
    env.recon()
    [before] = env.accounts()
    run = env.recon()
    only(run, "CONFIRMED")
    assert env.accounts()[0]["_rev"] == before["_rev"]  # nothing changed: no write
    uid = env.links()[0][0]
    user = env.repo.read(uid)
    env.repo.update(uid, {**user, "mail": "ada@new.example.com"})
    env.recon()
    [after] = env.accounts()
    assert after["email"] == "ada@new.example.com" and after["_rev"] != before["_rev"]


def test_found_target_is_linked_and_updated(make_env):
    env = make_env()
    acct = env.account("ada", email="old@example.com")
    ada = env.user("ada")
    run = env.recon()
    only(run, "FOUND")
    assert env.links() == [(ada["_id"], acct["_id"])]
    assert env.accounts()[0]["email"] == "ada@example.com"
    assert len(env.accounts()) == 1


def test_link_action_links_without_changing_the_target(make_env):
    env = make_env(account_mapping(policies=policies(FOUND="LINK")))
    acct = env.account("ada", email="old@example.com")
    env.user("ada")
    env.recon()
    assert env.accounts()[0]["email"] == "old@example.com"
    assert env.links()[0][1] == acct["_id"]


def test_found_already_linked_is_an_exception_counted_as_success(make_env):
    env = make_env(account_mapping(correlationQuery={"_queryFilter": 'email eq "${source.mail}"'}))
    env.user("ada", mail="shared@example.com")
    env.recon()
    env.user("bob", mail="shared@example.com")  # correlates to the account already linked to ada
    run = env.recon()
    assert run["situationSummary"]["FOUND_ALREADY_LINKED"] == 1
    assert run["statusSummary"]["FAILURE"] == 0
    entry = [e for e in env.audit(run) if e["situation"] == "FOUND_ALREADY_LINKED"][0]
    assert entry["action"] == "EXCEPTION" and entry["status"] == "SUCCESS"
    assert len(env.accounts()) == 1


def test_ambiguous_correlation_is_an_exception_listing_the_targets(make_env):
    env = make_env()
    a1, a2 = env.account("ada"), env.account("ada")
    env.user("ada")
    run = env.recon()
    only(run, "AMBIGUOUS")
    [entry] = env.audit(run)
    assert entry["action"] == "EXCEPTION"
    assert set(entry["ambiguousTargetObjectIds"].split(", ")) == {a1["_id"], a2["_id"]}
    assert env.links() == []


def test_missing_target_is_an_exception_by_default_and_create_recreates_it(make_env):
    env = make_env()
    env.user("ada")
    env.recon()
    env.repo.delete(env.accounts()[0]["_id"], resource="account")
    run = env.recon()
    only(run, "MISSING")
    assert env.accounts() == []
    env.write_mappings([account_mapping(policies=policies(MISSING="CREATE"))])
    env.recon()  # a link to a target that is gone: CREATE makes a new one
    [acct] = env.accounts()
    assert acct["login"] == "ada"


def test_unqualified_source_deletes_its_target_and_link(make_env):
    env = make_env(account_mapping(validSource={"type": "text/javascript",
                                                "source": "source.accountStatus !== 'inactive'"}))
    ada = env.user("ada")
    env.recon()
    env.repo.update(ada["_id"], {**env.repo.read(ada["_id"]), "accountStatus": "inactive"})
    run = env.recon()
    only(run, "UNQUALIFIED")
    assert env.accounts() == [] and env.links() == []


def test_an_unqualified_source_with_several_correlated_targets_deletes_none_of_them(make_env):
    """IDM (SourceSyncOperation.assessSituation): not qualified, no link, more than one correlated target ->
    UNQUALIFIED with the candidates listed and no target, so DELETE deletes nothing; the candidates leave the
    target phase. Correlation ignores case, so two managed names differing only in case are such a pair."""
    env = make_env(account_mapping(validSource={"type": "text/javascript", "source": "false"}))
    a1, a2 = env.account("ada"), env.account("ADA")
    env.user("ada")
    run = env.recon()
    only(run, "UNQUALIFIED")  # neither candidate is UNASSIGNED in the target phase
    [entry] = env.audit(run)
    assert (entry["situation"], entry["action"], entry["status"]) == ("UNQUALIFIED", "DELETE", "SUCCESS")
    assert set(entry["ambiguousTargetObjectIds"].split(", ")) == {a1["_id"], a2["_id"]}
    assert "targetObjectId" not in entry
    assert sorted(a["_id"] for a in env.accounts()) == sorted([a1["_id"], a2["_id"]])


def test_an_unqualified_source_with_one_correlated_target_deletes_it(make_env):
    """IDM: not qualified, no link, exactly one correlated (unlinked) target -> UNQUALIFIED on that target."""
    env = make_env(account_mapping(validSource={"type": "text/javascript", "source": "false"}))
    acct = env.account("ada")
    env.user("ada")
    run = env.recon()
    only(run, "UNQUALIFIED")
    [entry] = env.audit(run)
    assert "targetObjectId" not in entry  # IDM names the target only while it exists after the action
    assert env.accounts() == [] and acct["_id"]


def test_source_ignored_is_reported_and_changes_nothing(make_env):
    env = make_env(account_mapping(validSource={"type": "text/javascript", "source": "false"}))
    env.user("ada")
    run = env.recon()
    only(run, "SOURCE_IGNORED")
    [entry] = env.audit(run)
    assert entry["action"] == "REPORT"
    assert env.accounts() == []


def test_unassigned_target_is_found_in_the_target_phase(make_env):
    env = make_env()
    env.user("ada")
    stray = env.account("nobody")
    run = env.recon()
    assert run["situationSummary"]["UNASSIGNED"] == 1
    entry = [e for e in env.audit(run) if e["situation"] == "UNASSIGNED"][0]
    assert (entry["reconciling"], entry["action"]) == ("target", "EXCEPTION")
    env.write_mappings([account_mapping(policies=policies(UNASSIGNED="DELETE"))])
    env.recon()
    assert stray["_id"] not in {a["_id"] for a in env.accounts()}


def test_source_missing_target_can_be_unlinked(make_env):
    env = make_env(account_mapping(policies=policies(SOURCE_MISSING="UNLINK")))
    ada = env.user("ada")
    env.user("bob")
    env.recon()
    env.repo.delete(ada["_id"])
    run = env.recon()
    assert run["situationSummary"]["SOURCE_MISSING"] == 1
    assert len(env.links()) == 1 and len(env.accounts()) == 2  # unlinked, not deleted


def test_target_ignored_when_valid_target_is_false(make_env):
    env = make_env(account_mapping(validTarget={"type": "text/javascript", "source": "target.login !== 'system'"}))
    env.user("ada")
    env.account("system")
    run = env.recon()
    assert run["situationSummary"]["TARGET_IGNORED"] == 1


def test_noreport_writes_no_audit_entry_and_async_does_nothing_but_is_audited(make_env):
    """SourceRecon.recon audits every record whose action is not NOREPORT: ASYNC is reported."""
    env = make_env(account_mapping(policies=policies(ABSENT="NOREPORT")))
    env.user("ada")
    run = env.recon()
    only(run, "ABSENT")
    assert env.audit(run) == [] and env.accounts() == []
    env.write_mappings([account_mapping(policies=policies(ABSENT="ASYNC"))])
    run = env.recon()
    [entry] = env.audit(run)
    assert (entry["action"], entry["status"]) == ("ASYNC", "SUCCESS") and env.accounts() == []


@pytest.mark.backends("sqlite")  # two projects in one test: on PostgreSQL they would share one database
def test_ignore_and_report_change_nothing_but_are_audited(make_env):
    for action in ("IGNORE", "REPORT"):
        env = make_env(account_mapping(policies=policies(ABSENT=action)))
        env.user("ada")
        run = env.recon()
        assert [e["action"] for e in env.audit(run)] == [action]
        assert env.accounts() == []


def test_policy_condition_and_action_script_choose_the_action(make_env):
    env = make_env(account_mapping(policies=[
        {"situation": "ABSENT", "action": "IGNORE", "condition": '/source/userName sw "sys"'},
        {"situation": "ABSENT", "action": {"type": "text/javascript", "source": "'CREATE'"},
         "postAction": {"type": "text/javascript", "source": "if (action !== 'CREATE') throw 'bad';"}},
    ]))
    env.user("system1")
    env.user("ada")
    run = env.recon()
    assert run["actionSummary"] == {"IGNORE": 1, "CREATE": 1}
    assert [a["login"] for a in env.accounts()] == ["ada"]


def test_a_script_error_fails_that_record_not_the_run(make_env):
    env = make_env(account_mapping(properties=[
        {"source": "userName", "target": "login"},
        {"source": "description", "target": "short", "transform": {"type": "text/javascript",
                                                                   "source": "source.substring(0, 3)"}}]))
    env.user("ada", description="engineer")
    env.user("bob")  # no description: the transform throws
    run = env.recon()
    assert run["state"] == "SUCCESS"
    assert run["statusSummary"] == {"SUCCESS": 1, "FAILURE": 1}
    failure = [e for e in env.audit(run) if e["status"] == "FAILURE"][0]
    assert "userAccount.properties.short.transform" in failure["message"]
    assert [a["short"] for a in env.accounts()] == ["eng"]


def test_dry_run_decides_but_changes_nothing(make_env):
    env = make_env()
    env.user("ada")
    run = env.recon(dry_run=True)
    only(run, "ABSENT")
    assert run["dryRun"] is True and run["actionSummary"] == {"CREATE": 1}
    assert env.accounts() == [] and env.links() == []


def test_cancel_stops_at_a_page_boundary(make_env):
    env = make_env()
    env.repo.create_many([{"userName": f"u{i}", "givenName": "G", "sn": "S", "mail": f"u{i}@example.com"}
                          for i in range(4500)])
    stop = threading.Event()

    def progress(run):
        if run["progress"]["source"]["existing"]["processed"] >= 2000:
            stop.set()

    import asyncio
    run = asyncio.run(env.service.reconcile("userAccount", on_progress=progress, cancel=stop))
    assert (run["state"], run["stage"]) == ("CANCELED", "COMPLETED_CANCELED")
    assert run["progress"]["source"]["existing"]["processed"] == 2000
    assert len(env.accounts()) == 2000
    assert env.service.run(run["_id"])["state"] == "CANCELED"
    rerun = env.recon()
    assert rerun["situationSummary"]["CONFIRMED"] == 2000 and rerun["situationSummary"]["ABSENT"] == 2500


def test_empty_source_fails_unless_allowed(make_env):
    env = make_env()
    run = env.recon()
    assert run["state"] == "FAILED"
    assert "allowEmptySourceSet" in run["failureReason"]
    env.write_mappings([account_mapping(allowEmptySourceSet=True)])
    assert env.recon()["state"] == "SUCCESS"


def test_run_is_kept_and_listed_newest_first(make_env):
    env = make_env()
    env.user("ada")
    first, second = env.recon(), env.recon()
    assert [r["_id"] for r in env.service.runs(10)][:2] == [second["_id"], first["_id"]]
    stored = env.service.run(first["_id"])
    assert stored["state"] == "SUCCESS" and stored["stageDescription"] == "reconciliation completed."
    assert set(stored["progress"]) == {"source", "target", "links"}


def test_a_run_is_cancelled_from_another_process_through_the_repository(make_env):
    from core.sync.service import SyncService

    env = make_env()
    env.repo.create_many([{"userName": f"u{i}", "givenName": "G", "sn": "S", "mail": f"u{i}@example.com"}
                          for i in range(4500)])
    other = SyncService(env.project)  # another front end: it did not start the run
    asked = []

    def progress(run):
        if run["stage"] == "ACTIVE_RECONCILING_SOURCE" and run["progress"]["source"]["existing"]["processed"] \
                and not asked:
            asked.append(other.cancel(run["_id"]))

    import asyncio
    try:
        run = asyncio.run(env.service.reconcile("userAccount", on_progress=progress))
        assert asked == [True]
        assert run["state"] == "CANCELED" and run["progress"]["source"]["existing"]["processed"] < 4500
        assert other.cancel(run["_id"]) is False  # over already
    finally:
        other.close()


def test_a_run_started_through_the_runner_is_visible_at_once_and_waited_for(make_env):
    """``core.runner.start``: the run goes on in its own thread; the repository has it as it goes."""
    from core.runner import start

    env = make_env()
    env.user("ada")
    seen: list[str] = []
    handle = start(lambda cancel: env.service.reconcile("userAccount", cancel=cancel.event,
                                                        on_progress=lambda r: seen.append(r["_id"])),
                   name="test-recon")
    run = handle.wait(60)
    assert run["state"] == "SUCCESS" and run["situationSummary"]["ABSENT"] == 1
    assert seen and env.service.run(seen[0])["state"] == "SUCCESS"
    handle.join(10)
    assert handle.thread is not None and not handle.thread.is_alive()
