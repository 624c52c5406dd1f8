"""SyncOperation: the edges mutation testing found untested (``scripts/mutation.py --module operation``).

What each script is given (``linkQualifier``, ``recon.actionParam``, ``sourceAction``, onUnlink's variables),
correlation by a filter that is not plain equalities, several equalities compared case-insensitively,
correlationScript answers of the wrong shape, and the messages of a failed record. A script shows what it saw
by throwing it as JSON: the record fails and its audit message carries the text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core.sync.links import MappingLinks
from core.sync.objectsets import ManagedObjects
from core.sync.operation import SyncOperation
from core.sync.scripts import ScriptEngine
from tests.sync.conftest import account_mapping

JS = "text/javascript"


def spy(expression: str) -> dict:
    """A script that throws ``expression`` as JSON."""
    return {"type": JS, "source": f"throw JSON.stringify({expression})"}


def seen(entry: dict) -> dict:
    """What a spy threw, from the record's audit message."""
    assert entry["status"] == "FAILURE", entry
    return json.loads(re.search(r"\{.*\}", entry["message"]).group())


def operation(env, name: str = "userAccount") -> SyncOperation:
    mapping = env.service.config().get(name)
    return SyncOperation(mapping, ScriptEngine(), ManagedObjects(env.repo, "user"),
                         ManagedObjects(env.repo, "account"), MappingLinks(env.repo, mapping))


# ------------------------------------------------------------------------------------- what scripts see

def test_valid_source_and_valid_target_see_the_default_link_qualifier(make_env):
    env = make_env(account_mapping(
        validSource={"type": JS, "source": "linkQualifier === 'default'"},
        validTarget={"type": JS, "source": "linkQualifier === 'default'"}))
    ada = env.user("ada")
    acct = env.account("ada")
    env.repo.link("userAccount", ada["_id"], acct["_id"])
    [record] = operation(env).target_records([acct["_id"]])  # validTarget, then validSource alone
    assert str(record.situation) == "CONFIRMED"
    run = env.recon()  # the source phase's validSource
    assert run["situationSummary"]["CONFIRMED"] == 1


def test_without_valid_source_a_live_linked_source_is_confirmed_in_the_target_phase(make_env):
    env = make_env(account_mapping())
    ada = env.user("ada")
    acct = env.account("ada")
    env.repo.link("userAccount", ada["_id"], acct["_id"])
    [record] = operation(env).target_records([acct["_id"]])
    assert (str(record.situation), record.source["_id"]) == ("CONFIRMED", ada["_id"])


def test_a_valid_target_that_throws_fails_its_record_with_the_scripts_message(make_env):
    env = make_env(account_mapping(validTarget={"type": JS, "source": "throw 'no kind for ' + target.login"}))
    acct = env.account("zed")
    [record] = operation(env).target_records([acct["_id"]])
    assert not record.ok and "no kind for zed" in record.message


def _action_spy_env(make_env, situation: str):
    return make_env(account_mapping(policies=[{"situation": situation, "action": spy(
        "{p: recon.actionParam, source: source && source._id, target: target && target._id, lq: linkQualifier,"
        " sourceAction: sourceAction}")}]))


def test_an_action_script_in_the_source_phase_sees_the_operation(make_env):
    env = _action_spy_env(make_env, "FOUND")
    ada = env.user("ada")
    acct = env.account("ADA")
    run = env.recon()
    [entry] = env.audit(run)
    assert seen(entry) == {
        "p": {"reconId": run["_id"], "mapping": "userAccount", "situation": "FOUND", "action": "UPDATE",
              "sourceId": ada["_id"], "targetId": acct["_id"], "linkQualifier": "default",
              "_action": "performAction"},
        "source": ada["_id"], "target": acct["_id"], "lq": "default", "sourceAction": True}


def test_an_action_script_without_a_target_gets_no_target_id(make_env):
    env = _action_spy_env(make_env, "ABSENT")
    ada = env.user("ada")
    run = env.recon()
    [entry] = env.audit(run)
    got = seen(entry)
    assert got["p"]["action"] == "CREATE" and got["p"]["sourceId"] == ada["_id"]
    assert "targetId" not in got["p"] and "target" not in got["p"] and got["target"] is None


def test_an_action_script_in_the_target_phase_is_told_so(make_env):
    env = _action_spy_env(make_env, "UNASSIGNED")
    env.user("carol")
    acct = env.account("zed")
    run = env.recon()
    [entry] = [e for e in env.audit(run) if e.get("reconciling") == "target"]
    got = seen(entry)
    assert got["p"]["target"] == "true" and got["p"]["targetId"] == acct["_id"]
    assert (got["p"]["action"], got["sourceAction"], got["source"], got["target"]) == (
        "EXCEPTION", False, None, acct["_id"])


@pytest.mark.parametrize(("answer", "message"), [
    ("null", "action script returned null value"),
    ("'Create'", "action script returned invalid action 'Create' (one of CREATE, UPDATE, DELETE, LINK, UNLINK, "
                 "EXCEPTION, IGNORE, REPORT, NOREPORT, ASYNC, exactly)"),
])
def test_a_bad_action_script_answer_names_the_script(make_env, answer, message):
    env = make_env(account_mapping(policies=[{"situation": "ABSENT", "action": {"type": JS, "source": answer}}]))
    env.user("ada")
    run = env.recon()
    [entry] = env.audit(run)
    assert entry["status"] == "FAILURE"
    assert re.search(r"script \S+.*: " + re.escape(message), entry["message"]), entry["message"]
    assert "script None" not in entry["message"]


def test_on_unlink_sees_the_link_it_is_about_to_remove(make_env):
    env = make_env(account_mapping(
        validSource={"type": JS, "source": "source.accountStatus !== 'inactive'"},
        onUnlink=spy("{source: source._id, target: target._id, lq: linkQualifier, sourceId: sourceId,"
                     " targetId: targetId, mapping: mappingConfig.name}")))
    ada = env.user("ada")
    env.recon()
    [(_, target_id)] = env.links()
    env.repo.update(ada["_id"], {**env.repo.read(ada["_id"]), "accountStatus": "inactive"})
    [entry] = env.audit(env.recon())  # UNQUALIFIED -> DELETE: onUnlink first
    assert seen(entry) == {"source": ada["_id"], "target": target_id, "lq": "default", "sourceId": ada["_id"],
                           "targetId": target_id, "mapping": "userAccount"}


# ------------------------------------------------------------------------------------------- correlation

def test_a_correlation_query_that_is_not_equalities_queries_the_target_set(make_env):
    env = make_env(account_mapping(correlationQuery={"_queryFilter": 'login sw "${source.userName}."'}))
    ada = env.user("ada")
    acct = env.account("ada.lovelace")
    env.account("bob.ada")
    run = env.recon()
    assert run["situationSummary"]["FOUND"] == 1
    assert (ada["_id"], acct["_id"]) in env.links()


def test_several_equalities_must_all_hold_compared_without_case(make_env):
    env = make_env(account_mapping(correlationQuery={
        "_queryFilter": 'login eq "${source.userName}" and email eq "${source.mail}" and level eq 3'}))
    ada = env.user("ada", mail="Ada@Example.com")
    right = env.account("ada", email="ada@example.COM", level=3)
    env.account("Ada", email="other@example.com", level=3)  # another mail
    env.account("ADA", email="ada@example.com", level="3")  # a text, not the number
    env.account("aDa", email="ada@example.com", level=4)
    run = env.recon()
    assert run["situationSummary"]["FOUND"] == 1
    assert (ada["_id"], right["_id"]) in env.links()


@pytest.mark.parametrize("answer", ["null", "5", "'a1'", "{_id: 'a1'}", "['a1']", "[{name: 'a1'}]", "[{_id: 1}]"])
def test_a_correlation_script_answer_of_the_wrong_shape_fails_its_record(make_env, answer):
    env = make_env(account_mapping(correlationQuery=None, correlationScript={"type": JS, "source": answer}))
    env.account("zed")  # (with no target at all there is nothing to correlate with)
    env.user("ada")
    run = env.recon()
    [entry] = [e for e in env.audit(run) if e["reconciling"] == "source"]
    assert entry["status"] == "FAILURE"
    assert 'correlationScript: the script must return a list of {"_id": "..."} objects' in entry["message"]


def test_a_correlation_script_sees_the_default_link_qualifier(make_env):
    env = make_env(account_mapping(correlationQuery=None, correlationScript={
        "type": JS, "source": "linkQualifier === 'default' ? [{_id: 'a1'}] : []"}))
    env.repo.create({"login": "x", "email": "x@example.com", "kind": "person"}, id="a1", resource="account")
    env.user("ada")
    run = env.recon()
    assert run["situationSummary"]["FOUND"] == 1


def _tree_mapping(kind: str, fields: list[str]) -> dict:
    """Correlation by an expression tree over the mapped target: login is userName with ".x" appended by a
    transform script, description is copied when the user has one."""
    return account_mapping(
        properties=[{"source": "userName", "target": "login",
                     "transform": {"type": JS, "source": "source + '.x'"}},
                    {"source": "mail", "target": "email"}, {"source": "description", "target": "description"},
                    {"target": "kind", "default": "person"}],
        correlationQuery={"expressionTree": {kind: fields}})


def test_an_all_expression_tree_correlates_on_every_mapped_field(make_env):
    env = make_env(_tree_mapping("all", ["login", "description"]))
    ada = env.user("ada", description="math")
    right = env.account("ada.x", description="math")
    env.account("ada.x", description="poetry")
    env.account("ada", description="math")  # the value before the transform
    run = env.recon()
    assert run["situationSummary"]["FOUND"] == 1 and (ada["_id"], right["_id"]) in env.links()


def test_an_all_expression_tree_with_a_field_missing_correlates_nothing(make_env):
    env = make_env(_tree_mapping("all", ["login", "description"]))
    env.user("ada")  # no description: "all" cannot hold
    env.account("ada.x", description="math")
    run = env.recon()
    assert run["situationSummary"]["ABSENT"] == 1 and run["situationSummary"]["FOUND"] == 0


def test_an_any_expression_tree_correlates_on_the_fields_that_have_values(make_env):
    env = make_env(_tree_mapping("any", ["description", "login"]))
    ada = env.user("ada")  # no description: login alone
    right = env.account("ada.x", description="poetry")
    run = env.recon()
    assert run["situationSummary"]["FOUND"] == 1 and (ada["_id"], right["_id"]) in env.links()


def test_an_any_expression_tree_with_no_value_at_all_correlates_nothing(make_env):
    env = make_env(_tree_mapping("any", ["description"]))
    env.user("ada")
    env.account("ada.x")
    run = env.recon()
    assert run["situationSummary"]["ABSENT"] == 1


def test_a_correlation_template_writes_a_number_as_its_text(make_env):
    env = make_env(account_mapping(correlationQuery={"_queryFilter": 'login eq "${source.employeeNumber}"'}))
    ada = env.user("ada", employeeNumber=1815)
    acct = env.account("1815")
    run = env.recon()
    assert run["situationSummary"]["FOUND"] == 1 and (ada["_id"], acct["_id"]) in env.links()


def test_an_any_expression_tree_needs_one_field_to_match(make_env):
    env = make_env(_tree_mapping("any", ["description", "login"]))
    ada = env.user("ada", description="math")
    right = env.account("ada.x", description="poetry")  # login matches, description does not
    run = env.recon()
    assert run["situationSummary"]["FOUND"] == 1 and (ada["_id"], right["_id"]) in env.links()


def test_a_correlation_template_can_name_the_source_id(make_env):
    env = make_env(account_mapping(correlationQuery={"_queryFilter": 'login eq "${sourceId}"'}))
    ada = env.user("ada")
    acct = env.account(ada["_id"])
    run = env.recon()
    assert run["situationSummary"]["FOUND"] == 1 and (ada["_id"], acct["_id"]) in env.links()


def test_a_correlation_query_script_returns_the_filter(make_env):
    env = make_env(account_mapping(correlationQuery={"type": JS, "source": (
        "linkQualifier === 'default' ? {_queryFilter: 'login eq \"' + source.userName + '.x\"'} : {}")}))
    ada = env.user("ada")
    acct = env.account("ada.x")
    env.account("ada")
    run = env.recon()
    assert run["situationSummary"]["FOUND"] == 1 and (ada["_id"], acct["_id"]) in env.links()


@pytest.mark.parametrize("answer", ["'login eq \"ada\"'", "({})", "({_queryFilter: 5})", "null"])
def test_a_correlation_query_script_of_the_wrong_shape_fails_its_record(make_env, answer):
    env = make_env(account_mapping(correlationQuery={"type": JS, "source": answer}))
    env.account("zed")
    env.user("ada")
    run = env.recon()
    [entry] = [e for e in env.audit(run) if e["reconciling"] == "source"]
    assert entry["status"] == "FAILURE"
    assert 'correlationQuery: the script must return {"_queryFilter": "..."}' in entry["message"]


async def test_a_correlation_filter_salesforce_cannot_answer_fails_the_run_naming_the_set(org_factory, tmp_path):
    """Salesforce is read by equalities alone (one SOQL ``IN`` per field): an outbound correlationQuery that is
    not ``field eq value`` is a mapping Salesforce cannot serve, so the run fails saying so and writes nothing."""
    from tests.sync.orgproject import in_process_service, make_project

    handle = org_factory(users=3, seed=7, instant_jobs=True)
    conf = json.loads((Path(__file__).resolve().parents[2] / "conf" / "sync.json").read_text())
    conf["mappings"][1]["correlationQuery"] = {"_queryFilter": 'Username sw "${source.userName}"'}
    (tmp_path / "sync.json").write_text(json.dumps(conf))
    service = in_process_service(make_project(tmp_path / "p", handle.org, "http://localhost",
                                              sync_json=tmp_path / "sync.json"), handle.app)
    try:
        service.repo.create({"userName": "ada@example.com", "givenName": "Ada", "sn": "Lovelace",
                             "mail": "ada@example.com"})
        before = len(list(handle.org.iter_users()))
        run = await service.reconcile("managedUser_systemSalesforceUser")
        assert (run["state"], run["failureReason"]) == (
            "FAILED", "correlation on system/salesforce/User supports only 'field eq value' filters")
        assert len(list(handle.org.iter_users())) == before and service.repo.links.count("managedUser_systemSalesforceUser") == 0
    finally:
        service.close()


# ---------------------------------------------------------------------- managed.json hooks, a batch at once

def test_a_reconciliation_batch_runs_each_records_own_hooks_and_fails_only_the_refused(make_env):
    """managed/account -> managed/user in one page: onCreate/onValidate for the creates, onUpdate for the updates
    that change something, onDelete for the deletes; each hook sees its own record, and a throw fails that record
    alone, which writes nothing."""
    from tests.sync.test_managed_hooks import set_hooks, user_mapping

    env = make_env(user_mapping())
    set_hooks(env, {
        "onCreate": "object.hookCreate = newObject.userName + '@' + resourceName;"
                    " object.creates = (object.creates || 0) + 1",
        "onValidate": "if (value.userName === 'badcreate') { throw 'create refused ' + value.userName; }",
        "onUpdate": "if (newObject.mail === 'refuse@example.com') { throw 'update refused ' + newObject.userName; }"
                    " object.hookUpdate = oldObject.mail + '>' + newObject.mail + '@' + resourceName",
        "onDelete": "if (object.userName === 'keep') { throw 'delete refused ' + resourceName; }",
    })
    accounts = {login: env.account(login) for login in ("ada", "bob", "carl", "badcreate", "keep", "gone")}
    run = env.recon("accountUser")
    users = {u["userName"]: u for u in env.repo.query({"_queryFilter": "true"})["result"]}
    assert sorted(users) == ["ada", "bob", "carl", "gone", "keep"]
    assert {n: (u["hookCreate"], u["creates"]) for n, u in users.items()} == {n: (f"{n}@managed/user", 1) for n in users}
    [failed] = [e for e in env.audit(run) if e["status"] == "FAILURE"]
    assert failed["sourceObjectId"] == f"managed/account/{accounts['badcreate']['_id']}"
    assert "create refused badcreate" in failed["message"]

    for login, mail in (("ada", "ada2@example.com"), ("carl", "refuse@example.com")):
        env.repo.update(accounts[login]["_id"], {**env.repo.read(accounts[login]["_id"], resource="account"),
                                                 "email": mail}, resource="account")
    for login in ("keep", "gone"):
        env.repo.delete(accounts[login]["_id"], resource="account")
    run = env.recon("accountUser", allow_deletions=True)
    after = {u["userName"]: u for u in env.repo.query({"_queryFilter": "true"})["result"]}
    ada = after["ada"]
    assert (ada["mail"], ada["hookUpdate"]) == ("ada2@example.com",
                                                f"ada@example.com>ada2@example.com@managed/user/{ada['_id']}")
    assert after["bob"] == users["bob"]  # unchanged: no hook ran, nothing written
    assert after["carl"]["mail"] == "carl@example.com" and "hookUpdate" not in after["carl"]
    assert "keep" in after and "gone" not in after
    failures = {e["sourceObjectId"].rsplit("/", 1)[1]: e["message"] for e in env.audit(run) if e["status"] == "FAILURE"}
    by_id = {a["_id"]: login for login, a in accounts.items()}
    assert sorted(by_id[k] for k in failures) == ["badcreate", "carl", "keep"]
    messages = {by_id[k]: m for k, m in failures.items()}
    assert "update refused carl" in messages["carl"]
    assert f"delete refused managed/user/{after['keep']['_id']}" in messages["keep"]
    assert ada["creates"] == 1  # an update runs no onCreate
    assert "create refused badcreate" in messages["badcreate"]


def test_a_correlation_template_writes_a_value_the_source_lacks_as_empty_text(make_env):
    env = make_env(account_mapping(correlationQuery={"_queryFilter": 'login eq "${source.nickname}"'}))
    ada = env.user("ada")  # no nickname
    empty = env.account("")
    env.account("None")
    env.account("null")
    run = env.recon()
    assert run["situationSummary"]["FOUND"] == 1 and (ada["_id"], empty["_id"]) in env.links()


def test_correlation_ignores_case_but_not_spelling(make_env):
    """'straße' and 'STRASSE' are one word in upper case only: as names they differ, and each correlates with its
    own account (Salesforce's case-insensitive match lower-cases)."""
    env = make_env()
    sharp = env.user("straße")
    double = env.user("strasse")
    sharp_account = env.account("STRAßE")
    double_account = env.account("Strasse")
    run = env.recon()
    assert run["situationSummary"]["FOUND"] == 2
    assert env.links() == sorted([(sharp["_id"], sharp_account["_id"]), (double["_id"], double_account["_id"])])


def test_a_source_left_alone_beside_another_sources_target_does_not_stop_the_rest_of_its_page(make_env):
    """In one page: 'u1' does not qualify and correlates with a target linked to another source (left alone,
    SOURCE_IGNORED); 'u2' after it qualifies and correlates with a free target (FOUND, updated and linked)."""
    env = make_env(account_mapping(validSource={"type": JS, "source": "source.accountStatus !== 'inactive'"},
                                   policies=[{"situation": "FOUND", "action": "UPDATE"}]))
    owner = env.user("zed")
    taken = env.account("ann")
    env.repo.link("userAccount", owner["_id"], taken["_id"])
    env.repo.create({"userName": "ann", "givenName": "Ann", "sn": "T", "mail": "ann@example.com",
                     "accountStatus": "inactive"}, id="u1")
    env.repo.create({"userName": "bea", "givenName": "Bea", "sn": "T", "mail": "bea@example.com"}, id="u2")
    free = env.account("bea")
    run = env.recon()
    summary = run["situationSummary"]
    assert (summary["SOURCE_IGNORED"], summary["FOUND"]) == (1, 1), summary
    assert ("u2", free["_id"]) in env.links() and ("u1", taken["_id"]) not in env.links()
    assert (owner["_id"], taken["_id"]) in env.links()


def test_a_create_for_a_target_with_no_source_fails_that_record_saying_why(make_env):
    env = make_env(account_mapping(policies=[{"situation": "UNASSIGNED", "action": "CREATE"}], allowEmptySourceSet=True))
    acct = env.account("zed")
    run = env.recon()
    [entry] = env.audit(run)
    assert (entry["status"], entry["message"]) == ("FAILURE", "CREATE needs a source object"), entry
    assert env.accounts() == [acct]


async def test_a_correlation_by_alternative_equalities_is_served_by_salesforce(org_factory, tmp_path):
    """``Username eq … or Email eq …``: OR-ed equalities are read from Salesforce in bulk, one IN per field;
    a managed user whose mail alone matches an org user's Email is FOUND with that user (its UPDATE is refused
    by the org for a required ProfileId this mapping does not send: the correlation is what is under test)."""
    from tests.sync.orgproject import in_process_service, make_project

    handle = org_factory(users=3, seed=7, instant_jobs=True)
    conf = json.loads((Path(__file__).resolve().parents[2] / "conf" / "sync.json").read_text())
    conf["mappings"][1]["correlationQuery"] = {
        "_queryFilter": 'Username eq "${source.userName}" or Email eq "${source.mail}"'}
    (tmp_path / "sync.json").write_text(json.dumps(conf))
    service = in_process_service(make_project(tmp_path / "p", handle.org, "http://localhost",
                                              sync_json=tmp_path / "sync.json"), handle.app)
    try:
        sf_user = next(u for u in handle.org.iter_users() if u["Email"] and u["FirstName"])
        service.repo.create({"userName": "someone.else@example.com", "givenName": "Some", "sn": "One",
                             "mail": sf_user["Email"]})
        run = await service.reconcile("managedUser_systemSalesforceUser")
        assert run["state"] == "SUCCESS", run.get("failureReason")
        assert run["situationSummary"]["FOUND"] == 1, run["situationSummary"]
        [entry] = [e for e in service.audit(run["_id"])["result"] if e.get("reconciling") == "source"]
        assert (entry["situation"], entry["targetObjectId"]) == ("FOUND", f"system/salesforce/User/{sf_user['Id']}")
    finally:
        service.close()


# ----------------------------------------------------------------------------------- what each action does

def test_on_create_sees_the_situation_link_qualifier_and_mapping(make_env):
    env = make_env(account_mapping(onCreate=spy(
        "{situation: situation, lq: linkQualifier, mapping: mappingConfig.name, sourceId: sourceId,"
        " targetId: targetId, login: target.login}")))
    ada = env.user("ada")
    [entry] = env.audit(env.recon())
    assert seen(entry) == {"situation": "ABSENT", "lq": "default", "mapping": "userAccount", "sourceId": ada["_id"],
                           "targetId": None, "login": "ada"}
    assert env.accounts() == []


def test_an_on_create_that_replaces_target_by_a_non_object_creates_the_mapped_target(make_env):
    env = make_env(account_mapping(onCreate={"type": JS, "source": "target.kind = 'robot'; target = 'not an object'"}))
    env.user("ada")
    run = env.recon()
    assert run["statusSummary"] == {"SUCCESS": 1, "FAILURE": 0}
    [acct] = env.accounts()
    assert (acct["login"], acct["kind"]) == ("ada", "person")


@pytest.mark.parametrize(("situation", "action", "message"), [
    ("ABSENT", "LINK", "LINK: no target object to link"),
    ("ABSENT", "UPDATE", "UPDATE: no target object to update"),
    ("FOUND", "CREATE", "CREATE: target {acct} already exists"),
])
def test_an_action_that_does_not_fit_the_situation_fails_its_record_saying_why(make_env, situation, action, message):
    env = make_env(account_mapping(policies=[{"situation": situation, "action": action}]))
    env.user("ada")
    acct = env.account("ada") if situation == "FOUND" else None
    run = env.recon()
    [entry] = env.audit(run)
    assert (entry["status"], entry["message"]) == ("FAILURE", message.format(acct=acct and acct["_id"])), entry
    assert env.accounts() == ([acct] if acct else []) and env.links() == []


def test_link_links_a_found_target_and_leaves_it_as_it_is(make_env):
    env = make_env(account_mapping(policies=[{"situation": "FOUND", "action": "LINK"}]))
    ada = env.user("ada")
    acct = env.account("ADA", email="old@example.com")
    run = env.recon()
    assert run["statusSummary"] == {"SUCCESS": 1, "FAILURE": 0}
    assert env.links() == [(ada["_id"], acct["_id"])]
    assert env.accounts() == [acct]  # not updated: LINK writes no field


def test_a_create_from_an_update_maps_with_the_old_source_in_view(make_env):
    """A managed user changed before it had an account: implicit sync creates the account, and a property's
    condition sees ``oldSource`` (the user before the change), as in an update."""
    import asyncio

    env = make_env(account_mapping(properties=[
        {"source": "userName", "target": "login"}, {"source": "mail", "target": "email"},
        {"target": "kind", "default": "person"},
        {"source": "mail", "target": "previous",
         "transform": {"type": JS, "source": "'changed'"},
         "condition": {"type": JS, "source": "oldSource !== null && oldSource.mail !== source.mail"}}]))
    ada = env.user("ada")  # written to the repository directly: no implicit sync, no account yet
    assert env.accounts() == []
    body = {k: v for k, v in ada.items() if not k.startswith("_")}
    asyncio.run(env.service.update_user(ada["_id"], {**body, "mail": "ada2@example.com"}, rev=ada["_rev"]))
    [acct] = env.accounts()
    assert (acct["email"], acct.get("previous")) == ("ada2@example.com", "changed")


def test_a_correlation_value_that_is_a_list_fails_its_record_not_the_run(make_env):
    # a transform makes the correlated field a list: equality with a list is refused for that record alone
    env = make_env(account_mapping(
        properties=[{"source": "userName", "target": "login",
                     "transform": {"type": JS, "source": "source === 'ada' ? [source] : source"}},
                    {"source": "mail", "target": "email"}, {"target": "kind", "default": "person"}],
        correlationQuery={"expressionTree": {"all": ["login"]}}))
    env.user("ada")
    grace = env.user("grace")
    right = env.account("grace")
    run = env.recon()
    failures = [e for e in env.audit(run) if e["status"] == "FAILURE"]
    assert len(failures) == 1 and "login would be compared with a list" in failures[0]["message"], run
    assert (grace["_id"], right["_id"]) in env.links()
