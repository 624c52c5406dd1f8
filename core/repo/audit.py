"""Reconciliation audit entries (``audit/recon``): one per record per run, plus a run's start and summary.

Fields are IDM's recon audit event's (``idm-sync-semantics.md`` §3.4): ``_id``, ``timestamp``, ``eventName``
("recon"), ``reconId``, ``mapping``, ``situation``, ``action``, ``status`` (SUCCESS|FAILURE), ``message``,
``messageDetail``, ``exception``, ``sourceObjectId``, ``targetObjectId``, ``reconciling`` (source|target),
``linkQualifier``, ``entryType`` (start|entry|summary), ``ambiguousTargetObjectIds``, ``reconAction``.
Entries are stored as JSON with the fields audit queries use (reconId, situation, status, …) indexed, and
queried with the same CREST machinery as managed objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from core.repo.db import Database, chunks, insert_many, placeholders
from core.repo.errors import FieldError, ValidationError
from core.repo.jsoncodec import encode_any
from core.repo.query import Collection, QueryRequest, run_query

#: a stored entry: (id, reconId, the entry's JSON)
AuditRow = tuple[str, str, str]

STATUSES = ("SUCCESS", "FAILURE")
ENTRY_TYPES = ("start", "entry", "summary")

COLLECTION = Collection("recon_audit", {
    "reconId": "recon_id", "situation": "situation", "action": "action", "status": "status",
    "entryType": "entry_type", "sourceObjectId": "source_object_id", "targetObjectId": "target_object_id",
}, has_rev=False)


def now_iso() -> str:
    """UTC, milliseconds, ``Z``: IDM's audit timestamp format."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: the ``reconId`` values under which sync events (``eventName: "sync"``) are stored, apart from every run:
#: implicit sync's (``core.sync.implicit.SYNC_AUDIT_ID``) and liveSync's (``core.sync.livesync.LIVESYNC_AUDIT_ID``).
#: ``audit/sync`` serves them; ``audit/recon`` does not.
SYNC_STREAMS = ("implicit-sync", "livesync")
#: IDM's ``audit/sync`` event fields (reference idm-beyond-the-sample.md §6.5), in IDM's order
SYNC_EVENT_FIELDS = ("_id", "transactionId", "timestamp", "eventName", "userId", "trackingIds", "action",
                     "exception", "linkQualifier", "mapping", "message", "messageDetail", "situation",
                     "sourceObjectId", "status", "targetObjectId")
_IN_SYNC_STREAMS = (f"recon_id IN ({placeholders(len(SYNC_STREAMS))})", list(SYNC_STREAMS))
_NOT_IN_SYNC_STREAMS = (f"recon_id NOT IN ({placeholders(len(SYNC_STREAMS))})", list(SYNC_STREAMS))


def sync_event(entry: dict[str, Any], whole: bool = True) -> dict[str, Any]:
    """A stored sync entry as IDM's ``audit/sync`` event: the recon-only keys (``reconId``, ``entryType``,
    ``reconciling``) dropped; the whole entry has every sync event field (null when unknown)."""
    if whole:
        return {k: entry.get(k) for k in SYNC_EVENT_FIELDS}
    return {k: v for k, v in entry.items() if k not in ("reconId", "entryType", "reconciling")}


_STATUS_OK = (None, *STATUSES)
_RECONCILING_OK = (None, "source", "target")


def _problems(i: int, entry: Mapping[str, Any]) -> list[FieldError]:
    """Why entry ``i`` is refused (the slow path: the common case is checked with three membership tests)."""
    problems = []
    recon_id = entry.get("reconId")
    if not isinstance(recon_id, str) or not recon_id:
        problems.append(FieldError(f"entries[{i}].reconId", "is required"))
    if entry.get("status") not in _STATUS_OK:
        problems.append(FieldError(f"entries[{i}].status", "must be SUCCESS or FAILURE"))
    if entry.get("reconciling") not in _RECONCILING_OK:
        problems.append(FieldError(f"entries[{i}].reconciling", "must be source or target"))
    if entry.get("entryType", "entry") not in ENTRY_TYPES:
        problems.append(FieldError(f"entries[{i}].entryType", "must be start, entry or summary"))
    return problems


class Audit:
    """The recon audit log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add_many(self, entries: Sequence[Mapping[str, Any]], ids: Sequence[str] | None = None) -> list[str]:
        """Store entries (``_id`` and ``timestamp`` filled in when absent); their ids, in order. ``ids`` gives
        the ids apart (a reconciliation's ``<reconId>-<n>``): a complete entry is then stored without a copy."""
        rows = self.prepare(entries, ids)
        self.insert(rows)
        return [row[0] for row in rows]

    @staticmethod
    def prepare(entries: Sequence[Mapping[str, Any]], ids: Sequence[str] | None = None) -> list[AuditRow]:
        """The rows :meth:`add_many` stores, checked and encoded without touching storage (a reconciliation
        builds a page's rows while the previous page is being written)."""
        rows: list[AuditRow] = []
        stamp: str | None = None
        for i, raw in enumerate(entries):
            if ids is not None and "timestamp" in raw and "eventName" in raw and "_id" not in raw:
                entry = raw
                entry_id = ids[i]
            else:
                entry = {"eventName": "recon", **raw}
                if "timestamp" not in entry:
                    entry["timestamp"] = stamp = stamp or now_iso()  # one clock read per batch
                entry_id = str(entry.pop("_id", None) or (ids[i] if ids is not None else uuid.uuid4()))
            recon_id = entry.get("reconId")
            if not isinstance(recon_id, str) or not recon_id or entry.get("status") not in _STATUS_OK \
                    or entry.get("reconciling") not in _RECONCILING_OK or entry.get("entryType", "entry") not in ENTRY_TYPES:
                raise ValidationError(_problems(i, entry), resource="audit/recon")
            rows.append((entry_id, recon_id, encode_any(entry)))
        return rows

    def insert(self, rows: Sequence[AuditRow]) -> None:
        """Store rows made by :meth:`prepare` (one statement, in the caller's transaction if there is one)."""
        if rows:
            with self.db.transaction() as conn:
                insert_many(conn, "recon_audit", ("id", "recon_id", "data"), rows)

    def add(self, entry: Mapping[str, Any]) -> str:
        return self.add_many([entry])[0]

    def get(self, entry_id: str) -> dict[str, Any] | None:
        row = self.db.conn().execute("SELECT id, data FROM recon_audit WHERE id = ?", (entry_id,)).fetchone()
        return COLLECTION.row_to_object(row) if row else None

    def query(self, request: QueryRequest | str = "true", **params: Any) -> dict[str, Any]:
        """IDM's query result over ``audit/recon``; ``request`` is a QueryRequest or a ``_queryFilter``."""
        if isinstance(request, str):
            request = QueryRequest(query_filter=request, **params)
        return run_query(self.db.conn(), COLLECTION, request)

    def get_recon(self, entry_id: str) -> dict[str, Any] | None:
        """One ``audit/recon`` entry (a run's; sync events are ``audit/sync``'s)."""
        entry = self.get(entry_id)
        return None if entry is None or entry.get("reconId") in SYNC_STREAMS else entry

    def query_recon(self, request: QueryRequest) -> dict[str, Any]:
        """``audit/recon``: the runs' entries only (implicit sync's and liveSync's are ``audit/sync``'s)."""
        return run_query(self.db.conn(), COLLECTION, request, _NOT_IN_SYNC_STREAMS)

    def get_sync(self, entry_id: str) -> dict[str, Any] | None:
        """One ``audit/sync`` event, in IDM's sync event shape."""
        entry = self.get(entry_id)
        return sync_event(entry) if entry is not None and entry.get("reconId") in SYNC_STREAMS else None

    def query_sync(self, request: QueryRequest) -> dict[str, Any]:
        """``audit/sync``: implicit sync's and liveSync's events, in IDM's sync event shape (filters and sort
        keys name its fields: ``sourceObjectId``, ``mapping``, ``targetObjectId``, ``situation``, …)."""
        answer = run_query(self.db.conn(), COLLECTION, request, _IN_SYNC_STREAMS)
        whole = not request.fields or "*" in request.fields
        answer["result"] = [sync_event(e, whole) for e in answer["result"]]
        return answer

    def count(self, recon_id: str, situation: str | None = None) -> int:
        sql, args = "SELECT count(*) FROM recon_audit WHERE recon_id = ?", [recon_id]
        if situation is not None:
            sql += " AND situation = ?"
            args.append(situation)
        return int(self.db.conn().execute(sql, args).fetchone()[0])

    def keep_newest(self, recon_id: str, keep: int) -> int:
        """Delete the entries of ``recon_id`` beyond its newest ``keep`` (the implicit-sync log, which belongs
        to no run and would otherwise grow without end); how many went."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT seq FROM recon_audit WHERE recon_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?",
                               (recon_id, max(keep, 0))).fetchone()
            if row is None:
                return 0
            return conn.execute("DELETE FROM recon_audit WHERE recon_id = ? AND seq <= ?", (recon_id, row[0])).rowcount

    def delete_for_runs(self, recon_ids: Iterable[str]) -> int:
        n = 0
        with self.db.transaction() as conn:
            for part in chunks(list(recon_ids)):
                n += conn.execute(f"DELETE FROM recon_audit WHERE recon_id IN ({placeholders(len(part))})",
                                  part).rowcount
        return n
