"""What a successful login leaves behind, the same from every front end (``sfsync login``, the app).

The refresh token and instance URL go into the provisioner file (the token encrypted, the file 0600), the
connector is enabled, and the save is recorded in the activity audit under the front end's actor.
"""

from __future__ import annotations

from typing import Any

from core.config.project import Project
from core.config.provisioner import ProvisionerConfig
from core.repo.activity import PROVISIONER_OBJECT, Actor, record_config_save
from core.salesforce.tokens import TokenSet


def save_login(project: Project, token: TokenSet, actor: Actor, *, message: str,
               changes: dict[str, Any] | None = None) -> ProvisionerConfig:
    """Write ``token`` (and ``changes``, e.g. the loginUrl/clientId the login was made with) into the
    provisioner file, read fresh so an edit made during the login survives; enable the connector; record it.

    The file is read leniently: a login is how a secret that can no longer be decrypted is recovered.
    """
    config = ProvisionerConfig.load(project, strict=False)
    before = config.to_data()
    config.update_properties(**(changes or {}), refreshToken=token.refresh_token, instanceUrl=token.instance_url)
    config.enabled = True
    config.save(project)
    record_config_save(project, PROVISIONER_OBJECT, before, config.to_data(), actor, message=message)
    return config
