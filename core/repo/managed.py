"""Managed objects (``managed/user``): JSON rows with ``_id``/``_rev`` and indexed searchable fields.

Layout: one table per resource, ``managed_<resource>(seq, id, rev, data)``, where ``data`` is the object
without ``_id``/``_rev`` and ``seq`` the stable integer key that orders ties, plus a VIRTUAL generated column
``f_<field>`` (``json_extract``, ``COLLATE NOCASE``) and an index ``(f_<field>)`` per searchable field. The
index stores the values, so an equality, prefix or sort on a searchable field is an index seek or an ordered
index walk at any size, and the columns can never drift from the JSON. A field whose policy demands uniqueness (``userName``) also gets a UNIQUE index, the safety
net under the repository's own bulk check (which gives the friendlier per-field message).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.repo.db import Database, chunks, insert_many, placeholders
from core.repo.errors import (
    Conflict,
    FieldError,
    NotFound,
    PreconditionFailed,
    RepoError,
    UniqueConflict,
    ValidationError,
)
from core.repo.ids import matches_rev, new_ids, next_rev
from core.repo.jsoncodec import encode
from core.repo.query import Collection
from core.repo.schema import DEFAULT_SEARCHABLE, ManagedSchema

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(value: Any) -> Any:
    """SQLite NOCASE equality in Python: ASCII letters folded, everything else as is."""
    if not isinstance(value, str):
        return value
    return value.lower() if value.isascii() else value.translate(_ASCII_FOLD)


_encode = encode


def dumps(obj: Mapping[str, Any]) -> str:
    """The stored JSON: compact, UTF-8 as is (so JSON paths match non-ASCII keys), without _id/_rev."""
    if "_id" in obj or "_rev" in obj:
        obj = {k: v for k, v in obj.items() if k not in ("_id", "_rev")}
    return _encode(obj)


@dataclass(frozen=True)
class PreparedCreates:
    """Objects made ready for insertion by :meth:`ManagedObjects.prepare_creates` (no storage touched yet)."""

    results: list[dict[str, Any] | RepoError | None]  # per object: its validation error, else None
    candidates: list[tuple[str, dict[str, Any]]]  # (id, object) of the valid ones
    index_of: list[int]  # each candidate's position in the objects given
    given: list[str]  # ids the caller chose (checked against the table at insertion)
    rows: list[tuple[str, str, str]]  # (id, rev, data) to insert when nothing clashes
    expected: list[dict[str, Any] | RepoError]  # per object, the result when nothing clashes


class ManagedObjects:
    """The managed objects of one resource (``user``), validated by a schema when one is given."""

    def __init__(self, db: Database, resource: str = "user", schema: ManagedSchema | None = None) -> None:
        if not _IDENT.match(resource):
            raise RepoError(f"managed/{resource}: not a valid resource name")
        self.db = db
        self.resource = resource
        self.schema = schema
        self.table = f"managed_{resource}"
        indexed = schema.searchable if schema else DEFAULT_SEARCHABLE
        unique = schema.unique if schema else ()
        self.unique = tuple(f for f in unique if _IDENT.match(f))
        wanted = [f for f in dict.fromkeys([*indexed, *self.unique]) if _IDENT.match(f)]
        self.columns = self._ensure_table(wanted)
        self._ux: bool | None = None
        self.collection = Collection(self.table, self.columns, has_rev=True)
        self._stat_rows, self._rows = self._statistics()

    # ------------------------------------------------------------------------------------ planner statistics

    def _statistics(self) -> tuple[int, int]:
        """(rows when last analyzed, rows now). Without statistics SQLite takes any equality as selective
        (``accountStatus eq "active"`` over 100k rows, then a sort), so the table is analyzed as it grows."""
        conn = self.db.conn()
        try:
            row = conn.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = ? LIMIT 1", (self.table,)).fetchone()
        except sqlite3.OperationalError:  # no sqlite_stat1 before the first ANALYZE
            row = None
        stat_rows = int(str(row[0]).split()[0]) if row else 0
        return stat_rows, self.count()

    def analyze(self) -> None:
        """Refresh the planner statistics of this table's indexes (a full pass: ~0.2 s at 100k rows)."""
        with self.db.transaction() as conn:
            conn.execute("PRAGMA analysis_limit = 0")
            conn.execute(f"ANALYZE {self.table}")
        self._stat_rows = self._rows = self.count()

    def _grew(self, n: int) -> None:
        self._rows += n
        if self._rows >= 1000 and self._rows > 4 * self._stat_rows:
            self.analyze()  # at 1k, 4k, 16k, 64k, 256k rows: about a third of a full pass per row inserted

    @property
    def name(self) -> str:
        return f"managed/{self.resource}"

    # ------------------------------------------------------------------------------------ layout

    def _layout(self) -> tuple[set[str], set[str]]:
        """The table's columns and index names as they are now (empty when there is no table)."""
        conn = self.db.conn()
        columns = {row[1] for row in conn.execute(f"PRAGMA table_xinfo({self.table})")}
        indexes = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (self.table,))}
        return columns, indexes

    def _ensure_table(self, wanted: list[str]) -> dict[str, str]:
        columns, indexes = self._layout()
        complete = "seq" in columns and all(f"f_{n}" in columns for n in wanted) \
            and all(f"ix_{self.table}_{n}" in indexes for n in wanted if n not in self.unique) \
            and all({f"ux_{self.table}_{n}", f"ix_{self.table}_{n}"} & indexes for n in self.unique)
        if complete:  # the usual open: no write lock taken
            return {c[2:]: c for c in sorted(columns) if c.startswith("f_")}
        with self.db.transaction() as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {self.table} "
                         "(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, rev TEXT NOT NULL, data TEXT NOT NULL)")
            existing = {row[1] for row in conn.execute(f"PRAGMA table_xinfo({self.table})")}
            if "seq" not in existing:
                self._migrate_to_seq(conn)
                existing = {"seq", "id", "rev", "data"}
            for name in wanted:
                col = f"f_{name}"
                if col not in existing:
                    conn.execute(f"ALTER TABLE {self.table} ADD COLUMN {col} TEXT COLLATE NOCASE "
                                 f"GENERATED ALWAYS AS (json_extract(data, '$.{name}')) VIRTUAL")
                # (f_x) and not (f_x, id): every index of a rowid table ends with seq, the order's tiebreaker;
                # a unique field's UNIQUE index serves its searches and sorts too
                if name not in self.unique:
                    conn.execute(f"CREATE INDEX IF NOT EXISTS ix_{self.table}_{name} ON {self.table} ({col})")
            for name in self.unique:
                try:
                    conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS ux_{self.table}_{name} "
                                 f"ON {self.table} (f_{name})")
                except sqlite3.IntegrityError:  # existing duplicates: the bulk check still refuses new ones
                    conn.execute(f"CREATE INDEX IF NOT EXISTS ix_{self.table}_{name} ON {self.table} (f_{name})")
            all_cols = {row[1] for row in conn.execute(f"PRAGMA table_xinfo({self.table})")}
        return {c[2:]: c for c in sorted(all_cols) if c.startswith("f_")}

    def _migrate_to_seq(self, conn: sqlite3.Connection) -> None:
        """Files from before ``seq`` (id was the primary key): copy the rows over in their rowid order."""
        conn.execute(f"ALTER TABLE {self.table} RENAME TO {self.table}_old")
        conn.execute(f"CREATE TABLE {self.table} "
                     "(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, rev TEXT NOT NULL, data TEXT NOT NULL)")
        conn.execute(f"INSERT INTO {self.table} (id, rev, data) "
                     f"SELECT id, rev, data FROM {self.table}_old ORDER BY rowid")
        conn.execute(f"DROP TABLE {self.table}_old")

    # ------------------------------------------------------------------------------------ reads

    def read(self, id: str) -> dict[str, Any]:
        row = self.db.conn().execute(f"SELECT id, rev, data FROM {self.table} WHERE id = ?", (id,)).fetchone()
        if row is None:
            raise NotFound(f"{self.name}/{id} not found")
        return self.collection.row_to_object(row)

    def read_many(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The objects that exist among ``ids`` (absent ones are simply missing from the answer)."""
        wanted = list(dict.fromkeys(ids))
        out: dict[str, dict[str, Any]] = {}
        conn = self.db.conn()
        for part in chunks(wanted):
            for row in conn.execute(f"SELECT id, rev, data FROM {self.table} WHERE id IN ({placeholders(len(part))})",
                                    part):
                out[row[0]] = self.collection.row_to_object(row)
        return out

    def revs(self, ids: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(ids))
        out: dict[str, str] = {}
        conn = self.db.conn()
        for part in chunks(wanted):
            out.update(conn.execute(f"SELECT id, rev FROM {self.table} WHERE id IN ({placeholders(len(part))})",
                                    part).fetchall())
        return out

    def find_by(self, field: str, values: Iterable[Any]) -> dict[Any, list[dict[str, Any]]]:
        """Bulk correlation: for each value, the objects whose ``field`` equals it (ASCII case-insensitive)."""
        wanted = [v for v in dict.fromkeys(values) if v is not None]
        out: dict[Any, list[dict[str, Any]]] = {v: [] for v in wanted}
        by_fold: dict[Any, list[Any]] = {}
        for v in wanted:
            by_fold.setdefault(fold(v), []).append(v)
        params_prefix: list[str] = []
        if field == "_id":
            expr = "id"
        elif field in self.columns:
            expr = self.columns[field]
        else:
            from core.repo.queryfilter import json_path, parse_pointer

            expr, params_prefix = "(json_extract(data, ?) COLLATE NOCASE)", [json_path(parse_pointer(field))]
        conn = self.db.conn()
        for part in chunks(wanted):
            sql = f"SELECT id, rev, data, {expr} FROM {self.table} WHERE {expr} IN ({placeholders(len(part))})"
            for row in conn.execute(sql, [*params_prefix, *params_prefix, *part]):
                obj = self.collection.row_to_object(row[:3])
                for v in by_fold.get(fold(row[3]), ()):
                    out[v].append(obj)
        return out

    def iter_ids(self, batch: int = 10_000) -> Iterator[str]:
        """Every ``_id`` in insertion order, read in batches so no long read transaction is held."""
        last = 0
        conn = self.db.conn()
        while True:
            rows = conn.execute(f"SELECT seq, id FROM {self.table} WHERE seq > ? ORDER BY seq LIMIT ?",
                                (last, batch)).fetchall()
            for _seq, id_ in rows:
                yield id_
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def count(self) -> int:
        return int(self.db.conn().execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])

    # ------------------------------------------------------------------------------------ checks

    def _validate(self, obj: Mapping[str, Any]) -> list[FieldError]:
        return self.schema.validate(obj) if self.schema else []

    def _unique_clashes(self, conn: sqlite3.Connection, candidates: Sequence[tuple[str, Mapping[str, Any]]],
                        ) -> dict[int, list[FieldError]]:
        """Per candidate index, the unique fields whose value another object (or batch entry) holds."""
        clashes: dict[int, list[FieldError]] = {}
        for field in self.unique:
            col = f"f_{field}"
            keyed: list[tuple[int, str, Any, Any]] = []
            owner: dict[Any, str] = {}
            for i, (id_, obj) in enumerate(candidates):
                value = obj.get(field)
                if value is None:
                    continue
                key = fold(value) if isinstance(value, str) else json.dumps(value)
                if owner.setdefault(key, id_) != id_:
                    clashes.setdefault(i, []).append(FieldError(field, f"must be unique: {value!r} is used"))
                keyed.append((i, id_, value, key))
            holders: dict[Any, set[str]] = {}
            values = list(dict.fromkeys(k[2] for k in keyed))
            for part in chunks(values):
                for id_, value in conn.execute(
                        f"SELECT id, {col} FROM {self.table} WHERE {col} IN ({placeholders(len(part))})", part):
                    holders.setdefault(fold(value), set()).add(id_)
            if holders:
                for i, id_, value, key in keyed:
                    if holders.get(key, set()) - {id_}:
                        clashes.setdefault(i, []).append(FieldError(field, f"must be unique: {value!r} is used"))
        return clashes

    # ------------------------------------------------------------------------------------ writes

    def create_many(self, objects: Sequence[Mapping[str, Any]], ids: Sequence[str | None] | None = None,
                    ) -> list[dict[str, Any] | RepoError]:
        """Create many objects in one transaction; per object, the stored object or why it was refused."""
        return self.insert_prepared(self.prepare_creates(objects, ids))

    def prepare_creates(self, objects: Sequence[Mapping[str, Any]], ids: Sequence[str | None] | None = None,
                        ) -> PreparedCreates:
        """Everything of :meth:`create_many` that needs no storage: defaults, validation, ids, the encoded rows.

        Pure Python and thread-safe, so a reconciliation prepares page N+1 while page N is being written;
        :meth:`insert_prepared` then only runs SQL (unless a unique value or a chosen id clashes)."""
        results: list[dict[str, Any] | RepoError | None] = [None] * len(objects)
        candidates: list[tuple[str, dict[str, Any]]] = []
        index_of: list[int] = []
        given: list[str] = []  # ids chosen by the caller may collide; fresh ids do not
        fresh = new_ids(len(objects))
        schema = self.schema
        for i, raw in enumerate(objects):
            obj = dict(raw)
            chosen = (ids[i] if ids else None) or obj.pop("_id", None)
            obj.pop("_id", None)
            obj.pop("_rev", None)
            if schema is not None:
                errors = schema.validate(obj)
                if errors:
                    results[i] = ValidationError(errors, resource=self.name)
                    continue
            if chosen:
                given.append(str(chosen))
            candidates.append((str(chosen) if chosen else fresh[i], obj))
            index_of.append(i)
        filled: list[dict[str, Any] | RepoError | None] = list(results)
        rows = self._insert_rows(candidates, index_of, set(), {}, filled)
        expected = [r for r in filled if r is not None]  # _insert_rows gives every object its outcome
        return PreparedCreates(results, candidates, index_of, given, rows, expected)

    def insert_prepared(self, prepared: PreparedCreates) -> list[dict[str, Any] | RepoError]:
        """Insert what :meth:`prepare_creates` made, in one transaction; per object, the result."""
        p = prepared
        with self.db.transaction() as conn:
            taken = set(self.revs(p.given)) if p.given else set()
            # with every unique field under a UNIQUE index the insert itself is the check: the per-value
            # look-up (and its friendlier message) is only needed when the index refused the batch
            optimistic = bool(self.unique) and self._unique_indexed(conn)
            for checked in ((False, True) if optimistic else (bool(self.unique),)):
                results: list[dict[str, Any] | RepoError | None]
                if not checked and not taken:
                    rows, results = p.rows, list(p.expected)  # as prepared: the common case
                    as_prepared = True
                else:
                    results = list(p.results)
                    as_prepared = False
                    clashes = self._unique_clashes(conn, p.candidates) if checked else {}
                    rows = self._insert_rows(p.candidates, p.index_of, taken, clashes, results)
                if checked:
                    self._write(conn, f"INSERT INTO {self.table} (id, rev, data) VALUES (?, ?, ?)", rows)
                    break
                conn.execute("SAVEPOINT create_many")
                try:
                    insert_many(conn, self.table, ("id", "rev", "data"), rows)
                except sqlite3.IntegrityError as exc:
                    conn.execute("ROLLBACK TO create_many")
                    conn.execute("RELEASE create_many")
                    if optimistic:
                        continue  # the checked pass finds which values clash
                    raise Conflict(f"{self.name}: {exc}") from None
                conn.execute("RELEASE create_many")
                break
            self._grew(len(rows))
        if as_prepared:
            return p.expected  # (the same list: the caller can tell nothing differed from what was prepared)
        return [r for r in results if r is not None]

    def _insert_rows(self, prepared: Sequence[tuple[str, dict[str, Any]]], index_of: Sequence[int],
                     taken: set[str], clashes: Mapping[int, list[FieldError]],
                     results: list[dict[str, Any] | RepoError | None]) -> list[tuple[str, str, str]]:
        """The rows to insert, each candidate's result filled in (a Conflict, a clash, or the new object)."""
        rows = []
        seen_ids: set[str] = set()
        for k, (id_, obj) in enumerate(prepared):
            i = index_of[k]
            if id_ in taken or id_ in seen_ids:
                results[i] = Conflict(f"{self.name}/{id_} already exists")
            elif k in clashes:
                results[i] = UniqueConflict(clashes[k], resource=self.name)
            else:
                data = _encode(obj)
                rev = next_rev(None, data)
                rows.append((id_, rev, data))
                seen_ids.add(id_)
                results[i] = {"_id": id_, "_rev": rev, **obj}
        return rows

    def _unique_indexed(self, conn: sqlite3.Connection) -> bool:
        """Whether every unique field has its UNIQUE index (not the plain fallback an old file may have)."""
        if self._ux is None:
            names = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (self.table,))}
            self._ux = all(f"ux_{self.table}_{n}" in names for n in self.unique)
        return self._ux

    def create(self, obj: Mapping[str, Any], id: str | None = None) -> dict[str, Any]:
        result = self.create_many([obj], [id])[0]
        if isinstance(result, RepoError):
            raise result
        return result

    def update_many(self, changes: Sequence[tuple[str, Mapping[str, Any], str | None]],
                    ) -> list[dict[str, Any] | RepoError]:
        """Replace many objects (``(id, object, If-Match rev)``) in one transaction; per object the result."""
        results: list[dict[str, Any] | RepoError | None] = [None] * len(changes)
        with self.db.transaction() as conn:
            current = self.revs([c[0] for c in changes])
            prepared: list[tuple[str, dict[str, Any]]] = []
            index_of: list[int] = []
            seen: set[str] = set()
            for i, (id_, raw, rev) in enumerate(changes):
                obj = {k: v for k, v in raw.items() if k not in ("_id", "_rev")}
                if id_ in seen:
                    results[i] = Conflict(f"{self.name}/{id_} is changed twice in one batch")
                    continue
                seen.add(id_)
                if id_ not in current:
                    results[i] = NotFound(f"{self.name}/{id_} not found")
                elif not matches_rev(current[id_], rev):
                    results[i] = PreconditionFailed(
                        f"{self.name}/{id_}: revision {rev} is not the current one ({current[id_]})")
                elif errors := self._validate(obj):
                    results[i] = ValidationError(errors, resource=self.name)
                else:
                    prepared.append((id_, obj))
                    index_of.append(i)
            clashes = self._unique_clashes(conn, prepared)
            rows = []
            for k, (id_, obj) in enumerate(prepared):
                i = index_of[k]
                if k in clashes:
                    results[i] = UniqueConflict(clashes[k], resource=self.name)
                    continue
                data = dumps(obj)
                rev = next_rev(current[id_], data)
                current[id_] = rev
                rows.append((rev, data, id_))
                results[i] = {"_id": id_, "_rev": rev, **obj}
            self._write(conn, f"UPDATE {self.table} SET rev = ?, data = ? WHERE id = ?", rows)
        return [r for r in results if r is not None]

    def update(self, id: str, obj: Mapping[str, Any], rev: str | None = None) -> dict[str, Any]:
        result = self.update_many([(id, obj, rev)])[0]
        if isinstance(result, RepoError):
            raise result
        return result

    def delete_many(self, ids: Iterable[str]) -> int:
        """Delete the objects among ``ids`` that exist; how many went."""
        wanted = list(dict.fromkeys(ids))
        n = 0
        with self.db.transaction() as conn:
            for part in chunks(wanted):
                n += conn.execute(f"DELETE FROM {self.table} WHERE id IN ({placeholders(len(part))})",
                                  part).rowcount
        return n

    def delete(self, id: str, rev: str | None = None) -> dict[str, Any]:
        """Delete one object (``If-Match`` honoured) and return it as it was."""
        with self.db.transaction() as conn:
            obj = self.read(id)
            if not matches_rev(obj["_rev"], rev):
                raise PreconditionFailed(f"{self.name}/{id}: revision {rev} is not the current one ({obj['_rev']})")
            conn.execute(f"DELETE FROM {self.table} WHERE id = ?", (id,))
        return obj

    def _write(self, conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        try:
            conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:  # a concurrent writer won a unique race
            raise Conflict(f"{self.name}: {exc}") from None
