"""The Salesforce connector: the operations the sync engine needs, over one :class:`RestSession`.

Queries come as pages (2,000 rows by default) and the next page is already being fetched while the
caller works on this one. Writes in bulk go through ``composite/sobjects`` (200 records a call) with
per-record results in input order. A User is never deleted: "delete" deactivates (``IsActive=false``),
because Salesforce has no delete call for User.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from core.config.provisioner import ProvisionerConfig
from core.salesforce import bulk, soql
from core.salesforce.bulk import bulk_query, converters
from core.salesforce.client import RestSession
from core.salesforce.errors import ErrorDetail, RecordError, RecordNotFound, SalesforceError
from core.salesforce.plan import ReadPlan, plan_read
from core.salesforce.rest import TRANSIENT_CODES, strip_attributes
from core.salesforce.retry import RetryPolicy
from core.salesforce.testop import run_test

if TYPE_CHECKING:
    from core.config.loaded import ProjectConfig
    from core.config.project import Project

log = logging.getLogger("sfsync.salesforce")

COLLECTION_SIZE = 200
#: errors after which a query cursor is gone and the SOQL is run again from the start
_RESTART_CODES = frozenset({"INVALID_QUERY_LOCATOR", "INVALID_SESSION_ID"})
_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
_LOCATOR_URL = re.compile(r"^(?P<base>.*/query(?:All)?/[A-Za-z0-9]+)-(?P<offset>\d+)$")
#: REST query pages fetched ahead of the one the caller works on (bounded by maximumConnections too)
PREFETCH_PAGES = 6


def _following_urls(first: dict[str, Any]) -> list[str]:
    """The ``nextRecordsUrl`` s after the first page's, from its locator and the query's size (none when the
    locator is not the ``id-offset`` form or the batch does not match it)."""
    next_url = None if first.get("done", True) else first.get("nextRecordsUrl")
    m = _LOCATOR_URL.match(next_url or "")
    size = len(first.get("records") or ())
    if m is None or size == 0 or int(m.group("offset")) != size:
        return []
    total = int(first.get("totalSize") or 0)
    return [f"{m.group('base')}-{offset}" for offset in range(size, total, size)]


async def _cancel_all(tasks: Iterable[asyncio.Task[Any]]) -> None:
    tasks = list(tasks)
    for task in tasks:   # a failure nobody awaited any more is not "never retrieved"
        if task.done() and not task.cancelled():
            task.exception()
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(BaseException):  # a page abandoned with the query
            await task


@dataclass
class QueryPage:
    """One page of a query: records without ``attributes``, the query's total size, whether it is the last."""

    records: list[dict[str, Any]]
    total_size: int
    done: bool
    #: the query was run again from the start after its session ended; records seen before are left out
    restarted: bool = False


@dataclass
class RecordResult:
    """One record's outcome in a batch, in input order."""

    id: str | None
    success: bool
    errors: list[ErrorDetail] = field(default_factory=list)

    @property
    def message(self) -> str:
        return "; ".join(str(e) for e in self.errors)


@dataclass
class ChangeSet:
    """What changed since a time: changed records, which of them are now inactive, and the newest stamp."""

    updated: list[dict[str, Any]]
    deactivated: list[str]
    latest: datetime


#: describe types of compound fields (selectable through REST only; their components are fields too)
_COMPOUND_TYPES = frozenset({"address", "location"})


def declared_attributes(object_type: Any) -> list[str]:
    """The native names of the attributes a provisioner ``objectTypes`` entry declares, in file order; ICF's
    own special attributes (``__NAME__``, ``__UID__``) are not Salesforce fields and are left out."""
    if not isinstance(object_type, dict):
        return []
    props = object_type.get("properties")
    if not isinstance(props, dict):
        return []
    out: list[str] = []
    for key, spec in props.items():
        native = spec.get("nativeName", key) if isinstance(spec, dict) else key
        if isinstance(native, str) and native and not native.startswith("__") and native not in out:
            out.append(native)
    return out


def parse_sf_datetime(value: str) -> datetime:
    """``2013-05-20T20:49:32.000+0000`` (Salesforce's format) as an aware datetime."""
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(value.replace("Z", "+0000"), fmt)
        except ValueError:
            continue
    raise ValueError(f"not a Salesforce datetime: {value!r}")


class SalesforceConnector:
    """An org, as the sync engine and the UI use it. An async context manager (closes the pool)."""

    name = "salesforce"

    def __init__(self, config: ProvisionerConfig, *, ca_file: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, retry: RetryPolicy | None = None,
                 on_rotate: Callable[[str], None] | None = None, max_query_restarts: int = 5,
                 batch_concurrency: int | None = None) -> None:
        self.config = config
        self.session = RestSession(config.properties, ca_file=ca_file, transport=transport, retry=retry,
                                   on_rotate=on_rotate)
        self.max_query_restarts = max_query_restarts
        #: composite/sobjects calls in flight at once: the pool's size (maximumConnections), or less if asked
        connections = config.properties.maximumConnections
        self.batch_concurrency = max(1, min(batch_concurrency or connections, connections))
        #: query pages fetched ahead, and Bulk API result pages downloaded at once (each at most the pool)
        self.prefetch_pages = max(1, min(PREFETCH_PAGES, config.properties.maximumConnections - 1))
        self.result_downloads = max(1, min(bulk.PARALLEL_RESULTS, config.properties.maximumConnections - 1))
        #: what the last Bulk API read did (path of its results, the job's wait, pages)
        self.bulk_stats: dict[str, Any] = {}
        self.query_restarts = 0
        self._describes: dict[str, dict[str, Any]] = {}
        self._record_fields: dict[str, list[str]] = {}
        #: composite/sobjects calls in flight across every caller (a recon sends several pages at once)
        self._collection_gate: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    @classmethod
    def from_project(cls, project: Project, **kwargs: Any) -> SalesforceConnector:
        """The project's connector from a new look at its files (:meth:`from_config`)."""
        from core.config.loaded import ProjectConfig

        return cls.from_config(ProjectConfig.load(project), **kwargs)

    @classmethod
    def from_config(cls, loaded: ProjectConfig, **kwargs: Any) -> SalesforceConnector:
        """The connector of ``loaded`` (its provisioner file and ``sfsync.toml``'s CA file, read once per look);
        a rotated refresh token is written back into the provisioner file."""
        project = loaded.project
        config = loaded.provisioner
        ca_file = loaded.settings.ca_bundle()

        def save_rotated(refresh_token: str) -> None:
            fresh = ProvisionerConfig.load(project)  # a write: its own copy, saved; the next look sees it
            fresh.update_properties(refreshToken=refresh_token)
            fresh.save(project)
            log.info("saved the rotated refresh token to %s", project.provisioner_path.name)

        kwargs.setdefault("ca_file", ca_file)
        kwargs.setdefault("on_rotate", save_rotated)
        return cls(config, **kwargs)

    async def __aenter__(self) -> SalesforceConnector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.session.aclose()

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """``(used, limit)`` of the org's daily API requests, from the last response's header."""
        return self.session.api_usage

    # ---- schema, test ------------------------------------------------------------------------------
    async def describe(self, sobject: str = "User") -> dict[str, Any]:
        """``sobjects/<sobject>/describe``: the fields, their types and flags."""
        data: dict[str, Any] = await self.session.get_json(f"sobjects/{soql.ident(sobject)}/describe")
        return data

    async def described(self, sobject: str = "User") -> dict[str, Any]:
        """:meth:`describe`, asked once per connector."""
        if sobject not in self._describes:
            self._describes[sobject] = await self.describe(sobject)
        return self._describes[sobject]

    async def record_fields(self, sobject: str = "User") -> list[str]:
        """The attributes of a whole record, as IDM's connector returns it: every attribute the provisioner's
        ``objectTypes.<sobject>`` declares (every field of the object when it declares none) that this org's
        describe knows, ``Id`` first. Compound fields (``Address``: type address/location) are left out: the
        Bulk API cannot select them and their components (``Street``, ``City``, …) are fields of their own.
        A declared name the org does not have (another edition, field-level security) is logged once and
        reads as absent, as an empty attribute does."""
        cached = self._record_fields.get(sobject)
        if cached is not None:
            return cached
        describe = await self.described(sobject)
        known = {f["name"].lower(): f for f in describe.get("fields") or () if f.get("name")}
        declared = declared_attributes(self.config.objectTypes.get(sobject)) or [f for f in known]
        out = ["Id"]
        missing = []
        for name in declared:
            field_ = known.get(name.lower())
            if field_ is None:
                missing.append(name)
            elif field_.get("type") not in _COMPOUND_TYPES and field_["name"] not in out:
                out.append(field_["name"])
        if missing:
            log.warning("%s: %d attribute(s) declared in objectTypes.%s are not fields of this org and read as "
                        "absent: %s", sobject, len(missing), sobject, ", ".join(missing[:10])
                        + (", …" if len(missing) > 10 else ""))
        self._record_fields[sobject] = out
        return out

    async def test(self) -> dict[str, Any]:
        """IDM's ``system?_action=test`` object for this connector."""
        return await run_test(self)

    async def limits(self) -> dict[str, Any]:
        data: dict[str, Any] = await self.session.get_json("limits")
        return data

    # ---- queries -----------------------------------------------------------------------------------
    async def query_pages(self, query: str, *, all_rows: bool = False, batch_size: int = 2000,
                          bulk_from: int = 0) -> AsyncIterator[QueryPage]:
        """The query's pages; the following ones are fetched while the caller processes this one.

        ``bulk_from``: the caller may drop the read for a Bulk API job once the first page shows this many
        records or more (0: never), so only then is the first page followed one page deep until it decides.

        When the session ends mid-query (a new access token, e.g. after Refresh Token Rotation) the cursor
        dies with it: the SOQL is run again from the start and records already yielded are skipped by Id
        (callers should still treat ``Id`` as the key).
        """
        seen: set[str] = set()
        restarts = 0
        while True:
            pages_seen = 0
            try:
                async with contextlib.aclosing(self._raw_pages(query, all_rows, batch_size, bulk_from)) as pages:
                    async for data in pages:
                        pages_seen += 1
                        records = data["records"]
                        if restarts:
                            records = [r for r in records if r.get("Id") not in seen]
                        seen.update(r["Id"] for r in records if isinstance(r.get("Id"), str))
                        yield QueryPage(records, int(data.get("totalSize", len(records))),
                                        bool(data.get("done", True)), restarted=restarts > 0)
                return
            except SalesforceError as exc:
                if pages_seen == 0 or exc.error_code not in _RESTART_CODES or restarts >= self.max_query_restarts:
                    raise
                restarts += 1
                self.query_restarts += 1
                log.info("query cursor lost (%s); running the query again (%d)", exc.error_code, restarts)

    async def _raw_pages(self, query: str, all_rows: bool, batch_size: int,
                         bulk_from: int = 0) -> AsyncGenerator[dict[str, Any], None]:
        """The query's pages (records already without ``attributes``), in order, fetched ahead.

        A query locator is the cursor's id and an offset (``…/query/01gXX-2000``); from the first page's
        ``nextRecordsUrl`` and the query's size the following pages' URLs are known, so up to
        :attr:`prefetch_pages` of them are fetched at once while the caller works. Each page's own
        ``nextRecordsUrl`` is checked against the one expected: an org that pages differently (a smaller batch
        for wide records) is followed page by page from where it differs. After a first page from which the
        caller may switch to a Bulk API job (``bulk_from``), one page only is fetched ahead until it asks
        for the next."""
        headers = {"Sforce-Query-Options": f"batchSize={max(200, min(2000, batch_size))}"}
        ahead: list[tuple[str, asyncio.Task[dict[str, Any]]]] = []

        async def fetch(url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
            data: dict[str, Any] = await self.session.get_json(url, params=params, headers=headers)
            data["records"] = [strip_attributes(r) for r in data.get("records") or ()]
            return data

        try:
            data = first = await fetch("queryAll" if all_rows else "query", {"q": query})
            planned = _following_urls(data)
            may_switch = 0 < bulk_from <= int(first.get("totalSize") or 0)
            launched = 0                          # planned URLs fetched (or being fetched) so far
            while True:
                next_url = None if data.get("done", True) else data.get("nextRecordsUrl")
                if next_url and ahead and ahead[0][0] != next_url:
                    await _cancel_all(t for _, t in ahead)     # paging differs from the plan: follow it
                    ahead, planned = [], []
                if next_url and not ahead:
                    ahead.append((next_url, asyncio.ensure_future(fetch(next_url))))
                    if launched < len(planned) and planned[launched] == next_url:
                        launched += 1
                # one page ahead of a first whose size may send the caller to a Bulk API job, else deep
                depth = 1 if data is first and may_switch else self.prefetch_pages
                while launched < len(planned) and len(ahead) < depth:
                    url = planned[launched]
                    ahead.append((url, asyncio.ensure_future(fetch(url))))
                    launched += 1
                yield data
                if not next_url:
                    return
                _, task = ahead.pop(0)
                data = await task
        finally:
            await _cancel_all(t for _, t in ahead)

    async def bulk_select_pages(self, sobject: str, fields: Sequence[str], where: str | None = None,
                                order_by: str | None = None, *, all_rows: bool = False,
                                page_size: int = 2000) -> AsyncIterator[QueryPage]:
        """:meth:`select_pages` through a Bulk API 2.0 query job (see :mod:`core.salesforce.bulk`): a few
        calls for any number of records, the same records and pages. Costs a describe the first time (made
        while the job runs)."""
        query = soql.select(sobject, fields, where, order_by)
        self.bulk_stats = {}

        async def convert() -> dict[str, Any]:
            return converters(await self.described(sobject))

        describing = asyncio.ensure_future(convert())
        try:
            async with contextlib.aclosing(bulk_query(self.session, query, all_rows=all_rows, page_size=page_size,
                                                      convert=describing, parallel=self.result_downloads,
                                                      stats=self.bulk_stats)) as pages:
                async for records, total, last in pages:
                    yield QueryPage(records, total, last)
        finally:
            await _cancel_all([describing])

    def plan_read(self, first: QueryPage, threshold: int, sobject: str = "User", mode: str = "auto") -> ReadPlan:
        """The way the rest of a full read goes, from its first REST page (its size) and the latency measured
        so far (see :mod:`core.salesforce.plan`)."""
        usage = self.session.api_usage
        return plan_read(first.total_size, self.session.latency or 0.0, threshold=threshold, mode=mode,
                         batch=max(1, len(first.records)), prefetch=self.prefetch_pages,
                         downloads=self.result_downloads, api_left=None if usage is None else usage[1] - usage[0],
                         described=sobject in self._describes)

    async def explain_read(self, sobject: str, threshold: int, mode: str = "auto") -> ReadPlan:
        """:meth:`plan_read` for a read not started: a ``SELECT COUNT()`` tells the size (one call, timed)."""
        data = await self.session.get_json("query", params={"q": f"SELECT COUNT() FROM {soql.ident(sobject)}"})
        usage = self.session.api_usage
        return plan_read(int(data.get("totalSize") or 0), self.session.latency or 0.0, threshold=threshold,
                         mode=mode, prefetch=self.prefetch_pages, downloads=self.result_downloads,
                         api_left=None if usage is None else usage[1] - usage[0], first_page_read=False)

    def select_pages(self, sobject: str, fields: Sequence[str], where: str | None = None,
                     order_by: str | None = None, *, all_rows: bool = False, batch_size: int = 2000,
                     bulk_from: int = 0) -> AsyncIterator[QueryPage]:
        """``SELECT fields FROM sobject`` (escaped, checked names) as pages; ``where`` from :mod:`soql`;
        ``bulk_from`` as in :meth:`query_pages`."""
        return self.query_pages(soql.select(sobject, fields, where, order_by), all_rows=all_rows,
                                batch_size=batch_size, bulk_from=bulk_from)

    # ---- records -----------------------------------------------------------------------------------
    async def get(self, sobject: str, id: str, fields: Sequence[str] | None = None) -> dict[str, Any] | None:
        """One record by Id, or ``None`` when there is none."""
        if not _ID.match(id or ""):
            return None
        params = {"fields": ",".join(soql.ident(f) for f in fields)} if fields else None
        try:
            data = await self.session.get_json(f"sobjects/{soql.ident(sobject)}/{id}", params=params)
        except RecordNotFound:
            return None
        return strip_attributes(data)

    async def get_many(self, sobject: str, ids: Iterable[str], fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Records by Id in a few queries (200 Ids each); missing Ids are absent from the result."""
        wanted = [i for i in dict.fromkeys(ids) if _ID.match(i or "")]
        names = ["Id", *[f for f in fields if f != "Id"]]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), COLLECTION_SIZE):
            chunk = wanted[start:start + COLLECTION_SIZE]
            async for page in self.select_pages(sobject, names, soql.in_("Id", chunk)):
                for record in page.records:
                    found[record["Id"]] = record
        return found

    async def create(self, sobject: str, record: dict[str, Any]) -> str:
        """Create one record; its new Id. A refusal is a :class:`RecordError`."""
        response = await self.session.request("POST", f"sobjects/{soql.ident(sobject)}", json=record, record=True)
        return str(response.json()["id"])

    async def update(self, sobject: str, id: str, changes: dict[str, Any]) -> None:
        """PATCH only ``changes`` (Salesforce leaves the other fields alone)."""
        if not changes:
            return
        if not _ID.match(id or ""):
            raise RecordError(f"MALFORMED_ID: not a Salesforce Id: {id!r}", status=400, error_code="MALFORMED_ID")
        await self.session.request("PATCH", f"sobjects/{soql.ident(sobject)}/{id}", json=changes, record=True)

    async def deactivate_user(self, id: str) -> None:
        """Our DELETE of a User: ``IsActive=false`` (Salesforce cannot delete Users; IDM's sample fails here)."""
        await self.update("User", id, {"IsActive": False})

    async def create_many(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """Create in calls of 200 through ``composite/sobjects``; one result per record, in input order."""
        body = [{"attributes": {"type": soql.ident(sobject)}, **r} for r in records]
        return await self._collection("POST", body)

    async def update_many(self, sobject: str, updates: Sequence[tuple[str, dict[str, Any]]]) -> list[RecordResult]:
        """PATCH ``(id, changes)`` pairs in calls of 200; one result per pair, in input order."""
        body = [{"attributes": {"type": soql.ident(sobject)}, "id": i, **changes} for i, changes in updates]
        return await self._collection("PATCH", body)

    async def _collection(self, method: str, body: list[dict[str, Any]]) -> list[RecordResult]:
        """``body`` in calls of 200, at most :attr:`batch_concurrency` in flight for the whole connector (the
        calls of several batches share the bound, first come first sent); results in input order."""
        results: list[RecordResult | None] = [None] * len(body)
        loop = asyncio.get_running_loop()
        if self._collection_gate is None or self._collection_gate[0] is not loop:  # one per event loop
            self._collection_gate = (loop, asyncio.Semaphore(self.batch_concurrency))
        gate = self._collection_gate[1]

        async def run(start: int) -> None:
            async with gate:
                await self._collection_chunk(method, body, list(range(start, min(start + COLLECTION_SIZE, len(body)))),
                                             results)

        await asyncio.gather(*(run(s) for s in range(0, len(body), COLLECTION_SIZE)))
        return [r if r is not None else RecordResult(None, False, [ErrorDetail("UNKNOWN", "no result")])
                for r in results]

    async def _collection_chunk(self, method: str, body: list[dict[str, Any]], indexes: list[int],
                                results: list[RecordResult | None]) -> None:
        """One call; records refused for a transient reason (a row lock) are sent again, bounded."""
        attempt = 0
        while indexes:
            attempt += 1
            response = await self.session.request(method, "composite/sobjects",
                                                  json={"allOrNone": False, "records": [body[i] for i in indexes]})
            items = response.json()
            retry: list[int] = []
            for index, item in zip(indexes, items, strict=False):
                errors = [ErrorDetail.from_json(e) for e in item.get("errors") or []]
                result = RecordResult(item.get("id") or body[index].get("id"), bool(item.get("success")), errors)
                results[index] = result
                if not result.success and errors and all(e.error_code in TRANSIENT_CODES for e in errors):
                    retry.append(index)
            if not retry or attempt >= self.session.retry.attempts:
                return
            indexes = retry
            await self.session.retry.sleep(self.session.retry.backoff(attempt))

    # ---- incremental -------------------------------------------------------------------------------
    async def changed_since(self, sobject: str, since: datetime, fields: Sequence[str]) -> ChangeSet:
        """Records whose ``SystemModstamp`` is at or after ``since`` (a second's overlap: dedupe by Id)."""
        stamp = "SystemModstamp"
        names = ["Id", *[f for f in fields if f not in ("Id", stamp, "IsActive")], stamp]
        if sobject == "User":
            names.append("IsActive")
        since_utc = (since if since.tzinfo else since.replace(tzinfo=UTC)).astimezone(UTC)
        since_utc = since_utc.replace(microsecond=0)
        where = f"{stamp} >= {soql.datetime_literal(since_utc)}"
        updated: dict[str, dict[str, Any]] = {}
        latest = since_utc
        async for page in self.select_pages(sobject, names, where, f"{stamp} ASC"):
            for record in page.records:
                updated[record["Id"]] = record
                if record.get(stamp):
                    latest = max(latest, parse_sf_datetime(record[stamp]))
        deactivated = [i for i, r in updated.items() if r.get("IsActive") is False]
        return ChangeSet(list(updated.values()), deactivated, latest)
