"""Every managed write through ``SyncService`` (REST, the app and the command line all use it) is in the
activity audit, in the same transaction: an entry exists exactly when the change committed."""

from __future__ import annotations

import asyncio
import getpass
import json
import shutil
from pathlib import Path

import pytest

from core.config.project import Project
from core.repo import PreconditionFailed, Repository
from core.repo.activity import Actor
from core.sync.service import SyncService
from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """The sample managed.json, no mappings from managed/user (implicit sync has nothing to do)."""
    (tmp_path / "conf").mkdir()
    shutil.copy(ROOT / "conf" / "managed.json", tmp_path / "conf" / "managed.json")
    (tmp_path / "conf" / "sync.json").write_text(json.dumps({"mappings": []}))
    return Project(tmp_path)


ADA = {"userName": "ada", "givenName": "Ada", "sn": "Byron", "mail": "ada@example.com"}


def entries(service: SyncService, user_id: str) -> list[dict]:
    return list(reversed(service.repo.activity.for_object(f"managed/user/{user_id}", 100)))


def test_create_update_patch_delete_each_leave_one_entry_naming_the_actor(project):
    service = SyncService(project)
    who = Actor("alice", "tui")
    try:
        created, _ = asyncio.run(service.create_user(dict(ADA), actor=who))
        uid = created["_id"]
        replacement = {**{k: v for k, v in created.items() if k not in ("_id", "_rev")}, "sn": "Lovelace"}
        updated, _ = asyncio.run(service.update_user(uid, replacement, rev=created["_rev"], actor=who))
        patched, _ = asyncio.run(service.patch_user(
            uid, [{"operation": "replace", "field": "/password", "value": "Secret-Passw0rd-long"}], actor=who))
        deleted, _ = asyncio.run(service.delete_user(uid, actor=Actor("bob", "cli")))
        log = entries(service, uid)
    finally:
        service.close()
    assert [e["operation"] for e in log] == ["CREATE", "UPDATE", "PATCH", "DELETE"]
    assert [e["userId"] for e in log] == ["alice", "alice", "alice", "bob"]
    assert [e["origin"] for e in log] == ["tui", "tui", "tui", "cli"]
    create, update, patch, delete = log
    assert create["before"] is None and create["after"]["userName"] == "ada" and create["revision"] == created["_rev"]
    assert update["changedFields"] == ["/sn"] and update["revision"] == updated["_rev"]
    assert (update["before"]["sn"], update["after"]["sn"]) == ("Byron", "Lovelace")
    assert patch["changedFields"] == ["/password"] and patch["passwordChanged"] is True
    assert "Secret-Passw0rd" not in json.dumps(log)
    assert delete["after"] is None and delete["before"]["_id"] == uid and delete["revision"] == deleted["_rev"]
    assert delete["revision"] == patched["_rev"]
    assert len({e["transactionId"] for e in log[:3]}) == 1  # one actor, one transaction id


def test_without_an_actor_the_os_user_is_named(project):
    service = SyncService(project)
    try:
        created, _ = asyncio.run(service.create_user(dict(ADA)))
        (entry,) = entries(service, created["_id"])
    finally:
        service.close()
    assert (entry["userId"], entry["origin"]) == (getpass.getuser(), "sfsync")


def test_a_refused_write_leaves_no_entry(project):
    service = SyncService(project)
    try:
        created, _ = asyncio.run(service.create_user(dict(ADA)))
        with pytest.raises(PreconditionFailed):
            asyncio.run(service.update_user(created["_id"], {**ADA, "sn": "X"}, rev="00000000deadbeef"))
        assert [e["operation"] for e in entries(service, created["_id"])] == ["CREATE"]
    finally:
        service.close()


def test_when_the_entry_cannot_be_written_the_change_is_rolled_back(project, monkeypatch):
    service = SyncService(project)
    try:
        created, _ = asyncio.run(service.create_user(dict(ADA)))

        def broken(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(service.repo.activity, "add", broken)
        with pytest.raises(OSError):
            asyncio.run(service.patch_user(created["_id"], [{"operation": "replace", "field": "/sn", "value": "Z"}]))
        assert service.repo.read(created["_id"])["sn"] == "Byron"
        with pytest.raises(OSError):
            asyncio.run(service.delete_user(created["_id"]))
        assert service.repo.read(created["_id"])["_rev"] == created["_rev"]
    finally:
        service.close()


def test_sfsync_user_update_is_recorded_as_the_os_user_from_the_cli(project, capsys):
    with Repository.for_project(project) as repo:
        uid = repo.create(dict(ADA))["_id"]
    assert main(["-p", str(project.root), "user", "update", uid, "sn=Lovelace", "description="]) == 0
    capsys.readouterr()
    with Repository.for_project(project) as repo:
        (entry,) = repo.activity.for_object(f"managed/user/{uid}")
    assert (entry["userId"], entry["runAs"], entry["origin"]) == (getpass.getuser(), getpass.getuser(), "cli")
    assert entry["operation"] == "UPDATE" and entry["changedFields"] == ["/sn"]
