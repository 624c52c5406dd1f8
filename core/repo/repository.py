"""The project's repository: one SQLite file holding managed objects, links, runs, audit and run locks.

``Repository`` is the one object the sync engine, the REST API and the TUI hold. Its methods take and return
IDM-shaped dicts; bulk methods take lists and answer in chunks, so a reconciliation page costs a handful of
statements, and ``with repo.transaction():`` makes a page's managed writes, links, audit and progress one
commit. A different backend (PostgreSQL shared by several instances) would implement this same surface.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from core.config.project import Project
from core.repo.activity import ActivityLog
from core.repo.api import RepositoryApi
from core.repo.audit import Audit
from core.repo.db import Database
from core.repo.errors import RepoError
from core.repo.links import Link, Links
from core.repo.managed import ManagedObjects
from core.repo.managedstore import PreparedCreates
from core.repo.patch import apply_patch
from core.repo.query import QueryRequest, run_query
from core.repo.runs import Runs
from core.repo.schedules import Schedules
from core.repo.schema import ManagedSchema
from core.repo.stages import SyncStages


class Repository:
    """Managed objects (``managed/<resource>``, default ``user``), links, runs and audit in one file."""

    def __init__(self, db: Database, schema: ManagedSchema | None = None) -> None:
        self.db = db
        self.schema = schema
        self._managed: dict[str, ManagedObjects] = {}
        self._managed_lock = threading.Lock()
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
    def for_project(cls, project: Project, *, validate: bool = True) -> RepositoryApi:
        """The project's repository with ``conf/managed.json``'s user schema: PostgreSQL when
        ``SFSYNC_REPO_URL`` or IDM's ``conf/datasource.jdbc-default.json`` names one (core/repo/datasource.py),
        else the SQLite file ``db/sfsync.sqlite3``."""
        from core.repo.datasource import pg_settings

        settings = pg_settings(project.conf_dir)
        schema = ManagedSchema.load(project) if validate and project.managed_path.exists() else None
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

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[Any]:
        """Re-entrant: nested blocks join the outermost, which commits (or rolls back on an exception)."""
        return self.db.transaction()

    def optimize(self) -> None:
        """After bulk changes (a reconciliation): refresh planner statistics and fold the WAL into the file."""
        for store in self._managed.values():
            store.analyze()
        conn = self.db.conn()
        conn.execute("PRAGMA analysis_limit = 0")
        conn.execute("ANALYZE links")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def managed(self, resource: str) -> ManagedObjects:
        """The store of ``managed/<resource>``; ``user`` is validated by the schema given to ``open``."""
        store = self._managed.get(resource)
        if store is None:
            with self._managed_lock:
                store = self._managed.get(resource)
                if store is None:
                    schema = self.schema if resource == (self.schema.name if self.schema else "user") else None
                    store = self._managed[resource] = ManagedObjects(self.db, resource, schema)
        return store

    # ------------------------------------------------------------------------------------ managed objects

    def create(self, obj: Mapping[str, Any], id: str | None = None, *, resource: str = "user") -> dict[str, Any]:
        """Create; ``_id`` is ``id`` (or the object's ``_id``, else a new time-ordered UUID); returns it with ``_rev``."""
        return self.managed(resource).create(obj, id)

    def create_many(self, objects: Sequence[Mapping[str, Any]], ids: Sequence[str | None] | None = None, *,
                    resource: str = "user") -> list[dict[str, Any] | RepoError]:
        """Create in one transaction; per object the created object or the RepoError that refused it."""
        return self.managed(resource).create_many(objects, ids)

    def prepare_creates(self, objects: Sequence[Mapping[str, Any]], *, resource: str = "user") -> PreparedCreates:
        """:meth:`create_many` in two steps: this one touches no storage (see ``ManagedObjects.prepare_creates``)."""
        return self.managed(resource).prepare_creates(objects)

    def insert_prepared(self, prepared: PreparedCreates, *, resource: str = "user") -> list[dict[str, Any] | RepoError]:
        return self.managed(resource).insert_prepared(prepared)

    def read(self, id: str, *, resource: str = "user") -> dict[str, Any]:
        """The object, or NotFound."""
        return self.managed(resource).read(id)

    def read_many(self, ids: Iterable[str], *, resource: str = "user") -> dict[str, dict[str, Any]]:
        """``{id: object}`` for the ids that exist."""
        return self.managed(resource).read_many(ids)

    def update(self, id: str, obj: Mapping[str, Any], rev: str | None = None, *,
               resource: str = "user") -> dict[str, Any]:
        """Replace the object; ``rev`` is ``If-Match`` (PreconditionFailed when stale)."""
        return self.managed(resource).update(id, obj, rev)

    def update_many(self, changes: Sequence[tuple[str, Mapping[str, Any], str | None]], *,
                    resource: str = "user") -> list[dict[str, Any] | RepoError]:
        """Replace many ``(id, object, rev)`` in one transaction; per object the result or the error."""
        return self.managed(resource).update_many(changes)

    def patch(self, id: str, operations: Sequence[Mapping[str, Any]], rev: str | None = None, *,
              resource: str = "user") -> dict[str, Any]:
        """Apply IDM patch operations atomically (read, patch, replace in one transaction)."""
        store = self.managed(resource)
        with self.transaction():
            current = store.read(id)
            if rev is None:
                rev = current["_rev"]
            return store.update(id, apply_patch(current, operations), rev)

    def delete(self, id: str, rev: str | None = None, *, resource: str = "user") -> dict[str, Any]:
        """Delete and return the object as it was (NotFound, PreconditionFailed)."""
        return self.managed(resource).delete(id, rev)

    def delete_many(self, ids: Iterable[str], *, resource: str = "user") -> int:
        return self.managed(resource).delete_many(ids)

    def query(self, request: QueryRequest | Mapping[str, str] | None = None, *,
              resource: str = "user") -> dict[str, Any]:
        """IDM's query result for a QueryRequest (or URL-style ``_queryFilter``… parameters)."""
        if request is None:
            request = QueryRequest()
        elif not isinstance(request, QueryRequest):
            request = QueryRequest.from_params(request)
        store = self.managed(resource)
        return run_query(self.db.conn(), store.collection, request)

    def find_by(self, field: str, values: Iterable[Any], *, resource: str = "user",
                ) -> dict[Any, list[dict[str, Any]]]:
        """Bulk correlation: ``{value: [objects whose field equals it]}`` (ASCII case-insensitive)."""
        return self.managed(resource).find_by(field, values)

    def iter_ids(self, *, resource: str = "user") -> Iterator[str]:
        return self.managed(resource).iter_ids()

    def count(self, *, resource: str = "user") -> int:
        return self.managed(resource).count()

    # ------------------------------------------------------------------------------------ links

    def links_by_first(self, link_type: str, ids: Iterable[str], qualifier: str = "default") -> dict[str, Link]:
        return self.links.by_first(link_type, ids, qualifier)

    def links_by_second(self, link_type: str, ids: Iterable[str], qualifier: str = "default") -> dict[str, Link]:
        return self.links.by_second(link_type, ids, qualifier)

    def link(self, link_type: str, first_id: str, second_id: str, qualifier: str = "default") -> Link:
        return self.links.link(link_type, first_id, second_id, qualifier)

    def link_many(self, link_type: str, pairs: Sequence[tuple[str, str]], qualifier: str = "default",
                  ) -> list[Link]:
        return self.links.link_many(link_type, pairs, qualifier)

    def unlink(self, link_type: str, *, first_id: str | None = None, second_id: str | None = None,
               qualifier: str = "default") -> int:
        return self.links.unlink(link_type, first_id=first_id, second_id=second_id, qualifier=qualifier)

    def unlink_many(self, link_type: str, *, first_ids: Iterable[str] = (), second_ids: Iterable[str] = (),
                    qualifier: str = "default") -> int:
        return self.links.unlink_many(link_type, first_ids=first_ids, second_ids=second_ids,
                                      qualifier=qualifier)

    def iter_links(self, link_type: str) -> Iterator[Link]:
        return self.links.iter_links(link_type)


#: mypy checks here that the SQLite repository implements the whole interface
def _implements(r: Repository) -> RepositoryApi:
    return r
