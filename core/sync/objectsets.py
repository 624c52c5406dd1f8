"""The two sides of a mapping behind one interface, so the engine never speaks Salesforce or SQL.

The engine runs in one worker thread per run and calls these synchronously, a page at a time: reads in
bulk (``read_many``, ``find_by``), writes in bulk (``create_many``…). :class:`ManagedObjects` works on the
repository in that thread; its writes join the page's transaction, which the engine opens. Remote sets
(:class:`SalesforceObjects`) run their coroutines on the event loop that owns the connector and block the
worker until they finish; meanwhile the loop keeps fetching the next source page.

A second connector is a new :class:`ObjectSet` subclass; the engine does not change.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

PAGE_SIZE = 2000
#: an incremental run re-reads this much before the previous run's start (clock steps, in-flight writes)
WATERMARK_MARGIN = timedelta(seconds=60)


@dataclass
class WriteResult:
    """The outcome of one record's write, in input order; ``error`` is the reason when not ``ok``."""

    id: str | None
    ok: bool
    error: str = ""
    object: dict[str, Any] | None = None


@dataclass
class StagedCreates:
    """Creates made ready ahead of their transaction (see :meth:`ObjectSet.prepare_creates`)."""

    #: per object, the outcome when nothing clashes at write time (None: not known before writing)
    expected: list[WriteResult] | None
    #: makes the writes (in the caller's transaction); the actual outcomes, or None when they are ``expected``
    apply: Callable[[], list[WriteResult] | None]


@dataclass
class Changes:
    """What changed in a set since a point in time (incremental reconciliation)."""

    pages: Iterator[list[dict[str, Any]]]
    deactivated: list[str] = field(default_factory=list)
    watermark: str | None = None


class ObjectSet:
    """One side of a mapping: ``managed/user`` or ``system/salesforce/User``."""

    name: str = ""
    #: writes happen in the repository, inside the page's transaction
    local: bool = False
    #: reading the whole set once is cheaper than reading the records a page needs (remote sets)
    preload: bool = False

    def count(self) -> int | None:
        raise NotImplementedError

    def pages(self, fields: Sequence[str] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every object, a page at a time (each with ``_id``)."""
        raise NotImplementedError

    def ids(self) -> Iterator[list[str]]:
        """Every id, a page at a time (the target phase holds only ids)."""
        for page in self.pages(fields=[]):
            yield [o["_id"] for o in page]

    def read_many(self, ids: Sequence[str], fields: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    def find_by(self, field_name: str, values: Sequence[Any],
                fields: Sequence[str] | None = None) -> dict[Any, list[dict[str, Any]]]:
        """Objects whose ``field_name`` equals one of ``values`` (bulk correlation)."""
        raise NotImplementedError

    def create_many(self, objects: Sequence[dict[str, Any]]) -> list[WriteResult]:
        raise NotImplementedError

    def prepare_creates(self, objects: Sequence[dict[str, Any]]) -> StagedCreates:
        """:meth:`create_many` in two steps: what needs no storage now, the writes when ``apply`` is called."""
        return StagedCreates(None, lambda: self.create_many(objects))

    def update_many(self, items: Sequence[tuple[str, dict[str, Any], dict[str, Any], str | None]]) -> list[WriteResult]:
        """``(id, new object, changed fields, rev)`` per record; a local set replaces, a remote one patches."""
        raise NotImplementedError

    def delete_many(self, ids: Sequence[str]) -> list[WriteResult]:
        raise NotImplementedError

    def changes_since(self, since: str, fields: Sequence[str] | None) -> Changes | None:
        """None: this set cannot list its changes (a full reconciliation is needed)."""
        return None

    def watermark(self) -> str | None:
        """Where an incremental run that follows a full run now should start."""
        return None

    def start_watermark(self) -> Callable[[], str | None]:
        """Begin finding the watermark; the returned function gives it (the remote look-up runs meanwhile)."""
        return self.watermark


def _created(results: Sequence[Any]) -> list[WriteResult]:
    return [WriteResult(None, False, str(r)) if isinstance(r, Exception) else WriteResult(r["_id"], True, object=r)
            for r in results]


# --------------------------------------------------------------------------------------------------------------
class ManagedObjects(ObjectSet):
    """``managed/<resource>`` in the repository."""

    local = True

    def __init__(self, repo: Any, resource: str = "user", hooks: Any = None) -> None:
        self.repo = repo
        self.resource = resource
        self.name = f"managed/{resource}"
        #: ``managed.json``'s hooks (:class:`~core.sync.managed_hooks.ManagedHooks`), run by the engine around
        #: its writes (:meth:`SyncOperation.plan` and :meth:`TargetWrites.write_targets`); None: none
        self.hooks = hooks if hooks else None

    def count(self) -> int | None:
        return int(self.repo.count(resource=self.resource))

    def ids(self) -> Iterator[list[str]]:
        page: list[str] = []
        for object_id in self.repo.iter_ids(resource=self.resource):
            page.append(object_id)
            if len(page) >= PAGE_SIZE:
                yield page
                page = []
        if page:
            yield page

    def pages(self, fields: Sequence[str] | None = None) -> Iterator[list[dict[str, Any]]]:
        for ids in self.ids():
            found = self.repo.read_many(ids, resource=self.resource)
            yield [found[i] for i in ids if i in found]

    def read_many(self, ids: Sequence[str], fields: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        return dict(self.repo.read_many(list(ids), resource=self.resource)) if ids else {}

    def find_by(self, field_name: str, values: Sequence[Any],
                fields: Sequence[str] | None = None) -> dict[Any, list[dict[str, Any]]]:
        return dict(self.repo.find_by(field_name, list(values), resource=self.resource)) if values else {}

    def create_many(self, objects: Sequence[dict[str, Any]]) -> list[WriteResult]:
        if not objects:
            return []
        return _created(self.repo.create_many(list(objects), resource=self.resource))

    def prepare_creates(self, objects: Sequence[dict[str, Any]]) -> StagedCreates:
        """Validation, ids and JSON done now (the engine's thread); only the INSERT is left for ``apply``."""
        prepared = self.repo.prepare_creates(list(objects), resource=self.resource)

        def apply() -> list[WriteResult] | None:
            results = self.repo.insert_prepared(prepared, resource=self.resource)
            return None if results is prepared.expected else _created(results)

        return StagedCreates(_created(prepared.expected), apply)

    def update_many(self, items: Sequence[tuple[str, dict[str, Any], dict[str, Any], str | None]]) -> list[WriteResult]:
        if not items:
            return []
        results = self.repo.update_many([(i, new, rev) for i, new, _changes, rev in items], resource=self.resource)
        return [WriteResult(items[n][0], False, str(r)) if isinstance(r, Exception)
                else WriteResult(items[n][0], True, object=r) for n, r in enumerate(results)]

    def delete_many(self, ids: Sequence[str]) -> list[WriteResult]:
        # IDM's forgiving delete: an object already gone is not a failure
        self.repo.delete_many(list(ids), resource=self.resource)
        return [WriteResult(i, True) for i in ids]

    def query_filter(self, tree: Any) -> list[dict[str, Any]]:
        """Correlation by a filter that is not plain equalities: one repository query per record."""
        from core.repo.query import QueryRequest
        from core.sync.filters import render

        result = self.repo.query(QueryRequest(query_filter=render(tree)), resource=self.resource)
        return list(result.get("result", []))


# --------------------------------------------------------------------------------------------------------------
class SalesforceObjects(ObjectSet):
    """``system/salesforce/<sobject>`` through the connector, whose coroutines run on ``loop``.

    DELETE deactivates (``IsActive = false``): Salesforce users cannot be deleted.
    """

    preload = True

    def __init__(self, connector: Any, loop: asyncio.AbstractEventLoop, sobject: str = "User",
                 system: str = "salesforce", *, bulk_threshold: int = 0, bulk_mode: str = "auto") -> None:
        self.connector = connector
        self.loop = loop
        self.sobject = sobject
        self.name = f"system/{system}/{sobject}"
        self.bulk_threshold = bulk_threshold  # records from which pages() reads through a Bulk API 2.0 job
        self.bulk_mode = bulk_mode            # sfsync.toml's bulk_query (core.salesforce.plan)
        self._total: int | None = None
        self._whole: list[str] | None = None

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def _iterate(self, agen: Any) -> Generator[Any, None, None]:
        """Pull an async iterator from this thread; the loop prefetches while we process."""
        try:
            while True:
                try:
                    item = self._run(agen.__anext__())
                except StopAsyncIteration:
                    return
                yield item
        finally:
            try:
                self._run(agen.aclose())
            except Exception:  # noqa: BLE001 - closing an exhausted/failed generator is best effort
                pass

    def _fields(self, fields: Sequence[str] | None) -> list[str]:
        """The SOQL field list for ``fields``: None is the whole record (every declared attribute, see
        :meth:`SalesforceConnector.record_fields`), a list is what a proven narrowing needs
        (:mod:`core.sync.observed`), ``[]`` the Id alone."""
        if fields is None:
            if self._whole is None:
                self._whole = list(self._run(self.connector.record_fields(self.sobject)))
            return self._whole
        wanted = ["Id"]
        for f in fields:
            if f and f not in wanted and not f.startswith("_"):
                wanted.append(f)
        return wanted

    @staticmethod
    def _record(rec: dict[str, Any]) -> dict[str, Any]:
        """IDM's view of a Salesforce record: ``_id`` is the Id (the dict is fresh from the page: no copy)."""
        rec.pop("attributes", None)
        rec["_id"] = rec.get("Id")
        return rec

    def count(self) -> int | None:
        return self._total

    def pages(self, fields: Sequence[str] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every record, ordered by Id. The first REST page tells the query's size and the org's latency; the
        connector's plan (:mod:`core.salesforce.plan`: from ``bulk_threshold`` records, when quicker) may drop
        it (and the one already fetched after it) for a Bulk API 2.0 job: the same records in the same pages,
        in a handful of calls instead of one per 2,000."""
        names = self._fields(fields)
        rest = self._iterate(self.connector.select_pages(self.sobject, names, order_by="Id",
                                                         bulk_from=max(self.bulk_threshold, 0)))
        first = next(rest, None)
        pages: Iterator[Any]
        plan = self.connector.plan_read(first, self.bulk_threshold, self.sobject, self.bulk_mode) \
            if first and not first.done else None
        if plan is not None:
            log.info("%s: reading %s: %s", self.name, "through a Bulk API 2.0 query job" if plan.path == "bulk"
                     else "REST query pages", plan.why)
        if plan is not None and plan.path == "bulk":
            rest.close()
            pages = self._iterate(self.connector.bulk_select_pages(self.sobject, names, order_by="Id"))
        else:
            pages = itertools.chain([first] if first is not None else [], rest)
        for page in pages:
            self._total = page.total_size
            yield [self._record(r) for r in page.records]

    def read_many(self, ids: Sequence[str], fields: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        found = self._run(self.connector.get_many(self.sobject, list(ids), self._fields(fields)))
        return {k: self._record(v) for k, v in found.items()}

    def find_by(self, field_name: str, values: Sequence[Any],
                fields: Sequence[str] | None = None) -> dict[Any, list[dict[str, Any]]]:
        from core.salesforce import soql  # the connector's escaping: nothing else builds SOQL from values

        out: dict[Any, list[dict[str, Any]]] = {}
        wanted = self._fields(None if fields is None else [*fields, field_name])
        if field_name not in wanted:
            wanted = [*wanted, field_name]
        distinct = list(dict.fromkeys(v for v in values if v is not None))
        for start in range(0, len(distinct), 200):
            chunk = distinct[start:start + 200]
            where = f"{field_name} IN ({', '.join(soql.quote(v) for v in chunk)})"
            for page in self._iterate(self.connector.select_pages(self.sobject, wanted, where=where)):
                for rec in page.records:
                    rec = self._record(rec)
                    out.setdefault(rec.get(field_name), []).append(rec)
        return out

    def create_many(self, objects: Sequence[dict[str, Any]]) -> list[WriteResult]:
        if not objects:
            return []
        records = [{k: v for k, v in o.items() if not k.startswith("_")} for o in objects]
        results = self._run(self.connector.create_many(self.sobject, records))
        return [_result(r) for r in results]

    def update_many(self, items: Sequence[tuple[str, dict[str, Any], dict[str, Any], str | None]]) -> list[WriteResult]:
        if not items:
            return []
        pairs = [(object_id, {k: v for k, v in changes.items() if not k.startswith("_")})
                 for object_id, _new, changes, _rev in items]
        results = self._run(self.connector.update_many(self.sobject, pairs))
        return [_result(r, fallback_id=pairs[i][0]) for i, r in enumerate(results)]

    def delete_many(self, ids: Sequence[str]) -> list[WriteResult]:
        if not ids:
            return []
        results = self._run(self.connector.update_many(self.sobject, [(i, {"IsActive": False}) for i in ids]))
        return [_result(r, fallback_id=ids[n]) for n, r in enumerate(results)]

    def watermark(self) -> str | None:
        return self.start_watermark()()

    def start_watermark(self) -> Callable[[], str | None]:
        """The newest ``SystemModstamp`` now, less a margin (one call, run while the first pages arrive):
        every change made after the run started stamps a later time, so the next incremental run, which
        starts here, misses nothing changed during this run (the overlap is reconciled again, harmlessly)."""
        from core.salesforce.connector import parse_sf_datetime

        soql = f"SELECT SystemModstamp FROM {self.sobject} ORDER BY SystemModstamp DESC LIMIT 1"

        async def newest() -> str | None:
            async for page in self.connector.query_pages(soql):
                for rec in page.records:
                    if rec.get("SystemModstamp"):
                        stamp = parse_sf_datetime(rec["SystemModstamp"]) - WATERMARK_MARGIN
                        return stamp.isoformat()
                break
            return None

        future = asyncio.run_coroutine_threadsafe(newest(), self.loop)
        return future.result

    # ---- liveSync (core/sync/livesync.py) ----------------------------------------------------------------
    def _stamped(self, fields: Sequence[str] | None) -> list[str]:
        names = list(self._fields(fields))
        for extra in ("SystemModstamp", *(("IsActive",) if self.sobject == "User" else ())):
            if extra not in names:
                names.append(extra)
        return names

    def stamped_pages(self, since: datetime, fields: Sequence[str] | None) -> Iterator[list[dict[str, Any]]]:
        """Records whose ``SystemModstamp`` is at or after ``since`` (taken to the whole second below), oldest
        first and then by Id, in pages of 2,000 (the next fetched while this one is processed): ONE query, so
        a poll that finds nothing costs one API call. ``SystemModstamp`` (and a User's ``IsActive``) is read
        besides ``fields``."""
        from core.salesforce import soql

        start = since.astimezone(UTC).replace(microsecond=0)
        where = f"SystemModstamp >= {soql.datetime_literal(start)}"
        pages = self.connector.select_pages(self.sobject, self._stamped(fields), where, "SystemModstamp ASC, Id ASC")
        for page in self._iterate(pages):
            yield [self._record(r) for r in page.records]

    def read_stamped(self, ids: Sequence[str], fields: Sequence[str] | None) -> dict[str, dict[str, Any]]:
        """:meth:`read_many` with what :meth:`stamped_pages` reads besides ``fields``: the same record reads the
        same either way."""
        if not ids:
            return {}
        found = self._run(self.connector.get_many(self.sobject, list(ids), self._stamped(fields)))
        return {k: self._record(v) for k, v in found.items()}

    def newest(self, fields: Sequence[str] | None, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
        """The ``limit`` most recently changed records, newest first (one query)."""
        from core.salesforce import soql as soql_

        text = soql_.select(self.sobject, self._stamped(fields), None, "SystemModstamp DESC, Id DESC", limit)

        async def first() -> list[dict[str, Any]]:
            async for page in self.connector.query_pages(text):
                return list(page.records)
            return []

        return [self._record(r) for r in self._run(first())]

    def changes_since(self, since: str, fields: Sequence[str] | None) -> Changes | None:
        start = datetime.fromisoformat(since.replace("Z", "+00:00"))
        changeset = self._run(self.connector.changed_since(self.sobject, start, self._fields(fields)))
        records = [self._record(r) for r in changeset.updated]
        pages = iter([records[i:i + PAGE_SIZE] for i in range(0, len(records), PAGE_SIZE)])
        latest = changeset.latest
        return Changes(pages=pages, deactivated=list(changeset.deactivated),
                       watermark=latest.isoformat() if isinstance(latest, datetime) else latest)


def _result(r: Any, fallback_id: str | None = None) -> WriteResult:
    errors = getattr(r, "errors", None) or []
    message = "; ".join(_error_text(e) for e in errors) if errors else ""
    return WriteResult(getattr(r, "id", None) or fallback_id, bool(getattr(r, "success", False)), message)


def _error_text(e: Any) -> str:
    if isinstance(e, dict):
        code = e.get("statusCode") or e.get("errorCode") or ""
        return f"{code}: {e.get('message', '')}".strip(": ")
    return str(e)


def chunked(values: Iterable[Any], size: int) -> Iterator[list[Any]]:
    page: list[Any] = []
    for v in values:
        page.append(v)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


class Preloaded(ObjectSet):
    """A remote set read once for the run (the attributes the mapping can observe; None: whole records):
    reads and correlation become local look-ups, writes go through and keep the copy current."""

    def __init__(self, inner: ObjectSet, fields: list[str] | None) -> None:
        self.inner = inner
        self.name = inner.name
        self.local = inner.local
        self.objects: dict[str, dict[str, Any]] = {}
        self._index: dict[str, dict[Any, list[dict[str, Any]]]] = {}
        for page in inner.pages(fields):
            for obj in page:
                self.objects[obj["_id"]] = obj

    def count(self) -> int | None:
        return len(self.objects)

    def ids(self) -> Iterator[list[str]]:
        yield from chunked(list(self.objects), 2000)

    def read_many(self, ids: Any, fields: Any = None) -> dict[str, dict[str, Any]]:
        return {i: self.objects[i] for i in ids if i in self.objects}

    def find_by(self, field_name: str, values: Any, fields: Any = None) -> dict[Any, list[dict[str, Any]]]:
        index = self._index.get(field_name)
        if index is None:
            index = {}
            for obj in list(self.objects.values()):  # a copy: pages being sent add their creates meanwhile
                v = obj.get(field_name)
                if v is not None:
                    index.setdefault(v.lower() if isinstance(v, str) else v, []).append(obj)
            self._index[field_name] = index
        out: dict[Any, list[dict[str, Any]]] = {}
        for v in values:
            hits = index.get(v.lower() if isinstance(v, str) else v)
            if hits:
                out[v] = hits
        return out

    def create_many(self, objects: Any) -> Any:
        results = self.inner.create_many(objects)
        for obj, res in zip(objects, results, strict=True):
            if res.ok and res.id:
                self.objects[res.id] = {**obj, "_id": res.id}
        self._index.clear()
        return results

    def update_many(self, items: Any) -> Any:
        results = self.inner.update_many(items)
        for (object_id, new, _c, _r), res in zip(items, results, strict=True):
            if res.ok:
                self.objects[object_id] = {**new, "_id": object_id}
        self._index.clear()
        return results

    def delete_many(self, ids: Any) -> Any:
        return self.inner.delete_many(ids)
