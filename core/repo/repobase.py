"""What both repositories share (SQLite's core/repo/repository.py, PostgreSQL's core/repo/pgrepository.py): the
store per managed resource, and the repository interface (core/repo/api.py) answered by those stores and the
link table. The backends add how they open, their transaction, their query runner and their maintenance.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Generic, Self, TypeVar

from core.repo.api import LinkStore
from core.repo.errors import RepoError
from core.repo.linkstore import Link
from core.repo.managedstore import ManagedStoreBase, PreparedCreates
from core.repo.patch import apply_patch
from core.repo.query import QueryRequest
from core.repo.schema import ManagedSchema

S = TypeVar("S", bound=ManagedStoreBase)


class RepositoryBase(Generic[S]):
    """Managed objects (``managed/<resource>``, default ``user``) and links, over the backend's stores."""

    db: Any
    schema: ManagedSchema | None
    links: LinkStore  # the interface's (core/repo/api.py)

    def __init__(self) -> None:
        self._managed: dict[str, S] = {}
        self._managed_lock = threading.Lock()

    # ------------------------------------------------------------------------------------ what the backend gives

    def _new_store(self, resource: str, schema: ManagedSchema | None) -> S:
        raise NotImplementedError

    def _lock_for_patch(self, store: S, id: str) -> None:
        """In a patch's transaction, before the object is read (PostgreSQL locks its row)."""

    def _run_query(self, store: S, request: QueryRequest) -> dict[str, Any]:
        raise NotImplementedError

    # ------------------------------------------------------------------------------------ life

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[Any]:
        """Re-entrant: nested blocks join the outermost, which commits (or rolls back on an exception)."""
        return self.db.transaction()  # type: ignore[no-any-return]

    def managed(self, resource: str) -> S:
        """The store of ``managed/<resource>``; ``user`` is validated by the schema given to ``open``."""
        store = self._managed.get(resource)
        if store is None:
            with self._managed_lock:
                store = self._managed.get(resource)
                if store is None:
                    schema = self.schema if resource == (self.schema.name if self.schema else "user") else None
                    store = self._managed[resource] = self._new_store(resource, schema)
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
        """:meth:`create_many` in two steps: this one touches no storage (see ``ManagedStoreBase.prepare_creates``)."""
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
            self._lock_for_patch(store, id)
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
        return self._run_query(self.managed(resource), request)

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
        return self.links.unlink_many(link_type, first_ids=first_ids, second_ids=second_ids, qualifier=qualifier)

    def iter_links(self, link_type: str) -> Iterator[Link]:
        return self.links.iter_links(link_type)
