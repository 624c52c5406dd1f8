"""The managed repository: managed objects, links, reconciliation runs and audit, in one SQLite file.

Public names: :class:`Repository` (``Repository.open(path, schema)`` / ``Repository.for_project(project)``),
:class:`QueryRequest`, :class:`Link`, :class:`ManagedSchema`, and the errors of :mod:`core.repo.errors`.
"""

from core.repo.activity import PROVISIONER_OBJECT, Actor, activity_entry, record_config_save
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

__all__ = [
    "Actor", "Conflict", "DEFAULT_SEARCHABLE", "EMAIL_PATTERN", "FieldError", "FilterSyntaxError", "Link",
    "ManagedSchema", "NotFound", "PROVISIONER_OBJECT", "PreconditionFailed", "QueryRequest", "RepoError",
    "Repository", "SPACE", "ValidationError", "activity_entry", "apply_patch", "ecma_regex", "equals_filter",
    "filter_error", "looks_like_filter", "record_config_save", "words_filter",
]
