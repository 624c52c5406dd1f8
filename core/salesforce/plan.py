"""Which way a full read of an sObject goes: REST query pages fetched ahead, or a Bulk API 2.0 query job.

Decided from what the org answers, not from a fixed count alone: the query's size (the first page's
``totalSize``, or a ``COUNT()`` for ``--explain``) and the latency measured on the calls made so far.

- REST: one call per 2,000 records; with :attr:`prefetch` pages in flight, the network needs about
  ``pages / prefetch`` round trips, and a page is ready as soon as the first one is.
- Bulk API: a create, polls while the job runs (its time is the org's: estimated here as
  :data:`JOB_BASE` plus one second per :data:`JOB_RATE` records), a ``resultPages`` listing per five result
  pages of about :data:`RESULT_RECORDS` records, ``downloads`` of them at once. Fewer calls; nothing arrives
  before the job completes.

Below ``bulk_query_threshold`` records (or with it 0) the read is REST. From it on, with ``bulk_query =
"auto"`` the quicker estimate wins (a tie goes to Bulk: fewer calls), unless the REST calls would take more
than half of what is left of the org's daily API requests; ``"always"`` takes the Bulk API from the threshold on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from core.salesforce.bulk import POLL_FIRST, POLL_MAX

#: the org's time to run a query job, as estimated before creating one: seconds, plus 1 s per this many records
JOB_BASE, JOB_RATE = 2.0, 50_000
#: records behind one resultPages URL (Salesforce decides; about this many for a User query)
RESULT_RECORDS = 10_000
#: result URLs per resultPages answer
RESULTS_PER_LISTING = 5
MODES = ("auto", "always")


@dataclass
class ReadPlan:
    """A read's path and why; the numbers are estimates from the size and the latency measured."""

    path: str                 # "rest" or "bulk"
    records: int
    pages: int                # REST query pages, or Bulk API result pages
    expected_calls: int       # from here on (the first REST page already read is not counted)
    latency_ms: float
    rest_seconds: float       # the network's part of each path, if the engine were infinitely fast
    bulk_seconds: float
    why: str

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["latency_ms"] = round(self.latency_ms, 1)
        out["rest_seconds"] = round(self.rest_seconds, 2)
        out["bulk_seconds"] = round(self.bulk_seconds, 2)
        return out


def _polls(seconds: float) -> int:
    """Polls of a job that completes after ``seconds``: the connector's waits double from POLL_FIRST to POLL_MAX."""
    polls, waited, delay = 1, 0.0, POLL_FIRST
    while waited < seconds:
        waited += delay
        delay = min(delay * 2, POLL_MAX)
        polls += 1
    return polls


def plan_read(records: int, latency: float, *, threshold: int, mode: str = "auto", batch: int = 2000,
              prefetch: int = 6, downloads: int = 4, api_left: int | None = None,
              described: bool = False, first_page_read: bool = True) -> ReadPlan:
    """The plan for reading ``records`` records from an org ``latency`` seconds away (see the module)."""
    if mode not in MODES:
        raise ValueError(f"bulk_query: must be one of {', '.join(MODES)}, got {mode!r}")
    latency = max(latency, 0.0)
    rest_pages = max(1, math.ceil(records / batch))
    rest_calls = rest_pages - (1 if first_page_read else 0)
    rest_seconds = math.ceil(rest_calls / max(1, prefetch)) * latency
    result_pages = max(1, math.ceil(records / RESULT_RECORDS))
    listings = math.ceil(result_pages / RESULTS_PER_LISTING)
    job = JOB_BASE + records / JOB_RATE
    polls = _polls(job)
    bulk_calls = (0 if described else 1) + 1 + polls + listings + result_pages
    bulk_seconds = (3 + (0 if described else 1)) * latency + job + math.ceil(result_pages / max(1, downloads)) * latency
    ms = latency * 1000

    def plan(path: str, why: str) -> ReadPlan:
        if path == "rest":
            return ReadPlan("rest", records, rest_pages, rest_calls, ms, rest_seconds, bulk_seconds, why)
        return ReadPlan("bulk", records, result_pages, bulk_calls, ms, rest_seconds, bulk_seconds, why)

    if threshold <= 0:
        return plan("rest", "bulk_query_threshold is 0: REST query pages only")
    if records < threshold:
        return plan("rest", f"{records:,} records, below bulk_query_threshold ({threshold:,})")
    if mode == "always":
        return plan("bulk", f"{records:,} records, from bulk_query_threshold ({threshold:,}) on, and "
                            "bulk_query = \"always\"")
    if api_left is not None and rest_calls > api_left / 2:
        return plan("bulk", f"{rest_calls:,} REST calls would take more than half of the {api_left:,} API "
                            f"requests left today; a Bulk API job takes about {bulk_calls}")
    if bulk_seconds <= rest_seconds:
        return plan("bulk", f"at {ms:.0f} ms a call a Bulk API job (about {bulk_seconds:.1f} s, {bulk_calls} calls) "
                            f"is no slower than {rest_calls:,} REST pages {prefetch} at a time "
                            f"(about {rest_seconds:.1f} s)")
    return plan("rest", f"at {ms:.0f} ms a call {rest_calls:,} REST pages {prefetch} at a time take about "
                        f"{rest_seconds:.1f} s of network; a Bulk API job about {bulk_seconds:.1f} s "
                        f"({bulk_calls} calls instead of {rest_calls:,})")
