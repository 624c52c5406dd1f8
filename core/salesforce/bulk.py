"""Bulk API 2.0 queries: one job, its results downloaded as CSV in large chunks, handed out as query pages.

A REST query costs one API call per 2,000 records; a Bulk API 2.0 job costs a create, a poll or two, a
``resultPages`` listing per five result pages and one call per page, several downloading at once: 100,000
users in about 17 calls instead of 51. The records come
back shaped as the REST query gives them (``Id``, typed values, ``None`` for empty, relationship fields as
nested objects), so the engine cannot tell the two paths apart; the values are typed from the sObject's
describe (CSV has only text).

Salesforce keeps no empty text: an empty CSV field is a null, as in the REST answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import inspect
import io
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

from core.salesforce.errors import RecordNotFound, SalesforceError

#: records per results download (maxRecords): 100,000 users in ~10 calls, one chunk parsed while the next downloads
CHUNK_RECORDS = 10_000
#: polling a job that is not complete yet: first wait and the longest wait between polls (seconds)
POLL_FIRST, POLL_MAX = 0.05, 0.5
#: a job not complete after this long is given up (seconds)
POLL_TIMEOUT = 3600.0

#: Bulk API 2.0 query jobs exist from this API version
MIN_VERSION = 47.0
#: parallel results (``resultPages``) exist from this one; a connector configured older makes its jobs in it
PARALLEL_MIN_VERSION = 58.0
#: result pages downloading at once (the connector bounds it by maximumConnections)
PARALLEL_RESULTS = 4
#: times an expired result URL is replaced by a fresh one before the read fails
EXPIRED_RETRIES = 3

_NUMBER_TYPES = {"int": int, "double": float, "currency": float, "percent": float, "long": int}


def converters(describe: Mapping[str, Any]) -> dict[str, Callable[[str], Any]]:
    """Per field name, how its CSV text becomes the value a REST query would give (text stays text)."""
    out: dict[str, Callable[[str], Any]] = {}
    for f in describe.get("fields") or ():
        kind = f.get("type")
        if kind == "boolean":
            out[f["name"]] = _boolean
        elif kind in _NUMBER_TYPES:
            out[f["name"]] = _NUMBER_TYPES[kind]
    return out


def _boolean(text: str) -> bool:
    return text.lower() == "true"


async def bulk_query(session: Any, query: str, *, all_rows: bool = False,
                     convert: Mapping[str, Callable[[str], Any]] | Awaitable[Mapping[str, Callable[[str], Any]]]
                     | None = None,
                     chunk_records: int = CHUNK_RECORDS, page_size: int = 2000, parallel: int = PARALLEL_RESULTS,
                     stats: dict[str, Any] | None = None,
                     ) -> AsyncGenerator[tuple[list[dict[str, Any]], int, bool], None]:
    """``(records, total, last)`` pages of at most ``page_size`` records, in the job's order.

    From API 58.0 the results come through ``resultPages``: up to ``parallel`` result URLs download at once,
    each decoded as it arrives, and are handed out in order (the listing of the next five URLs is fetched
    ahead too). An org that has no ``resultPages`` (older than 58.0) is read by following ``Sforce-Locator``,
    the next chunk downloading while this one is handed out. ``convert`` may be an awaitable (a describe
    running while the job does). ``stats`` (when given) receives the path used, the job's wait and the result
    pages."""
    version = max(float(session.props.api_version), PARALLEL_MIN_VERSION)
    jobs = f"/services/data/v{version:.1f}/jobs/query"
    created = await session.request("POST", jobs, json={
        "operation": "queryAll" if all_rows else "query", "query": query, "contentType": "CSV"})
    job = f"{jobs}/{created.json()['id']}"
    started = time.monotonic()
    total = await _wait_complete(session, job)
    if inspect.isawaitable(convert):
        convert = await convert
    convert = convert or {}
    if stats is not None:
        stats.update(job_seconds=time.monotonic() - started, total=total)
    try:
        listing = await session.get_json(f"{job}/resultPages")
    except RecordNotFound:  # no parallel results in this org: follow the locators one after the other
        listing = None
    if listing is None:
        if stats is not None:
            stats["results"] = "locators"
        async with contextlib.aclosing(_sequential(session, job, convert, chunk_records, page_size, total)) as pages:
            async for page in pages:
                yield page
        return
    if stats is not None:
        stats["results"] = "resultPages"
    async with contextlib.aclosing(_parallel(session, job, listing, convert, max(1, parallel), stats)) as chunks:
        handed = 0
        async for chunk in chunks:
            for start in range(0, len(chunk), page_size):
                records = chunk[start:start + page_size]
                handed += len(records)
                yield records, total, handed >= total
        if handed != total:
            raise SalesforceError(f"Bulk API query job {job.rsplit('/', 1)[-1]}: its results had {handed} records "
                                  f"where the job counted {total}", error_code="BULK_RESULTS_INCOMPLETE")
        if total == 0:
            yield [], 0, True


async def _sequential(session: Any, job: str, convert: Mapping[str, Callable[[str], Any]], chunk_records: int,
                      page_size: int, total: int) -> AsyncGenerator[tuple[list[dict[str, Any]], int, bool], None]:
    pending: asyncio.Task[Any] | None = asyncio.ensure_future(_download(session, job, None, chunk_records))
    try:
        while pending is not None:
            text, locator = await pending
            pending = None
            if locator:
                pending = asyncio.ensure_future(_download(session, job, locator, chunk_records))
            records = _records(text, convert)
            for start in range(0, max(len(records), 1), page_size):
                last = pending is None and start + page_size >= len(records)
                yield records[start:start + page_size], total, last
    finally:
        await _cancel([pending])


async def _parallel(session: Any, job: str, listing: dict[str, Any], convert: Mapping[str, Callable[[str], Any]],
                    parallel: int, stats: dict[str, Any] | None) -> AsyncGenerator[list[dict[str, Any]], None]:
    """The result pages' records, one list per page, in order; ``parallel`` downloads in flight."""
    urls: list[str] = [p["resultUrl"] for p in listing.get("resultPages") or ()]
    next_listing: str | None = None if listing.get("done", True) else listing.get("nextRecordsUrl")
    listing_task: asyncio.Task[Any] | None = None
    downloads: dict[int, asyncio.Task[list[dict[str, Any]]]] = {}
    wanted = 0          # the next page to hand out
    launched = 0        # pages whose download has started

    def refill() -> None:
        nonlocal launched, listing_task
        if listing_task is None and next_listing and len(urls) - launched < parallel:
            listing_task = asyncio.ensure_future(session.get_json(next_listing))
        while launched < len(urls) and launched - wanted < parallel:
            downloads[launched] = asyncio.ensure_future(_result_page(session, job, launched, urls, convert))
            launched += 1

    try:
        while True:
            refill()
            if wanted < launched:
                records = await downloads.pop(wanted)
                wanted += 1
                refill()            # the next download starts before this page is handed out
                if stats is not None:
                    stats["pages"] = stats.get("pages", 0) + 1
                yield records
            elif listing_task is not None:
                more = await listing_task
                listing_task = None
                urls += [p["resultUrl"] for p in more.get("resultPages") or ()]
                next_listing = None if more.get("done", True) else more.get("nextRecordsUrl")
            else:
                return
    finally:
        await _cancel([listing_task, *downloads.values()])


async def _result_page(session: Any, job: str, index: int, urls: list[str],
                       convert: Mapping[str, Callable[[str], Any]]) -> list[dict[str, Any]]:
    """Page ``index``, decoded. An expired result URL is replaced by the same page of a new listing."""
    for attempt in range(1, EXPIRED_RETRIES + 2):
        try:
            response = await session.request("GET", urls[index])
        except SalesforceError as exc:
            job_id = job.rsplit("/", 1)[-1]
            if exc.error_code == "INVALID_LOCATOR" and attempt <= EXPIRED_RETRIES:
                urls[index] = await _fresh_url(session, job, index)
                continue
            if exc.status in (404, 412):
                raise SalesforceError(f"Bulk API query job {job_id} ended while its results were downloading "
                                      f"(page {index + 1}): {exc.message}", status=exc.status,
                                      error_code="BULK_JOB_FAILED") from None
            raise
        return _records(response.text, convert)
    raise AssertionError("unreachable")  # pragma: no cover


async def _fresh_url(session: Any, job: str, index: int) -> str:
    """Result URL number ``index`` from a new ``resultPages`` listing (the old one's locators expired)."""
    seen = 0
    url: str | None = f"{job}/resultPages"
    while url:
        listing = await session.get_json(url)
        pages = [p["resultUrl"] for p in listing.get("resultPages") or ()]
        if index < seen + len(pages):
            return pages[index - seen]
        seen += len(pages)
        url = None if listing.get("done", True) else listing.get("nextRecordsUrl")
    raise SalesforceError(f"Bulk API query job {job.rsplit('/', 1)[-1]}: a new listing of its results has no page "
                          f"{index + 1}", error_code="BULK_RESULTS_CHANGED")


async def _cancel(tasks: list[asyncio.Task[Any] | None]) -> None:
    for task in tasks:
        if task is not None and not task.done():
            task.cancel()
    for task in tasks:
        if task is not None:
            with contextlib.suppress(BaseException):  # a download abandoned with the query
                await task


async def _wait_complete(session: Any, job: str) -> int:
    delay, waited = POLL_FIRST, 0.0
    job_id = job.rsplit("/", 1)[-1]
    while True:
        info = await session.get_json(job)
        state = info.get("state")
        if state == "JobComplete":
            return int(info.get("numberRecordsProcessed") or 0)
        if state in ("Failed", "Aborted"):
            raise SalesforceError(f"Bulk API query job {job_id} {state.lower()}: "
                                  f"{info.get('errorMessage') or 'no reason given'}", error_code="BULK_JOB_FAILED")
        if waited >= POLL_TIMEOUT:
            raise SalesforceError(f"Bulk API query job {job_id} not complete after {POLL_TIMEOUT:.0f} s "
                                  f"(state {state})", error_code="BULK_JOB_TIMEOUT")
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, POLL_MAX)


async def _download(session: Any, job: str, locator: str | None, chunk_records: int) -> tuple[str, str | None]:
    params: dict[str, Any] = {"maxRecords": chunk_records}
    if locator:
        params["locator"] = locator
    response = await session.request("GET", f"{job}/results", params=params)
    following = response.headers.get("Sforce-Locator")
    return response.text, (None if following in (None, "", "null") else following)


def _records(text: str, convert: Mapping[str, Callable[[str], Any]]) -> list[dict[str, Any]]:
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if not header:
        return []
    conv = [convert.get(name) for name in header]
    nested = any("." in name for name in header)
    out = []
    for row in rows:
        if not row:
            continue
        values = [None if not v else (c(v) if c is not None else v) for v, c in zip(row, conv, strict=True)]
        out.append(_nest(header, values) if nested else dict(zip(header, values, strict=True)))
    return out


def _nest(header: list[str], values: list[Any]) -> dict[str, Any]:
    """``Profile.Name`` -> ``{"Profile": {"Name": …}}`` (``None`` when every field of the relation is empty)."""
    rec: dict[str, Any] = {}
    for name, value in zip(header, values, strict=True):
        *path, leaf = name.split(".")
        target = rec
        for part in path:
            target = target.setdefault(part, {})
        target[leaf] = value
    for name in {n.split(".")[0] for n in header if "." in n}:
        if isinstance(rec.get(name), dict) and all(v is None for v in rec[name].values()):
            rec[name] = None
    return rec
