"""Managed objects (``managed/user``): JSON rows with ``_id``/``_rev`` and indexed searchable fields.

Layout: one table per resource, ``managed_<resource>(seq, id, rev, data)``, where ``data`` is the object
without ``_id``/``_rev`` and ``seq`` the stable integer key that orders ties, plus a VIRTUAL generated column
``f_<field>`` (``json_extract``, ``COLLATE NOCASE``) and an index ``(f_<field>)`` per searchable field. The
index stores the values, so an equality, prefix or sort on a searchable field is an index seek or an ordered
index walk at any size, and the columns can never drift from the JSON. A field whose policy demands uniqueness (``userName``) also gets a UNIQUE index, the safety
net under the repository's own bulk check (which gives the friendlier per-field message).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from core.repo.db import Database, chunks, insert_many, placeholders
from core.repo.errors import Conflict, NotFound, RepoError
from core.repo.managedstore import ManagedStoreBase, PreparedCreates, Results, Row, correlation_keys, fold
from core.repo.query import Collection
from core.repo.schema import ManagedSchema


class ManagedObjects(ManagedStoreBase):
    """The managed objects of one resource (``user``), validated by a schema when one is given."""

    def __init__(self, db: Database, resource: str = "user", schema: ManagedSchema | None = None) -> None:
        super().__init__(resource, schema)
        self.db = db
        self.table = f"managed_{resource}"
        self.columns = self._ensure_table(self.searchable)
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
        out, by_fold = correlation_keys(values)
        wanted = list(out)
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

    def _holders(self, field: str, values: Sequence[Any]) -> dict[Any, set[str]]:
        holders: dict[Any, set[str]] = {}
        col = f"f_{field}"
        conn = self.db.conn()
        for part in chunks(list(values)):
            for id_, value in conn.execute(
                    f"SELECT id, {col} FROM {self.table} WHERE {col} IN ({placeholders(len(part))})", part):
                holders.setdefault(fold(value), set()).add(id_)
        return holders

    # ------------------------------------------------------------------------------------ writes

    def insert_prepared(self, prepared: PreparedCreates) -> list[dict[str, Any] | RepoError]:
        """Insert what :meth:`prepare_creates` made, in one transaction; per object, the result."""
        p = prepared
        with self.db.transaction() as conn:
            taken = set(self.revs(p.given)) if p.given else set()
            # with every unique field under a UNIQUE index the insert itself is the check: the per-value
            # look-up (and its friendlier message) is only needed when the index refused the batch
            optimistic = bool(self.unique) and self._unique_indexed(conn)
            for checked in ((False, True) if optimistic else (bool(self.unique),)):
                results: Results
                rows: list[Row]
                if not checked and not taken:
                    rows, results = p.rows, list(p.expected)  # as prepared: the common case
                    as_prepared = True
                elif checked:
                    results, rows = self._checked_creates(p, taken)
                    as_prepared = False
                else:
                    results = list(p.results)
                    as_prepared = False
                    rows = self._insert_rows(p.candidates, p.index_of, taken, {}, results)
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

    def _unique_indexed(self, conn: sqlite3.Connection) -> bool:
        """Whether every unique field has its UNIQUE index (not the plain fallback an old file may have)."""
        if self._ux is None:
            names = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (self.table,))}
            self._ux = all(f"ux_{self.table}_{n}" in names for n in self.unique)
        return self._ux

    def update_many(self, changes: Sequence[tuple[str, Mapping[str, Any], str | None]],
                    ) -> list[dict[str, Any] | RepoError]:
        """Replace many objects (``(id, object, If-Match rev)``) in one transaction; per object the result."""
        with self.db.transaction() as conn:
            results, rows = self._update_rows(changes, self.revs([c[0] for c in changes]))
            self._write(conn, f"UPDATE {self.table} SET rev = ?, data = ? WHERE id = ?",
                        [(rev, data, id_) for id_, rev, data in rows])
        return results

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
            if stale := self._stale(id, obj["_rev"], rev):
                raise stale
            conn.execute(f"DELETE FROM {self.table} WHERE id = ?", (id,))
        return obj

    def _write(self, conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        try:
            conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:  # a concurrent writer won a unique race
            raise Conflict(f"{self.name}: {exc}") from None
