"""Errors of the managed repository, named as IDM's REST layer names its failures.

The REST facade maps them to status codes (``NotFound`` 404, ``PreconditionFailed`` 412, ``Conflict`` 409,
``ValidationError`` and ``FilterSyntaxError`` 400); the command line prints the message and exits with
``exit_code``. Messages name the object, field or parameter at fault and never contain object contents
beyond the offending value.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import SfsyncError


class RepoError(SfsyncError):
    """Anything the repository refuses or fails to do."""


class NotFound(RepoError):
    """The object (managed user, run, link) does not exist."""

    http_status = 404


class PreconditionFailed(RepoError):
    """A write carried ``If-Match`` with a ``_rev`` that is no longer current: the write is refused, not lost."""

    http_status = 412


class Conflict(RepoError):
    """The write collides with existing state: an ``_id`` already used, a side already linked, an active run."""

    http_status = 409


@dataclass(frozen=True)
class FieldError:
    """One field's problem, e.g. ``FieldError("mail", "not a valid email address")``."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ValidationError(RepoError):
    """An object (or a query parameter) breaks the schema; ``errors`` lists every failing field."""

    exit_code = 2
    http_status = 400

    def __init__(self, errors: list[FieldError], *, resource: str = "managed/user") -> None:
        self.errors = list(errors)
        self.resource = resource
        super().__init__(f"{resource}: " + "; ".join(str(e) for e in self.errors))


class UniqueConflict(ValidationError):
    """A unique field's value is held by another object: the write conflicts with what is stored (409 over
    REST, with the failing fields, as IDM's failedPolicyRequirements), not with the schema."""

    http_status = 409


class FilterSyntaxError(RepoError):
    """A ``_queryFilter`` that does not parse; ``position`` is the 0-based character offset of the fault."""

    exit_code = 2
    http_status = 400

    def __init__(self, reason: str, *, text: str, position: int) -> None:
        self.reason = reason
        self.text = text
        self.position = position
        super().__init__(f"_queryFilter: {reason} at position {position}: {text!r}")
