"""Fixtures for the REST API tests: a project folder copied from the sample, and HTTP clients over it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from core.api import create_app
from core.api.backend import ApiBackend
from core.config.project import Project

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}


@pytest.fixture
def sample_project(tmp_path: Path) -> Project:
    """A fresh project holding the repository's sample ``conf/`` (no credentials set, no db yet)."""
    shutil.copytree(ROOT / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("sfsync.toml"))
    return Project(tmp_path)


def _asgi_client(app, *, headers: dict[str, str] | None = None,
                 client_host: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(client_host, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080", headers=headers)


@pytest.fixture
def asgi_client():
    """``asgi_client(app, headers=..., client_host=...)``: an httpx client calling the app in-process."""
    return _asgi_client


def user_account_mapping() -> dict:
    """managed/user -> managed/account: implicit sync and recon run for real, with no network."""
    return {
        "name": "userAccount", "source": "managed/user", "target": "managed/account",
        "properties": [{"source": "userName", "target": "login"}, {"source": "mail", "target": "email"},
                       {"source": "givenName", "target": "first"}],
        "policies": [{"situation": s, "action": a} for s, a in (
            ("ABSENT", "CREATE"), ("CONFIRMED", "UPDATE"), ("FOUND", "UPDATE"), ("MISSING", "CREATE"),
            ("SOURCE_MISSING", "DELETE"), ("UNQUALIFIED", "DELETE"), ("UNASSIGNED", "IGNORE"),
            ("SOURCE_IGNORED", "IGNORE"), ("TARGET_IGNORED", "IGNORE"), ("ALL_GONE", "IGNORE"),
            ("LINK_ONLY", "UNLINK"), ("AMBIGUOUS", "EXCEPTION"), ("FOUND_ALREADY_LINKED", "EXCEPTION"))],
    }


@pytest.fixture
def managed_project(tmp_path: Path) -> Project:
    """The sample's managed.json with a managed-to-managed mapping (``userAccount``), so every managed change
    runs implicit sync and recon runs end to end on the real SQLite repository, without a network."""
    (tmp_path / "conf").mkdir()
    shutil.copy(ROOT / "conf" / "managed.json", tmp_path / "conf" / "managed.json")
    (tmp_path / "conf" / "sync.json").write_text(json.dumps({"mappings": [user_account_mapping()]}))
    return Project(tmp_path)


@pytest.fixture
async def api(managed_project: Project):
    """``(client, backend)``: the REST app over ``managed_project``, called in-process as the admin."""
    backend = ApiBackend(managed_project)
    app = create_app(managed_project, services=backend)
    async with _asgi_client(app, headers=ADMIN) as client:
        yield client, backend
    await backend.aclose()
    backend.sync.close()


def log_in_to(project: Project, org, url: str) -> Project:
    """Point ``project``'s provisioner at the local ``org`` with a refresh token the org issued (what
    ``sfsync login`` would store), and enable it."""
    from core.config.provisioner import ProvisionerConfig

    _, refresh = org.auth.issue(org.auth.client, org.admin_id, "api refresh_token id", 7200, with_refresh=True)
    config = ProvisionerConfig.load(project)
    config.update_properties(loginUrl=f"{url}/services/oauth2/token", clientId=org.auth.client.client_id,
                             clientSecret=org.auth.client.client_secret, refreshToken=refresh, instanceUrl=url)
    config.enabled = True
    config.save(project)
    return project


@pytest.fixture
def org_project(sample_project: Project, live_org) -> tuple[Project, object]:
    """The sample project (both Salesforce mappings) logged in to a live local org of 50 people."""
    return log_in_to(sample_project, live_org.org, live_org.url), live_org
