"""Copy a project's SQLite repository into a PostgreSQL one (``sfsync repo migrate --to postgresql://…``).

What is copied, as it is stored (ids, revisions and JSON unchanged): managed objects of every resource, links,
reconciliation runs (in their order), the recon and sync audit, the activity audit, and liveSync stages.
Each kind is copied in batches in the order of the SQLite rows' ``seq``; a batch and the checkpoint that
records it (``sfsync.meta`` ``migrate:<kind>``) commit together in PostgreSQL, so an interrupted copy is
resumed by running the command again: it continues after the last batch that committed, never copying a row
twice. Then every kind is verified: row counts, and a SHA-256 over the sorted identities (ids with their
revisions, link sides, run states) computed on both sides.

Run it while no sfsync process writes to the project (the copy is a move, not a replication).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.repo.db import Database
from core.repo.pgrepository import PgRepository

BATCH = 2000


@dataclass
class KindReport:
    """One kind's outcome: rows in the project, rows in PostgreSQL, copied now, and both checksums."""

    kind: str
    source: int
    target: int
    copied: int
    source_sum: str
    target_sum: str

    @property
    def ok(self) -> bool:
        return self.source == self.target and self.source_sum == self.target_sum


def _digest(lines: Iterator[str]) -> str:
    h = hashlib.sha256()
    for line in sorted(lines):
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


class Migration:
    """The copy from ``sqlite_path`` into ``target`` (kinds found in the file, each resumable)."""

    def __init__(self, sqlite_path: Path, target: PgRepository) -> None:
        if not sqlite_path.exists():
            raise FileNotFoundError(sqlite_path)
        self.source = Database(sqlite_path)
        self.target = target
        self.db = target.db

    def close(self) -> None:
        self.source.close()

    def resources(self) -> list[str]:
        rows = self.source.conn().execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name LIKE 'managed\\_%' ESCAPE '\\' ORDER BY name").fetchall()
        return [r[0][len("managed_"):] for r in rows if not r[0].endswith("_old")]

    # ------------------------------------------------------------------------------------ copying

    def _checkpoint(self, kind: str) -> int:
        row = self.db.fetchone("SELECT value FROM sfsync.meta WHERE key = %s", (f"migrate:{kind}",))
        return int(row[0]) if row else 0

    def _batches(self, kind: str, sql: str) -> Iterator[tuple[int, list[tuple[Any, ...]]]]:
        """``(last seq, rows)`` after the checkpoint; ``sql`` selects ``seq`` first, takes ``seq > ?``."""
        last = self._checkpoint(kind)
        conn = self.source.conn()
        while True:
            rows = conn.execute(sql + " ORDER BY seq LIMIT ?", (last, BATCH)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield last, [r[1:] for r in rows]

    def _copy(self, kind: str, sql: str, write: Callable[[list[tuple[Any, ...]]], None]) -> int:
        n = 0
        for last, rows in self._batches(kind, sql):
            with self.db.transaction():
                write(rows)
                self.db.execute("INSERT INTO sfsync.meta (key, value) VALUES (%s, %s) ON CONFLICT (key) "
                                "DO UPDATE SET value = excluded.value", (f"migrate:{kind}", str(last)))
            n += len(rows)
        return n

    def copy(self, progress: Callable[[str, int], None] = lambda kind, n: None) -> dict[str, int]:
        """Copy what is not copied yet; per kind, how many rows were copied now."""
        copied: dict[str, int] = {}
        for resource in self.resources():
            store = self.target.managed(resource)
            sql = ("INSERT INTO openidm.managedobjects (objecttypes_id, objectid, rev, fullobject) "
                   f"VALUES (%s, %s, %s, %s::{store.json_type})")

            def managed(rows: list[tuple[Any, ...]], sql: str = sql, type_id: int = store.type_id) -> None:
                self.db.executemany(sql, [(type_id, *r) for r in rows])

            kind = f"managed/{resource}"
            copied[kind] = self._copy(kind, f"SELECT seq, id, rev, data FROM managed_{resource} WHERE seq > ?", managed)
            progress(kind, copied[kind])
        copied["links"] = self._copy(
            "links", "SELECT seq, id, link_type, first_id, second_id, link_qualifier, rev FROM links WHERE seq > ?",
            lambda rows: self.db.executemany(
                "INSERT INTO openidm.links (objectid, linktype, firstid, secondid, linkqualifier, rev) "
                "VALUES (%s, %s, %s, %s, %s, %s)", rows))
        progress("links", copied["links"])
        copied["runs"] = self._copy(
            "runs", "SELECT seq, id, mapping, state, data FROM recon_runs WHERE seq > ?",
            lambda rows: self.db.executemany(
                "INSERT INTO sfsync.recon_runs (id, mapping, state, data) VALUES (%s, %s, %s, %s::jsonb)", rows))
        progress("runs", copied["runs"])
        copied["audit"] = self._copy("audit", "SELECT seq, id, recon_id, data FROM recon_audit WHERE seq > ?",
                                     lambda rows: self.target.audit.insert(rows))  # type: ignore[arg-type]
        progress("audit", copied["audit"])
        copied["activity"] = self._copy(
            "activity", "SELECT seq, id, data FROM activity_audit WHERE seq > ?",
            lambda rows: self.target.activity.table.write([(r[0], json.loads(r[1])) for r in rows]))
        progress("activity", copied["activity"])
        copied["stages"] = self._copy(
            "stages", "SELECT rowid AS seq, id, rev, data FROM sync_stages WHERE rowid > ?",
            lambda rows: self.db.executemany(
                "INSERT INTO sfsync.sync_stages (id, rev, data) VALUES (%s, %s, %s::jsonb)", rows))
        progress("stages", copied["stages"])
        return copied

    # ------------------------------------------------------------------------------------ verifying

    def verify(self, copied: dict[str, int] | None = None) -> list[KindReport]:
        """Counts and checksums of every kind on both sides."""
        copied = copied or {}
        src = self.source.conn()
        reports = []

        def report(kind: str, source_rows: list[tuple[Any, ...]], target_rows: list[tuple[Any, ...]]) -> None:
            line: Callable[[tuple[Any, ...]], str] = lambda r: "\t".join(str(v) for v in r)  # noqa: E731
            reports.append(KindReport(kind, len(source_rows), len(target_rows), copied.get(kind, 0),
                                      _digest(map(line, source_rows)), _digest(map(line, target_rows))))

        for resource in self.resources():
            store = self.target.managed(resource)
            report(f"managed/{resource}", src.execute(f"SELECT id, rev FROM managed_{resource}").fetchall(),
                   self.db.fetchall("SELECT objectid, rev FROM openidm.managedobjects WHERE objecttypes_id = %s",
                                    (store.type_id,)))
        report("links", src.execute("SELECT link_type, link_qualifier, first_id, second_id FROM links").fetchall(),
               self.db.fetchall("SELECT linktype, linkqualifier, firstid, secondid FROM openidm.links"))
        report("runs", src.execute("SELECT id, state FROM recon_runs").fetchall(),
               self.db.fetchall("SELECT id, state FROM sfsync.recon_runs"))
        report("audit", src.execute("SELECT id FROM recon_audit").fetchall(),
               self.db.fetchall("SELECT objectid FROM openidm.auditrecon UNION ALL "
                                "SELECT objectid FROM openidm.auditsync"))
        report("activity", src.execute("SELECT id FROM activity_audit").fetchall(),
               self.db.fetchall("SELECT objectid FROM openidm.auditactivity"))
        report("stages", src.execute("SELECT id, rev FROM sync_stages").fetchall(),
               self.db.fetchall("SELECT id, rev FROM sfsync.sync_stages"))
        return reports



