"""``openidm.*`` over ``system/salesforce/User`` against the local org (in-process), through the connector on
its own loop as the sync engine uses it."""

from __future__ import annotations

import asyncio
import json

import pytest

from core.sync.scripts import ScriptEngine, ScriptError, ScriptSpec
from tests.sync.orgproject import REPO_ROOT, in_process_service, make_project

INBOUND = "systemSalesforceUser_managedUser"
URL = "http://localhost"


@pytest.fixture
def setup(org_factory, tmp_path):
    services = []

    def make(users: int = 12, sync_json=None):
        handle = org_factory(users=users, seed=3)
        project = make_project(tmp_path / f"p{len(services)}", handle.org, URL, sync_json=sync_json)
        service = in_process_service(project, handle.app)
        services.append(service)
        return handle.org, service

    yield make
    for s in services:
        s.close()


async def test_a_reconciliation_script_reads_and_queries_salesforce(setup, tmp_path):
    conf = json.loads((REPO_ROOT / "conf" / "sync.json").read_text())
    inbound = next(m for m in conf["mappings"] if m["name"] == INBOUND)
    inbound["properties"].append({"target": "description", "source": "", "transform": {
        "type": "text/javascript", "source":
        "var u = openidm.read('system/salesforce/User/' + source._id, null, ['Username']);"
        "var q = openidm.query('system/salesforce/User', {_queryFilter: 'Username eq \"' + source.Username + '\"'});"
        "var none = openidm.read('system/salesforce/User/005000000000000AAA');"
        "u.Username + ':' + q.resultCount + ':' + q.result[0]._id + ':' + none"}})
    path = tmp_path / "sync.json"
    path.write_text(json.dumps(conf))
    org, service = setup(sync_json=path)
    run = await service.reconcile(INBOUND)
    assert run["state"] == "SUCCESS"
    users = service.repo.query({"_queryFilter": "true"})["result"]
    assert users
    by_name = {u["Username"]: u["Id"] for u in org.iter_users()}
    for user in users:
        assert user["description"] == f"{user['userName']}:1:{by_name[user['userName']]}:null"


async def test_openidm_writes_salesforce_users_where_writes_are_allowed(setup):
    org, service = setup()
    first = next(u for u in org.iter_users() if u["Id"] != org.admin_id)

    def work():
        env = service.script_env("test", [], writes=True, salesforce=lambda: service._object_set(
            "system/salesforce/User", *service.implicit_connector.get()))
        engine = ScriptEngine(env=env)
        try:
            def run(text):
                return engine.script(ScriptSpec("t.script", text))()

            patched = run(f"openidm.patch('system/salesforce/User/{first['Id']}', null,"
                          " [{operation: 'replace', field: 'FirstName', value: 'Zed'}]).FirstName")
            updated = run(f"var u = openidm.read('system/salesforce/User/{first['Id']}'); u.LastName = 'Quux';"
                          f" openidm.update('system/salesforce/User/{first['Id']}', null, u).LastName")
            found = run("openidm.query('system/salesforce/User', {_queryFilter: 'FirstName sw \"Ze\" and "
                        "LastName eq \"Quux\"'}, ['Username']).result.map(function(u){ return u._id; })")
            deleted = run(f"openidm.delete('system/salesforce/User/{first['Id']}', null)._id")
            with pytest.raises(ScriptError, match="position"):
                run("openidm.query('system/salesforce/User', {_queryFilter: 'Username eq \"x'})")
            with pytest.raises(ScriptError, match="unknown resource 'system/salesforce/Account"):
                run("openidm.query('system/salesforce/Account', {_queryFilter: 'true'})")
            return patched, updated, found, deleted
        finally:
            engine.close()

    patched, updated, found, deleted = await asyncio.to_thread(work)
    assert (patched, updated, found, deleted) == ("Zed", "Quux", [first["Id"]], first["Id"])
    after = org.user(first["Id"])
    assert (after["FirstName"], after["LastName"], after["IsActive"]) == ("Zed", "Quux", False)
