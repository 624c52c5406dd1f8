"""managed.json hooks (core/sync/managed_hooks.py) on every write path: front ends (SyncService's user methods,
used by REST, the app and the command line) and the engine (reconciliation into managed/user)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from core.repo.query import QueryRequest
from core.sync.managed_hooks import HookError
from core.sync.scriptenv import LOG_FILE
from tests.sync.conftest import Env, account_mapping

HOOKS = {
    "onCreate": "object.hookCreate = [oldObject === null, newObject.userName, request.method, resourceName,"
                " context.trigger.origin].join('|')",
    "onUpdate": "object.hookUpdate = [oldObject.givenName, newObject.givenName, request.method, resourceName].join('|')",
    "onValidate": "if (value.userName === 'bad') { throw {code: 403, message: 'userName bad refused'}; }"
                  " if (value.userName === 'oops') { throw 'plain oops'; } object.validated = true",
    "onStore": "object.stored = object.validated === true",
    "postCreate": "logger.info('postCreate {} {} {}', object._id === newObject._id, object._rev !== undefined,"
                  " request.method); if (object.userName === 'boom') { throw 'postCreate refused boom'; }",
    "postUpdate": "logger.info('postUpdate {} {}', oldObject.givenName, newObject.givenName)",
    "onDelete": "logger.info('onDelete {}', object.userName)",
    "postDelete": "logger.info('postDelete {} {} {}', oldObject.userName, newObject, resourceName)",
    "onRead": "object.readBy = request.method",
    "onSync": "logger.info('onSync {} {} {}', syncResults.action, syncResults.success,"
              " syncResults.syncDetails.map(function (d) { return d.mapping + ':' + d.result; }).join(','))",
}


def set_hooks(env: Env, hooks: dict[str, str]) -> None:
    path = env.root / "conf" / "managed.json"
    data = json.loads(path.read_text())
    user = next(o for o in data["objects"] if o["name"] == "user")
    for key in ("onCreate", "onUpdate", "postDelete"):
        user.pop(key, None)
    user.update({k: {"type": "text/javascript", "source": v} for k, v in hooks.items()})
    path.write_text(json.dumps(data))


def log_text(env: Env) -> str:
    return (env.root / "logs" / LOG_FILE).read_text(encoding="utf-8")


def person(name: str, **fields: Any) -> dict[str, Any]:
    return {"userName": name, "givenName": name.title(), "sn": "Test", "mail": f"{name}@example.com", **fields}


def test_the_samples_hooks_run_unchanged_with_sfsyncs_bundled_library(make_env):
    env = make_env()
    svc = env.service
    created, _ = asyncio.run(svc.create_user(person("ada")))
    assert created["accountStatus"] == "active"  # onCreateUser.setDefaultFields
    assert (created["effectiveRoles"], created["effectiveAssignments"]) == ([], [])  # virtual, answered only
    assert "effectiveRoles" not in env.repo.read(created["_id"])
    stored = env.repo.update(created["_id"], {**person("ada"), "accountStatus": "active", "lastSync": {"x": 1}})
    # onUpdateUser.preserveLastSync: a replace that leaves lastSync out keeps it; a patch does not add it back
    updated, _ = asyncio.run(svc.update_user(created["_id"], person("ada", givenName="Ada2", accountStatus="active")))
    assert updated["lastSync"] == {"x": 1} and updated["_rev"] != stored["_rev"]
    deleted, _ = asyncio.run(svc.delete_user(created["_id"]))  # postDelete's two cleanups: nothing to clean
    assert deleted["userName"] == "ada" and env.repo.count() == 0


def test_front_end_writes_run_each_hook_with_its_bindings(make_env):
    env = make_env()
    set_hooks(env, HOOKS)
    svc = env.service
    created, results = asyncio.run(svc.create_user(person("ada")))
    assert created["hookCreate"] == "true|ada|create|managed/user|implicitSync"
    assert created["validated"] is True and created["stored"] is True
    assert results["userAccount"].result == "SUCCESSFUL"
    uid = created["_id"]
    updated, _ = asyncio.run(svc.update_user(uid, {**created, "givenName": "Ada2"}))
    assert updated["hookUpdate"] == f"Ada|Ada2|update|managed/user/{uid}"
    patched, _ = asyncio.run(svc.patch_user(uid, [{"operation": "replace", "field": "/givenName", "value": "Ada3"}]))
    assert patched["hookUpdate"] == f"Ada2|Ada3|patch|managed/user/{uid}"
    read = asyncio.run(svc.read_user(uid))
    assert read["readBy"] == "read" and "readBy" not in env.repo.read(uid)
    asyncio.run(svc.delete_user(uid))
    log = log_text(env)
    assert "postCreate: postCreate true true create" in log
    assert "postUpdate: postUpdate Ada Ada2" in log and "postUpdate: postUpdate Ada2 Ada3" in log
    assert "onDelete: onDelete ada" in log
    assert f"postDelete: postDelete ada null managed/user/{uid}" in log
    assert "onSync: onSync notifyCreate true userAccount:SUCCESSFUL" in log
    assert "onSync: onSync notifyDelete" in log


def test_an_unchanged_update_runs_no_hook(make_env):
    env = make_env()
    set_hooks(env, {"onUpdate": "object.touched = true", "postUpdate": "throw 'must not run'"})
    created, _ = asyncio.run(env.service.create_user(person("ada")))
    same, _ = asyncio.run(env.service.update_user(created["_id"], {k: v for k, v in created.items()
                                                                   if not k.startswith("effective")}))
    assert "touched" not in same


@pytest.mark.parametrize(("name", "status", "message"), [
    ("bad", 403, "userName bad refused"),
    ("oops", 500, "plain oops"),
])
def test_a_throwing_hook_fails_the_write_and_writes_nothing(make_env, name, status, message):
    env = make_env()
    set_hooks(env, HOOKS)
    with pytest.raises(HookError) as caught:
        asyncio.run(env.service.create_user(person(name)))
    assert caught.value.http_status == status and message in str(caught.value)
    assert "managed/user.onValidate" in str(caught.value)
    assert env.repo.count() == 0 and env.accounts() == []  # no user, no implicit sync
    assert env.repo.activity.query(QueryRequest(query_filter="true"))["result"] == []


def test_a_throwing_post_hook_rolls_the_front_end_write_back(make_env):
    env = make_env()
    set_hooks(env, HOOKS)
    with pytest.raises(HookError, match="postCreate refused boom"):
        asyncio.run(env.service.create_user(person("boom")))
    assert env.repo.count() == 0 and env.accounts() == []


def user_mapping(**overrides: Any) -> dict[str, Any]:
    """managed/account -> managed/user: a reconciliation writing into managed/user."""
    mapping: dict[str, Any] = {
        "name": "accountUser", "source": "managed/account", "target": "managed/user",
        "properties": [{"source": "login", "target": "userName"}, {"source": "email", "target": "mail"},
                       {"source": "login", "target": "givenName"}, {"target": "sn", "default": "Test"}],
        "correlationQuery": {"_queryFilter": 'userName eq "${source.login}"'},
        "policies": [{"situation": "ABSENT", "action": "CREATE"}, {"situation": "CONFIRMED", "action": "UPDATE"},
                     {"situation": "FOUND", "action": "UPDATE"}, {"situation": "SOURCE_MISSING", "action": "DELETE"}],
    }
    mapping.update(overrides)
    return mapping


def test_a_reconciliation_into_managed_user_runs_the_hooks(make_env):
    env = make_env(user_mapping())
    set_hooks(env, HOOKS)
    for login in ("ada", "bob", "bad", "boom"):
        env.account(login)
    run = env.recon("accountUser")
    users = {u["userName"]: u for u in env.repo.query({"_queryFilter": "true"})["result"]}
    assert users["ada"]["hookCreate"] == "true|ada|create|managed/user|recon"
    assert users["ada"]["stored"] is True
    assert "bad" not in users  # onValidate threw: that record failed, nothing written
    failed = {e["sourceObjectId"].rsplit("/", 1)[1]: e for e in env.audit(run) if e["status"] == "FAILURE"}
    by_login = {a["_id"]: a["login"] for a in env.accounts()}
    messages = {by_login[k]: e["message"] for k, e in failed.items()}
    assert "userName bad refused" in messages["bad"] and "managed/user.onValidate" in messages["bad"]
    assert "postCreate refused boom" in messages["boom"]  # the write stands, as in IDM; the record failed
    assert "postCreate: postCreate true true create" in log_text(env)
    # an update through the engine: onUpdate with the old and new objects
    account = next(a for a in env.accounts() if a["login"] == "ada")
    env.repo.update(account["_id"], {**account, "email": "ada2@example.com"}, resource="account")
    env.recon("accountUser")
    ada = next(u for u in env.repo.query({"_queryFilter": "true"})["result"] if u["userName"] == "ada")
    assert ada["mail"] == "ada2@example.com" and ada["hookUpdate"] == f"ada|ada|update|managed/user/{ada['_id']}"
    assert "postUpdate: postUpdate ada ada" in log_text(env)


def test_a_reconciliation_deleting_managed_users_runs_on_and_post_delete(make_env):
    env = make_env(user_mapping(allowEmptySourceSet=True))
    set_hooks(env, {"onDelete": HOOKS["onDelete"], "postDelete": HOOKS["postDelete"]})
    account = env.account("ada")
    env.recon("accountUser")
    env.repo.delete(account["_id"], resource="account")
    env.recon("accountUser", allow_deletions=True)
    log = log_text(env)
    assert env.repo.count() == 0
    assert "onDelete: onDelete ada" in log and "postDelete: postDelete ada null managed/user/" in log


def test_property_level_hooks_of_the_sample_are_run_on_read(make_env):
    env = make_env(account_mapping())
    created = env.user("ada")
    read = asyncio.run(env.service.read_user(created["_id"]))
    assert (read["effectiveRoles"], read["effectiveAssignments"]) == ([], [])


def test_a_scripts_openidm_writes_of_managed_users_run_the_hooks_and_implicit_sync(make_env):
    """IDM routes a script's ``openidm.create/patch/delete`` of managed/user to the managed object service, as a
    REST write: its hooks, implicit sync (managed/user -> managed/account here) and onSync run."""
    env = make_env()
    set_hooks(env, {
        "onCreate": "object.created = 'hooked'; if (object.userName === 'ada') {"
                    " var shadow = openidm.create('managed/user', null, {userName: 'ada-shadow', givenName: 'Shadow',"
                    " sn: 'Test', mail: 'shadow@example.com'});"
                    " object.shadowId = shadow._id; object.shadowMark = shadow.created; }",
        "onUpdate": "object.updated = 'hooked'",
        "postCreate": "if (object.userName === 'ada') {"
                      " openidm.patch('managed/user/' + object.shadowId, null,"
                      " [{operation: 'replace', field: '/sn', value: 'Patched'}]); }",
        "postDelete": "logger.info('postDelete {}', oldObject.userName)",
        "onSync": HOOKS["onSync"],
    })
    created, _ = asyncio.run(env.service.create_user(person("ada")))
    shadow = env.repo.read(created["shadowId"])
    assert created["shadowMark"] == "hooked" and shadow["created"] == "hooked"  # the nested create's onCreate
    assert shadow["sn"] == "Patched" and shadow["updated"] == "hooked"  # the nested patch's onUpdate
    accounts = {a["login"]: a for a in env.accounts()}
    assert set(accounts) == {"ada", "ada-shadow"}  # implicit sync of the script's write too
    assert sum(line.count("onSync notifyCreate true userAccount:SUCCESSFUL") for line in log_text(env).splitlines()) == 2
    assert "onSync notifyUpdate true userAccount:SUCCESSFUL" in log_text(env)
    activity = env.repo.activity.query(QueryRequest(query_filter="true"))["result"]
    assert {(a["objectId"], a["operation"]) for a in activity} >= {
        (f"managed/user/{shadow['_id']}", "CREATE"), (f"managed/user/{shadow['_id']}", "PATCH")}


def test_a_hook_writing_without_end_is_stopped_with_a_clear_error(make_env):
    env = make_env()
    set_hooks(env, {"onCreate": "openidm.create('managed/user', null, {userName: object.userName + 'x',"
                                " givenName: 'L', sn: 'Loop', mail: 'l@example.com'})"})
    with pytest.raises(HookError, match="nested 8 deep"):
        asyncio.run(env.service.create_user(person("loop")))
    assert env.repo.count() == 0 and env.accounts() == []


def test_a_hook_error_names_the_hook_the_file_or_source_and_the_line(make_env):
    env = make_env()
    (env.root / "script").mkdir()
    (env.root / "script" / "checkUser.js").write_text("// checks\nvar mail = object.mail;\n\n"
                                                      "if (mail.indexOf('example') < 0) { throw new Error('not ours: ' + mail); }\n")
    path = env.root / "conf" / "managed.json"
    data = json.loads(path.read_text())
    user = next(o for o in data["objects"] if o["name"] == "user")
    user["onCreate"] = {"type": "text/javascript", "source": "var n = object.userName;\nobject.nick.first = n;"}
    user["onUpdate"] = {"type": "text/javascript", "file": "script/checkUser.js"}
    path.write_text(json.dumps(data))
    with pytest.raises(HookError) as caught:
        asyncio.run(env.service.create_user(person("ada")))
    assert str(caught.value) == ("script managed/user.onCreate: TypeError: cannot set property 'first' of undefined"
                                 " (at source:2)")
    user.pop("onCreate")
    path.write_text(json.dumps(data))
    created, _ = asyncio.run(env.service.create_user(person("ada")))
    with pytest.raises(HookError) as caught:
        asyncio.run(env.service.update_user(created["_id"], {**person("ada"), "mail": "ada@elsewhere.org"}))
    assert str(caught.value) == ("script managed/user.onUpdate (script/checkUser.js): Error: not ours: ada@elsewhere.org"
                                 " (at script/checkUser.js:4)")
    assert env.repo.read(created["_id"])["mail"] == "ada@example.com"
