"""Schedule state shared by every process on a project: where a schedule's times start, the last fire time
claimed, paused or not, the last result, and the claims that make one process of many fire each time.

A claim is a row of ``schedule_fires`` with ``UNIQUE (schedule_id, fire_time)`` inserted in one transaction
with the state's ``last_fire``: the first process to insert fires that time, every other one finds the row (or
a ``last_fire`` already at or past it) and does not. Times are epoch milliseconds (UTC).
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from core.repo.db import Database
from core.repo.runs import pid_alive

#: fire records kept per schedule (the newest)
KEEP_FIRES = 100


def node_id() -> str:
    """This process as a node: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _state(row: Any) -> dict[str, Any]:
    sid, anchor, last_fire, paused, data = row
    return {"id": sid, "anchor": anchor, "lastFire": last_fire, "paused": bool(paused), **json.loads(data)}


class Schedules:
    """The ``schedule_state`` and ``schedule_fires`` tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, schedule_id: str, anchor_ms: int) -> dict[str, Any]:
        """The schedule's state, made with ``anchor_ms`` (its times start after it) when it has none yet; the
        first process to register a schedule sets the anchor every process then uses."""
        state = self.get(schedule_id)
        if state is not None:
            return state
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO schedule_state (id, anchor) VALUES (?, ?)", (schedule_id, anchor_ms))
        state = self.get(schedule_id)
        assert state is not None
        return state

    def get(self, schedule_id: str) -> dict[str, Any] | None:
        row = self.db.conn().execute("SELECT id, anchor, last_fire, paused, data FROM schedule_state WHERE id = ?",
                                     (schedule_id,)).fetchone()
        return _state(row) if row else None

    def all(self) -> dict[str, dict[str, Any]]:
        rows = self.db.conn().execute("SELECT id, anchor, last_fire, paused, data FROM schedule_state")
        return {row[0]: _state(row) for row in rows}

    def forget(self, schedule_id: str) -> None:
        """Drop a schedule's state and fire records (deleted, or disabled: it starts afresh when enabled)."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM schedule_state WHERE id = ?", (schedule_id,))
            conn.execute("DELETE FROM schedule_fires WHERE schedule_id = ? AND ended IS NOT NULL", (schedule_id,))

    def set_paused(self, schedule_id: str, paused: bool, now_ms: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO schedule_state (id, anchor, paused) VALUES (?, ?, ?) "
                         "ON CONFLICT (id) DO UPDATE SET paused = excluded.paused",
                         (schedule_id, now_ms, int(paused)))

    def claim(self, schedule_id: str, fire_ms: int, now_ms: int, *, missed: int = 0) -> bool:
        """Claim fire time ``fire_ms`` for this process: True exactly once across processes."""
        host, pid = socket.gethostname(), os.getpid()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT last_fire FROM schedule_state WHERE id = ?", (schedule_id,)).fetchone()
            if row is None or (row[0] is not None and row[0] >= fire_ms):
                return False
            n = conn.execute("INSERT OR IGNORE INTO schedule_fires (schedule_id, fire_time, node, pid, host, "
                             "started, result) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (schedule_id, fire_ms, f"{host}:{pid}", pid, host, now_ms,
                              json.dumps({"missed": missed}) if missed else None)).rowcount
            if not n:
                return False
            conn.execute("UPDATE schedule_state SET last_fire = ? WHERE id = ?", (fire_ms, schedule_id))
        return True

    def pass_over(self, schedule_id: str, fire_ms: int, result: dict[str, Any]) -> bool:
        """Move ``last_fire`` to ``fire_ms`` without firing (misfired times dropped); the result is recorded as
        the last one. False when another process got there first."""
        with self.db.transaction() as conn:
            n = conn.execute("UPDATE schedule_state SET last_fire = ? WHERE id = ? AND "
                             "(last_fire IS NULL OR last_fire < ?)", (fire_ms, schedule_id, fire_ms)).rowcount
            if n:
                self._set_last_result(conn, schedule_id, result)
        return bool(n)

    def finish(self, schedule_id: str, fire_ms: int, result: dict[str, Any], now_ms: int,
               keep: int = KEEP_FIRES) -> None:
        """Record a claimed fire's result (also as the schedule's last result) and keep the newest ``keep``."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE schedule_fires SET ended = ?, result = ? WHERE schedule_id = ? AND fire_time = ?",
                         (now_ms, json.dumps(result, ensure_ascii=False), schedule_id, fire_ms))
            self._set_last_result(conn, schedule_id, result)
            conn.execute("DELETE FROM schedule_fires WHERE schedule_id = ? AND ended IS NOT NULL AND seq NOT IN "
                         "(SELECT seq FROM schedule_fires WHERE schedule_id = ? ORDER BY seq DESC LIMIT ?)",
                         (schedule_id, schedule_id, keep))

    @staticmethod
    def _set_last_result(conn: Any, schedule_id: str, result: dict[str, Any]) -> None:
        row = conn.execute("SELECT data FROM schedule_state WHERE id = ?", (schedule_id,)).fetchone()
        if row is None:
            return
        data = json.loads(row[0])
        data["lastResult"] = result
        conn.execute("UPDATE schedule_state SET data = ? WHERE id = ?", (json.dumps(data, ensure_ascii=False),
                                                                          schedule_id))

    def fires(self, schedule_id: str, limit: int = KEEP_FIRES) -> list[dict[str, Any]]:
        """The schedule's fire records, newest first."""
        rows = self.db.conn().execute(
            "SELECT fire_time, node, started, ended, result FROM schedule_fires WHERE schedule_id = ? "
            "ORDER BY seq DESC LIMIT ?", (schedule_id, limit))
        return [{"fireTime": f, "node": n, "started": s, "ended": e, "result": json.loads(r) if r else None}
                for f, n, s, e, r in rows]

    def executing(self) -> list[dict[str, Any]]:
        """Fires started and not ended, by processes that are alive (a dead one's are dropped from the list)."""
        here = socket.gethostname()
        rows = self.db.conn().execute("SELECT schedule_id, fire_time, node, pid, host, started FROM schedule_fires "
                                      "WHERE ended IS NULL ORDER BY seq")
        return [{"scheduleId": sid, "fireTime": fire, "node": node, "started": started}
                for sid, fire, node, pid, host, started in rows if host != here or pid_alive(pid)]


