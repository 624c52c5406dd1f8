"""The script environment (issue #14 item 3): logger, require, identityServer, context, openidm over the
repository, and what the sync engine binds, against the real engine and repository."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from core.repo.repository import Repository
from core.sync.mapping import SyncConfig
from core.sync.observed import WHOLE, observed_fields
from core.sync.scriptenv import LOG_FILE, ScriptEnv, close_project_log, project_log
from core.sync.scripts import ScriptEngine, ScriptError, ScriptSpec, variables_used
from tests.sync.conftest import account_mapping


@pytest.fixture
def project(tmp_path: Path):
    (tmp_path / "script").mkdir()
    project_log(tmp_path)
    yield tmp_path
    close_project_log(tmp_path)


@pytest.fixture
def repo(project: Path):
    r = Repository.open(project / "db.sqlite3")
    yield r
    r.close()


@pytest.fixture
def engine(project: Path, repo: Repository):
    e = ScriptEngine(env=ScriptEnv(project_dir=project, repo=repo, authentication_id="alice", origin="test"))
    yield e
    e.close()


def run(engine: ScriptEngine, text: str, name: str = "m.onCreate", **variables):
    return engine.script(ScriptSpec(name, text))(**variables)


def log_text(project: Path) -> str:
    for h in logging.getLogger("sfsync").handlers:
        h.flush()
    return (project / "logs" / LOG_FILE).read_text(encoding="utf-8")


# ---- logger -------------------------------------------------------------------------------------------------
def test_logger_fills_placeholders_and_names_the_script(engine, project):
    run(engine, "logger.info('user {} has {}', source.name, {n: 2}); logger.warn('no args'); console.log('c', 1)",
        name="userAccount.onCreate", source={"name": "bob"})
    text = log_text(project)
    assert 'INFO sfsync.script: userAccount.onCreate: user bob has {"n":2}' in text
    assert "WARNING sfsync.script: userAccount.onCreate: no args" in text
    assert "userAccount.onCreate: c 1" in text


def test_logger_lines_of_a_failing_script_are_written_once(engine, project):
    with pytest.raises(ScriptError, match="boom"):
        run(engine, "logger.error('before {}', 1); openidm.read('managed/user/x'); throw new Error('boom')")
    assert log_text(project).count("m.onCreate: before 1") == 1


# ---- require, identityServer, context, file -------------------------------------------------------------------
def test_require_loads_a_module_from_script_once(engine, project):
    (project / "script" / "lib").mkdir()
    (project / "script" / "lib" / "names.js").write_text(
        "globalThis.loads = (globalThis.loads || 0) + 1;\n"
        "exports.full = function(u){ return u.givenName + ' ' + u.sn; };\n"
        "exports.loads = function(){ return globalThis.loads; };\n"
        "exports.peek = function(){ return typeof source; };\n")
    (project / "script" / "whole.js").write_text("module.exports = function(x){ return x * 2; };")
    assert run(engine, "require('lib/names').full(source)", source={"givenName": "A", "sn": "B"}) == "A B"
    assert run(engine, "require('lib/names.js').loads() + require('whole')(21)") == 43
    # a module cannot see the calling script's variables: only what the script passes it (what observed.py sees)
    assert run(engine, "require('lib/names').peek()", source={"x": 1}) == "undefined"


def test_require_of_a_missing_or_escaping_module_names_file_and_folder(engine, project):
    with pytest.raises(ScriptError, match=r"require\('nope'\): nope\.js not found in .*script"):
        run(engine, "require('nope')")
    with pytest.raises(ScriptError, match="outside the script folder"):
        run(engine, "require('../db')")
    (project / "script" / "bad.js").write_text("exports.x = (;")
    with pytest.raises(ScriptError, match=r"bad\.js: SyntaxError"):
        run(engine, "require('bad')")


def test_identity_server_and_context(project, repo):
    (project / "resolver").mkdir()
    (project / "resolver" / "boot.properties").write_text("# IDM's boot file\nopenidm.port.http=8080\nx.y = z\n")
    engine = ScriptEngine(env=ScriptEnv(project_dir=project, repo=repo, authentication_id="alice", origin="recon"))
    try:
        assert run(engine, "identityServer.getProperty('openidm.port.http')") == "8080"
        assert run(engine, "identityServer.getProperty('x.y')") == "z"
        assert run(engine, "identityServer.getProperty('missing', 'dflt')") == "dflt"
        assert run(engine, "identityServer.getProperty('missing')") is None
        assert run(engine, "identityServer.getProjectLocation()") == str(project.resolve())
        assert run(engine, "[context.security.authenticationId, context.trigger.origin, context.trigger.name]",
                   name="userAccount.validSource") == ["alice", "recon", "validSource"]
    finally:
        engine.close()


def test_a_file_script_runs_and_its_errors_name_the_file(engine, project):
    (project / "script" / "valid.js").write_text("if (source.bad) { throw new Error('bad source'); }\n!!source.ok")
    spec = ScriptSpec.parse({"type": "text/javascript", "file": "script/valid.js"}, name="m.validSource",
                            path="conf/sync.json", field_path="mappings[0].validSource", base_dir=project)
    assert engine.script(spec).boolean(source={"ok": 1}) is True
    with pytest.raises(ScriptError, match=r"m\.validSource \(script/valid\.js\): Error: bad source"):
        engine.script(spec).boolean(source={"bad": 1})


# ---- openidm over managed/user ----------------------------------------------------------------------------
USER = "{userName: 'ann', givenName: 'Ann', sn: 'Lee', mail: 'ann@example.com'}"


def test_openidm_crud_and_query_shapes(engine, repo):
    created = run(engine, f"openidm.create('managed/user', 'u1', {USER})")
    assert created["_id"] == "u1" and created["userName"] == "ann" and created["_rev"]
    assert run(engine, "openidm.read('managed/user/u1', null, ['mail'])") == {
        "_id": "u1", "_rev": created["_rev"], "mail": "ann@example.com"}
    assert run(engine, "openidm.read('managed/user/none')") is None
    updated = run(engine, f"var u = {USER}; u.sn = 'Ray'; openidm.update('managed/user/u1', null, u)")
    assert updated["sn"] == "Ray"
    patched = run(engine, "openidm.patch('managed/user/u1', null, "
                          "[{operation: 'replace', field: '/mail', value: 'ray@example.com'}]).mail")
    assert patched == "ray@example.com"
    result = run(engine, "openidm.query('managed/user', {_queryFilter: 'userName sw \"an\"'}, ['userName'])")
    assert set(result) >= {"result", "resultCount", "pagedResultsCookie", "totalPagedResultsPolicy",
                           "totalPagedResults", "remainingPagedResults"}
    assert result["resultCount"] == 1 and result["result"][0]["userName"] == "ann"
    assert run(engine, "openidm.query('managed/user', {_queryId: 'query-all-ids'}).result[0]._id") == "u1"
    deleted = run(engine, "openidm.delete('managed/user/u1', null)")
    assert deleted["_id"] == "u1" and repo.count() == 0


def test_openidm_action_patch_and_unknown_actions(engine, repo):
    repo.create({"userName": "c", "givenName": "C", "sn": "C", "mail": "c@example.com"}, "c")
    assert run(engine, "openidm.action('managed/user/c', 'patch',"
                       " [{operation: 'replace', field: 'sn', value: 'Sea'}]).sn") == "Sea"
    with pytest.raises(ScriptError, match="action 'triggerSyncCheck' on 'managed/user' is not supported"):
        run(engine, "openidm.action('managed/user', 'triggerSyncCheck')")
    with pytest.raises(ScriptError, match="openidm.read needs at least 1 argument$"):
        run(engine, "openidm.read()")
    with pytest.raises(ScriptError, match="TypeError: not a function"):
        run(engine, "openidm.encrypt('x')")


def test_a_stale_revision_is_the_scripts_error(engine, repo):
    repo.create({"userName": "b", "givenName": "B", "sn": "B", "mail": "b@example.com"}, "b")
    with pytest.raises(ScriptError, match=r"openidm\.update\('managed/user/b'\)"):
        run(engine, "openidm.update('managed/user/b', '999', openidm.read('managed/user/b'))")


def test_a_malformed_query_filter_names_its_position(engine):
    with pytest.raises(ScriptError, match=r"m\.onCreate: Error: openidm\.query\('managed/user'\): _queryFilter: "
                                          r".* at position 11"):
        run(engine, "openidm.query('managed/user', {_queryFilter: 'userName eq'})")


def test_an_unknown_resource_is_named_and_nothing_is_created(engine, repo):
    for resource in ("managed/usr", "system/ldap/account", "nope"):
        with pytest.raises(ScriptError, match=f"unknown resource '{resource}"):
            run(engine, f"openidm.read('{resource}/x')" if "/" in resource else f"openidm.read('{resource}')")
    tables = {r[0] for r in repo.db.conn().execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "managed_usr" not in tables


def test_system_salesforce_without_a_connector_says_so(engine):
    with pytest.raises(ScriptError, match="system/salesforce/User is not available here"):
        run(engine, "openidm.read('system/salesforce/User/005x')")


def test_refused_writes_name_the_operation_and_write_nothing(project, repo):
    env = ScriptEnv(project_dir=project, repo=repo, writes=False, refused_because="a reconciliation")
    engine = ScriptEngine(env=env)
    try:
        with pytest.raises(ScriptError, match="openidm.create.*may not write during a reconciliation"):
            run(engine, f"openidm.create('managed/user', null, {USER})")
        assert repo.count() == 0
        assert run(engine, "openidm.query('managed/user', {_queryFilter: 'true'}).resultCount") == 0
    finally:
        engine.close()


# ---- the replay that keeps the time limit ------------------------------------------------------------------
def test_each_host_call_is_made_once_and_a_catch_cannot_hide_a_pending_call(engine, repo):
    value = run(engine, f"""
        var a = openidm.create('managed/user', null, {USER});
        var missing; try {{ missing = openidm.read('managed/user/none'); }} catch (e) {{ missing = 'caught'; }}
        var n = openidm.query('managed/user', {{_queryFilter: 'true'}}).resultCount;
        [a.userName, missing, n]""")
    assert value == ["ann", None, 1]
    assert repo.count() == 1  # created once, though the script ran four times


def test_a_script_whose_calls_change_between_runs_fails_clearly(engine):
    with pytest.raises(ScriptError, match="must make the same calls each time"):
        run(engine, "openidm.read('managed/user/' + Math.random())")


def test_the_time_limit_still_stops_a_script_that_uses_openidm(engine):
    with pytest.raises(ScriptError, match="exceeded the time limit"):
        run(engine, "openidm.read('managed/user/x'); while (true) {}")
    assert run(engine, "openidm.read('managed/user/x')") is None


def test_a_batch_of_records_uses_openidm_per_record(engine, repo):
    repo.create({"userName": "b", "givenName": "B", "sn": "B", "mail": "b@example.com"}, "b")
    script = engine.script(ScriptSpec("m.validSource", "openidm.read('managed/user/' + source.id) !== null"))
    out = script.boolean_many([{"source": {"id": "b"}}, {"source": {"id": "c"}}, {"source": {"id": "d'"}}])
    assert out == [True, False, False]


# ---- observed.py stays sound ----------------------------------------------------------------------------------
def test_a_script_naming_openidm_uses_its_variables_whole():
    spec = ScriptSpec("m.validSource", "openidm.read('managed/user/' + source.Id) !== null")
    assert variables_used(spec) == {"source": None}
    plain = ScriptSpec("m.validSource", "source.Email !== null")
    assert variables_used(plain) == {"source": ("Email",)}


def test_observed_fields_are_whole_when_a_script_calls_openidm():
    raw = account_mapping(validSource={"type": "text/javascript",
                                       "source": "openidm.query('managed/account', "
                                                 "{_queryFilter: 'login eq \"' + source.userName + '\"'})"
                                                 ".resultCount === 0"})
    mapping = SyncConfig.from_data({"mappings": [raw]}, path=Path("sync.json")).mappings[0]
    assert observed_fields(mapping, "source") is WHOLE


# ---- in a reconciliation (the real engine: managed/user -> managed/account) ----------------------------------
def js(text: str) -> dict:
    return {"type": "text/javascript", "source": text}


def test_in_a_reconciliation_a_malformed_filter_fails_that_record_with_its_position(make_env):
    env = make_env(account_mapping(validSource=js(
        "openidm.query('managed/user', {_queryFilter: source.userName === 'bad' ? 'userName eq' : 'true'})"
        ".resultCount > 0")))
    env.user("good")
    env.user("bad")
    run = env.recon()
    assert run["statusSummary"] == {"SUCCESS": 1, "FAILURE": 1}
    failed = [e for e in env.audit(run) if e["status"] == "FAILURE"]
    assert len(failed) == 1 and "position 11" in failed[0]["message"]
    assert "userAccount.validSource" in failed[0]["message"]
    assert [a["login"] for a in env.accounts()] == ["good"]


def test_in_a_reconciliation_scripts_read_but_a_write_fails_its_record_and_writes_nothing(make_env):
    env = make_env(account_mapping(onCreate=js(
        "target.kind = openidm.read('managed/user/' + sourceId).sn + '/' + context.trigger.origin;"
        "if (source.userName === 'w') { openidm.create('managed/user', null, {userName: 'x', givenName: 'X',"
        " sn: 'X', mail: 'x@example.com'}); }")))
    env.user("r", sn="Reader")
    env.user("w")
    run = env.recon()
    assert run["statusSummary"] == {"SUCCESS": 1, "FAILURE": 1}
    failed = [e for e in env.audit(run) if e["status"] == "FAILURE"]
    assert "may not write during a reconciliation" in failed[0]["message"]
    assert [(a["login"], a["kind"]) for a in env.accounts()] == [("r", "Reader/recon")]
    assert env.repo.count() == 2  # no user 'x'
    assert len(env.links()) == 1


def test_in_a_reconciliation_an_unknown_resource_is_named(make_env):
    env = make_env(account_mapping(validSource=js("openidm.read('managed/people/' + source._id) === null")))
    env.user("a")
    run = env.recon()
    failed = [e for e in env.audit(run) if e["status"] == "FAILURE"]
    assert "unknown resource 'managed/people/" in failed[0]["message"]
    assert env.accounts() == []


def test_implicit_sync_scripts_may_write(make_env):
    env = make_env(account_mapping(onCreate=js(
        "openidm.patch('managed/user/' + sourceId, null, [{operation: 'replace', field: 'description',"
        " value: 'synced by ' + context.security.authenticationId}]); target.kind = 'implicit';")))
    import asyncio

    from core.repo.activity import Actor

    user, results = asyncio.run(env.service.create_user(
        {"userName": "i", "givenName": "I", "sn": "I", "mail": "i@example.com"}, actor=Actor.rest("admin")))
    assert [a["kind"] for a in env.accounts()] == ["implicit"]
    assert env.repo.read(user["_id"])["description"] == "synced by admin"


# ---- the variables IDM binds per trigger (idm-beyond-the-sample.md §5.2) ------------------------------------
BOUND = ("['source', 'target', 'oldTarget', 'oldSource', 'situation', 'linkQualifier', 'sourceId', 'targetId',"
         " 'mappingConfig', 'context'].filter(function(n){ return eval('typeof ' + n) !== 'undefined'"
         " && eval(n) !== undefined; }).join(',')")


def test_event_scripts_see_every_variable_idm_binds(make_env):
    env = make_env(account_mapping(
        onCreate=js(f"target.kind = {BOUND}; logger.info('{{}}', target.kind)"),
        onUpdate=js(f"target.kind = {BOUND}"),
        onLink=js(f"openidm.read('managed/user/' + sourceId); logger.info('onLink {{}}', {BOUND})"),
        onDelete=js(f"logger.info('onDelete {{}}', {BOUND})"),
        policies=[{"situation": "SOURCE_MISSING", "action": "DELETE"}]))
    user = env.user("v")
    env.user("w")  # an empty source set is refused
    env.recon()
    assert env.accounts()[0]["kind"] == "source,target,situation,linkQualifier,sourceId,targetId,mappingConfig,context"
    env.repo.update(user["_id"], {**env.repo.read(user["_id"]), "sn": "Changed"})
    env.recon()
    # oldSource (null outside implicit sync) is sfsync's extension for onUpdate
    assert env.accounts()[0]["kind"] == ("source,target,oldTarget,oldSource,situation,linkQualifier,sourceId,"
                                         "targetId,mappingConfig,context")
    env.repo.delete(user["_id"])
    env.recon()
    text = log_text(env.root)
    assert "userAccount.onLink: onLink source,target,linkQualifier,sourceId,targetId,mappingConfig,context" in text
    assert ("userAccount.onDelete: onDelete source,target,oldTarget,situation,linkQualifier,sourceId,targetId,"
            "mappingConfig,context") in text
