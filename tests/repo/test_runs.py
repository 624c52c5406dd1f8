"""Reconciliation runs: storage, newest-first listing, retention with audit, the cross-process run lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.repo import Conflict, NotFound, Repository

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ROOT = Path(__file__).resolve().parents[2]
M = "systemSalesforceUser_managedUser"


def run(run_id: str, state: str = "ACTIVE", mapping: str = M) -> dict:
    return {"_id": run_id, "mapping": mapping, "state": state, "stage": "ACTIVE_INITIALIZED",
            "progress": {"source": {"existing": {"processed": 0, "total": "?"}}}}


def test_runs_are_stored_updated_and_listed_newest_first(repo):
    repo.runs.create(run("r1"))
    repo.runs.create(run("r2"))
    repo.runs.update({**run("r1", "SUCCESS"), "progress": {"source": {"existing": {"processed": 9, "total": "9"}}}})
    assert repo.runs.get("r1")["progress"]["source"]["existing"]["processed"] == 9
    assert [r["_id"] for r in repo.runs.list()] == ["r2", "r1"]
    assert repo.runs.get("absent") is None
    assert repo.runs.last(M)["_id"] == "r1"
    with pytest.raises(NotFound):
        repo.runs.update(run("absent"))


def test_prune_keeps_the_newest_ended_runs_and_drops_the_others_audit(repo):
    for i in range(5):
        repo.runs.create(run(f"r{i}", "SUCCESS"))
        repo.audit.add_many([{"reconId": f"r{i}", "situation": "ABSENT", "status": "SUCCESS"}])
    repo.runs.create(run("active"))
    assert repo.runs.prune(keep=2) == 3
    assert [r["_id"] for r in repo.runs.list()] == ["active", "r4", "r3"]
    assert repo.audit.count("r0") == 0 and repo.audit.count("r4") == 1


def test_the_lock_refuses_a_second_active_run_of_the_same_mapping(repo):
    repo.runs.acquire(M, "r1")
    with pytest.raises(Conflict, match="already has an active reconciliation r1"):
        repo.runs.acquire(M, "r2")
    repo.runs.acquire("other_mapping", "r3")  # another mapping is free
    repo.runs.release("r1")
    repo.runs.acquire(M, "r2")


def test_ending_a_run_releases_its_lock(repo):
    repo.runs.create(run("r1"))
    repo.runs.acquire(M, "r1")
    repo.runs.update(run("r1", "SUCCESS"))
    assert repo.runs.holder(M) is None


def _lock_in_child(db: Path, run_id: str, then: str) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import sys
        from core.repo import Repository
        repo = Repository.open({str(db)!r})
        repo.runs.create({{"_id": {run_id!r}, "mapping": {M!r}, "state": "ACTIVE"}})
        repo.runs.acquire({M!r}, {run_id!r})
        print("locked", flush=True)
        {then}
    """)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def test_another_process_cannot_take_a_live_processs_lock(tmp_path):
    db = tmp_path / "r.sqlite3"
    child = _lock_in_child(db, "child-run", "sys.stdin.readline()")
    try:
        assert child.stdout.readline().strip() == "locked"
        with Repository.open(db) as repo, pytest.raises(Conflict, match="child-run"):
            repo.runs.acquire(M, "mine")
    finally:
        child.stdin.close()
        child.wait(timeout=30)


def test_a_crashed_processs_lock_is_taken_over_and_its_run_marked_failed(tmp_path):
    db = tmp_path / "r.sqlite3"
    child = _lock_in_child(db, "crashed-run", "import os; os._exit(9)")
    assert child.stdout.readline().strip() == "locked"
    child.wait(timeout=30)
    with Repository.open(db) as repo:
        repo.runs.acquire(M, "mine")
        assert repo.runs.holder(M)["runId"] == "mine"
        crashed = repo.runs.get("crashed-run")
        assert (crashed["state"], crashed["stage"]) == ("FAILED", "COMPLETED_FAILED")


def test_a_lock_without_heartbeat_goes_stale(repo):
    repo.runs.acquire(M, "r1")
    with pytest.raises(Conflict):
        repo.runs.acquire(M, "r2", stale_after=60)
    repo.runs.acquire(M, "r2", stale_after=0)
    assert repo.runs.holder(M)["runId"] == "r2"


def test_keep_newest_trims_one_log_to_its_newest_entries_and_touches_no_other(repo):
    repo.audit.add_many([{"reconId": "implicit-sync", "status": "SUCCESS", "message": f"m{i}"} for i in range(7)])
    repo.audit.add_many([{"reconId": "r1", "status": "SUCCESS"}] * 3)
    assert repo.audit.keep_newest("implicit-sync", 4) == 3
    kept = repo.audit.query('reconId eq "implicit-sync"', sort_keys=("message",))["result"]
    assert [e["message"] for e in kept] == ["m3", "m4", "m5", "m6"]
    assert repo.audit.count("r1") == 3 and repo.audit.keep_newest("implicit-sync", 4) == 0
