"""Audit in IDM's own PostgreSQL tables: ``openidm.auditrecon`` (a run's entries), ``openidm.auditsync`` (implicit
sync's and liveSync's events) and ``openidm.auditactivity``, with IDM's column renames (reference
idm-beyond-the-sample.md §1.3: ``_id``→``objectid``, ``timestamp``→``activitydate``, ``action``→``activity``,
``exception``→``exceptiondetail``, ``messageDetail`` as JSON text; activity's ``objectId``→``activityobjectid``,
``before``/``after``→``subjectbefore``/``subjectafter``, ``revision``→``subjectrev``).

IDM's tables have no column for a few fields sfsync keeps (``dryRun`` of a dry run's entries, the ``reconId``
stream of a sync event, activity's ``origin``); they go, only for entries that have them, to
``sfsync.audit_extra`` keyed by the entry's id, so every entry reads back as it was written.

Order: IDM's tables have no insertion sequence. A run's entry ids are ``<runId>-<n>``, so ``audit/recon`` is
ordered by the id's length, then the id (``-9`` before ``-10``); a sync event always has an extra row (its
``reconId`` stream has no column in ``auditsync``), whose sequence orders ``audit/sync``; activity entries
are ordered by the same sequence (their ``origin`` is an extra) and then by id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson

from core.repo.activity import TRIM_EVERY, ActivityLog
from core.repo.audit import SYNC_STREAMS, Audit, AuditRow, sync_event
from core.repo.pgdb import PgDatabase
from core.repo.pgmanaged import _chunks
from core.repo.pgquery import PgCollection, row_object, run_pg_query
from core.repo.query import QueryRequest

_SYNC_FIELDS = {
    "transactionId": "transactionid", "timestamp": "activitydate", "eventName": "eventname", "userId": "userid",
    "trackingIds": "trackingids", "action": "activity", "exception": "exceptiondetail",
    "linkQualifier": "linkqualifier", "mapping": "mapping", "message": "message", "messageDetail": "messagedetail",
    "situation": "situation", "sourceObjectId": "sourceobjectid", "status": "status",
    "targetObjectId": "targetobjectid",
}
_RECON_FIELDS = {**_SYNC_FIELDS, "reconciling": "reconciling", "ambiguousTargetObjectIds": "ambiguoustargetobjectids",
                 "reconAction": "reconaction", "entryType": "entrytype", "reconId": "reconid"}
_ACTIVITY_FIELDS = {
    "timestamp": "activitydate", "eventName": "eventname", "transactionId": "transactionid", "userId": "userid",
    "trackingIds": "trackingids", "runAs": "runas", "objectId": "activityobjectid", "operation": "operation",
    "before": "subjectbefore", "after": "subjectafter", "changedFields": "changedfields", "revision": "subjectrev",
    "passwordChanged": "passwordchanged", "message": "message", "provider": "provider", "context": "context",
    "status": "status",
}
#: fields held as JSON text in their column
_JSON = ("trackingIds", "messageDetail", "before", "after", "changedFields", "passwordChanged")


class _Table:
    """One IDM audit table: JSON entries <-> its columns (+ sfsync.audit_extra)."""

    def __init__(self, db: PgDatabase, table: str, fields: Mapping[str, str], order: str,
                 keep_null: tuple[str, ...] = ()) -> None:
        self.db = db
        self.table = table
        self.fields = dict(fields)
        self.columns = ["objectid", *fields.values()]
        pairs: list[str] = []
        kept: list[str] = []
        for name, col in fields.items():
            value = f"t.{col}"
            if col == "transactionid":
                value = f"NULLIF(t.{col}, '')"
            elif name in _JSON:
                value = f"(t.{col})::jsonb"
            (kept if name in keep_null else pairs).append(f"'{name}', {value}")
        data = f"jsonb_strip_nulls(jsonb_build_object({', '.join(pairs)}))"
        if kept:  # fields an entry always has, null or not (activity's before and after)
            data += f" || jsonb_build_object({', '.join(kept)})"
        data = f"({data} || coalesce(x.data, '{{}}'::jsonb))"
        self.collection = PgCollection(
            f"{table} t LEFT JOIN sfsync.audit_extra x ON x.objectid = t.objectid", data, id_column="t.objectid",
            rev_column=None, tiebreak=order,
            columns={n: f"t.{c}" for n, c in fields.items() if n not in _JSON})

    def split(self, entry_id: str, entry: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any] | None]:
        """The row for the table and the fields it has no place for (None when none)."""
        values: list[Any] = [entry_id]
        extra: dict[str, Any] = {}
        for name, col in self.fields.items():
            value = entry.get(name)
            if value is None:
                values.append("" if col in ("transactionid", "activitydate") else None)
            elif name in _JSON:
                values.append(json.dumps(value, ensure_ascii=False))
            elif isinstance(value, str):
                values.append(value)
            else:  # a number or boolean where IDM has a text column: kept exactly, apart
                values.append(None)
                extra[name] = value
        for name, value in entry.items():
            if name not in self.fields and name != "_id":
                extra[name] = value
        return tuple(values), extra or None

    def write(self, entries: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        rows, extras = [], []
        for entry_id, entry in entries:
            row, extra = self.split(entry_id, entry)
            rows.append(row)
            if extra:
                extras.append((entry_id, json.dumps(extra, ensure_ascii=False)))
        with self.db.transaction():
            self.db.copy_rows(self.table, self.columns, rows)
            self.db.copy_rows("sfsync.audit_extra", ("objectid", "data"), extras)

    def get(self, entry_id: str, where: tuple[str, list[Any]] | None = None) -> dict[str, Any] | None:
        c = self.collection
        sql = f"SELECT {c.id_column}, {c.data} FROM {c.source} WHERE t.objectid = %s"
        params: list[Any] = [entry_id]
        if where:
            sql += f" AND {where[0]}"
            params += where[1]
        row = self.db.fetchone(sql, params)
        return row_object(c, row) if row else None

    def delete_where(self, condition: str, params: Sequence[Any]) -> int:
        with self.db.transaction():
            self.db.execute(f"DELETE FROM sfsync.audit_extra x USING {self.table} t WHERE x.objectid = t.objectid "
                            f"AND {condition}", params)
            return self.db.execute(f"DELETE FROM {self.table} t WHERE {condition}", params)


_STREAM = "(x.data->>'reconId')"
#: ``<run>-9`` before ``<run>-10``
_BY_ID = "(lpad(length(t.objectid)::text, 3, '0') || t.objectid)"
_BY_SEQ = "(lpad(coalesce(x.seq, 0)::text, 19, '0') || t.objectid)"


def _union(recon: _Table, sync: _Table) -> PgCollection:
    """Every entry, a run's and sync events (the SQLite repository's ``audit.query`` answers both)."""
    cols = list(_RECON_FIELDS.values())
    sync_cols = ", ".join(f"s.{c}" if c in _SYNC_FIELDS.values() else
                          ("e.data->>'reconId'" if c == "reconid" else f"e.data->>'{_name(c)}'") + f" AS {c}"
                          for c in cols)
    source = (f"(SELECT r.objectid, {', '.join('r.' + c for c in cols)}, "
              f"'0' || lpad(length(r.objectid)::text, 3, '0') || r.objectid AS ord FROM openidm.auditrecon r "
              f"UNION ALL SELECT s.objectid, {sync_cols}, '1' || lpad(e.seq::text, 19, '0') || s.objectid "
              f"FROM openidm.auditsync s LEFT JOIN sfsync.audit_extra e ON e.objectid = s.objectid) t "
              f"LEFT JOIN sfsync.audit_extra x ON x.objectid = t.objectid")
    c = recon.collection
    return PgCollection(source, c.data, id_column="t.objectid", rev_column=None, tiebreak="t.ord",
                        columns=c.columns)


def _name(column: str) -> str:
    return next(n for n, c in _RECON_FIELDS.items() if c == column)


class PgAudit:
    """``audit/recon`` and ``audit/sync`` over IDM's tables; the same contract as core/repo/audit.py's Audit."""

    prepare = staticmethod(Audit.prepare)

    def __init__(self, db: PgDatabase) -> None:
        self.db = db
        self.recon = _Table(db, "openidm.auditrecon", _RECON_FIELDS, _BY_ID)
        self.sync = _Table(db, "openidm.auditsync", _SYNC_FIELDS, _BY_SEQ)
        self.both = _union(self.recon, self.sync)

    def add_many(self, entries: Sequence[Mapping[str, Any]], ids: Sequence[str] | None = None) -> list[str]:
        rows = self.prepare(entries, ids)
        self.insert(rows)
        return [row[0] for row in rows]

    def add(self, entry: Mapping[str, Any]) -> str:
        return self.add_many([entry])[0]

    def insert(self, rows: Sequence[AuditRow]) -> None:
        """Store rows made by :meth:`prepare`: a run's in auditrecon, sync events in auditsync."""
        recon: list[tuple[str, dict[str, Any]]] = []
        sync: list[tuple[str, dict[str, Any]]] = []
        for entry_id, recon_id, text in rows:
            (sync if recon_id in SYNC_STREAMS else recon).append((entry_id, orjson.loads(text)))
        with self.db.transaction():
            if recon:
                self.recon.write(recon)
            if sync:
                self.sync.write(sync)

    def get(self, entry_id: str) -> dict[str, Any] | None:
        return self.recon.get(entry_id) or self.sync.get(entry_id)

    def get_recon(self, entry_id: str) -> dict[str, Any] | None:
        return self.recon.get(entry_id)

    def get_sync(self, entry_id: str) -> dict[str, Any] | None:
        entry = self.sync.get(entry_id)
        return sync_event(entry) if entry is not None else None

    def query(self, request: QueryRequest | str = "true", **params: Any) -> dict[str, Any]:
        """Every entry (a run's and sync events); ``request`` is a QueryRequest or a ``_queryFilter``."""
        if isinstance(request, str):
            request = QueryRequest(query_filter=request, **params)
        return run_pg_query(self.db, self.both, request)

    def query_recon(self, request: QueryRequest) -> dict[str, Any]:
        return run_pg_query(self.db, self.recon.collection, request)

    def query_sync(self, request: QueryRequest) -> dict[str, Any]:
        answer = run_pg_query(self.db, self.sync.collection, request)
        whole = not request.fields or "*" in request.fields
        answer["result"] = [sync_event(e, whole) for e in answer["result"]]
        return answer

    def count(self, recon_id: str, situation: str | None = None) -> int:
        if recon_id in SYNC_STREAMS:
            sql, args = f"SELECT count(*) FROM {self.sync.collection.source} WHERE {_STREAM} = %s", [recon_id]
        else:
            sql, args = "SELECT count(*) FROM openidm.auditrecon t WHERE t.reconid = %s", [recon_id]
        if situation is not None:
            sql += " AND t.situation = %s"
            args.append(situation)
        row = self.db.fetchone(sql, args)
        return int(row[0]) if row else 0

    def keep_newest(self, recon_id: str, keep: int) -> int:
        """Delete the entries of ``recon_id`` (a run, or a sync stream) beyond its newest ``keep``."""
        table = self.sync if recon_id in SYNC_STREAMS else self.recon
        where = f"{_STREAM} = %s" if recon_id in SYNC_STREAMS else "t.reconid = %s"
        order = table.collection.tiebreak
        ids = [r[0] for r in self.db.fetchall(
            f"SELECT t.objectid FROM {table.collection.source} WHERE {where} ORDER BY {order} DESC OFFSET %s",
            (recon_id, max(keep, 0)))]
        n = 0
        for part in _chunks(ids):
            n += table.delete_where("t.objectid = ANY(%s)", [list(part)])
        return n

    def delete_for_runs(self, recon_ids: Iterable[str]) -> int:
        n = 0
        for part in _chunks(list(recon_ids)):
            n += self.recon.delete_where("t.reconid = ANY(%s)", [list(part)])
        return n


class PgActivityLog:
    """``audit/activity`` over ``openidm.auditactivity``; the same contract as core/repo/activity.py's."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db
        self.table = _Table(db, "openidm.auditactivity", _ACTIVITY_FIELDS, _BY_SEQ, keep_null=("before", "after"))
        self._added = 0

    def add(self, entry: Mapping[str, Any], *, keep: int | Callable[[], int] | None = None) -> str:
        entry_id, row = ActivityLog._row(entry)
        with self.db.transaction():
            self.table.write([(entry_id, orjson.loads(row[1]))])
            self._added += 1
            if keep is not None and self._added % TRIM_EVERY == 0:
                self.keep_newest(keep() if callable(keep) else keep)
        return entry_id

    def add_many(self, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        rows = [ActivityLog._row(e) for e in entries]
        if rows:
            self.table.write([(i, orjson.loads(r[1])) for i, r in rows])
        return [i for i, _ in rows]

    def get(self, entry_id: str) -> dict[str, Any] | None:
        return self.table.get(entry_id)

    def query(self, request: QueryRequest | str = "true", **params: Any) -> dict[str, Any]:
        if isinstance(request, str):
            request = QueryRequest(query_filter=request, **params)
        return run_pg_query(self.db, self.table.collection, request)

    def for_object(self, object_id: str, limit: int = 20) -> list[dict[str, Any]]:
        c = self.table.collection
        rows = self.db.fetchall(f"SELECT {c.id_column}, {c.data} FROM {c.source} WHERE t.activityobjectid = %s "
                                f"ORDER BY {c.tiebreak} DESC LIMIT %s", (object_id, max(limit, 0)))
        return [row_object(c, r) for r in rows]

    def count(self) -> int:
        row = self.db.fetchone("SELECT count(*) FROM openidm.auditactivity")
        return int(row[0]) if row else 0

    def keep_newest(self, keep: int) -> int:
        c = self.table.collection
        ids = [r[0] for r in self.db.fetchall(f"SELECT t.objectid FROM {c.source} ORDER BY {c.tiebreak} DESC "
                                              "OFFSET %s", (max(keep, 0),))]
        n = 0
        for part in _chunks(ids):
            n += self.table.delete_where("t.objectid = ANY(%s)", [list(part)])
        return n
