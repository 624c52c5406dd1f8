"""The project's repository: one SQLite file holding managed objects, links, runs, audit and run locks.

``Repository`` is the one object the sync engine, the REST API and the TUI hold. Its methods take and return
IDM-shaped dicts; bulk methods take lists and answer in chunks, so a reconciliation page costs a handful of
statements, and ``with repo.transaction():`` makes a page's managed writes, links, audit and progress one
commit. A different backend (PostgreSQL shared by several instances) would implement this same surface.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config.project import Project
from core.repo.activity import ActivityLog
from core.repo.api import RepositoryApi
from core.repo.audit import Audit
from core.repo.db import Database
from core.repo.errors import RepoError
from core.repo.links import Links
from core.repo.managed import ManagedObjects
from core.repo.query import QueryRequest, run_query
from core.repo.repobase import RepositoryBase
from core.repo.runs import Runs
from core.repo.schedules import Schedules
from core.repo.schema import ManagedSchema

if TYPE_CHECKING:
    from core.config.loaded import ProjectConfig
from core.repo.stages import SyncStages


class Repository(RepositoryBase[ManagedObjects]):
    """Managed objects (``managed/<resource>``, default ``user``), links, runs and audit in one file."""

    def __init__(self, db: Database, schema: ManagedSchema | None = None) -> None:
        super().__init__()
        self.db = db
        self.schema = schema
        self.users = self.managed("user")
        self.links = Links(db)
        self.audit = Audit(db)
        #: ``audit/activity``: who changed what (core/repo/activity.py)
        self.activity = ActivityLog(db)
        self.runs = Runs(db, self.audit)
        self.schedules = Schedules(db)
        self.stages = SyncStages(db)

    @classmethod
    def open(cls, path: str | os.PathLike[str], schema: ManagedSchema | None = None) -> Repository:
        """Open (creating when absent) the repository file; with a schema, writes are validated by it."""
        return cls(Database(path), schema)

    @classmethod
    def for_project(cls, project: Project, *, validate: bool = True,
                    config: ProjectConfig | None = None) -> RepositoryApi:
        """The project's repository with ``conf/managed.json``'s user schema (from ``config``, the operation's
        look at the files, when given): PostgreSQL when ``SFSYNC_REPO_URL`` or IDM's
        ``conf/datasource.jdbc-default.json`` names one (core/repo/datasource.py), else the SQLite file
        ``db/sfsync.sqlite3``."""
        from core.repo.datasource import pg_settings

        settings = pg_settings(project.conf_dir)
        schema = None
        if validate:
            schema = ManagedSchema.of(config) if config is not None else \
                ManagedSchema.load(project) if project.managed_path.exists() else None
        if settings is not None:
            from core.errors import ConfigError
            from core.repo.pgrepository import PgRepository

            try:
                return PgRepository.open(settings.url, schema, origin=settings.origin, timeout=settings.timeout,
                                         min_size=settings.min_size, max_size=settings.max_size)
            except RepoError as exc:
                raise ConfigError(str(exc)) from None
        return cls.open(project.db_path, schema)

    @property
    def path(self) -> Path:
        return self.db.path

    @property
    def location(self) -> str:
        return str(self.db.path)

    def optimize(self) -> None:
        """After bulk changes (a reconciliation): refresh planner statistics and fold the WAL into the file."""
        for store in self._managed.values():
            store.analyze()
        conn = self.db.conn()
        conn.execute("PRAGMA analysis_limit = 0")
        conn.execute("ANALYZE links")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _new_store(self, resource: str, schema: ManagedSchema | None) -> ManagedObjects:
        return ManagedObjects(self.db, resource, schema)

    def _run_query(self, store: ManagedObjects, request: QueryRequest) -> dict[str, Any]:
        return run_query(self.db.conn(), store.collection, request)


#: mypy checks here that the SQLite repository implements the whole interface
def _implements(r: Repository) -> RepositoryApi:
    return r
