"""sync.json as IDM reads it: the sample loads unchanged; mistakes name the file and the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from core.errors import ConfigError, UsageError
from core.sync.actions import Action
from core.sync.mapping import SyncConfig
from core.sync.situations import Situation

#: a copy of the IDM 6.5 sample's own sync.json (reference/idm-6.5-sample-conf/), kept with the tests
REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "idm-6.5-sample-conf" / "sync.json"
REPO_CONF = Path(__file__).resolve().parents[2] / "conf" / "sync.json"


def load(data: dict, tmp_path: Path) -> SyncConfig:
    return SyncConfig.from_data(data, path=tmp_path / "conf" / "sync.json")


def sample() -> dict:
    return json.loads(REPO_CONF.read_text())


def test_idm_sample_sync_json_loads_unchanged(tmp_path):
    """CONTRACT: the IDM 6.5 sample's own sync.json loads unchanged (its mappings, policies and properties)."""
    config = load(json.loads(REFERENCE.read_text()), tmp_path)
    inbound, outbound = config.mappings
    assert inbound.name == "systemSalesforceUser_managedUser"
    assert inbound.policies[Situation.ABSENT][0].action is Action.CREATE
    assert inbound.valid_source is not None and inbound.correlation is None
    assert outbound.link_type == "systemSalesforceUser_managedUser" and outbound.reversed_links
    assert [p.target for p in outbound.properties][:3] == ["Username", "LastName", "Email"]
    assert outbound.properties[4].has_default and outbound.properties[4].default == "en_US"


def test_project_sync_json_correlates_on_user_name(tmp_path):
    config = load(sample(), tmp_path)
    assert config.get("systemSalesforceUser_managedUser").correlation.tree_fields == ("userName",)
    assert config.get("managedUser_systemSalesforceUser").correlation.tree_fields == ("Username",)


def test_unknown_keys_are_kept(tmp_path):
    data = sample()
    data["mappings"][0]["taskThreads"] = 4
    assert load(data, tmp_path).mappings[0].raw["taskThreads"] == 4


def test_unknown_action_names_file_and_field(tmp_path):
    data = sample()
    data["mappings"][0]["policies"][2]["action"] = "CRATE"
    with pytest.raises(ConfigError, match=r"conf/sync.json: mappings\[0\].policies\[2\].action: unknown action 'CRATE'"):
        load(data, tmp_path)


def test_unknown_situation_names_the_field(tmp_path):
    data = sample()
    data["mappings"][1]["policies"][0]["situation"] = "GONE"
    with pytest.raises(ConfigError, match=r"mappings\[1\].policies\[0\].situation: unknown situation 'GONE'"):
        load(data, tmp_path)


def test_script_syntax_error_is_a_config_error_naming_the_script(tmp_path):
    data = sample()
    data["mappings"][0]["validSource"]["source"] = "source.("
    with pytest.raises(ConfigError, match=r"systemSalesforceUser_managedUser.validSource: SyntaxError"):
        load(data, tmp_path)


def test_groovy_scripts_are_refused_clearly(tmp_path):
    data = sample()
    data["mappings"][0]["validSource"]["type"] = "groovy"
    with pytest.raises(ConfigError, match=r"validSource.type: script type 'groovy' is not supported"):
        load(data, tmp_path)


def test_links_must_name_the_reverse_mapping(tmp_path):
    data = sample()
    data["mappings"][1]["links"] = "nope"
    with pytest.raises(ConfigError, match=r"mappings\[1\].links: links names no mapping 'nope'"):
        load(data, tmp_path)


def test_missing_required_key_names_it(tmp_path):
    data = sample()
    del data["mappings"][0]["source"]
    with pytest.raises(ConfigError, match=r"mappings\[0\].source: required"):
        load(data, tmp_path)


def test_bad_correlation_filter_names_position(tmp_path):
    data = copy.deepcopy(sample())
    data["mappings"][0]["correlationQuery"] = {"_queryFilter": 'userName eq'}
    with pytest.raises(ConfigError, match=r"correlationQuery._queryFilter: query filter: expected a value"):
        load(data, tmp_path)


def test_unknown_mapping_lists_the_mappings(tmp_path):
    with pytest.raises(UsageError, match="the mappings in conf/sync.json are: systemSalesforceUser_managedUser, "
                                         "managedUser_systemSalesforceUser"):
        load(sample(), tmp_path).get("nope")
