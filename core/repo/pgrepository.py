"""The PostgreSQL repository: the same interface as the SQLite one (core/repo/api.py's RepositoryApi), over
IDM's own tables (core/repo/pgdb.py), so several sfsync processes on several hosts share one repository.
"""

from __future__ import annotations

from typing import Any

from core.repo.api import RepositoryApi
from core.repo.pgaudit import PgActivityLog, PgAudit
from core.repo.pgcluster import PgCluster
from core.repo.pgdb import PgDatabase
from core.repo.pglinks import PgLinks
from core.repo.pgmanaged import PgManagedObjects
from core.repo.pgquery import run_pg_query
from core.repo.pgstate import PgRuns, PgSchedules, PgSyncStages
from core.repo.query import QueryRequest
from core.repo.repobase import RepositoryBase
from core.repo.schema import ManagedSchema


class PgRepository(RepositoryBase[PgManagedObjects]):
    """Managed objects, links, runs and audit in a PostgreSQL database (IDM's layout plus schema ``sfsync``)."""

    def __init__(self, db: PgDatabase, schema: ManagedSchema | None = None) -> None:
        super().__init__()
        self.db = db
        self.schema = schema
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

    def optimize(self) -> None:
        """After bulk changes: refresh the planner's statistics (VACUUM is PostgreSQL's autovacuum's job)."""
        self.db.execute("ANALYZE openidm.managedobjects")
        self.db.execute("ANALYZE openidm.links")

    def _new_store(self, resource: str, schema: ManagedSchema | None) -> PgManagedObjects:
        return PgManagedObjects(self.db, resource, schema)

    def _lock_for_patch(self, store: PgManagedObjects, id: str) -> None:
        store.revs([id], lock=True)  # read, patch, replace: atomic across processes

    def _run_query(self, store: PgManagedObjects, request: QueryRequest) -> dict[str, Any]:
        return run_pg_query(self.db, store.collection, request)


#: mypy checks here that the PostgreSQL repository implements the whole interface
def _implements(r: PgRepository) -> RepositoryApi:
    return r
