"""Every key IDM defines on a sync.json mapping works or is refused at load naming file, mapping and key
(core/sync/idm_keys.py); keys IDM does not define are kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.sync.mapping import SyncConfig
from tests.sync.conftest import account_mapping
from tui.cli import main


def load(**keys):
    return SyncConfig.from_data({"mappings": [account_mapping(**keys)]}, path=Path("conf/sync.json"))


@pytest.mark.parametrize(("key", "value"), [
    ("sourceQuery", {"_queryFilter": "true"}), ("targetQuery", {"_queryFilter": "true"}),
    ("onError", {"type": "text/javascript", "source": "1"}),
    ("linkQualifiers", ["default", "test"]), ("sourceIdsCaseSensitive", False), ("enableLinking", False),
    ("postMapping", {"type": "text/javascript", "source": "1"}),
])
def test_an_idm_key_sfsync_does_not_implement_is_refused_naming_file_mapping_and_key(key, value):
    with pytest.raises(ConfigError) as caught:
        load(**{key: value})
    text = str(caught.value)
    assert text.startswith(f"conf/sync.json: mappings[0].{key}: mapping userAccount:"), text


@pytest.mark.parametrize(("key", "value"), [
    ("taskThreads", 20), ("prefetchLinks", False), ("reconSourceQueryPaging", True),
    ("reconSourceQueryPageSize", 500), ("sourceQueryFullEntry", True), ("clusteredSourceReconEnabled", False),
    ("linkQualifiers", ["default"]), ("sourceIdsCaseSensitive", True), ("icon", "fa-user"),
])
def test_tuning_keys_and_defaults_are_accepted(key, value):
    assert load(**{key: value}).mappings[0].raw[key] == value


def test_clustered_recon_is_a_flag_of_the_mapping():
    assert load(clusteredSourceReconEnabled=True).mappings[0].clustered is True
    assert load().mappings[0].clustered is False
    with pytest.raises(ConfigError, match=r"mappings\[0\]\.clusteredSourceReconEnabled: must be true or false"):
        load(clusteredSourceReconEnabled="yes")


def test_clustered_recon_on_sqlite_is_refused_at_load_naming_file_mapping_key_and_why(make_env, capsys):
    env = make_env(account_mapping(clusteredSourceReconEnabled=True))  # the SQLite file (no SFSYNC_REPO_URL)
    assert main(["-p", str(env.root), "recon", "userAccount"]) == 2
    err = capsys.readouterr().err
    assert ("conf/sync.json: mappings[0].clusteredSourceReconEnabled: mapping userAccount: "
            "clusteredSourceReconEnabled: true needs a PostgreSQL repository") in err, err
    assert "SQLite" in err


def test_keys_idm_does_not_define_are_kept():
    assert load(myTeamNote="kept").mappings[0].raw["myTeamNote"] == "kept"


def test_a_refused_key_is_exit_2_from_the_command_line(make_env, capsys):
    env = make_env(account_mapping(sourceQuery={"_queryFilter": "true"}))
    assert main(["-p", str(env.root), "recon", "userAccount"]) == 2
    assert "mappings[0].sourceQuery: mapping userAccount: sourceQuery is an IDM key" in capsys.readouterr().err


SCRIPT = "text/javascript"


def test_correlation_script_finds_the_targets_it_names(make_env):
    script = {"type": SCRIPT, "source": "source.userName === 'nobody' ? [] : "
                                        "(source.userName === 'twins' ? [{_id: 'a1'}, {_id: 'a2'}] : [{_id: 'a1'}])"}
    env = make_env(account_mapping(correlationQuery=None, correlationScript=script))
    env.repo.create({"login": "x", "email": "x@example.com", "kind": "person"}, id="a1", resource="account")
    env.repo.create({"login": "y", "email": "y@example.com", "kind": "person"}, id="a2", resource="account")
    env.user("ada")
    run = env.recon()
    assert run["situationSummary"]["FOUND"] == 1 and env.links()[0][1] == "a1"
    env.user("twins")
    env.user("nobody")
    run = env.recon()
    assert run["situationSummary"]["AMBIGUOUS"] == 1 and run["situationSummary"]["ABSENT"] == 1


def test_correlation_query_and_script_together_are_refused():
    with pytest.raises(ConfigError, match="correlationQuery and correlationScript cannot both be set"):
        load(correlationScript={"type": SCRIPT, "source": "[]"})


def test_a_correlation_script_returning_the_wrong_shape_fails_that_record(make_env):
    env = make_env(account_mapping(correlationQuery=None, correlationScript={"type": SCRIPT, "source": "'a1'"}))
    env.account("ada")
    env.user("ada")
    run = env.recon()
    [entry] = [e for e in env.audit(run) if e["status"] == "FAILURE"]
    assert "correlationScript" in entry["message"] and "_id" in entry["message"]


def test_on_unlink_runs_before_a_link_is_removed(make_env):
    env = make_env(account_mapping(
        validSource={"type": SCRIPT, "source": "source.accountStatus !== 'inactive'"},
        onUnlink={"type": SCRIPT, "source": "throw 'onUnlink ran for ' + sourceId + ' ' + targetId"}))
    ada = env.user("ada")
    env.recon()
    env.repo.update(ada["_id"], {**env.repo.read(ada["_id"]), "accountStatus": "inactive"})
    run = env.recon()  # UNQUALIFIED -> DELETE: unlinking runs onUnlink, which throws: the record fails
    [entry] = env.audit(run)
    assert entry["status"] == "FAILURE" and f"onUnlink ran for {ada['_id']}" in entry["message"]
    assert len(env.accounts()) == 1 and len(env.links()) == 1  # nothing was applied


def test_on_recon_runs_first_and_a_throw_fails_the_run(make_env):
    env = make_env(account_mapping(onRecon={"type": SCRIPT, "source": "if (mappingConfig.name === 'userAccount')"
                                                                     " throw 'not today'; true"}))
    env.user("ada")
    run = env.recon()
    assert run["state"] == "FAILED" and "onRecon script encountered exception" in run["failureReason"]
    assert "not today" in run["failureReason"] and env.accounts() == []


def test_result_sees_the_statistics_when_the_run_ends(make_env):
    check = ("if (global.situationSummary.ABSENT !== 1 || source.processed !== 1 || target.created !== 1)"
             " throw 'wrong: ' + JSON.stringify(source); true")
    env = make_env(account_mapping(result={"type": SCRIPT, "source": check}))
    env.user("ada")
    assert env.recon()["state"] == "SUCCESS"
    env.user("bob")  # now 2 sources, 1 ABSENT, 1 CONFIRMED: the check throws
    run = env.recon()
    assert run["state"] == "FAILED" and "result script encountered exception" in run["failureReason"]
    assert json.loads(json.dumps(run))["situationSummary"]["ABSENT"] == 1
