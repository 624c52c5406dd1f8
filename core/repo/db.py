"""The SQLite file: a connection per thread, WAL, a busy timeout, re-entrant transactions, the DDL.

Why these choices: WAL lets the TUI, the REST server and a reconciliation in another process read while one
writes; the busy timeout turns writer contention into a short wait instead of ``database is locked``;
``BEGIN IMMEDIATE`` takes the write lock up front so two writers never deadlock upgrading a read lock; and a
connection per thread because an ``sqlite3.Connection`` must not be shared by threads mid-transaction.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson

from core.repo.errors import RepoError

#: the most values one statement binds (SQLite's default limit is 32,766; stay far below any build's)
CHUNK = 500
BUSY_TIMEOUT_MS = 15_000
SCHEMA_VERSION = 7
#: page cache per connection (KiB): SQLite's 2 MB default makes bulk inserts into 100k-row indexes re-read pages
CACHE_KIB = 65_536
#: memory-mapped I/O for reads: 32 MB keeps its benefit for the hot pages while a 100k-user rerun, which reads
#: the whole file, no longer maps (and counts as resident) 256 MB of it; bulk inserts measure the same either way
MMAP_BYTES = 32 * 1024 * 1024
WAL_CHECKPOINT_PAGES = 10_000

_DDL = """
CREATE TABLE IF NOT EXISTS links (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    rev TEXT NOT NULL,
    link_type TEXT NOT NULL,
    link_qualifier TEXT NOT NULL DEFAULT 'default',
    first_id TEXT NOT NULL,
    second_id TEXT NOT NULL,
    UNIQUE (link_type, link_qualifier, first_id),
    UNIQUE (link_type, link_qualifier, second_id)
);
CREATE TABLE IF NOT EXISTS recon_runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    mapping TEXT NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_runs_mapping ON recon_runs (mapping, seq);
CREATE TABLE IF NOT EXISTS run_locks (
    mapping TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    heartbeat REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS recon_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    recon_id TEXT NOT NULL,
    data TEXT NOT NULL,
    situation TEXT GENERATED ALWAYS AS (json_extract(data, '$.situation')) VIRTUAL,
    action TEXT GENERATED ALWAYS AS (json_extract(data, '$.action')) VIRTUAL,
    status TEXT GENERATED ALWAYS AS (json_extract(data, '$.status')) VIRTUAL,
    entry_type TEXT GENERATED ALWAYS AS (json_extract(data, '$.entryType')) VIRTUAL,
    source_object_id TEXT GENERATED ALWAYS AS (json_extract(data, '$.sourceObjectId')) VIRTUAL,
    target_object_id TEXT GENERATED ALWAYS AS (json_extract(data, '$.targetObjectId')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS ix_audit_recon ON recon_audit (recon_id, situation);
CREATE INDEX IF NOT EXISTS ix_audit_run ON recon_audit (recon_id);
CREATE TABLE IF NOT EXISTS schedule_state (
    id TEXT PRIMARY KEY,
    anchor INTEGER NOT NULL,
    last_fire INTEGER,
    paused INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS schedule_fires (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id TEXT NOT NULL,
    fire_time INTEGER NOT NULL,
    node TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started INTEGER NOT NULL,
    ended INTEGER,
    result TEXT,
    UNIQUE (schedule_id, fire_time)
);
CREATE TABLE IF NOT EXISTS sync_stages (
    id TEXT PRIMARY KEY,
    rev INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS activity_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL,
    object_id TEXT GENERATED ALWAYS AS (json_extract(data, '$.objectId')) VIRTUAL,
    transaction_id TEXT GENERATED ALWAYS AS (json_extract(data, '$.transactionId')) VIRTUAL,
    user_id TEXT GENERATED ALWAYS AS (json_extract(data, '$.userId')) VIRTUAL,
    operation TEXT GENERATED ALWAYS AS (json_extract(data, '$.operation')) VIRTUAL,
    origin TEXT GENERATED ALWAYS AS (json_extract(data, '$.origin')) VIRTUAL,
    timestamp TEXT GENERATED ALWAYS AS (json_extract(data, '$.timestamp')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS ix_activity_object ON activity_audit (object_id);
CREATE INDEX IF NOT EXISTS ix_activity_transaction ON activity_audit (transaction_id);
"""

# version 5 -> 6: sync_stages (core/repo/stages.py): liveSync's stage objects, IDM's
# repo/synchronisation/pooledSyncStage/<SOURCE> (the sync token, revision-checked). Created by _DDL.

# version 6 -> 7: the activity audit (core/repo/activity.py, IDM's audit/activity): who changed which object,
# when, from where, before and after (secrets masked). Indexed by object (the app's user screen, REST filters
# on objectId) and transaction (IDM's own example query); every index ends with seq, so an object's entries in
# their order are an index walk. Created by _DDL, so a file of an older version gets it when it is opened.

# version 4 -> 5: schedules (core/schedule): schedule_state (per schedule: where its times start, the last fire
# time claimed or passed over, paused, the last result) and schedule_fires, whose UNIQUE (schedule_id,
# fire_time) is the claim that lets one process of many fire a schedule's time (times in epoch milliseconds).
# Created by _DDL.

# version 3 -> 4: ix_audit_run (recon_id, then seq, as every index of the table ends): a page of one run's entries
# in their order is an index walk, not a sort of the whole run (~12 ms a page at 100,000 entries -> ~0.1 ms);
# it grows in insert order, so a reconciliation barely pays for it. Created by _DDL.

# version 2 -> 3: the audit keeps only the index its queries use (a run's entries, by situation); one entry per
# record per run made the source/target indexes a third of a reconciliation's write cost
_DROP_AUDIT_INDEXES = """
DROP INDEX IF EXISTS ix_audit_source;
DROP INDEX IF EXISTS ix_audit_target;
"""


# version 1 -> 2: links get an integer key (fewer, smaller indexes: a 100k-link page writes half the pages)
_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS links (id TEXT PRIMARY KEY, rev TEXT NOT NULL, link_type TEXT NOT NULL,
    link_qualifier TEXT NOT NULL DEFAULT 'default', first_id TEXT NOT NULL, second_id TEXT NOT NULL);
DROP INDEX IF EXISTS ix_links_type;
ALTER TABLE links RENAME TO links_v1;
"""
_COPY_LINKS = """
INSERT INTO links (id, rev, link_type, link_qualifier, first_id, second_id)
    SELECT id, rev, link_type, link_qualifier, first_id, second_id FROM links_v1;
DROP TABLE links_v1;
"""


def chunks(values: Sequence[object], size: int = CHUNK) -> Iterator[Sequence[object]]:
    """Slices of at most ``size`` values, so an ``IN (?, …)`` never exceeds SQLite's variable limit."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def placeholders(n: int) -> str:
    return ",".join("?" * n)


#: a page larger than this (huge objects) is inserted row by row rather than bound as one JSON text
MAX_PAYLOAD = 64 * 1024 * 1024


def insert_many(conn: sqlite3.Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]],
                ) -> None:
    """``INSERT INTO table (columns…)`` every row, in ONE statement where it can.

    The rows go in as one JSON array that SQLite unpacks itself (``json_each``), so the whole page is inserted
    by a single ``sqlite3_step`` with the GIL released: a reconciliation's commit thread then runs in parallel
    with the engine deciding the next page. ``executemany`` re-takes the GIL for every row, and while the
    other thread runs Python each re-take waits for a switch interval. Values must be text, integers or
    None; when JSON cannot carry them faithfully (lone surrogates, NUL characters), or the page is larger than
    :data:`MAX_PAYLOAD`, this is ``executemany``.
    An ``IntegrityError`` leaves nothing of the statement written, as with ``executemany`` in a savepoint.
    """
    if not rows:
        return
    names = ", ".join(columns)
    try:
        payload = orjson.dumps(rows).decode()
    except (TypeError, orjson.JSONEncodeError):
        payload = None
    if payload is None or len(payload) > MAX_PAYLOAD or "\\u0000" in payload:  # (also matches "\\\\u0000": harmless)
        conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders(len(columns))})", rows)
        return
    values = ", ".join(f"value ->> {k}" for k in range(len(columns)))
    conn.execute(f"INSERT INTO {table} ({names}) SELECT {values} FROM json_each(?)", (payload,))


class Database:
    """One SQLite file shared by the threads of a process (each with its own connection)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        if str(path) != ":memory:":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RepoError(f"{self.path.parent}: cannot create the repository folder: "
                                f"{exc.strerror or exc}") from None
        if self.conn().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return  # current layout: opening takes no write lock (a recon elsewhere may be writing)
        with self.transaction() as conn:  # IMMEDIATE: two processes opening a new file migrate it once
            script = _DDL
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < 2:
                script = _MIGRATIONS + _DDL + _COPY_LINKS
            if version < SCHEMA_VERSION:
                script += _DROP_AUDIT_INDEXES + f"PRAGMA user_version = {SCHEMA_VERSION};"
            for statement in script.split(";"):  # (executescript would commit the transaction first)
                if statement.strip():
                    conn.execute(statement)

    # ------------------------------------------------------------------------------------ connections

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RepoError(f"{self.path}: the repository is closed")
            try:
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                       check_same_thread=False)
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise RepoError(f"{self.path}: cannot switch to WAL mode (got {mode})")
                conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints, never corrupt
                conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # indexes of 100k users stay in memory
                conn.execute("PRAGMA temp_store = MEMORY")
                conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")  # checkpoints and reads without read() calls
                # checkpoint every ~40 MB of WAL instead of 4 MB: a page rewritten by many commits is copied
                # (and fsynced) once; the file is cut back to 64 MB afterwards
                conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
                conn.execute(f"PRAGMA journal_size_limit = {64 * 1024 * 1024}")
            except sqlite3.DatabaseError as exc:
                raise RepoError(f"{self.path}: cannot open the repository: {exc}") from None
            self._local.conn = conn
            self._local.depth = 0
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection; later use raises :class:`RepoError`."""
        with self._lock:
            self._closed = True
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()

    # ------------------------------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Re-entrant: only the outermost block begins (IMMEDIATE) and commits, or rolls back on error."""
        conn = self.conn()
        depth: int = self._local.depth
        if depth == 0:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # busy beyond the timeout, read-only file, …
                raise RepoError(f"{self.path}: cannot start a write ({exc}); another process may be "
                                f"holding the repository for more than {BUSY_TIMEOUT_MS // 1000} s") from None
        self._local.depth = depth + 1
        try:
            yield conn
        except BaseException:
            self._local.depth = depth
            if depth == 0 and conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._local.depth = depth
        if depth == 0:
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:  # e.g. disk full: nothing of the block is kept
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise RepoError(f"{self.path}: the write could not be saved: {exc}") from None

    @property
    def in_transaction(self) -> bool:
        return getattr(self._local, "depth", 0) > 0
