"""The managed repository: managed objects, links, reconciliation runs and audit — in one SQLite file, or in
a PostgreSQL database in IDM's own table layout (shared by several sfsync processes and hosts).

Public names: :class:`RepositoryApi` (the interface both backends implement), :class:`Repository` (SQLite;
``Repository.for_project(project)`` opens whichever backend the project asks for), :class:`PgRepository`
(PostgreSQL), :func:`pg_settings` (which PostgreSQL, from SFSYNC_REPO_URL or conf/datasource.jdbc-default.json),
:class:`QueryRequest`, :class:`Link`, :class:`ManagedSchema`, and the errors of :mod:`core.repo.errors`.
"""

from typing import TYPE_CHECKING, Any

from core.repo.activity import PROVISIONER_OBJECT, Actor, activity_entry, record_config_save
from core.repo.api import RepositoryApi
from core.repo.datasource import PgSettings, pg_settings
from core.repo.ecma import SPACE, ecma_regex
from core.repo.errors import (
    Conflict,
    FieldError,
    FilterSyntaxError,
    NotFound,
    PreconditionFailed,
    RepoError,
    ValidationError,
)
from core.repo.links import Link
from core.repo.patch import apply_patch
from core.repo.query import QueryRequest
from core.repo.repository import Repository
from core.repo.schema import DEFAULT_SEARCHABLE, EMAIL_PATTERN, ManagedSchema
from core.repo.search import equals_filter, filter_error, looks_like_filter, words_filter

if TYPE_CHECKING:
    from core.repo.migrate import Migration
    from core.repo.pgcluster import LeaseLost, PgCluster
    from core.repo.pgrepository import PgRepository


def __getattr__(name: str) -> Any:
    """``PgRepository`` and ``Migration`` on first use: psycopg takes ~0.15 s to import, which a SQLite project
    never pays."""
    if name == "PgRepository":
        from core.repo.pgrepository import PgRepository

        return PgRepository
    if name in ("PgCluster", "LeaseLost"):
        from core.repo import pgcluster

        return getattr(pgcluster, name)
    if name == "Migration":
        from core.repo.migrate import Migration

        return Migration
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Actor", "Conflict", "DEFAULT_SEARCHABLE", "EMAIL_PATTERN", "FieldError", "FilterSyntaxError", "LeaseLost", "Link",
    "ManagedSchema", "Migration", "NotFound", "PROVISIONER_OBJECT", "PgCluster", "PgRepository", "PgSettings", "PreconditionFailed",
    "QueryRequest", "RepoError", "Repository", "RepositoryApi", "SPACE", "ValidationError", "activity_entry",
    "apply_patch", "ecma_regex", "equals_filter", "filter_error", "looks_like_filter", "pg_settings",
    "record_config_save", "words_filter",
]
