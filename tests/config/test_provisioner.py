"""The provisioner file: IDM's sample loads, round-trips byte for byte, and bad files give one clear error."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from core.config import Project, ProvisionerConfig
from core.errors import ConfigError

#: a copy of the IDM 6.5 sample's own provisioner file (reference/idm-6.5-sample-conf/), kept with the tests
SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "idm-6.5-sample-conf" / "provisioner.openicf-salesforce.json"
REPO_CONF = Path(__file__).resolve().parents[2] / "conf" / "provisioner.openicf-salesforce.json"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "conf").mkdir()
    shutil.copy(SAMPLE, tmp_path / "conf" / "provisioner.openicf-salesforce.json")
    return Project(tmp_path)


def write(project: Project, text: str) -> None:
    project.provisioner_path.write_text(text, encoding="utf-8")


def test_idm_sample_file_loads_with_its_values(project: Project) -> None:
    config = ProvisionerConfig.load(project)
    props = config.properties
    assert props.loginUrl == "https://test.salesforce.com/services/oauth2/token"
    assert props.version == 44 and props.api_version == "44.0"
    assert props.connectTimeout == 120000 and props.maximumConnections == 10
    assert props.clientSecret is None and props.refreshToken is None
    assert config.enabled is False
    assert config.object_type_names == ["__ALL__", "User"]
    assert config.connectorRef["connectorName"].endswith("SalesforceConnector")


def test_unchanged_save_is_byte_identical_and_0600(project: Project) -> None:
    before = project.provisioner_path.read_bytes()
    os.chmod(project.provisioner_path, 0o644)
    ProvisionerConfig.load(project).save(project)
    assert project.provisioner_path.read_bytes() == before
    assert stat.S_IMODE(project.provisioner_path.stat().st_mode) == 0o600


def test_idm_colon_style_file_round_trips_unchanged_and_keeps_style_when_changed(project: Project) -> None:
    text = ('{\n  "enabled" : true,\n  "zUnknown" : {"keep" : [1, 2]},\n  "configurationProperties" : {\n'
            '    "loginUrl" : "https://login.salesforce.com/services/oauth2/token",\n'
            '    "customThing" : 7,\n    "version" : 44\n  }\n}')
    write(project, text)
    config = ProvisionerConfig.load(project)
    config.save(project)
    assert project.provisioner_path.read_text() == text
    config.update_properties(clientId="3MVGabc")
    config.save(project)
    saved = project.provisioner_path.read_text()
    assert '"clientId" : "3MVGabc"' in saved and '\n  "enabled" : true' in saved
    data = json.loads(saved)
    assert list(data) == ["enabled", "zUnknown", "configurationProperties"]
    assert list(data["configurationProperties"]) == ["loginUrl", "customThing", "version", "clientId"]
    assert data["zUnknown"] == {"keep": [1, 2]} and data["configurationProperties"]["version"] == 44
    assert not saved.endswith("\n")


def test_changed_save_touches_only_the_changed_values(project: Project) -> None:
    original = json.loads(project.provisioner_path.read_text())
    config = ProvisionerConfig.load(project)
    config.update_properties(refreshToken="5Aep861secretsecretsecret", instanceUrl="https://acme.my.salesforce.com")
    config.enabled = True
    config.save(project)
    saved = json.loads(project.provisioner_path.read_text())
    assert list(saved) == list(original)
    assert list(saved["configurationProperties"]) == list(original["configurationProperties"])
    sealed = saved["configurationProperties"]["refreshToken"]
    assert set(sealed) == {"$crypto"} and "5Aep861" not in json.dumps(saved)  # sealed at rest
    original["configurationProperties"].update(refreshToken=sealed, instanceUrl="https://acme.my.salesforce.com")
    original["enabled"] = True
    assert saved == original
    assert stat.S_IMODE(project.provisioner_path.stat().st_mode) == 0o600
    assert ProvisionerConfig.load(project).properties.refresh_token == "5Aep861secretsecretsecret"


def test_broken_json_names_file_line_and_column(project: Project) -> None:
    write(project, '{\n  "enabled": true,\n  "configurationProperties": {\n    "loginUrl": ,\n  }\n}\n')
    with pytest.raises(ConfigError) as info:
        ProvisionerConfig.load(project)
    err = info.value
    assert (err.line, err.column) == (4, 17)
    assert str(err).startswith(f"{project.provisioner_path}:4:17: not valid JSON")
    assert err.__cause__ is None and err.__suppress_context__


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("loginUrl", "not a url", "configurationProperties.loginUrl: not a URL"),
        ("loginUrl", "http://login.example.com/services/oauth2/token",
         "configurationProperties.loginUrl: http:// is allowed only for localhost"),
        ("connectTimeout", "soon", "configurationProperties.connectTimeout: input should be a valid integer"),
        ("maximumConnections", 0, "configurationProperties.maximumConnections: input should be greater than"),
        ("version", "latest", "configurationProperties.version: not a Salesforce API version"),
    ],
)
def test_wrong_value_names_the_field_path(project: Project, field: str, value: object, expected: str) -> None:
    data = json.loads(project.provisioner_path.read_text())
    data["configurationProperties"][field] = value
    write(project, json.dumps(data))
    with pytest.raises(ConfigError) as info:
        ProvisionerConfig.load(project)
    assert expected in str(info.value)
    assert str(info.value).startswith(str(project.provisioner_path))


def test_http_login_url_on_loopback_is_accepted(project: Project) -> None:
    config = ProvisionerConfig.load(project)
    for url in ("http://127.0.0.1:8123/services/oauth2/token", "http://localhost:1/services/oauth2/token",
                "http://[::1]:9/services/oauth2/token"):
        config.update_properties(loginUrl=url)
        assert config.properties.loginUrl == url


def test_wrong_secret_value_is_reported_without_showing_it(project: Project) -> None:
    data = json.loads(project.provisioner_path.read_text())
    data["configurationProperties"]["refreshToken"] = 123456789012345
    write(project, json.dumps(data))
    with pytest.raises(ConfigError) as info:
        ProvisionerConfig.load(project)
    assert "configurationProperties.refreshToken" in str(info.value)
    assert "123456789012345" not in str(info.value)


def test_secrets_never_appear_in_repr(project: Project) -> None:
    config = ProvisionerConfig.load(project)
    config.update_properties(clientSecret="topsecretclientsecret", refreshToken="5Aepverysecretrefresh")
    assert "topsecret" not in repr(config) and "verysecret" not in repr(config)
    assert "topsecret" not in str(config.properties)


def test_idm_encrypted_secret_loads_as_unset_and_is_kept_on_save(project: Project) -> None:
    data = json.loads(project.provisioner_path.read_text())
    crypto = {"$crypto": {"type": "x-simple-encryption", "value": {"data": "abc"}}}
    data["configurationProperties"]["clientSecret"] = crypto
    write(project, json.dumps(data, indent=4))
    with pytest.raises(ConfigError, match="clientSecret: encrypted by IDM's keystore"):
        ProvisionerConfig.load(project)  # refused by default (tests/config/test_secrets_at_rest.py)
    config = ProvisionerConfig.load(project, strict=False)  # what a login or the Connector screen reads
    assert config.properties.client_secret is None
    assert config.properties.encrypted_fields == {"clientSecret"}
    config.update_properties(clientId="abc")
    config.save(project)
    assert json.loads(project.provisioner_path.read_text())["configurationProperties"]["clientSecret"] == crypto


def test_not_an_object_is_a_config_error(project: Project) -> None:
    write(project, "[1, 2]")
    with pytest.raises(ConfigError, match="must be a JSON object"):
        ProvisionerConfig.load(project)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        ProvisionerConfig.load(Project(tmp_path))


def test_repository_conf_is_the_sample_with_empty_secrets() -> None:
    data = json.loads(REPO_CONF.read_text())
    props = data["configurationProperties"]
    assert props["clientSecret"] is None and props["refreshToken"] is None and props["clientId"] is None
    ProvisionerConfig.load_path(REPO_CONF)
