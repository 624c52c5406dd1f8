"""``sfsync repo migrate --to postgresql://…``: the SQLite repository copied into PostgreSQL, verified (counts and
checksums printed), resumable after an interruption without copying a row twice."""

from __future__ import annotations

import pytest

from core.config.project import Project
from core.repo import Repository
from core.repo import migrate as migrate_module
from core.repo.migrate import Migration
from core.repo.pgrepository import PgRepository
from tui.cli import main


def _project(tmp_path, n_users: int = 25) -> Project:
    (tmp_path / "conf").mkdir()
    project = Project(tmp_path)
    with Repository.open(project.db_path) as repo:
        users = repo.create_many([{"userName": f"u{i}@example.com", "sn": f"S{i}"} for i in range(n_users)])
        repo.update(users[0]["_id"], {"userName": "u0@example.com", "sn": "Changed"}, users[0]["_rev"])
        repo.create({"login": "acct1"}, resource="account")
        repo.link_many("userAccount", [(u["_id"], f"005{i:04d}") for i, u in enumerate(users[:10])])
        repo.runs.create({"_id": "run-1", "mapping": "userAccount", "state": "SUCCESS", "situationSummary": {}})
        repo.audit.add_many([{"reconId": "run-1", "situation": "FOUND", "action": "UPDATE", "status": "SUCCESS",
                              "entryType": "entry"} for _ in range(30)])
        repo.audit.add_many([{"reconId": "implicit-sync", "status": "SUCCESS", "eventName": "sync"}])
        repo.activity.add({"objectId": f"managed/user/{users[0]['_id']}", "operation": "UPDATE",
                           "status": "SUCCESS", "origin": "cli"})
        repo.stages.put("SYSTEMSALESFORCEUSER", {"connectorData": {"syncToken": 7}}, None)
    return project


def test_migrate_copies_everything_and_prints_matching_checksums(tmp_path, pg_url, capsys, monkeypatch):
    monkeypatch.delenv("SFSYNC_REPO_URL", raising=False)
    project = _project(tmp_path)
    assert main(["-p", str(tmp_path), "repo", "migrate", "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert "verified: every kind matches" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split() and line.split()[-1] == "yes"}
    assert rows["managed/user"][1:3] == ["25", "25"] and rows["links"][1:3] == ["10", "10"]
    assert rows["audit"][1:3] == ["31", "31"] and rows["runs"][1:3] == ["1", "1"]
    with Repository.open(project.db_path) as old, PgRepository.open(pg_url) as new:
        assert new.read_many(old.iter_ids()) == old.read_many(old.iter_ids())  # ids, revisions, JSON as they were
        assert new.query({"_queryFilter": "true"}, resource="account")["result"][0]["login"] == "acct1"
        assert new.runs.get("run-1")["state"] == "SUCCESS" and new.audit.count("run-1") == 30
        assert new.stages.get("SYSTEMSALESFORCEUSER") == old.stages.get("SYSTEMSALESFORCEUSER")
        assert len(new.activity.query("true")["result"]) == 1
    assert main(["-p", str(tmp_path), "repo", "migrate", "--to", pg_url]) == 0  # again: nothing to copy, still equal
    assert "managed/user: 0 rows copied" in capsys.readouterr().out


def test_an_interrupted_migration_resumes_without_copying_twice(tmp_path, pg_url, monkeypatch):
    monkeypatch.setattr(migrate_module, "BATCH", 4)
    project = _project(tmp_path)
    target = PgRepository.open(pg_url)
    migration = Migration(project.db_path, target)
    calls = {"n": 0}
    real = target.db.executemany

    def failing(sql, rows):
        calls["n"] += 1
        if calls["n"] == 4:  # (accounts, then users:) the third batch of users dies, its checkpoint unwritten
            raise ConnectionError("the network went away")
        return real(sql, rows)

    monkeypatch.setattr(target.db, "executemany", failing)
    with pytest.raises(ConnectionError):
        migration.copy()
    assert target.count() == 8  # two whole batches, nothing of the third
    monkeypatch.setattr(target.db, "executemany", real)
    copied = migration.copy()
    assert copied["managed/user"] == 17
    assert all(r.ok for r in migration.verify(copied))
    migration.close()
    target.close()


def test_migrate_refuses_a_url_that_is_not_postgresql(tmp_path, capsys):
    _project(tmp_path, 1)
    assert main(["-p", str(tmp_path), "repo", "migrate", "--to", "mysql://db/x"]) == 2
    assert "--to: a PostgreSQL URI" in capsys.readouterr().err
