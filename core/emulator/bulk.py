"""Bulk API 2.0 query jobs (``/jobs/query``): a SELECT run once, its rows downloaded as CSV in chunks.

``POST jobs/query`` creates a job (``UploadComplete``) and runs its query at once, keeping the values as they
are at that moment (a real job's results are a snapshot too). Like a real org, the job then takes a while:
``GET jobs/query/{id}`` shows it ``InProgress`` for :attr:`JobTiming.seconds` (a fixed part plus a part that
grows with the rows; :meth:`JobTiming.instant` for tests), then ``JobComplete``.
``GET …/results[?locator=…&maxRecords=…]`` answers CSV (every value quoted, a null as an
empty field, booleans ``true``/``false``) with ``Sforce-NumberOfRecords`` and ``Sforce-Locator``: the next
chunk's locator (base64 of the offset, like Salesforce's ``MTAwMDA``) or the literal ``null`` after the last.
``GET …/resultPages[?locator=…]`` (API 58.0+) answers up to five ``resultUrl`` s of the results, each a
``results`` URL with its own locator, usable at once, in any order and in parallel, with ``nextRecordsUrl``
and ``done`` for the next five; those locators expire after ``result_ttl`` seconds (400
``INVALID_LOCATOR``: ask ``resultPages`` again). Each request counts one API call, as every data-API call
does; a client reads 100,000 users in a handful of calls instead of a query page per 2,000.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .clock import now
from .errors import DataApiError, not_found
from .query import QueryEngine

MIN_VERSION = 47             # Bulk API 2.0 query jobs exist from API 47.0
PARALLEL_MIN_VERSION = 58    # resultPages (parallel results) exists from API 58.0
RESULT_PAGES_PER_ANSWER = 5  # resultUrl s per resultPages answer, as Salesforce documents
RESULT_PAGE_RECORDS = 10_000  # rows behind one resultUrl
DEFAULT_MAX_RECORDS = 50_000  # rows per results chunk when the client does not say
MAX_JOBS = 20                 # finished jobs kept (the oldest is dropped first)
JOB_PREFIX = "750"
_wall = time.time             # the clock result URLs expire by (a test moves it)


@dataclass(frozen=True)
class JobTiming:
    """How long a query job takes to complete: ``base`` seconds plus one second per ``rate`` rows
    (``rate`` 0: no size part). The default is an org under light load: 100,000 rows in 3 s."""

    base: float = 1.0
    rate: float = 50_000

    def __post_init__(self) -> None:
        if self.base < 0:
            raise ValueError(f"job_ms: must be >= 0, got {self.base * 1000:g}")
        if self.rate < 0:
            raise ValueError(f"job_rate: must be >= 0, got {self.rate:g}")

    @classmethod
    def instant(cls) -> JobTiming:
        return cls(0.0, 0.0)

    def seconds(self, rows: int) -> float:
        return self.base + (rows / self.rate if self.rate else 0.0)


@dataclass
class QueryJob:
    id: str
    operation: str
    object: str
    query: str
    version: str
    created_by: str
    created: str
    header: list[str]
    rows: list[tuple[Any, ...]] = field(repr=False)
    #: ``time.monotonic()`` from which the job is complete
    ready_at: float = 0.0
    #: set when the job is aborted or fails; else the state follows the clock
    final: str | None = None
    error_message: str | None = None

    @property
    def state(self) -> str:
        if self.final is not None:
            return self.final
        return "JobComplete" if time.monotonic() >= self.ready_at else "InProgress"

    def info(self, *, full: bool) -> dict:
        state = self.state
        out = {"id": self.id, "operation": self.operation, "object": self.object, "createdById": self.created_by,
               "createdDate": self.created, "systemModstamp": self.created, "state": state,
               "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": float(self.version),
               "lineEnding": "LF", "columnDelimiter": "COMMA"}
        if full:
            done = state == "JobComplete"
            out.update(jobType="V2Query", numberRecordsProcessed=len(self.rows) if done else 0, retries=0,
                       totalProcessingTime=0, isPkChunkingSupported=True)
            if state == "Failed":
                out["errorMessage"] = self.error_message or "the query failed"
        return out


class BulkJobs:
    """The org's query jobs."""

    def __init__(self, engine: QueryEngine, timing: JobTiming | None = None, result_ttl: float = 600.0) -> None:
        if result_ttl <= 0:
            raise ValueError(f"result_ttl: must be positive, got {result_ttl:g}")
        self.engine = engine
        self.timing = timing or JobTiming()
        self.result_ttl = result_ttl
        self.jobs: OrderedDict[str, QueryJob] = OrderedDict()
        self.lock = threading.Lock()

    def create(self, body: object, version: str, user_id: str) -> dict:
        if not isinstance(body, dict):
            raise DataApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            raise DataApiError(400, "INVALIDJOB", "InvalidJob : Invalid operation, expected query or queryAll")
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise DataApiError(400, "INVALIDJOB", "InvalidJob : query is required")
        if body.get("contentType", "CSV") != "CSV":
            raise DataApiError(400, "INVALIDJOB", "InvalidJob : contentType must be CSV")
        if body.get("columnDelimiter", "COMMA") != "COMMA" or body.get("lineEnding", "LF") != "LF":
            raise DataApiError(400, "INVALIDJOB", "InvalidJob : this org writes COMMA-delimited, LF-ended CSV only")
        sobject, columns, rows = self.engine.select(query)
        with self.engine.org.lock:  # the values as they are now: a finished job's results do not move
            values = [tuple(get(row) for _, get in columns) for row in rows]
        job_id = ids.to18(JOB_PREFIX + "".join(secrets.choice(ids._BASE62) for _ in range(12)))
        job = QueryJob(job_id, operation, sobject, query, version, user_id, now(), [n for n, _ in columns], values,
                       ready_at=time.monotonic() + self.timing.seconds(len(values)))
        with self.lock:
            while len(self.jobs) >= MAX_JOBS:
                self.jobs.popitem(last=False)
            self.jobs[job_id] = job
        return {**job.info(full=False), "state": "UploadComplete"}

    def get(self, job_id: str) -> QueryJob:
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise not_found()
        return job

    def delete(self, job_id: str) -> None:
        with self.lock:
            if self.jobs.pop(job_id, None) is None:
                raise not_found()

    def abort(self, job_id: str, body: object) -> dict:
        job = self.get(job_id)
        if not isinstance(body, dict) or body.get("state") != "Aborted":
            raise DataApiError(400, "INVALIDJOB", "InvalidJob : the only state a query job can be set to is Aborted")
        if job.state != "InProgress":
            raise DataApiError(400, "INVALIDJOB", f"InvalidJob : the job is already {job.state}")
        job.final = "Aborted"
        return job.info(full=False)

    def fail(self, job_id: str, message: str) -> None:
        """Make a job ``Failed`` (what a real org does to a query that times out): a fault for tests."""
        job = self.get(job_id)
        job.final, job.error_message = "Failed", message

    def _complete(self, job_id: str, version: str) -> QueryJob:
        job = self.get(job_id)
        if job.version != version:
            raise DataApiError(409, "API_ERROR", f"The job was created in API version {job.version}; "
                                             "download its results with the same version")
        if job.state != "JobComplete":
            raise DataApiError(412, "JOB_NOT_COMPLETE", "can only download query results of successfully completed "
                                                    f"bulk job with status: JOB_COMPLETE. Current status: {job.state}")
        return job

    def result_pages(self, job_id: str, version: str, locator: str | None) -> dict:
        """``resultPages``: up to five result URLs from ``locator`` on (an index into the job's pages)."""
        job = self._complete(job_id, version)
        pages = max(1, -(-len(job.rows) // RESULT_PAGE_RECORDS))
        first = 0
        if locator not in (None, ""):
            text = str(locator)
            first = int(text) if text.isdigit() else -1
            if not 0 <= first < pages:
                raise DataApiError(400, "INVALID_LOCATOR", f"InvalidLocator : invalid locator: {locator}")
        expires = int(_wall() + self.result_ttl)
        base = f"/services/data/v{version}/jobs/query/{job_id}"
        out = []
        for index in range(first, min(pages, first + RESULT_PAGES_PER_ANSWER)):
            token = _encode(f"{index * RESULT_PAGE_RECORDS}.{expires}")
            out.append({"resultUrl": f"{base}/results?locator={token}&maxRecords={RESULT_PAGE_RECORDS}"})
        following = first + RESULT_PAGES_PER_ANSWER
        done = following >= pages
        return {"resultPages": out, "nextRecordsUrl": None if done else f"{base}/resultPages?locator={following}",
                "done": done}

    def results(self, job_id: str, version: str, locator: str | None, max_records: str | None,
                ) -> tuple[str, dict[str, str]]:
        """One chunk of CSV and its headers."""
        job = self._complete(job_id, version)
        start = _offset(locator, len(job.rows))
        size = DEFAULT_MAX_RECORDS
        if max_records not in (None, ""):
            if not str(max_records).isdigit() or int(str(max_records)) < 1:
                raise DataApiError(400, "INVALIDJOB", f"InvalidJob : maxRecords must be a positive integer: {max_records}")
            size = int(str(max_records))
        chunk = job.rows[start:start + size]
        end = start + len(chunk)
        lines = [",".join(_quote(h) for h in job.header)]
        lines += [",".join(_cell(v) for v in row) for row in chunk]
        next_locator = _encode(str(end)) if end < len(job.rows) else "null"
        return "\n".join(lines) + "\n", {"Sforce-NumberOfRecords": str(len(chunk)), "Sforce-Locator": next_locator}


def _encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode().rstrip("=")


def _offset(locator: str | None, total: int) -> int:
    """The row a locator points at: base64 of ``offset`` (``Sforce-Locator``) or of ``offset.expiry`` (a
    ``resultPages`` URL, refused once its epoch second has passed)."""
    if locator in (None, "", "null"):
        return 0
    text = str(locator)
    expires: int | None = None
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode()
        offset_text, _, expiry_text = decoded.partition(".")
        offset = int(offset_text)
        expires = int(expiry_text) if expiry_text else None
    except (binascii.Error, ValueError, UnicodeDecodeError):
        offset = -1
    if not 0 <= offset <= total:
        raise DataApiError(400, "INVALIDJOB", f"InvalidJob : invalid locator: {locator}")
    if expires is not None and _wall() > expires:
        raise DataApiError(400, "INVALID_LOCATOR", "InvalidLocator : this result URL expired; get new ones from "
                                               "resultPages")
    return offset


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _cell(value: object) -> str:
    if value is None:
        return ""
    if value is True:
        return '"true"'
    if value is False:
        return '"false"'
    return _quote(str(value))
