"""The PostgreSQL connection: a psycopg 3 pool, re-entrant transactions per thread, and the DDL.

Tables are IDM's own (schema ``openidm``: ``objecttypes``, ``managedobjects``, ``links``, ``auditrecon``,
``auditsync``, ``auditactivity``; reference idm-beyond-the-sample.md §1.3, JSONB as IDM 7 ships them), created
when absent. A schema made by IDM's own scripts is used as it is: sfsync never alters IDM's tables, and adds
its expression indexes only to tables it created itself. What IDM has no table for (runs, run locks, schedule
state, liveSync stages, clustered reconciliation's tasks and nodes: core/repo/pgcluster.py) lives in schema
``sfsync``.

A thread outside a transaction borrows a pooled connection per statement (autocommit); ``transaction()`` pins
one connection to the thread until the outermost block commits (or rolls back), so nested blocks join it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from core.repo.errors import RepoError
from core.repo.pgstats import TableStatistics, reltuples_query

#: IDM's tables, as IDM 7's ``db/postgresql/scripts/openidm.pgsql`` makes them (JSONB), only those sfsync uses
#: (without IDM 7's plain index on ``objecttypes_id``: the UNIQUE (objecttypes_id, objectid) serves it, and every
#: index is paid for by each write of a reconciliation page)
IDM_DDL = """
CREATE SCHEMA IF NOT EXISTS openidm;
CREATE TABLE IF NOT EXISTS openidm.objecttypes (
    id BIGSERIAL NOT NULL PRIMARY KEY,
    objecttype VARCHAR(255) NOT NULL,
    CONSTRAINT idx_objecttypes_objecttype UNIQUE (objecttype)
);
CREATE TABLE IF NOT EXISTS openidm.managedobjects (
    id BIGSERIAL NOT NULL PRIMARY KEY,
    objecttypes_id BIGINT NOT NULL,
    objectid VARCHAR(255) NOT NULL,
    rev VARCHAR(38) NOT NULL,
    fullobject JSONB,
    CONSTRAINT fk_managedobjects_objectypes FOREIGN KEY (objecttypes_id)
        REFERENCES openidm.objecttypes (id) ON DELETE CASCADE ON UPDATE NO ACTION
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_managedobjects_object ON openidm.managedobjects (objecttypes_id, objectid);
CREATE TABLE IF NOT EXISTS openidm.links (
    objectid VARCHAR(38) NOT NULL PRIMARY KEY,
    rev VARCHAR(38) NOT NULL,
    linktype VARCHAR(255) NOT NULL,
    linkqualifier VARCHAR(255) NOT NULL,
    firstid VARCHAR(255) NOT NULL,
    secondid VARCHAR(255) NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_links_first ON openidm.links (linktype, linkqualifier, firstid);
CREATE UNIQUE INDEX IF NOT EXISTS idx_links_second ON openidm.links (linktype, linkqualifier, secondid);
CREATE TABLE IF NOT EXISTS openidm.auditrecon (
    objectid VARCHAR(56) NOT NULL PRIMARY KEY,
    transactionid VARCHAR(255) NOT NULL,
    activitydate VARCHAR(29) NOT NULL,
    eventname VARCHAR(50),
    userid VARCHAR(255),
    trackingids TEXT,
    activity VARCHAR(24),
    exceptiondetail TEXT,
    linkqualifier VARCHAR(255),
    mapping VARCHAR(511),
    message TEXT,
    messagedetail TEXT,
    situation VARCHAR(24),
    sourceobjectid VARCHAR(511),
    status VARCHAR(20),
    targetobjectid VARCHAR(511),
    reconciling VARCHAR(12),
    ambiguoustargetobjectids TEXT,
    reconaction VARCHAR(36),
    entrytype VARCHAR(7),
    reconid VARCHAR(56)
);
CREATE INDEX IF NOT EXISTS idx_auditrecon_reconid ON openidm.auditrecon (reconid);
CREATE INDEX IF NOT EXISTS idx_auditrecon_entrytype ON openidm.auditrecon (entrytype);
CREATE TABLE IF NOT EXISTS openidm.auditsync (
    objectid VARCHAR(56) NOT NULL PRIMARY KEY,
    transactionid VARCHAR(255) NOT NULL,
    activitydate VARCHAR(29) NOT NULL,
    eventname VARCHAR(50),
    userid VARCHAR(255),
    trackingids TEXT,
    activity VARCHAR(24),
    exceptiondetail TEXT,
    linkqualifier VARCHAR(255),
    mapping VARCHAR(511),
    message TEXT,
    messagedetail TEXT,
    situation VARCHAR(24),
    sourceobjectid VARCHAR(511),
    status VARCHAR(20),
    targetobjectid VARCHAR(511)
);
CREATE TABLE IF NOT EXISTS openidm.auditactivity (
    objectid VARCHAR(56) NOT NULL PRIMARY KEY,
    activitydate VARCHAR(29) NOT NULL,
    eventname VARCHAR(255),
    transactionid VARCHAR(255) NOT NULL,
    userid VARCHAR(255),
    trackingids TEXT,
    runas VARCHAR(255),
    activityobjectid VARCHAR(255),
    operation VARCHAR(255),
    subjectbefore TEXT,
    subjectafter TEXT,
    changedfields TEXT,
    subjectrev VARCHAR(255),
    passwordchanged VARCHAR(5),
    message TEXT,
    provider VARCHAR(255),
    context VARCHAR(25),
    status VARCHAR(20)
)
"""

#: sfsync's own tables (what IDM keeps elsewhere or not at all)
SFSYNC_DDL = """
CREATE SCHEMA IF NOT EXISTS sfsync;
CREATE TABLE IF NOT EXISTS sfsync.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sfsync.recon_runs (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    mapping TEXT NOT NULL,
    state TEXT NOT NULL,
    data JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_runs_mapping ON sfsync.recon_runs (mapping, seq);
CREATE TABLE IF NOT EXISTS sfsync.run_locks (
    mapping TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    heartbeat DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS sfsync.audit_extra (
    objectid VARCHAR(56) NOT NULL PRIMARY KEY,
    seq BIGSERIAL NOT NULL,
    data JSONB NOT NULL
);
CREATE TABLE IF NOT EXISTS sfsync.schedule_state (
    id TEXT PRIMARY KEY,
    anchor BIGINT NOT NULL,
    last_fire BIGINT,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    data JSONB NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS sfsync.schedule_fires (
    seq BIGSERIAL PRIMARY KEY,
    schedule_id TEXT NOT NULL,
    fire_time BIGINT NOT NULL,
    node TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started BIGINT NOT NULL,
    ended BIGINT,
    result JSONB,
    UNIQUE (schedule_id, fire_time)
);
CREATE TABLE IF NOT EXISTS sfsync.sync_stages (
    id TEXT PRIMARY KEY,
    rev INTEGER NOT NULL,
    data JSONB NOT NULL
);
CREATE TABLE IF NOT EXISTS sfsync.cluster_runs (
    run_id TEXT PRIMARY KEY,
    mapping TEXT NOT NULL,
    state TEXT NOT NULL,
    facts JSONB NOT NULL
);
CREATE TABLE IF NOT EXISTS sfsync.cluster_tasks (
    run_id TEXT NOT NULL,
    page INTEGER NOT NULL,
    state TEXT NOT NULL,
    audit_base INTEGER NOT NULL,
    records JSONB NOT NULL,
    owner TEXT,
    lease_expiry TIMESTAMPTZ,
    claims INTEGER NOT NULL DEFAULT 0,
    processed INTEGER NOT NULL DEFAULT 0,
    result JSONB,
    touched TEXT[],
    PRIMARY KEY (run_id, page)
);
CREATE INDEX IF NOT EXISTS ix_cluster_tasks_open ON sfsync.cluster_tasks (run_id, page)
    WHERE state IN ('PENDING', 'CLAIMED');
CREATE TABLE IF NOT EXISTS sfsync.cluster_nodes (
    node_id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    state TEXT NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL
)
"""

#: serializes the DDL of two processes opening a new database at once
_DDL_LOCK = 0x5F5C_0001
POOL_MAX = 8


def mask_url(url: str) -> str:
    """The URL or conninfo with its password replaced by ``***`` (for messages)."""
    try:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = conninfo_to_dict(url)
    except Exception:
        return "(an unparsable connection string)"
    if "password" in params:
        params["password"] = "***"
    if url.startswith(("postgresql://", "postgres://")):
        user = params.get("user", "")
        auth = f"{user}{':***' if 'password' in params else ''}@" if user else ""
        host = str(params.get("host", ""))
        port = f":{params['port']}" if params.get("port") else ""
        if "/" in host:  # a Unix socket folder: as a query parameter
            return f"postgresql://{auth}/{params.get('dbname', '')}?host={host}{port and '&port=' + port[1:]}"
        return f"postgresql://{auth}{host}{port}/{params.get('dbname', '')}"
    return make_conninfo("", **params)


class PgDatabase:
    """A pool of connections to one PostgreSQL database, with the tables sfsync needs."""

    def __init__(self, url: str, *, origin: str = "SFSYNC_REPO_URL", timeout: float = 30.0,
                 min_size: int = 1, max_size: int = POOL_MAX) -> None:
        self.url = url
        self.origin = origin
        self.display = mask_url(url)
        self._local = threading.local()
        #: ANALYZE in the background as tables grow (core/repo/pgstats.py)
        self.statistics = TableStatistics(self._analyze, self._reltuples)
        try:  # one direct connection first: a wrong password or host fails now, with the server's reason
            psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout))).close()
        except psycopg.Error as exc:
            raise RepoError(f"{origin}: cannot connect to the PostgreSQL repository {self.display}: "
                            f"{_reason(exc)}") from None
        try:
            self.pool = ConnectionPool(url, min_size=min(min_size, max_size), max_size=max_size, timeout=timeout,
                                       kwargs={"autocommit": True, "connect_timeout": max(1, int(timeout))},
                                       open=False, name="sfsync-repo")
            self.pool.open(wait=True, timeout=timeout)
        except (PoolTimeout, psycopg.Error) as exc:
            raise RepoError(f"{origin}: cannot connect to the PostgreSQL repository {self.display}: "
                            f"{_reason(exc)}") from None
        try:
            self.owns_idm_tables = self._create()
        except psycopg.Error as exc:
            self.pool.close()
            raise RepoError(f"{origin}: cannot prepare the PostgreSQL repository {self.display}: "
                            f"{_reason(exc)}") from None

    def _create(self) -> bool:
        """Create what is missing; whether sfsync made IDM's tables (then it may add its indexes to them)."""
        with self.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
            existed = _scalar(conn, "SELECT to_regclass('openidm.managedobjects') IS NOT NULL")
            had_meta = _scalar(conn, "SELECT to_regclass('sfsync.meta') IS NOT NULL")
            owned = None
            if had_meta:
                row = conn.execute("SELECT value FROM sfsync.meta WHERE key = 'owns_idm_tables'").fetchone()
                owned = row[0] == "true" if row else None
            if not existed:
                for statement in IDM_DDL.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            for statement in SFSYNC_DDL.split(";"):
                if statement.strip():
                    conn.execute(statement)
            if owned is None:
                owned = not existed
                conn.execute("INSERT INTO sfsync.meta (key, value) VALUES ('owns_idm_tables', %s) "
                             "ON CONFLICT (key) DO NOTHING", ("true" if owned else "false",))
            return owned

    # ------------------------------------------------------------------------------------ statements

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The thread's transaction connection, or a pooled one (autocommit) for the block."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        try:
            with self.pool.connection() as pooled:
                yield pooled
        except PoolTimeout as exc:
            raise RepoError(f"{self.origin}: no connection to {self.display}: {_reason(exc)}") from None

    def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        with self.connection() as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> tuple[Any, ...] | None:
        with self.connection() as conn:
            return conn.execute(sql, params).fetchone()  # type: ignore[arg-type]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the rows it changed."""
        with self.connection() as conn:
            return conn.execute(sql, params).rowcount  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many rows, pipelined (psycopg sends them without a round trip per row)."""
        if rows:
            with self.connection() as conn, conn.cursor() as cur:
                cur.executemany(sql, rows)  # type: ignore[arg-type]

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """``COPY table (columns) FROM STDIN``: a page of rows in one stream (PostgreSQL's fastest insert); a
        refused row (a unique index) refuses the whole COPY, as one INSERT would."""
        if rows:
            with self.connection() as conn, conn.cursor() as cur, \
                    cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            self.grew(table, len(rows))

    def grew(self, table: str, rows: int) -> None:
        """``rows`` were inserted into ``table``: counted for its statistics once the transaction commits."""
        grown = getattr(self._local, "grown", None)
        if grown is None:  # autocommit: already committed
            self.statistics.committed({table: rows})
        else:
            grown[table] = grown.get(table, 0) + rows

    def _analyze(self, table: str) -> None:
        """On a connection of its own, not the pool's: with a small ``connectionPool`` it never holds the
        connection the next page waits for."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"ANALYZE {table}")  # type: ignore[arg-type]

    def _reltuples(self, table: str) -> float:
        with self.connection() as conn:
            return reltuples_query(conn, table)

    # ------------------------------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """Re-entrant: the outermost block takes a connection, begins, and commits (or rolls back)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        try:
            pooled = self.pool.getconn()
        except PoolTimeout as exc:
            raise RepoError(f"{self.origin}: no connection to {self.display}: {_reason(exc)}") from None
        self._local.conn = pooled
        grown: dict[str, int] = {}
        self._local.grown = grown
        try:
            with pooled.transaction():
                yield pooled
        finally:
            self._local.conn = None
            self._local.grown = None
            self.pool.putconn(pooled)
        self.statistics.committed(grown)  # only reached when the transaction committed

    @contextmanager
    def savepoint(self) -> Iterator[psycopg.Connection[Any]]:
        """A block that, when it fails, leaves the enclosing transaction usable (a SAVEPOINT in one)."""
        with self.transaction() as conn, conn.transaction():
            yield conn

    @property
    def in_transaction(self) -> bool:
        return getattr(self._local, "conn", None) is not None

    def close(self) -> None:
        self.statistics.wait()
        self.pool.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _scalar(conn: psycopg.Connection[Any], sql: str) -> Any:
    row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
    return row[0] if row else None
