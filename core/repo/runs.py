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

from core.repo.audit import Audit
from core.repo.db import Database
from core.repo.errors import Conflict, NotFound
from core.repo.runrules import (
    DEFAULT_KEEP,
    LOCK_COLUMNS,
    STALE_AFTER,
    STATES,
    check_run,
    holder_of,
    last_sql,
    list_sql,
    orphan_failed,
    pid_alive,
    refuse_live_owner,
)

__all__ = ["DEFAULT_KEEP", "STALE_AFTER", "STATES", "Runs", "pid_alive"]


class Runs:
    """The runs table (newest last in insertion order) and the run locks."""

    def __init__(self, db: Database, audit: Audit) -> None:
        self.db = db
        self.audit = audit

    # ------------------------------------------------------------------------------------ runs

    def create(self, run: Mapping[str, Any]) -> dict[str, Any]:
        check_run(run)
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM recon_runs WHERE id = ?", (run["_id"],)).fetchone():
                raise Conflict(f"recon/{run['_id']} already exists")
            conn.execute("INSERT INTO recon_runs (id, mapping, state, data) VALUES (?, ?, ?, ?)",
                         (run["_id"], run["mapping"], run["state"], json.dumps(run, ensure_ascii=False)))
        return dict(run)

    def update(self, run: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a run; refreshes its lock's heartbeat, and releases the lock once the run has ended."""
        check_run(run)
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
        sql, args = list_sql("recon_runs", "?", limit, mapping)
        return [json.loads(r[0]) for r in self.db.conn().execute(sql, args)]

    def last(self, mapping: str, state: str | None = "SUCCESS") -> dict[str, Any] | None:
        """The newest run of a mapping (in ``state``, when given): incremental recon starts from it."""
        row = self.db.conn().execute(*last_sql("recon_runs", "?", mapping, state)).fetchone()
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
            row = conn.execute(f"SELECT {LOCK_COLUMNS} FROM run_locks WHERE mapping = ?", (mapping,)).fetchone()
            if row is not None and row[0] != run_id:
                refuse_live_owner(mapping, row, host, now, stale_after)
                self._orphaned(conn, row[0], row[1])
            conn.execute("INSERT OR REPLACE INTO run_locks (mapping, run_id, pid, host, heartbeat) "
                         "VALUES (?, ?, ?, ?, ?)", (mapping, run_id, pid, host, now))

    def heartbeat(self, run_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE run_locks SET heartbeat = ? WHERE run_id = ?", (time.time(), run_id))

    def release(self, run_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM run_locks WHERE run_id = ?", (run_id,))

    def holder(self, mapping: str) -> dict[str, Any] | None:
        return holder_of(self.db.conn().execute(f"SELECT {LOCK_COLUMNS} FROM run_locks WHERE mapping = ?",
                                                (mapping,)).fetchone())

    def _orphaned(self, conn: Any, run_id: str, pid: int) -> None:
        row = conn.execute("SELECT data FROM recon_runs WHERE id = ? AND state = 'ACTIVE'", (run_id,)).fetchone()
        if row is None:
            return
        run = orphan_failed(json.loads(row[0]), pid)
        conn.execute("UPDATE recon_runs SET state = ?, data = ? WHERE id = ?",
                     ("FAILED", json.dumps(run, ensure_ascii=False), run_id))
