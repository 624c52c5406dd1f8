"""What both managed-object stores share (SQLite's core/repo/managed.py, PostgreSQL's core/repo/pgmanaged.py):
the resource's searchable and unique fields, validation, ids and revisions, the rows a page of creates or
updates writes, and each object's result (the stored object, or the RepoError that refused it). Only SQL is
left to the backends: they read revisions and unique-field holders, and write the rows made here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.repo.errors import (
    Conflict,
    FieldError,
    NotFound,
    PreconditionFailed,
    RepoError,
    UniqueConflict,
    ValidationError,
)
from core.repo.ids import matches_rev, new_ids, next_rev
from core.repo.jsoncodec import encode
from core.repo.schema import DEFAULT_SEARCHABLE, ManagedSchema

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

#: per object of a batch: the stored object, the error that refused it, or None while undecided
Results = list[dict[str, Any] | RepoError | None]
#: a row to write: (id, rev, JSON data without _id/_rev)
Row = tuple[str, str, str]


def fold(value: Any) -> Any:
    """SQLite NOCASE equality in Python: ASCII letters folded, everything else as is."""
    if not isinstance(value, str):
        return value
    return value.lower() if value.isascii() else value.translate(_ASCII_FOLD)


def unique_key(value: Any) -> Any:
    """What two values of a unique field share when they clash (strings ASCII case-insensitively)."""
    return fold(value) if isinstance(value, str) else json.dumps(value)


def correlation_keys(values: Iterable[Any], key: Callable[[Any], Any] = fold,
                     ) -> tuple[dict[Any, list[dict[str, Any]]], dict[Any, list[Any]]]:
    """For ``find_by``: the empty answer per value (``None`` left out) and the values per comparison key."""
    wanted = [v for v in dict.fromkeys(values) if v is not None]
    by_key: dict[Any, list[Any]] = {}
    for v in wanted:
        by_key.setdefault(key(v), []).append(v)
    return {v: [] for v in wanted}, by_key


@dataclass(frozen=True)
class PreparedCreates:
    """Objects made ready for insertion by :meth:`ManagedStoreBase.prepare_creates` (no storage touched yet)."""

    results: list[dict[str, Any] | RepoError | None]  # per object: its validation error, else None
    candidates: list[tuple[str, dict[str, Any]]]  # (id, object) of the valid ones
    index_of: list[int]  # each candidate's position in the objects given
    given: list[str]  # ids the caller chose (checked against the table at insertion)
    rows: list[Row]  # (id, rev, data) to insert when nothing clashes
    expected: list[dict[str, Any] | RepoError]  # per object, the result when nothing clashes


class ManagedStoreBase:
    """The backend-free part of a store of ``managed/<resource>``; subclasses add the SQL."""

    def __init__(self, resource: str, schema: ManagedSchema | None) -> None:
        if not IDENT.match(resource):
            raise RepoError(f"managed/{resource}: not a valid resource name")
        self.resource = resource
        self.schema = schema
        indexed = schema.searchable if schema else DEFAULT_SEARCHABLE
        unique = schema.unique if schema else ()
        self.unique = tuple(f for f in unique if IDENT.match(f))
        #: the fields with an index: the schema's searchable ones and the unique ones
        self.searchable = [f for f in dict.fromkeys([*indexed, *self.unique]) if IDENT.match(f)]

    @property
    def name(self) -> str:
        return f"managed/{self.resource}"

    # ------------------------------------------------------------------------------------ what the backend answers

    def revs(self, ids: Iterable[str]) -> dict[str, str]:
        """``{id: rev}`` of the objects that exist among ``ids``."""
        raise NotImplementedError

    def _holders(self, field: str, values: Sequence[Any]) -> dict[Any, set[str]]:
        """For the values of a unique field, ``{unique_key(value): ids of the objects holding it}``."""
        raise NotImplementedError

    def read(self, id: str) -> dict[str, Any]:
        raise NotImplementedError

    def read_many(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    def find_by(self, field: str, values: Iterable[Any]) -> dict[Any, list[dict[str, Any]]]:
        raise NotImplementedError

    def iter_ids(self, batch: int = 10_000) -> Iterator[str]:
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError

    def create_many(self, objects: Sequence[Mapping[str, Any]], ids: Sequence[str | None] | None = None,
                    ) -> list[dict[str, Any] | RepoError]:
        """Create many objects in one transaction; per object, the stored object or why it was refused."""
        return self.insert_prepared(self.prepare_creates(objects, ids))

    def insert_prepared(self, prepared: PreparedCreates) -> list[dict[str, Any] | RepoError]:
        raise NotImplementedError

    def delete(self, id: str, rev: str | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def delete_many(self, ids: Iterable[str]) -> int:
        raise NotImplementedError

    def update_many(self, changes: Sequence[tuple[str, Mapping[str, Any], str | None]],
                    ) -> list[dict[str, Any] | RepoError]:
        raise NotImplementedError

    # ------------------------------------------------------------------------------------ checks

    def _validate(self, obj: Mapping[str, Any]) -> list[FieldError]:
        return self.schema.validate(obj) if self.schema else []

    def _unique_clashes(self, candidates: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[int, list[FieldError]]:
        """Per candidate index, the unique fields whose value another object (or batch entry) holds."""
        clashes: dict[int, list[FieldError]] = {}
        for field in self.unique:
            keyed: list[tuple[int, str, Any, Any]] = []
            owner: dict[Any, str] = {}
            for i, (id_, obj) in enumerate(candidates):
                value = obj.get(field)
                if value is None:
                    continue
                key = unique_key(value)
                if owner.setdefault(key, id_) != id_:
                    clashes.setdefault(i, []).append(FieldError(field, f"must be unique: {value!r} is used"))
                keyed.append((i, id_, value, key))
            holders = self._holders(field, list(dict.fromkeys(k[2] for k in keyed))) if keyed else {}
            for i, id_, value, key in keyed:
                if holders.get(key, set()) - {id_}:
                    clashes.setdefault(i, []).append(FieldError(field, f"must be unique: {value!r} is used"))
        return clashes

    # ------------------------------------------------------------------------------------ creates

    def prepare_creates(self, objects: Sequence[Mapping[str, Any]], ids: Sequence[str | None] | None = None,
                        ) -> PreparedCreates:
        """Everything of ``create_many`` that needs no storage: defaults, validation, ids, the encoded rows.

        Pure Python and thread-safe, so a reconciliation prepares page N+1 while page N is being written;
        ``insert_prepared`` then only runs SQL (unless a unique value or a chosen id clashes)."""
        results: Results = [None] * len(objects)
        candidates: list[tuple[str, dict[str, Any]]] = []
        index_of: list[int] = []
        given: list[str] = []  # ids chosen by the caller may collide; fresh ids do not
        fresh = new_ids(len(objects))
        schema = self.schema
        for i, raw in enumerate(objects):
            obj = dict(raw)
            chosen = (ids[i] if ids else None) or obj.pop("_id", None)
            obj.pop("_id", None)
            obj.pop("_rev", None)
            if schema is not None:
                errors = schema.validate(obj)
                if errors:
                    results[i] = ValidationError(errors, resource=self.name)
                    continue
            if chosen:
                given.append(str(chosen))
            candidates.append((str(chosen) if chosen else fresh[i], obj))
            index_of.append(i)
        filled: Results = list(results)
        rows = self._insert_rows(candidates, index_of, set(), {}, filled)
        expected = [r for r in filled if r is not None]  # _insert_rows gives every object its outcome
        return PreparedCreates(results, candidates, index_of, given, rows, expected)

    def _insert_rows(self, prepared: Sequence[tuple[str, dict[str, Any]]], index_of: Sequence[int],
                     taken: set[str], clashes: Mapping[int, list[FieldError]], results: Results) -> list[Row]:
        """The rows to insert, each candidate's result filled in (a Conflict, a clash, or the new object)."""
        rows = []
        seen_ids: set[str] = set()
        for k, (id_, obj) in enumerate(prepared):
            i = index_of[k]
            if id_ in taken or id_ in seen_ids:
                results[i] = Conflict(f"{self.name}/{id_} already exists")
            elif k in clashes:
                results[i] = UniqueConflict(clashes[k], resource=self.name)
            else:
                data = encode(obj)
                rev = next_rev(None, data)
                rows.append((id_, rev, data))
                seen_ids.add(id_)
                results[i] = {"_id": id_, "_rev": rev, **obj}
        return rows

    def _checked_creates(self, prepared: PreparedCreates, taken: set[str]) -> tuple[Results, list[Row]]:
        """The rows of ``prepared`` once ids already taken and unique values already held are refused."""
        results: Results = list(prepared.results)
        clashes = self._unique_clashes(prepared.candidates) if self.unique else {}
        rows = self._insert_rows(prepared.candidates, prepared.index_of, taken, clashes, results)
        return results, rows

    def create(self, obj: Mapping[str, Any], id: str | None = None) -> dict[str, Any]:
        return _one(self.create_many([obj], [id]))

    # ------------------------------------------------------------------------------------ updates

    def _update_rows(self, changes: Sequence[tuple[str, Mapping[str, Any], str | None]],
                     current: Mapping[str, str]) -> tuple[list[dict[str, Any] | RepoError], list[Row]]:
        """Per change its result (NotFound, PreconditionFailed on a stale ``rev``, a validation or unique error,
        or the new object) and the rows to write, given the ``current`` revisions (read in the transaction)."""
        results: Results = [None] * len(changes)
        prepared: list[tuple[str, dict[str, Any]]] = []
        index_of: list[int] = []
        seen: set[str] = set()
        for i, (id_, raw, rev) in enumerate(changes):
            obj = {k: v for k, v in raw.items() if k not in ("_id", "_rev")}
            if id_ in seen:
                results[i] = Conflict(f"{self.name}/{id_} is changed twice in one batch")
                continue
            seen.add(id_)
            if id_ not in current:
                results[i] = NotFound(f"{self.name}/{id_} not found")
            elif stale := self._stale(id_, current[id_], rev):
                results[i] = stale
            elif errors := self._validate(obj):
                results[i] = ValidationError(errors, resource=self.name)
            else:
                prepared.append((id_, obj))
                index_of.append(i)
        clashes = self._unique_clashes(prepared) if self.unique else {}
        rows = []
        for k, (id_, obj) in enumerate(prepared):
            i = index_of[k]
            if k in clashes:
                results[i] = UniqueConflict(clashes[k], resource=self.name)
                continue
            data = encode(obj)
            rev = next_rev(current[id_], data)
            rows.append((id_, rev, data))
            results[i] = {"_id": id_, "_rev": rev, **obj}
        return [r for r in results if r is not None], rows

    def _stale(self, id: str, current: str, rev: str | None) -> PreconditionFailed | None:
        """The error when ``rev`` (If-Match; None or ``*`` match any) is not the ``current`` revision."""
        if matches_rev(current, rev):
            return None
        return PreconditionFailed(f"{self.name}/{id}: revision {rev} is not the current one ({current})")

    def update(self, id: str, obj: Mapping[str, Any], rev: str | None = None) -> dict[str, Any]:
        return _one(self.update_many([(id, obj, rev)]))


def _one(results: Sequence[dict[str, Any] | RepoError]) -> dict[str, Any]:
    result = results[0]
    if isinstance(result, RepoError):
        raise result
    return result
