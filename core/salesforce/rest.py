"""Salesforce REST responses: the error array, the limit header, and which failures are worth retrying."""

from __future__ import annotations

import re
from typing import Any

import httpx

from core.salesforce.errors import (
    ErrorDetail,
    RecordError,
    RecordNotFound,
    SalesforceError,
    TransientError,
)

#: error codes that pass with time: Salesforce's own "try again later" answers
TRANSIENT_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE",
                             "QUERY_TIMEOUT", "REQUEST_RUNNING_TOO_LONG"})
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


def error_details(response: httpx.Response) -> list[ErrorDetail]:
    """Salesforce's error array (or an OAuth-style object) from a failed response."""
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text.strip()
        if "<html" in text[:200].lower():
            text = "the server answered with an HTML page; check that the org URL is right"
        return [ErrorDetail(f"HTTP_{response.status_code}", text[:300] or response.reason_phrase)]
    if isinstance(body, dict):
        body = [body]
    if isinstance(body, list) and body:
        return [ErrorDetail.from_json(item) for item in body]
    return [ErrorDetail(f"HTTP_{response.status_code}", response.reason_phrase)]


def is_session_expired(response: httpx.Response) -> bool:
    """401 ``INVALID_SESSION_ID``: the access token ended, a refresh will fix it.

    jsforce learned that some 401s ("not valid for use with the REST API") are not expiry and refreshing
    loops; those are reported instead of retried.
    """
    if response.status_code != 401:
        return False
    details = error_details(response)
    return any(d.error_code == "INVALID_SESSION_ID" and "not valid for use" not in d.message for d in details) \
        or all(d.error_code.startswith("HTTP_") for d in details)


def is_transient(response: httpx.Response) -> bool:
    """5xx, 429, and Salesforce's request-limit and row-lock codes."""
    if response.status_code >= 500 or response.status_code == 429:
        return True
    if response.status_code in (400, 403, 503):
        return any(d.error_code in TRANSIENT_CODES for d in error_details(response))
    return False


def raise_for(response: httpx.Response, *, record: bool = False) -> None:
    """Raise the typed error for a failed response (nothing for 2xx)."""
    if response.is_success:
        return
    details = error_details(response)
    status = response.status_code
    if is_transient(response):
        cls: type[SalesforceError] = TransientError
    elif status == 404:
        cls = RecordNotFound
    elif record and status == 400:
        cls = RecordError
    else:
        cls = SalesforceError
    first = details[0]
    text = "; ".join(str(d) for d in details)
    raise cls(text, status=status, error_code=first.error_code, fields=first.fields, details=details)


def api_usage(response: httpx.Response) -> tuple[int, int] | None:
    """``Sforce-Limit-Info: api-usage=18/5000`` as ``(18, 5000)``."""
    header = response.headers.get("Sforce-Limit-Info")
    if not header:
        return None
    m = _USAGE.search(header)
    return (int(m.group(1)), int(m.group(2))) if m else None


def strip_attributes(record: dict[str, Any]) -> dict[str, Any]:
    """A record without Salesforce's ``attributes`` (also in nested relationship objects)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        out[key] = strip_attributes(value) if isinstance(value, dict) else value
    return out
