"""Managed objects in IDM's ``openidm.managedobjects`` (``objecttypes_id`` -> ``openidm.objecttypes``
``managed/<resource>``, ``objectid``, ``rev``, ``fullobject`` JSONB without ``_id``/``_rev``).

The same contract as core/repo/managed.py (the SQLite store): bulk methods answer per object, writes of a
page are one pipelined ``executemany``, unique fields (``userName``) are checked case-insensitively. Across
processes: updates and deletes lock the rows they check (``SELECT … FOR UPDATE``), so two writers holding the
same ``_rev`` cannot both win — the second finds the new revision and gets PreconditionFailed; creates and
updates of a resource with unique fields hold a transaction-scoped advisory lock for the resource while they
check and write, so two processes cannot both take one userName (IDM's own schema has no such index).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import psycopg

from core.repo.errors import Conflict, FieldError, NotFound, RepoError, ValidationError
from core.repo.managedstore import (
    IDENT,
    ManagedStoreBase,
    PreparedCreates,
    Row,
    correlation_keys,
    fold,
    unique_key,
)
from core.repo.pgdb import PgDatabase
from core.repo.pgquery import PgCollection, row_object
from core.repo.schema import ManagedSchema

CHUNK = 5000


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


class PgManagedObjects(ManagedStoreBase):
    """The managed objects of one resource (``user``) in ``openidm.managedobjects``."""

    def __init__(self, db: PgDatabase, resource: str = "user", schema: ManagedSchema | None = None) -> None:
        super().__init__(resource, schema)
        self.db = db
        self.type_id = self._object_type()
        kind = db.fetchone("SELECT data_type FROM information_schema.columns WHERE table_schema = 'openidm' "
                           "AND table_name = 'managedobjects' AND column_name = 'fullobject'")
        #: IDM 5.x-7.0 made ``fullobject`` JSON, later 7.x JSONB: written as it is, read as JSONB
        self.json_type = "json" if kind and kind[0] == "json" else "jsonb"
        data = "fullobject" if self.json_type == "jsonb" else "(fullobject::jsonb)"
        self._lock_key = zlib.crc32(self.name.encode())
        #: every unique field under a UNIQUE index of sfsync's (only on tables sfsync made): creates rely on it
        self.unique_indexed = False
        if db.owns_idm_tables:
            self._ensure_indexes()
        self.collection = PgCollection("openidm.managedobjects", data, tiebreak="id",
                                       base="objecttypes_id = %s", base_params=(self.type_id,))

    def _object_type(self) -> int:
        row = self.db.fetchone("SELECT id FROM openidm.objecttypes WHERE objecttype = %s", (self.name,))
        if row is None:
            self.db.execute("INSERT INTO openidm.objecttypes (objecttype) VALUES (%s) ON CONFLICT DO NOTHING",
                            (self.name,))
            row = self.db.fetchone("SELECT id FROM openidm.objecttypes WHERE objecttype = %s", (self.name,))
        assert row is not None
        return int(row[0])

    def _ensure_indexes(self) -> None:
        """Expression indexes on the searchable fields (only on tables sfsync created: IDM's stay as IDM made
        them). A unique field gets a partial UNIQUE index for its own object type."""
        for field in self.searchable:
            expr = f"lower((fullobject->>'{field}') COLLATE \"C\")"
            name = f"sfsync_{self.resource}_{field}".lower()[:63]
            if field in self.unique:
                sql = f"CREATE UNIQUE INDEX IF NOT EXISTS ux_{name} ON openidm.managedobjects (objecttypes_id, {expr})"
            else:
                sql = f"CREATE INDEX IF NOT EXISTS ix_{name} ON openidm.managedobjects (objecttypes_id, {expr})"
            try:
                self.db.execute(sql)
            except psycopg.errors.UniqueViolation:  # existing duplicates: the checks still refuse new ones
                self.db.execute(f"CREATE INDEX IF NOT EXISTS ix_{name} ON openidm.managedobjects "
                                f"(objecttypes_id, {expr})")
        names = {r[0] for r in self.db.fetchall("SELECT indexname FROM pg_indexes WHERE schemaname = 'openidm' "
                                                "AND tablename = 'managedobjects'")}
        self.unique_indexed = all(f"ux_sfsync_{self.resource}_{f}".lower()[:63] in names for f in self.unique)

    def analyze(self) -> None:
        self.db.execute("ANALYZE openidm.managedobjects")

    # ------------------------------------------------------------------------------------ reads

    def read(self, id: str) -> dict[str, Any]:
        row = self.db.fetchone(f"SELECT objectid, rev, {self.collection.data} FROM openidm.managedobjects "
                               "WHERE objecttypes_id = %s AND objectid = %s", (self.type_id, id))
        if row is None:
            raise NotFound(f"{self.name}/{id} not found")
        return row_object(self.collection, row)

    def read_many(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(ids))
        out: dict[str, dict[str, Any]] = {}
        for part in _chunks(wanted):
            for row in self.db.fetchall(f"SELECT objectid, rev, {self.collection.data} FROM openidm.managedobjects "
                                        "WHERE objecttypes_id = %s AND objectid = ANY(%s)", (self.type_id, list(part))):
                out[row[0]] = row_object(self.collection, row)
        return out

    def revs(self, ids: Iterable[str], *, lock: bool = False) -> dict[str, str]:
        wanted = list(dict.fromkeys(ids))
        out: dict[str, str] = {}
        tail = " ORDER BY objectid FOR UPDATE" if lock else ""
        for part in _chunks(wanted):
            out.update(self.db.fetchall("SELECT objectid, rev FROM openidm.managedobjects WHERE objecttypes_id = %s "
                                        f"AND objectid = ANY(%s){tail}", (self.type_id, list(part))))
        return out

    def find_by(self, field: str, values: Iterable[Any]) -> dict[Any, list[dict[str, Any]]]:
        """Bulk correlation: for each value, the objects whose ``field`` equals it (ASCII case-insensitive)."""
        out, by_fold = correlation_keys(values, unique_key)
        params: list[Any] = []
        if field == "_id":
            expr = "objectid"
        elif IDENT.match(field):
            expr = f"(fullobject->>'{field}')"
        else:
            from core.repo.queryfilter import parse_pointer

            expr, params = "(fullobject #>> %s::text[])", [list(parse_pointer(field))]
        keys = list(by_fold)
        for part in _chunks(keys):
            strings = [k for k in part if isinstance(k, str)]
            sql = (f"SELECT objectid, rev, {self.collection.data}, {expr} FROM openidm.managedobjects WHERE objecttypes_id = %s "
                   f"AND lower({expr} COLLATE \"C\") = ANY(%s)")
            for row in self.db.fetchall(sql, [*params, self.type_id, *params, strings]):
                obj = row_object(self.collection, row[:3])
                for v in by_fold.get(fold(row[3]), ()):
                    out[v].append(obj)
        return out

    def iter_ids(self, batch: int = 10_000) -> Iterator[str]:
        last = 0
        while True:
            rows = self.db.fetchall("SELECT id, objectid FROM openidm.managedobjects WHERE objecttypes_id = %s "
                                    "AND id > %s ORDER BY id LIMIT %s", (self.type_id, last, batch))
            for _seq, id_ in rows:
                yield id_
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def count(self) -> int:
        row = self.db.fetchone("SELECT count(*) FROM openidm.managedobjects WHERE objecttypes_id = %s",
                               (self.type_id,))
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------------------------ checks

    def _lock_unique(self) -> None:
        if self.unique:
            self.db.execute("SELECT pg_advisory_xact_lock(%s::bigint)", ((0x5F5C << 32) | self._lock_key,))

    def _holders(self, field: str, values: Sequence[Any]) -> dict[Any, set[str]]:
        holders: dict[Any, set[str]] = {}
        strings = list(dict.fromkeys(unique_key(v) for v in values if isinstance(v, str)))
        for part in _chunks(strings):
            for id_, value in self.db.fetchall(
                    f"SELECT objectid, fullobject->>'{field}' FROM openidm.managedobjects WHERE objecttypes_id = %s "
                    f"AND lower((fullobject->>'{field}') COLLATE \"C\") = ANY(%s)", (self.type_id, list(part))):
                holders.setdefault(fold(value), set()).add(id_)
        return holders

    # ------------------------------------------------------------------------------------ writes

    def insert_prepared(self, prepared: PreparedCreates) -> list[dict[str, Any] | RepoError]:
        """Insert what :meth:`prepare_creates` made, in one transaction (one COPY).

        With every unique field under a UNIQUE index the insert itself is the check: the per-value look-up
        (and its per-object answer) is made only when the index refused the page. Without such an index
        (IDM's own tables) the values are checked under the resource's advisory lock."""
        p = prepared
        with self.db.transaction():
            taken = set(self.revs(p.given)) if p.given else set()
            if not taken and (not self.unique or self.unique_indexed):
                try:
                    with self.db.savepoint():
                        self._copy(p.rows)
                    return p.expected
                except psycopg.errors.UniqueViolation:
                    if not self.unique:
                        raise Conflict(f"{self.name}: an object was created meanwhile with one of these ids") from None
            self._lock_unique()
            out, rows = self._checked_creates(p, taken)
            try:
                with self.db.savepoint():
                    self._copy(rows)
            except psycopg.errors.UniqueViolation as exc:  # a concurrent writer won a unique race
                raise Conflict(f"{self.name}: {str(exc).splitlines()[0]}") from None
        return [r for r in out if r is not None]

    def _copy(self, rows: Sequence[Row]) -> None:
        try:
            self.db.copy_rows("openidm.managedobjects", ("objecttypes_id", "objectid", "rev", "fullobject"),
                              [(self.type_id, *r) for r in rows])
        except psycopg.errors.ProgramLimitExceeded as exc:
            raise _too_long(self.name, exc) from None

    def update_many(self, changes: Sequence[tuple[str, Mapping[str, Any], str | None]],
                    ) -> list[dict[str, Any] | RepoError]:
        """Replace many objects in one transaction; the rows are locked while their revisions are checked."""
        with self.db.transaction():
            self._lock_unique()
            results, rows = self._update_rows(changes, self.revs([c[0] for c in changes], lock=True))
            self._write(f"UPDATE openidm.managedobjects SET rev = %s, fullobject = %s::{self.json_type} "
                        "WHERE objecttypes_id = %s AND objectid = %s",
                        [(rev, data, self.type_id, id_) for id_, rev, data in rows])
        return results

    def delete_many(self, ids: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(ids))
        n = 0
        with self.db.transaction():
            for part in _chunks(wanted):
                n += self.db.execute("DELETE FROM openidm.managedobjects WHERE objecttypes_id = %s "
                                     "AND objectid = ANY(%s)", (self.type_id, list(part)))
        return n

    def delete(self, id: str, rev: str | None = None) -> dict[str, Any]:
        with self.db.transaction():
            row = self.db.fetchone(f"SELECT objectid, rev, {self.collection.data} FROM openidm.managedobjects "
                                   "WHERE objecttypes_id = %s AND objectid = %s FOR UPDATE", (self.type_id, id))
            if row is None:
                raise NotFound(f"{self.name}/{id} not found")
            obj = row_object(self.collection, row)
            if stale := self._stale(id, obj["_rev"], rev):
                raise stale
            self.db.execute("DELETE FROM openidm.managedobjects WHERE objecttypes_id = %s AND objectid = %s",
                            (self.type_id, id))
        return obj

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        try:
            with self.db.savepoint():
                self.db.executemany(sql, rows)
        except psycopg.errors.UniqueViolation as exc:  # a concurrent writer won a unique race
            raise Conflict(f"{self.name}: {str(exc).splitlines()[0]}") from None
        except psycopg.errors.ProgramLimitExceeded as exc:
            raise _too_long(self.name, exc) from None


def _too_long(name: str, exc: Exception) -> ValidationError:
    """PostgreSQL's b-tree indexes hold at most ~2,700 bytes a value: a longer searchable field is refused."""
    return ValidationError([FieldError("(a searchable field)", "value too long for the PostgreSQL repository's "
                                       f"index ({str(exc).splitlines()[0]})")], resource=name)
