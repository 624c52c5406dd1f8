"""A project pointed at a local org (``core.emulator``), logged in by a refresh token the org issued."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx

from core.config.project import Project
from core.config.provisioner import ProvisionerConfig
from core.sync.service import SyncService

REPO_ROOT = Path(__file__).resolve().parents[2]


def make_project(root: Path, org: Any, url: str, *, sync_json: Path | None = None) -> Project:
    """``root`` with the repository's conf/ (or ``sync_json``) and a provisioner file logged in to ``org``."""
    (root / "conf").mkdir(parents=True, exist_ok=True)
    for name in ("managed.json", "provisioner.openicf-salesforce.json", "sync.json"):
        shutil.copy(REPO_ROOT / "conf" / name, root / "conf" / name)
    if sync_json is not None:
        shutil.copy(sync_json, root / "conf" / "sync.json")
    _, refresh = org.auth.issue(org.auth.client, org.admin_id, "api refresh_token id", 7200, with_refresh=True)
    project = Project(root)
    config = ProvisionerConfig.load(project)
    config.update_properties(loginUrl=f"{url}/services/oauth2/token", clientId=org.auth.client.client_id,
                             clientSecret=org.auth.client.client_secret, refreshToken=refresh, instanceUrl=url)
    config.enabled = True
    config.save(project)
    return project


def in_process_service(project: Project, app: Any) -> SyncService:
    """A SyncService whose connector talks to ``app`` in-process (ASGI transport, no socket)."""
    from core.salesforce.connector import SalesforceConnector

    def connector() -> SalesforceConnector:
        return SalesforceConnector(ProvisionerConfig.load(project), transport=httpx.ASGITransport(app=app))

    return SyncService(project, connector_factory=connector)


class OrgServices:
    """Projects on local orgs made by ``org_factory``: ``make(users, sync_json)`` -> ``(org, service)``, each
    service closed by :meth:`close` (a fixture's teardown)."""

    def __init__(self, org_factory: Any, root: Path, seed: int, **org_options: Any) -> None:
        self.org_factory, self.root, self.seed, self.org_options = org_factory, root, seed, org_options
        self.services: list[SyncService] = []

    def make(self, users: int, sync_json: Path | None = None) -> tuple[Any, SyncService]:
        handle = self.org_factory(users=users, seed=self.seed, **self.org_options)
        project = make_project(self.root / f"p{len(self.services)}", handle.org, "http://localhost",
                               sync_json=sync_json)
        service = in_process_service(project, handle.app)
        self.services.append(service)
        return handle.org, service

    def close(self) -> None:
        for service in self.services:
            service.close()
