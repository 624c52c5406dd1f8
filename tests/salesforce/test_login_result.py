"""``save_login``: what a login leaves in the provisioner file, whichever front end made it (CLI or app)."""

from __future__ import annotations

import json
import shutil
import stat

import pytest

from core.config.project import Project
from core.config.provisioner import ProvisionerConfig
from core.errors import ConfigError
from core.repo import Actor, Repository
from core.repo.activity import PROVISIONER_OBJECT
from core.salesforce import save_login
from core.salesforce.tokens import TokenSet
from tests.sync.orgproject import REPO_ROOT

REFRESH = "5Aep861-refresh-token-of-the-test"


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "p"
    (root / "conf").mkdir(parents=True)
    for name in ("managed.json", "provisioner.openicf-salesforce.json", "sync.json"):
        shutil.copyfile(REPO_ROOT / "conf" / name, root / "conf" / name)
    return Project(root)


def _token() -> TokenSet:
    return TokenSet(access_token="00D-access", instance_url="https://org.example.my.salesforce.com",
                    refresh_token=REFRESH)


def test_a_login_saves_the_token_enables_the_connector_and_is_recorded(project):
    assert ProvisionerConfig.load(project).enabled is False
    save_login(project, _token(), Actor.local("tui"), message="Login screen: log in",
               changes={"clientId": "3MVG9-the-app"})

    config = ProvisionerConfig.load(project)
    assert config.enabled is True
    assert config.properties.refresh_token == REFRESH
    assert config.properties.instanceUrl == "https://org.example.my.salesforce.com"
    assert config.properties.clientId == "3MVG9-the-app"
    text = project.provisioner_path.read_text(encoding="utf-8")
    assert REFRESH not in text  # encrypted at rest
    assert stat.S_IMODE(project.provisioner_path.stat().st_mode) == 0o600

    with Repository.for_project(project) as repo:
        (entry,) = repo.activity.for_object(PROVISIONER_OBJECT)
    assert (entry["origin"], entry["message"]) == ("tui", "Login screen: log in")
    assert {"/configurationProperties/refreshToken", "/configurationProperties/instanceUrl",
            "/configurationProperties/clientId", "/enabled"} <= set(entry["changedFields"])
    assert REFRESH not in json.dumps(entry)


def test_an_edit_made_during_the_login_survives(project):
    """The file is read again when the login ends: a field changed meanwhile (another window) is kept."""
    config = ProvisionerConfig.load(project)
    config.update_properties(loginUrl="https://login.salesforce.com/services/oauth2/token")
    config.save(project)
    save_login(project, _token(), Actor.local("cli"), message="sfsync login")
    assert ProvisionerConfig.load(project).properties.loginUrl == "https://login.salesforce.com/services/oauth2/token"


def test_a_wrong_change_is_refused_naming_the_field_and_nothing_is_written(project):
    before = project.provisioner_path.read_bytes()
    with pytest.raises(ConfigError, match="loginUrl"):
        save_login(project, _token(), Actor.local("cli"), message="sfsync login", changes={"loginUrl": "not a url"})
    assert project.provisioner_path.read_bytes() == before
