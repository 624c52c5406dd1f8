"""The managed repository: managed objects, links, reconciliation runs and audit, in one SQLite file.

Public names: :class:`Repository` (``Repository.open(path, schema)`` / ``Repository.for_project(project)``),
:class:`QueryRequest`, :class:`Link`, :class:`ManagedSchema`, and the errors of :mod:`core.repo.errors`.
"""

from core.repo.activity import Actor
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
from core.repo.query import QueryRequest
from core.repo.repository import Repository
from core.repo.schema import ManagedSchema
from core.repo.search import equals_filter, looks_like_filter, words_filter

__all__ = [
    "Actor", "Conflict", "FieldError", "FilterSyntaxError", "Link", "ManagedSchema", "NotFound", "PreconditionFailed",
    "QueryRequest", "RepoError", "Repository", "ValidationError", "equals_filter", "looks_like_filter",
    "words_filter",
]
