"""The repository under stress: a read-only ``db/``, a full disk, two recons of one mapping at once, and an
edit racing a recon on the same user.

A read-only ``db/`` and a full disk are real: the tests are root here, so ``db/`` becomes a read-only bind
mount of itself, or a 8 MB tmpfs filled with a ballast file (SQLite then gets ENOSPC from the kernel, as on a
full disk; ``PRAGMA max_page_count`` would only simulate it inside SQLite). Where mounting is not allowed
(not root, no CAP_SYS_ADMIN) these two tests are skipped, saying so.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.repo import Repository
from core.repo.errors import Conflict, PreconditionFailed
from core.sync.service import SyncService
from tests.reliability.helpers import (
    INBOUND,
    assert_failures_are_the_invalid_users,
    assert_inbound_exact,
    cli,
    managed,
    run_sfsync,
    sfsync,
)
from tests.sync.orgproject import make_project


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _can_mount() -> bool:
    return os.geteuid() == 0 and Path("/proc/self/mountinfo").exists()


@contextmanager
def mounted(*args: str, target: Path) -> Iterator[None]:
    if not _can_mount():
        pytest.skip("needs root to mount a read-only or a small filesystem on db/")
    try:
        _mount(*args, str(target))
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"mount not permitted here: {exc.stderr.decode().strip()}")
    try:
        yield
    finally:
        unmount(target)


def is_mounted(target: Path) -> bool:
    return any(line.split()[1] == str(target) for line in Path("/proc/mounts").read_text().splitlines())


def unmount(target: Path) -> None:
    """Take the mount away whatever holds it: SQLite connections of finished worker threads are closed by the
    garbage collector, a still-busy mount is detached lazily; never leave a mount behind a test."""
    gc.collect()
    for attempt in range(10):
        if not is_mounted(target):
            return
        subprocess.run(["umount", str(target)] if attempt == 0 else ["umount", "-l", str(target)],
                       check=False, capture_output=True)
        time.sleep(0.05 * attempt)
    assert not is_mounted(target), f"could not unmount {target}"


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def assert_clear_one_line_error(result: subprocess.CompletedProcess, code: int, *words: str) -> None:
    """Exit ``code`` (the one the README promises), ``sfsync: ...`` naming what is wrong, and no traceback."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("sfsync:")]
    assert lines, result.stderr
    for word in words:
        assert word.lower() in result.stderr.lower(), (word, result.stderr)


def test_read_only_db_is_a_clear_error_and_the_repository_is_untouched(live_org_factory, tmp_path, capsys):
    live = live_org_factory(users=300, seed=31)
    project = make_project(tmp_path / "p", live.org, live.url)
    assert cli(capsys, project.root, "recon", INBOUND).returncode == 0
    before = digest(project.db_dir)
    with mounted("--bind", str(project.db_dir), target=project.db_dir):
        _mount("-o", "remount,ro,bind", str(project.db_dir))
        for command in (["recon", INBOUND], ["users"], ["user", "update", "x", "sn=Y"]):
            result = run_sfsync(project.root, *command)  # a process of its own: nothing of it outlives the mount
            assert_clear_one_line_error(result, 1, "sfsync.sqlite3")  # README: exit 1, the operation failed
        assert digest(project.db_dir) == before
    assert digest(project.db_dir) == before
    assert integrity(project.db_path) == "ok"
    service = SyncService(project)
    try:
        run = asyncio.run(service.reconcile(INBOUND))
        assert run["state"] == "SUCCESS"
        assert run["situationSummary"]["CONFIRMED"] == len(managed(service))
        assert_inbound_exact(live.org, service)
    finally:
        service.close()


def test_full_disk_fails_the_run_clearly_and_the_repository_stays_whole(live_org_factory, tmp_path):
    live = live_org_factory(users=3_000, seed=32)
    project = make_project(tmp_path / "p", live.org, live.url)
    project.db_dir.mkdir(parents=True, exist_ok=True)
    with mounted("-t", "tmpfs", "-o", "size=8m", "tmpfs", target=project.db_dir):
        assert run_sfsync(project.root, "users").returncode == 0  # the schema fits; the users will not
        ballast = project.db_dir / "ballast"
        stat = os.statvfs(project.db_dir)
        ballast.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 1_000_000))
        result = run_sfsync(project.root, "recon", INBOUND, "--json")
        assert result.returncode == 1
        assert "Traceback" not in result.stderr, result.stderr
        ballast.unlink()
        with Repository.open(project.db_path) as repo:
            run = repo.runs.list(1)[0]
            assert run["state"] == "FAILED"
            reason = run["failureReason"].lower()
            assert "full" in reason and "sfsync.sqlite3" in reason and "internal error" not in reason, reason
            # whole pages only, and the run's counters say what was really written
            count = repo.count()
            assert len(list(repo.iter_links(INBOUND))) == count
            assert run["progress"]["target"]["created"] == count
            assert repo.runs.holder(INBOUND) is None
        assert integrity(project.db_path) == "ok"
        service = SyncService(project)
        try:
            again = asyncio.run(service.reconcile(INBOUND))
            assert again["state"] == "SUCCESS"
            assert_inbound_exact(live.org, service)
        finally:
            service.close()


#: the first run waits at its first page write until the test opens the gate: it holds the lock meanwhile
HOLD_AT_FIRST_WRITE = """
import os, time
from core.sync import recon
_commit = recon.ReconEngine._commit
def _held(self, *args):
    while not os.path.exists(os.environ["SFSYNC_TEST_GATE"]):
        time.sleep(0.02)
    return _commit(self, *args)
recon.ReconEngine._commit = _held
"""


def test_a_second_recon_of_the_same_mapping_is_refused_while_the_first_runs(live_org_factory, tmp_path,
                                                                            monkeypatch):
    live = live_org_factory(users=2_000, seed=33)
    project = make_project(tmp_path / "p", live.org, live.url)
    gate = tmp_path / "gate"
    monkeypatch.setenv("SFSYNC_TEST_GATE", str(gate))
    first = sfsync(project.root, "recon", INBOUND, "--json", prelude=HOLD_AT_FIRST_WRITE)
    service = SyncService(project)
    try:
        deadline = time.monotonic() + 30
        while (holder := service.repo.runs.holder(INBOUND)) is None:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        second = run_sfsync(project.root, "recon", INBOUND)
        assert_clear_one_line_error(second, 1, "already", INBOUND, holder["runId"])  # README: refused, exit 1
        with pytest.raises(Conflict, match="already has an active reconciliation"):
            asyncio.run(service.reconcile(INBOUND))
        assert managed(service) == []  # nothing interleaved: the refused runs wrote nothing
        gate.touch()
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err.decode()
        runs = service.runs(None)
        assert [r["state"] for r in runs] == ["SUCCESS"]  # the refused ones left no run behind
        assert_inbound_exact(live.org, service)
        assert_failures_are_the_invalid_users(live.org, service, runs[0])
    finally:
        if first.poll() is None:
            first.kill()
        service.close()


async def test_an_edit_with_the_revision_read_before_a_recon_changed_the_user_is_a_conflict(live_org_factory,
                                                                                           tmp_path):
    live = live_org_factory(users=50, seed=34)
    service = SyncService(make_project(tmp_path / "p", live.org, live.url))
    try:
        await service.reconcile(INBOUND)
        link = next(iter(service.repo.iter_links(INBOUND)))
        opened = service.repo.read(link.second_id)  # the TUI's edit form, with its _rev
        live.org.update_user(link.first_id, {"LastName": "FromSalesforce"})
        await service.reconcile(INBOUND)
        assert service.repo.read(link.second_id)["sn"] == "FromSalesforce"
        edited = {k: v for k, v in opened.items() if not k.startswith("_")} | {"description": "edited in the TUI"}
        with pytest.raises(PreconditionFailed):
            await service.update_user(link.second_id, edited, rev=opened["_rev"])
        current = service.repo.read(link.second_id)
        assert current["sn"] == "FromSalesforce" and current.get("description") != "edited in the TUI"
        # the user reloads and saves again: both changes are kept
        fresh = {k: v for k, v in current.items() if not k.startswith("_")} | {"description": "edited in the TUI"}
        saved, _ = await service.update_user(link.second_id, fresh, rev=current["_rev"])
        assert (saved["sn"], saved["description"]) == ("FromSalesforce", "edited in the TUI")
    finally:
        service.close()


async def test_an_edit_landing_between_a_recons_read_and_its_write_is_not_lost(live_org_factory, tmp_path,
                                                                                monkeypatch):
    """The TUI saves a field the mapping does not own (``description``) after the recon read the user and
    before it wrote Salesforce's change (``sn``): the recon's stale write must not wipe the edit."""
    from core.sync import objectsets

    live = live_org_factory(users=50, seed=35)
    service = SyncService(make_project(tmp_path / "p", live.org, live.url))
    try:
        await service.reconcile(INBOUND)
        link = next(iter(service.repo.iter_links(INBOUND)))
        other = Repository.open(service.project.db_path)  # the TUI's own connection, another writer
        read_many = objectsets.ManagedObjects.read_many
        edits: list[dict] = []

        def read_then_edit(self, ids, fields=None):
            found = read_many(self, ids, fields)
            if link.second_id in found and not edits:
                user = other.read(link.second_id)
                body = {k: v for k, v in user.items() if not k.startswith("_")} | {"description": "EditedInTui"}
                edits.append(other.update(link.second_id, body, rev=user["_rev"]))
            return found

        monkeypatch.setattr(objectsets.ManagedObjects, "read_many", read_then_edit)
        live.org.update_user(link.first_id, {"LastName": "ChangedInSalesforce"})
        run = await service.reconcile(INBOUND)
        assert edits, "the edit never raced the recon"
        user = service.repo.read(link.second_id)
        assert user["description"] == "EditedInTui", "the edit was lost"
        failures = [e for e in service.audit(run["_id"])["result"] if e.get("status") == "FAILURE"
                    and (e.get("targetObjectId") or "").endswith(link.second_id)]
        # README: the recon's stale write is refused (its _rev is not the current one), a FAILURE naming the
        # revision; the edit raced it for certain (``edits``), so this always happens
        assert len(failures) == 1 and "revision" in (failures[0].get("message") or ""), failures
        assert user["sn"] != "ChangedInSalesforce", "the stale write went through"
        monkeypatch.undo()
        await service.reconcile(INBOUND)  # the next run brings Salesforce's change in on top of the edit
        user = service.repo.read(link.second_id)
        assert (user["sn"], user["description"]) == ("ChangedInSalesforce", "EditedInTui")
        other.close()
    finally:
        service.close()
