"""What both run stores share (SQLite's core/repo/runs.py, PostgreSQL's core/repo/pgstate.py): the run object's
required fields, the run lock's liveness rule (its owner's process alive on this host, its heartbeat fresh),
the run an orphaned lock leaves behind, and the run listings' SQL with the backend's placeholder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from core.repo.audit import now_iso
from core.repo.errors import Conflict, FieldError, ValidationError

STATES = ("ACTIVE", "SUCCESS", "FAILED", "CANCELED")
DEFAULT_KEEP = 100
STALE_AFTER = 120.0
#: a run lock row: (run_id, pid, host, heartbeat)
LOCK_COLUMNS = "run_id, pid, host, heartbeat"


def pid_alive(pid: int) -> bool:
    """Whether a process of this host with that pid still runs (a lock or a firing it holds is live)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_run(run: Mapping[str, Any]) -> None:
    """ValidationError unless the run has an ``_id``, a ``mapping`` and a known ``state``."""
    problems = []
    if not isinstance(run.get("_id"), str) or not run.get("_id"):
        problems.append(FieldError("_id", "is required"))
    if not isinstance(run.get("mapping"), str) or not run.get("mapping"):
        problems.append(FieldError("mapping", "is required"))
    if run.get("state") not in STATES:
        problems.append(FieldError("state", f"must be one of {', '.join(STATES)}"))
    if problems:
        raise ValidationError(problems, resource="recon")


def refuse_live_owner(mapping: str, lock: Sequence[Any], host: str, now: float, stale_after: float) -> None:
    """Conflict when the lock's owner still runs (same host: its pid exists; elsewhere: its heartbeat is
    younger than ``stale_after``); otherwise the lock may be taken over."""
    owner_run, owner_pid, owner_host, beat = lock
    alive = pid_alive(owner_pid) if owner_host == host else True
    if alive and now - beat < stale_after:
        raise Conflict(f"mapping {mapping} already has an active reconciliation {owner_run} "
                       f"(process {owner_pid} on {owner_host})")


def orphan_failed(run: dict[str, Any], pid: int) -> dict[str, Any]:
    """The ACTIVE run of a lock taken over, marked FAILED (``recon-status`` never shows it running)."""
    run.update(state="FAILED", stage="COMPLETED_FAILED", stageDescription="reconciliation failed",
               ended=now_iso(), failureReason=f"the process running it ({pid}) stopped")
    return run


def holder_of(lock: Sequence[Any] | None) -> dict[str, Any] | None:
    return dict(zip(("runId", "pid", "host", "heartbeat"), lock, strict=True)) if lock else None


def list_sql(table: str, mark: str, limit: int | None, mapping: str | None) -> tuple[str, list[object]]:
    """The runs, newest first (``mark``: the backend's placeholder)."""
    sql, args = f"SELECT data FROM {table}", list[object]()
    if mapping is not None:
        sql += f" WHERE mapping = {mark}"
        args.append(mapping)
    sql += " ORDER BY seq DESC"
    if limit is not None:
        sql += f" LIMIT {mark}"
        args.append(limit)
    return sql, args


def last_sql(table: str, mark: str, mapping: str, state: str | None) -> tuple[str, list[object]]:
    """The newest run of a mapping (in ``state``, when given)."""
    sql, args = f"SELECT data FROM {table} WHERE mapping = {mark}", list[object]([mapping])
    if state is not None:
        sql += f" AND state = {mark}"
        args.append(state)
    return sql + " ORDER BY seq DESC LIMIT 1", args
