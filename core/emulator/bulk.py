"""Bulk API 2.0 query jobs (``/jobs/query``): a SELECT run once, its rows downloaded as CSV in chunks.

``POST jobs/query`` creates a job (``UploadComplete``) and runs its query at once, keeping the values as they
are at that moment (a real job's results are a snapshot too); ``GET jobs/query/{id}`` then shows it
``JobComplete``. ``GET …/results[?locator=…&maxRecords=…]`` answers CSV (every value quoted, a null as an
empty field, booleans ``true``/``false``) with ``Sforce-NumberOfRecords`` and ``Sforce-Locator``: the next
chunk's locator (base64 of the offset, like Salesforce's ``MTAwMDA``) or the literal ``null`` after the last.
Each request counts one API call, as every data-API call does; a client reads 100,000 users in a handful of
calls instead of a query page per 2,000.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .clock import now
from .errors import ApiError, not_found
from .query import QueryEngine

MIN_VERSION = 47             # Bulk API 2.0 query jobs exist from API 47.0
DEFAULT_MAX_RECORDS = 50_000  # rows per results chunk when the client does not say
MAX_JOBS = 20                 # finished jobs kept (the oldest is dropped first)
JOB_PREFIX = "750"


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
    state: str = "UploadComplete"

    def info(self, *, full: bool) -> dict:
        out = {"id": self.id, "operation": self.operation, "object": self.object, "createdById": self.created_by,
               "createdDate": self.created, "systemModstamp": self.created, "state": self.state,
               "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": float(self.version),
               "lineEnding": "LF", "columnDelimiter": "COMMA"}
        if full:
            out.update(jobType="V2Query", numberRecordsProcessed=len(self.rows), retries=0,
                       totalProcessingTime=0, isPkChunkingSupported=True)
        return out


class BulkJobs:
    """The org's query jobs."""

    def __init__(self, engine: QueryEngine) -> None:
        self.engine = engine
        self.jobs: OrderedDict[str, QueryJob] = OrderedDict()
        self.lock = threading.Lock()

    def create(self, body: object, version: str, user_id: str) -> dict:
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            raise ApiError(400, "INVALIDJOB", "InvalidJob : Invalid operation, expected query or queryAll")
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ApiError(400, "INVALIDJOB", "InvalidJob : query is required")
        if body.get("contentType", "CSV") != "CSV":
            raise ApiError(400, "INVALIDJOB", "InvalidJob : contentType must be CSV")
        if body.get("columnDelimiter", "COMMA") != "COMMA" or body.get("lineEnding", "LF") != "LF":
            raise ApiError(400, "INVALIDJOB", "InvalidJob : this org writes COMMA-delimited, LF-ended CSV only")
        sobject, columns, rows = self.engine.select(query)
        with self.engine.org.lock:  # the values as they are now: a finished job's results do not move
            values = [tuple(get(row) for _, get in columns) for row in rows]
        job_id = ids.to18(JOB_PREFIX + "".join(secrets.choice(ids._BASE62) for _ in range(12)))
        job = QueryJob(job_id, operation, sobject, query, version, user_id, now(), [n for n, _ in columns], values)
        with self.lock:
            while len(self.jobs) >= MAX_JOBS:
                self.jobs.popitem(last=False)
            self.jobs[job_id] = job
        created = job.info(full=False)
        job.state = "JobComplete"
        return created

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
            raise ApiError(400, "INVALIDJOB", "InvalidJob : the only state a query job can be set to is Aborted")
        if job.state == "JobComplete":
            raise ApiError(400, "INVALIDJOB", "InvalidJob : the job is already complete")
        job.state = "Aborted"
        return job.info(full=False)

    def results(self, job_id: str, version: str, locator: str | None, max_records: str | None,
                ) -> tuple[str, dict[str, str]]:
        """One chunk of CSV and its headers."""
        job = self.get(job_id)
        if job.version != version:
            raise ApiError(409, "API_ERROR", f"The job was created in API version {job.version}; "
                                             "download its results with the same version")
        if job.state != "JobComplete":
            raise ApiError(412, "JOB_NOT_COMPLETE", "can only download query results of successfully completed "
                                                    f"bulk job with status: JOB_COMPLETE. Current status: {job.state}")
        start = _offset(locator, len(job.rows))
        size = DEFAULT_MAX_RECORDS
        if max_records not in (None, ""):
            if not str(max_records).isdigit() or int(str(max_records)) < 1:
                raise ApiError(400, "INVALIDJOB", f"InvalidJob : maxRecords must be a positive integer: {max_records}")
            size = int(str(max_records))
        chunk = job.rows[start:start + size]
        end = start + len(chunk)
        lines = [",".join(_quote(h) for h in job.header)]
        lines += [",".join(_cell(v) for v in row) for row in chunk]
        next_locator = base64.b64encode(str(end).encode()).decode().rstrip("=") if end < len(job.rows) else "null"
        return "\n".join(lines) + "\n", {"Sforce-NumberOfRecords": str(len(chunk)), "Sforce-Locator": next_locator}


def _offset(locator: str | None, total: int) -> int:
    if locator in (None, "", "null"):
        return 0
    text = str(locator)
    try:
        offset = int(base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        offset = -1
    if not 0 <= offset <= total:
        raise ApiError(400, "INVALIDJOB", f"InvalidJob : invalid locator: {locator}")
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
