"""``sfsync login`` is in the activity audit: who (the OS user, origin cli), the provisioner's changed fields,
and the new refresh token and the client secret masked (nothing of them a 12-character piece could match)."""

from __future__ import annotations

import getpass
import json
import shutil

from core.config.project import Project
from core.config.provisioner import ProvisionerConfig
from core.repo import Repository
from core.repo.activity import PROVISIONER_OBJECT
from tests.security.test_crypto_at_rest import _found, _login, _pieces
from tests.sync.orgproject import REPO_ROOT


def test_sfsync_login_is_recorded_as_the_os_user_with_secrets_masked(live_org_factory, tmp_path, monkeypatch):
    live = live_org_factory(users=5, seed=62, auto_approve=True)
    root = tmp_path / "p"
    (root / "conf").mkdir(parents=True)
    for name in ("managed.json", "provisioner.openicf-salesforce.json", "sync.json"):
        shutil.copyfile(REPO_ROOT / "conf" / name, root / "conf" / name)
    project = Project(root)
    config = ProvisionerConfig.load(project)
    config.update_properties(loginUrl=live.login_url, clientId=live.client_id)
    config.save(project)

    monkeypatch.setenv("SFSYNC_CLIENT_SECRET", live.client_secret)  # the login's process inherits it
    result = _login(root)
    assert result.returncode == 0, result.stderr

    with Repository.for_project(project) as repo:
        (entry,) = repo.activity.for_object(PROVISIONER_OBJECT)
    assert (entry["userId"], entry["origin"], entry["operation"]) == (getpass.getuser(), "cli", "UPDATE")
    assert entry["message"] == "sfsync login" and entry["passwordChanged"] is True
    assert {"/configurationProperties/clientSecret", "/configurationProperties/refreshToken",
            "/configurationProperties/instanceUrl", "/enabled"} <= set(entry["changedFields"])
    assert entry["before"]["configurationProperties"]["refreshToken"] is None
    assert "…" in entry["after"]["configurationProperties"]["refreshToken"]
    secrets = {live.client_secret, *live.org.auth.refresh_tokens}
    assert not _found(json.dumps(entry, ensure_ascii=False), _pieces(secrets))
