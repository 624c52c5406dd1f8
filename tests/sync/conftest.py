"""Fixtures for the sync engine: a project on disk with a real SQLite repository and a sync.json of the
test's choosing. Mappings between two managed object sets (``managed/user`` -> ``managed/account``) exercise
every situation and action without a network; the Salesforce side is tested against the local org."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.config.project import Project
from core.sync.service import SyncService

REPO_ROOT = Path(__file__).resolve().parents[2]


def account_mapping(**overrides: Any) -> dict[str, Any]:
    """managed/user -> managed/account, correlated on login = userName."""
    mapping: dict[str, Any] = {
        "name": "userAccount", "source": "managed/user", "target": "managed/account",
        "properties": [{"source": "userName", "target": "login"}, {"source": "mail", "target": "email"},
                       {"target": "kind", "default": "person"}],
        "correlationQuery": {"_queryFilter": 'login eq "${source.userName}"'},
        "policies": [],
    }
    mapping.update(overrides)
    return mapping


class Env:
    """A project with one or more mappings; ``recon`` runs one to its end."""

    def __init__(self, root: Path, mappings: list[dict[str, Any]]) -> None:
        (root / "conf").mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / "conf" / "managed.json", root / "conf" / "managed.json")
        self.root = root
        self.write_mappings(mappings)
        self.project = Project(root)
        self.service = SyncService(self.project)
        self.repo = self.service.repo

    def write_mappings(self, mappings: list[dict[str, Any]]) -> None:
        (self.root / "conf" / "sync.json").write_text(json.dumps({"mappings": mappings}))

    def user(self, name: str, **fields: Any) -> dict[str, Any]:
        obj = {"userName": name, "givenName": name.title(), "sn": "Test", "mail": f"{name}@example.com", **fields}
        return self.repo.create(obj)

    def account(self, login: str, **fields: Any) -> dict[str, Any]:
        return self.repo.create({"login": login, "email": f"{login}@example.com", "kind": "person", **fields},
                                resource="account")

    def accounts(self) -> list[dict[str, Any]]:
        return list(self.repo.query({"_queryFilter": "true"}, resource="account")["result"])

    def recon(self, name: str = "userAccount", **kwargs: Any) -> dict[str, Any]:
        return asyncio.run(self.service.reconcile(name, **kwargs))

    def links(self, link_type: str = "userAccount") -> list[tuple[str, str]]:
        return sorted((link.first_id, link.second_id) for link in self.repo.iter_links(link_type))

    def audit(self, run: dict[str, Any]) -> list[dict[str, Any]]:
        entries = self.service.audit(run["_id"])["result"]
        return [e for e in entries if e.get("entryType") == "entry"]


@pytest.fixture
def make_env(tmp_path: Path) -> Callable[..., Env]:
    envs: list[Env] = []

    def make(*mappings: dict[str, Any]) -> Env:
        env = Env(tmp_path / f"p{len(envs)}", list(mappings) or [account_mapping()])
        envs.append(env)
        return env

    yield make
    for env in envs:
        env.service.close()
