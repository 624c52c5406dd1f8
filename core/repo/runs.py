"""Reconciliation runs (IDM's run object, JSON), their retention, and the per-mapping run lock.

The run lock is a row per mapping holding the owner's run id, pid, host and a heartbeat. A second run of the
same mapping is refused while the owner lives; when the owner process is gone (same host: its pid no longer
exists) or its heartbeat is older than ``stale_after`` seconds, the lock is taken over and the orphaned run,
still ACTIVE in the table, is marked FAILED, so ``recon-status`` never shows a run that nobody is running.
Every :meth:`Runs.update` of the owning run refreshes the heartbeat, and a terminal state releases the lock.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

from core.repo.audit import Audit, now_iso
from core.repo.db import Database
from core.repo.errors import Conflict, FieldError, NotFound, ValidationError

STATES = ("ACTIVE", "SUCCESS", "FAILED", "CANCELED")
DEFAULT_KEEP = 100
STALE_AFTER = 120.0


def pid_alive(pid: int) -> bool:
    """Whether a process of this host with that pid still runs (a lock or a firing it holds is live)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check(run: Mapping[str, Any]) -> None:
    problems = []
    if not isinstance(run.get("_id"), str) or not run.get("_id"):
        problems.append(FieldError("_id", "is required"))
    if not isinstance(run.get("mapping"), str) or not run.get("mapping"):
        problems.append(FieldError("mapping", "is required"))
    if run.get("state") not in STATES:
        problems.append(FieldError("state", f"must be one of {', '.join(STATES)}"))
    if problems:
        raise ValidationError(problems, resource="recon")


class Runs:
    """The runs table (newest last in insertion order) and the run locks."""

    def __init__(self, db: Database, audit: Audit) -> None:
        self.db = db
        self.audit = audit

    # ------------------------------------------------------------------------------------ runs

    def create(self, run: Mapping[str, Any]) -> dict[str, Any]:
        _check(run)
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM recon_runs WHERE id = ?", (run["_id"],)).fetchone():
                raise Conflict(f"recon/{run['_id']} already exists")
            conn.execute("INSERT INTO recon_runs (id, mapping, state, data) VALUES (?, ?, ?, ?)",
                         (run["_id"], run["mapping"], run["state"], json.dumps(run, ensure_ascii=False)))
        return dict(run)

    def update(self, run: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a run; refreshes its lock's heartbeat, and releases the lock once the run has ended."""
        _check(run)
        with self.db.transaction() as conn:
            n = conn.execute("UPDATE recon_runs SET state = ?, data = ? WHERE id = ?",
                             (run["state"], json.dumps(run, ensure_ascii=False), run["_id"])).rowcount
            if not n:
                raise NotFound(f"Reconciliation with id {run['_id']} not found.")
            if run["state"] == "ACTIVE":
                conn.execute("UPDATE run_locks SET heartbeat = ? WHERE run_id = ?", (time.time(), run["_id"]))
            else:
                conn.execute("DELETE FROM run_locks WHERE run_id = ?", (run["_id"],))
        return dict(run)

    def get(self, run_id: str) -> dict[str, Any] | None:
        """The run, or None when there is no such run."""
        row = self.db.conn().execute("SELECT data FROM recon_runs WHERE id = ?", (run_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def list(self, limit: int | None = None, mapping: str | None = None) -> list[dict[str, Any]]:
        """Runs, newest first."""
        sql, args = "SELECT data FROM recon_runs", list[object]()
        if mapping is not None:
            sql += " WHERE mapping = ?"
            args.append(mapping)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [json.loads(r[0]) for r in self.db.conn().execute(sql, args)]

    def last(self, mapping: str, state: str | None = "SUCCESS") -> dict[str, Any] | None:
        """The newest run of a mapping (in ``state``, when given): incremental recon starts from it."""
        sql, args = "SELECT data FROM recon_runs WHERE mapping = ?", [mapping]
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        row = self.db.conn().execute(sql + " ORDER BY seq DESC LIMIT 1", args).fetchone()
        return json.loads(row[0]) if row else None

    def prune(self, keep: int = DEFAULT_KEEP) -> int:
        """Delete ended runs beyond the newest ``keep`` (ACTIVE runs are never pruned), with their audit."""
        with self.db.transaction() as conn:
            doomed = [r[0] for r in conn.execute(
                "SELECT id FROM recon_runs WHERE state != 'ACTIVE' ORDER BY seq DESC LIMIT -1 OFFSET ?",
                (max(keep, 0),))]
            if doomed:
                self.audit.delete_for_runs(doomed)
                conn.executemany("DELETE FROM recon_runs WHERE id = ?", [(d,) for d in doomed])
        return len(doomed)

    # ------------------------------------------------------------------------------------ lock

    def acquire(self, mapping: str, run_id: str, *, stale_after: float = STALE_AFTER) -> None:
        """Take the mapping's run lock for ``run_id``, or raise Conflict naming the run that holds it."""
        host, pid, now = socket.gethostname(), os.getpid(), time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT run_id, pid, host, heartbeat FROM run_locks WHERE mapping = ?",
                               (mapping,)).fetchone()
            if row is not None and row[0] != run_id:
                owner_run, owner_pid, owner_host, beat = row
                alive = pid_alive(owner_pid) if owner_host == host else True
                if alive and now - beat < stale_after:
                    raise Conflict(f"mapping {mapping} already has an active reconciliation {owner_run} "
                                   f"(process {owner_pid} on {owner_host})")
                self._orphaned(conn, owner_run, owner_pid)
            conn.execute("INSERT OR REPLACE INTO run_locks (mapping, run_id, pid, host, heartbeat) "
                         "VALUES (?, ?, ?, ?, ?)", (mapping, run_id, pid, host, now))

    def heartbeat(self, run_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE run_locks SET heartbeat = ? WHERE run_id = ?", (time.time(), run_id))

    def release(self, run_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM run_locks WHERE run_id = ?", (run_id,))

    def holder(self, mapping: str) -> dict[str, Any] | None:
        row = self.db.conn().execute("SELECT run_id, pid, host, heartbeat FROM run_locks WHERE mapping = ?",
                                     (mapping,)).fetchone()
        return dict(zip(("runId", "pid", "host", "heartbeat"), row, strict=True)) if row else None

    def _orphaned(self, conn: Any, run_id: str, pid: int) -> None:
        row = conn.execute("SELECT data FROM recon_runs WHERE id = ? AND state = 'ACTIVE'", (run_id,)).fetchone()
        if row is None:
            return
        run = json.loads(row[0])
        run.update(state="FAILED", stage="COMPLETED_FAILED", stageDescription="reconciliation failed",
                   ended=now_iso(), failureReason=f"the process running it ({pid}) stopped")
        conn.execute("UPDATE recon_runs SET state = ?, data = ? WHERE id = ?",
                     ("FAILED", json.dumps(run, ensure_ascii=False), run_id))
