"""sfsync's own state on PostgreSQL (schema ``sfsync``; IDM has no table for it): reconciliation runs and the
per-mapping run lock, schedule state and fire claims, liveSync stages. The contracts of core/repo/runs.py,
core/repo/schedules.py and core/repo/stages.py; every check-then-write locks the row it checks
(``SELECT … FOR UPDATE``) or lets a unique key decide, so processes on several hosts agree.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.repo import runrules as rules
from core.repo.errors import Conflict, NotFound, PreconditionFailed
from core.repo.pgaudit import PgAudit
from core.repo.pgdb import PgDatabase
from core.repo.schedules import KEEP_FIRES


class PgRuns:
    """Runs (newest last) and the run locks."""

    def __init__(self, db: PgDatabase, audit: PgAudit) -> None:
        self.db = db
        self.audit = audit

    def create(self, run: Mapping[str, Any]) -> dict[str, Any]:
        rules.check_run(run)
        try:
            with self.db.savepoint():
                self.db.execute("INSERT INTO sfsync.recon_runs (id, mapping, state, data) VALUES (%s, %s, %s, %s)",
                                (run["_id"], run["mapping"], run["state"], Jsonb(dict(run))))
        except psycopg.errors.UniqueViolation:
            raise Conflict(f"recon/{run['_id']} already exists") from None
        return dict(run)

    def update(self, run: Mapping[str, Any]) -> dict[str, Any]:
        rules.check_run(run)
        with self.db.transaction():
            n = self.db.execute("UPDATE sfsync.recon_runs SET state = %s, data = %s WHERE id = %s",
                                (run["state"], Jsonb(dict(run)), run["_id"]))
            if not n:
                raise NotFound(f"Reconciliation with id {run['_id']} not found.")
            if run["state"] == "ACTIVE":
                self.db.execute("UPDATE sfsync.run_locks SET heartbeat = %s WHERE run_id = %s", (time.time(), run["_id"]))
            else:
                self.db.execute("DELETE FROM sfsync.run_locks WHERE run_id = %s", (run["_id"],))
        return dict(run)

    def get(self, run_id: str) -> dict[str, Any] | None:
        row = self.db.fetchone("SELECT data FROM sfsync.recon_runs WHERE id = %s", (run_id,))
        return dict(row[0]) if row else None

    def list(self, limit: int | None = None, mapping: str | None = None) -> list[dict[str, Any]]:
        sql, args = rules.list_sql("sfsync.recon_runs", "%s", limit, mapping)
        return [dict(r[0]) for r in self.db.fetchall(sql, args)]

    def last(self, mapping: str, state: str | None = "SUCCESS") -> dict[str, Any] | None:
        row = self.db.fetchone(*rules.last_sql("sfsync.recon_runs", "%s", mapping, state))
        return dict(row[0]) if row else None

    def prune(self, keep: int = rules.DEFAULT_KEEP) -> int:
        with self.db.transaction():
            doomed = [r[0] for r in self.db.fetchall(
                "SELECT id FROM sfsync.recon_runs WHERE state != 'ACTIVE' ORDER BY seq DESC OFFSET %s", (max(keep, 0),))]
            if doomed:
                self.audit.delete_for_runs(doomed)
                self.db.execute("DELETE FROM sfsync.recon_runs WHERE id = ANY(%s)", (doomed,))
        return len(doomed)

    def acquire(self, mapping: str, run_id: str, *, stale_after: float = rules.STALE_AFTER) -> None:
        """Take the mapping's run lock (the row locked while it is checked: one winner across hosts)."""
        host, pid, now = socket.gethostname(), os.getpid(), time.time()
        with self.db.transaction():
            self.db.execute("INSERT INTO sfsync.run_locks (mapping, run_id, pid, host, heartbeat) "
                            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (mapping) DO NOTHING",
                            (mapping, run_id, pid, host, now))
            row = self.db.fetchone(f"SELECT {rules.LOCK_COLUMNS} FROM sfsync.run_locks WHERE mapping = %s FOR UPDATE",
                                   (mapping,))
            assert row is not None
            if row[0] == run_id:
                self.db.execute("UPDATE sfsync.run_locks SET pid = %s, host = %s, heartbeat = %s WHERE mapping = %s",
                                (pid, host, now, mapping))
                return
            rules.refuse_live_owner(mapping, row, host, now, stale_after)
            self._orphaned(row[0], row[1])
            self.db.execute("UPDATE sfsync.run_locks SET run_id = %s, pid = %s, host = %s, heartbeat = %s "
                            "WHERE mapping = %s", (run_id, pid, host, now, mapping))

    def heartbeat(self, run_id: str) -> None:
        self.db.execute("UPDATE sfsync.run_locks SET heartbeat = %s WHERE run_id = %s", (time.time(), run_id))

    def release(self, run_id: str) -> None:
        self.db.execute("DELETE FROM sfsync.run_locks WHERE run_id = %s", (run_id,))

    def holder(self, mapping: str) -> dict[str, Any] | None:
        return rules.holder_of(self.db.fetchone(f"SELECT {rules.LOCK_COLUMNS} FROM sfsync.run_locks "
                                                "WHERE mapping = %s", (mapping,)))

    def _orphaned(self, run_id: str, pid: int) -> None:
        row = self.db.fetchone("SELECT data FROM sfsync.recon_runs WHERE id = %s AND state = 'ACTIVE' FOR UPDATE",
                               (run_id,))
        if row is None:
            return
        run = rules.orphan_failed(dict(row[0]), pid)
        self.db.execute("UPDATE sfsync.recon_runs SET state = 'FAILED', data = %s WHERE id = %s", (Jsonb(run), run_id))


def _state(row: Any) -> dict[str, Any]:
    sid, anchor, last_fire, paused, data = row
    return {"id": sid, "anchor": anchor, "lastFire": last_fire, "paused": bool(paused), **(data or {})}


class PgSchedules:
    """Schedule state and fire claims (``UNIQUE (schedule_id, fire_time)`` decides which process fires)."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db

    def register(self, schedule_id: str, anchor_ms: int) -> dict[str, Any]:
        state = self.get(schedule_id)
        if state is not None:
            return state
        self.db.execute("INSERT INTO sfsync.schedule_state (id, anchor) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                        (schedule_id, anchor_ms))
        state = self.get(schedule_id)
        assert state is not None
        return state

    def get(self, schedule_id: str) -> dict[str, Any] | None:
        row = self.db.fetchone("SELECT id, anchor, last_fire, paused, data FROM sfsync.schedule_state WHERE id = %s",
                               (schedule_id,))
        return _state(row) if row else None

    def all(self) -> dict[str, dict[str, Any]]:
        rows = self.db.fetchall("SELECT id, anchor, last_fire, paused, data FROM sfsync.schedule_state")
        return {row[0]: _state(row) for row in rows}

    def forget(self, schedule_id: str) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM sfsync.schedule_state WHERE id = %s", (schedule_id,))
            self.db.execute("DELETE FROM sfsync.schedule_fires WHERE schedule_id = %s AND ended IS NOT NULL",
                            (schedule_id,))

    def set_paused(self, schedule_id: str, paused: bool, now_ms: int) -> None:
        self.db.execute("INSERT INTO sfsync.schedule_state (id, anchor, paused) VALUES (%s, %s, %s) "
                        "ON CONFLICT (id) DO UPDATE SET paused = excluded.paused", (schedule_id, now_ms, paused))

    def claim(self, schedule_id: str, fire_ms: int, now_ms: int, *, missed: int = 0) -> bool:
        host, pid = socket.gethostname(), os.getpid()
        with self.db.transaction():
            row = self.db.fetchone("SELECT last_fire FROM sfsync.schedule_state WHERE id = %s FOR UPDATE",
                                   (schedule_id,))
            if row is None or (row[0] is not None and row[0] >= fire_ms):
                return False
            n = self.db.execute("INSERT INTO sfsync.schedule_fires (schedule_id, fire_time, node, pid, host, started, "
                                "result) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                                (schedule_id, fire_ms, f"{host}:{pid}", pid, host, now_ms,
                                 Jsonb({"missed": missed}) if missed else None))
            if not n:
                return False
            self.db.execute("UPDATE sfsync.schedule_state SET last_fire = %s WHERE id = %s", (fire_ms, schedule_id))
        return True

    def pass_over(self, schedule_id: str, fire_ms: int, result: dict[str, Any]) -> bool:
        with self.db.transaction():
            n = self.db.execute("UPDATE sfsync.schedule_state SET last_fire = %s WHERE id = %s AND "
                                "(last_fire IS NULL OR last_fire < %s)", (fire_ms, schedule_id, fire_ms))
            if n:
                self._set_last_result(schedule_id, result)
        return bool(n)

    def finish(self, schedule_id: str, fire_ms: int, result: dict[str, Any], now_ms: int,
               keep: int = KEEP_FIRES) -> None:
        with self.db.transaction():
            self.db.execute("UPDATE sfsync.schedule_fires SET ended = %s, result = %s WHERE schedule_id = %s "
                            "AND fire_time = %s", (now_ms, Jsonb(result), schedule_id, fire_ms))
            self._set_last_result(schedule_id, result)
            self.db.execute("DELETE FROM sfsync.schedule_fires WHERE schedule_id = %s AND ended IS NOT NULL AND seq NOT IN "
                            "(SELECT seq FROM sfsync.schedule_fires WHERE schedule_id = %s ORDER BY seq DESC LIMIT %s)",
                            (schedule_id, schedule_id, keep))

    def _set_last_result(self, schedule_id: str, result: dict[str, Any]) -> None:
        self.db.execute("UPDATE sfsync.schedule_state SET data = data || jsonb_build_object('lastResult', %s::jsonb) "
                        "WHERE id = %s", (json.dumps(result, ensure_ascii=False), schedule_id))

    def fires(self, schedule_id: str, limit: int = KEEP_FIRES) -> list[dict[str, Any]]:
        rows = self.db.fetchall("SELECT fire_time, node, started, ended, result FROM sfsync.schedule_fires "
                                "WHERE schedule_id = %s ORDER BY seq DESC LIMIT %s", (schedule_id, limit))
        return [{"fireTime": f, "node": n, "started": s, "ended": e, "result": r} for f, n, s, e, r in rows]

    def executing(self) -> list[dict[str, Any]]:
        here = socket.gethostname()
        rows = self.db.fetchall("SELECT schedule_id, fire_time, node, pid, host, started FROM sfsync.schedule_fires "
                                "WHERE ended IS NULL ORDER BY seq")
        return [{"scheduleId": sid, "fireTime": fire, "node": node, "started": started}
                for sid, fire, node, pid, host, started in rows if host != here or rules.pid_alive(pid)]


class PgSyncStages:
    """liveSync stages with revision-checked puts (the row locked while its revision is checked)."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db

    def get(self, sid: str) -> dict[str, Any] | None:
        row = self.db.fetchone("SELECT rev, data FROM sfsync.sync_stages WHERE id = %s", (sid,))
        return None if row is None else {"_id": sid, "_rev": str(row[0]), **row[1]}

    def put(self, sid: str, data: dict[str, Any], rev: str | None) -> dict[str, Any]:
        body = {k: v for k, v in data.items() if k not in ("_id", "_rev")}
        stale = PreconditionFailed(f"repo/synchronisation/pooledSyncStage/{sid}: revision {rev} is no longer "
                                   "current; another liveSync of this source ran meanwhile")
        try:
            with self.db.savepoint():
                row = self.db.fetchone("SELECT rev FROM sfsync.sync_stages WHERE id = %s FOR UPDATE", (sid,))
                current = None if row is None else str(row[0])
                if current != rev:
                    raise PreconditionFailed(f"repo/synchronisation/pooledSyncStage/{sid}: revision {rev} is no "
                                             f"longer current ({current}); another liveSync of this source ran meanwhile")
                new_rev = 1 if row is None else int(row[0]) + 1
                if row is None:
                    self.db.execute("INSERT INTO sfsync.sync_stages (id, rev, data) VALUES (%s, %s, %s)",
                                    (sid, new_rev, Jsonb(body)))
                else:
                    self.db.execute("UPDATE sfsync.sync_stages SET rev = %s, data = %s WHERE id = %s",
                                    (new_rev, Jsonb(body), sid))
        except psycopg.errors.UniqueViolation:  # created by another process meanwhile
            raise stale from None
        return {"_id": sid, "_rev": str(new_rev), **body}

    def delete(self, sid: str) -> None:
        self.db.execute("DELETE FROM sfsync.sync_stages WHERE id = %s", (sid,))
