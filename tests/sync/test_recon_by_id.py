"""reconById (IDM's ``recon?_action=reconById``): only the named source ids, no target phase; an id naming no
source is decided from its link as IDM does (SOURCE_MISSING with a link, ALL_GONE without)."""

from __future__ import annotations

import json

import pytest

from core.errors import UsageError
from tests.sync.conftest import account_mapping
from tui.cli import main


def test_only_the_named_sources_are_reconciled_and_there_is_no_target_phase(make_env):
    env = make_env()
    ada, bob = env.user("ada"), env.user("bob")
    env.recon()
    for user in (ada, bob):
        env.repo.update(user["_id"], {**env.repo.read(user["_id"]), "mail": f"new.{user['userName']}@example.com"})
    env.account("zed")  # unlinked: a full run would find it UNASSIGNED in the target phase
    run = env.recon(ids=[ada["_id"]])
    assert run["state"] == "SUCCESS" and run["parameters"]["reconById"] is True
    assert {k: v for k, v in run["situationSummary"].items() if v} == {"CONFIRMED": 1}
    assert run["progress"]["source"]["existing"] == {"processed": 1, "total": "1"}
    emails = {a["login"]: a["email"] for a in env.accounts()}
    assert emails["ada"] == "new.ada@example.com" and emails["bob"] == "bob@example.com"


def test_an_id_that_names_no_source_is_decided_from_its_link(make_env):
    env = make_env(account_mapping(policies=[{"situation": "SOURCE_MISSING", "action": "DELETE"}]))
    ada = env.user("ada")
    env.recon()
    env.repo.delete(ada["_id"])  # straight in the repository: no implicit sync
    run = env.recon(ids=[ada["_id"], "never-existed"])
    entries = env.audit(run)
    assert [(e["situation"], e["action"]) for e in entries] == [("SOURCE_MISSING", "DELETE")]  # ALL_GONE: NOREPORT
    assert env.accounts() == [] and env.links() == []


def test_recon_by_id_needs_ids(make_env):
    env = make_env()
    env.user("ada")
    with pytest.raises(UsageError, match="at least one source id"):
        env.recon(ids=[" "])


def test_the_command_line_takes_repeated_ids(make_env, capsys):
    env = make_env()
    ada, bob = env.user("ada"), env.user("bob")
    assert main(["-p", str(env.root), "recon", "userAccount", "--id", ada["_id"], "--id", bob["_id"], "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["situationSummary"]["ABSENT"] == 2 and len(env.accounts()) == 2


async def test_recon_by_id_of_one_salesforce_user(org_factory, tmp_path):
    from tests.sync.orgproject import in_process_service, make_project

    handle = org_factory(users=20, seed=4)
    project = make_project(tmp_path / "p", handle.org, "http://localhost")
    service = in_process_service(project, handle.app)
    try:
        await service.reconcile("systemSalesforceUser_managedUser")
        link = next(link for link in service.repo.iter_links("systemSalesforceUser_managedUser")
                    if link.first_id != handle.org.admin_id)
        handle.org.update_user(link.first_id, {"LastName": "ById"})
        run = await service.reconcile("systemSalesforceUser_managedUser", ids=[link.first_id])
        assert run["state"] == "SUCCESS" and run["progress"]["source"]["existing"]["processed"] == 1
        assert service.repo.read(link.second_id)["sn"] == "ById"
    finally:
        service.close()
