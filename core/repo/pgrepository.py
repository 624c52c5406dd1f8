"""The PostgreSQL repository: the same interface as the SQLite one (core/repo/api.py's RepositoryApi), over
IDM's own tables (core/repo/pgdb.py), so several sfsync processes on several hosts share one repository.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from core.repo.api import RepositoryApi
from core.repo.errors import RepoError
from core.repo.links import Link
from core.repo.managed import PreparedCreates
from core.repo.patch import apply_patch
from core.repo.pgaudit import PgActivityLog, PgAudit
from core.repo.pgcluster import PgCluster
from core.repo.pgdb import PgDatabase
from core.repo.pglinks import PgLinks
from core.repo.pgmanaged import PgManagedObjects
from core.repo.pgquery import run_pg_query
from core.repo.pgstate import PgRuns, PgSchedules, PgSyncStages
from core.repo.query import QueryRequest
from core.repo.schema import ManagedSchema


class PgRepository:
    """Managed objects, links, runs and audit in a PostgreSQL database (IDM's layout plus schema ``sfsync``)."""

    def __init__(self, db: PgDatabase, schema: ManagedSchema | None = None) -> None:
        self.db = db
        self.schema = schema
        self._managed: dict[str, PgManagedObjects] = {}
        self._managed_lock = threading.Lock()
        self.users = self.managed("user")
        self.links = PgLinks(db)
        self.audit = PgAudit(db)
        self.activity = PgActivityLog(db)
        self.runs = PgRuns(db, self.audit)
        self.schedules = PgSchedules(db)
        self.stages = PgSyncStages(db)
        #: clustered reconciliation's tasks, leases and nodes (core/sync/cluster.py)
        self.cluster = PgCluster(db)

    @classmethod
    def open(cls, url: str, schema: ManagedSchema | None = None, *, origin: str = "SFSYNC_REPO_URL",
             timeout: float = 30.0, max_size: int = 8, min_size: int = 1) -> PgRepository:
        """Connect (creating what is missing); ``origin`` names where the URL came from, for errors."""
        return cls(PgDatabase(url, origin=origin, timeout=timeout, max_size=max_size, min_size=min_size), schema)

    @property
    def location(self) -> str:
        return self.db.display

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> PgRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[Any]:
        return self.db.transaction()

    def optimize(self) -> None:
        """After bulk changes: refresh the planner's statistics (VACUUM is PostgreSQL's autovacuum's job)."""
        self.db.execute("ANALYZE openidm.managedobjects")
        self.db.execute("ANALYZE openidm.links")

    def managed(self, resource: str) -> PgManagedObjects:
        store = self._managed.get(resource)
        if store is None:
            with self._managed_lock:
                store = self._managed.get(resource)
                if store is None:
                    schema = self.schema if resource == (self.schema.name if self.schema else "user") else None
                    store = self._managed[resource] = PgManagedObjects(self.db, resource, schema)
        return store

    # ------------------------------------------------------------------------------------ managed objects

    def create(self, obj: Mapping[str, Any], id: str | None = None, *, resource: str = "user") -> dict[str, Any]:
        return self.managed(resource).create(obj, id)

    def create_many(self, objects: Sequence[Mapping[str, Any]], ids: Sequence[str | None] | None = None, *,
                    resource: str = "user") -> list[dict[str, Any] | RepoError]:
        return self.managed(resource).create_many(objects, ids)

    def prepare_creates(self, objects: Sequence[Mapping[str, Any]], *, resource: str = "user") -> PreparedCreates:
        return self.managed(resource).prepare_creates(objects)

    def insert_prepared(self, prepared: PreparedCreates, *, resource: str = "user") -> list[dict[str, Any] | RepoError]:
        return self.managed(resource).insert_prepared(prepared)

    def read(self, id: str, *, resource: str = "user") -> dict[str, Any]:
        return self.managed(resource).read(id)

    def read_many(self, ids: Iterable[str], *, resource: str = "user") -> dict[str, dict[str, Any]]:
        return self.managed(resource).read_many(ids)

    def update(self, id: str, obj: Mapping[str, Any], rev: str | None = None, *,
               resource: str = "user") -> dict[str, Any]:
        return self.managed(resource).update(id, obj, rev)

    def update_many(self, changes: Sequence[tuple[str, Mapping[str, Any], str | None]], *,
                    resource: str = "user") -> list[dict[str, Any] | RepoError]:
        return self.managed(resource).update_many(changes)

    def patch(self, id: str, operations: Sequence[Mapping[str, Any]], rev: str | None = None, *,
              resource: str = "user") -> dict[str, Any]:
        """Read (the row locked), patch, replace: atomic across processes."""
        store = self.managed(resource)
        with self.transaction():
            store.revs([id], lock=True)
            current = store.read(id)
            if rev is None:
                rev = current["_rev"]
            return store.update(id, apply_patch(current, operations), rev)

    def delete(self, id: str, rev: str | None = None, *, resource: str = "user") -> dict[str, Any]:
        return self.managed(resource).delete(id, rev)

    def delete_many(self, ids: Iterable[str], *, resource: str = "user") -> int:
        return self.managed(resource).delete_many(ids)

    def query(self, request: QueryRequest | Mapping[str, str] | None = None, *,
              resource: str = "user") -> dict[str, Any]:
        if request is None:
            request = QueryRequest()
        elif not isinstance(request, QueryRequest):
            request = QueryRequest.from_params(request)
        return run_pg_query(self.db, self.managed(resource).collection, request)

    def find_by(self, field: str, values: Iterable[Any], *, resource: str = "user",
                ) -> dict[Any, list[dict[str, Any]]]:
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
        return self.links.unlink_many(link_type, first_ids=first_ids, second_ids=second_ids, qualifier=qualifier)

    def iter_links(self, link_type: str) -> Iterator[Link]:
        return self.links.iter_links(link_type)


#: mypy checks here that the PostgreSQL repository implements the whole interface
def _implements(r: PgRepository) -> RepositoryApi:
    return r
