"""The deletion safeguard (issue 14 item 2): a run whose DELETE actions would exceed ``deletion_threshold``
applies none of them, applies everything else, and ends FAILED saying how many, the threshold and how to go on;
``allow_deletions`` (``--allow-deletions``, ``allowDeletions=true``, the app's confirmation) goes on."""

from __future__ import annotations

import json

import pytest

from core.config.settings import Settings
from core.errors import ConfigError
from tests.sync.conftest import account_mapping
from tui.cli import main

INACTIVE = {"type": "text/javascript", "source": "source.accountStatus !== 'inactive'"}


def reconciled_env(make_env, users: int, threshold: int | None):
    """``users`` users reconciled into accounts, then all made inactive (each one an UNQUALIFIED -> DELETE)."""
    env = make_env(account_mapping(validSource=INACTIVE))
    if threshold is not None:
        (env.root / "conf" / "sfsync.toml").write_text(f"deletion_threshold = {threshold}\n")
    ids = [env.user(f"user{i}")["_id"] for i in range(users)]
    assert env.recon()["state"] == "SUCCESS"
    for i in ids:
        env.repo.update(i, {**env.repo.read(i), "accountStatus": "inactive"})
    return env


def test_more_deletions_than_the_threshold_apply_none_and_everything_else(make_env):
    env = reconciled_env(make_env, 3, threshold=2)
    newcomer = env.user("newcomer")  # ABSENT -> CREATE in the same run: applied
    run = env.recon()
    assert run["state"] == "FAILED"
    reason = run["failureReason"]
    assert "3 deletions would exceed deletion_threshold 2" in reason and "--allow-deletions" in reason
    assert sorted(a["login"] for a in env.accounts()) == ["newcomer", "user0", "user1", "user2"]
    assert len(env.links()) == 4 and any(link[0] == newcomer["_id"] for link in env.links())
    held = [e for e in env.audit(run) if e["action"] == "DELETE"]
    assert len(held) == 3 and {e["status"] for e in held} == {"FAILURE"}
    assert all("deletion safeguard" in e["message"] for e in held)
    assert run["deletionsHeld"]["count"] == 3 and run["deletionsHeld"]["threshold"] == 2
    assert {e["name"] for e in run["deletionsHeld"]["examples"]} == {"user0", "user1", "user2"}
    assert run["situationSummary"]["UNQUALIFIED"] == 3 and run["situationSummary"]["ABSENT"] == 1

    allowed = env.recon(allow_deletions=True)
    assert allowed["state"] == "SUCCESS" and "deletionsHeld" not in allowed
    assert [a["login"] for a in env.accounts()] == ["newcomer"]


def test_deletions_within_the_threshold_are_applied(make_env):
    env = reconciled_env(make_env, 2, threshold=2)
    run = env.recon()
    assert run["state"] == "SUCCESS" and env.accounts() == []
    assert run["statusSummary"] == {"SUCCESS": 2, "FAILURE": 0}


def test_threshold_zero_turns_the_safeguard_off_and_the_default_is_500(make_env):
    env = reconciled_env(make_env, 3, threshold=0)
    assert env.recon()["state"] == "SUCCESS" and env.accounts() == []
    assert Settings().deletion_threshold == 500


def test_a_dry_run_is_not_held_back(make_env):
    env = reconciled_env(make_env, 3, threshold=2)
    run = env.recon(dry_run=True)
    assert run["state"] == "SUCCESS" and run["actionSummary"]["DELETE"] == 3
    assert len(env.accounts()) == 3


def test_target_phase_deletions_count_too(make_env):
    env = make_env(account_mapping(policies=[{"situation": "SOURCE_MISSING", "action": "DELETE"}]))
    (env.root / "conf" / "sfsync.toml").write_text("deletion_threshold = 1\n")
    users = [env.user(f"user{i}") for i in range(3)]
    env.recon()
    for u in users[:2]:  # two sources gone: their accounts are SOURCE_MISSING in the target phase
        env.repo.delete(u["_id"])
    run = env.recon()
    assert run["state"] == "FAILED" and run["deletionsHeld"]["count"] == 2
    assert len(env.accounts()) == 3


@pytest.mark.parametrize("text", ["deletion_threshold = -1", "deletion_threshold = \"5\"",
                                  "deletion_threshold = true", "deletion_threshold = 2.5"])
def test_a_bad_threshold_is_refused_naming_the_field(tmp_path, text):
    path = tmp_path / "sfsync.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match="deletion_threshold"):
        Settings.load_path(path)


def test_the_command_line_fails_with_the_reason_and_goes_on_with_allow_deletions(make_env, capsys):
    env = reconciled_env(make_env, 3, threshold=2)
    assert main(["-p", str(env.root), "recon", "userAccount"]) == 1
    err = capsys.readouterr().err
    assert "3 deletions would exceed deletion_threshold 2" in err
    assert len(env.accounts()) == 3
    assert main(["-p", str(env.root), "recon", "userAccount", "--allow-deletions", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "SUCCESS"
    assert env.accounts() == []


async def test_salesforce_deactivations_are_deletions_too(org_factory, tmp_path):
    from tests.sync.orgproject import REPO_ROOT, in_process_service, make_project

    conf = json.loads((REPO_ROOT / "conf" / "sync.json").read_text())
    conf["mappings"][1]["validSource"] = INACTIVE
    (tmp_path / "sync.json").write_text(json.dumps(conf))
    handle = org_factory(users=20, seed=5)
    project = make_project(tmp_path / "p", handle.org, "http://localhost", sync_json=tmp_path / "sync.json")
    (project.conf_dir / "sfsync.toml").write_text("deletion_threshold = 1\n")
    service = in_process_service(project, handle.app)
    try:
        await service.reconcile("systemSalesforceUser_managedUser")
        links = [link for link in service.repo.iter_links("systemSalesforceUser_managedUser")
                 if link.first_id != handle.org.admin_id][:2]
        for link in links:  # straight into the repository: no implicit sync
            user = service.repo.read(link.second_id)
            service.repo.update(user["_id"], {**user, "accountStatus": "inactive"})
        run = await service.reconcile("managedUser_systemSalesforceUser")
        assert run["state"] == "FAILED" and run["deletionsHeld"]["count"] == 2
        assert all(handle.org.user(link.first_id)["IsActive"] for link in links)
        run = await service.reconcile("managedUser_systemSalesforceUser", allow_deletions=True)
        assert run["state"] == "SUCCESS"
        assert not any(handle.org.user(link.first_id)["IsActive"] for link in links)
    finally:
        service.close()


def test_the_held_deletions_summary_shows_how_many_and_a_few_by_name():
    """What a front end shows before asking: the count, the threshold, and the first five deletions with
    their source and target ids, situation and a name (the target's userName, else the source's Username)."""
    from core.sync.actions import Action
    from core.sync.recon import HeldDeletions
    from core.sync.record import Record
    from core.sync.situations import Situation

    def deletion(i: int, source: dict | None, target: dict) -> Record:
        return Record("source", source, f"005{i}" if source is not None else None, target=target,
                      target_id=f"u{i}", action=Action.DELETE, situation=Situation.UNQUALIFIED)

    held = HeldDeletions(threshold=2)
    page = [deletion(0, {"Username": "zoe@x"}, {"userName": "zoe"}),
            deletion(1, {"Username": "bob@x"}, {"mail": "b@x"}),
            deletion(2, None, {"mail": "c@x"})]
    page += [deletion(i, {}, {"userName": f"n{i}"}) for i in range(3, 8)]
    held.hold(page)
    summary = held.summary("system/sf/User", "managed/user")
    assert (summary["count"], summary["threshold"], len(summary["examples"])) == (8, 2, 5)
    assert summary["examples"][:3] == [
        {"sourceObjectId": "system/sf/User/0050", "targetObjectId": "managed/user/u0", "situation": "UNQUALIFIED",
         "name": "zoe"},
        {"sourceObjectId": "system/sf/User/0051", "targetObjectId": "managed/user/u1", "situation": "UNQUALIFIED",
         "name": "bob@x"},
        {"sourceObjectId": None, "targetObjectId": "managed/user/u2", "situation": "UNQUALIFIED", "name": None},
    ]
    assert [e["name"] for e in held.summary("s", "t", examples=8)["examples"]][3:] == [f"n{i}" for i in range(3, 8)]
