"""CREST request parameters (``_queryFilter``, ``_fields``, paging, sorting) read and checked once.

Every malformed parameter is a 400 naming the parameter, before anything touches the repository, so the
repository sees only well-formed requests and a fuzzer cannot reach a 500 through a parameter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

from core.api.errors import ApiError
from core.repo import SPACE, ecma_regex

TOTAL_POLICIES = ("NONE", "EXACT", "ESTIMATE")
# A field is a JSON pointer (leading / optional); no empty segment, no white space (ECMA-262's \s, spelled out:
# Python's \s is not JavaScript's), NUL or quote. These are the OpenAPI document's patterns, and the server
# checks each parameter value with them, with JSON Schema's (ECMA-262) meaning: the two cannot differ.
_SEGMENT = f"[^/,{SPACE}\\x00\"']+"
POINTER = f"/?{_SEGMENT}(?:/{_SEGMENT})*"
FIELDS_PATTERN = f"^(?:{POINTER})?(?:,(?:{POINTER})?)*$"
_SORT_SEGMENT = f"[^/,{SPACE}\\x00\"'\\\\]+"  # a backslash cannot be addressed by SQLite's JSON paths
_SORT_KEY = f"(?![+-](?:,|$))[+-]?/?{_SORT_SEGMENT}(?:/{_SORT_SEGMENT})*"  # a lone sign names no field
SORT_KEYS_PATTERN = f"^(?:{_SORT_KEY})?(?:,(?:{_SORT_KEY})?)*$"
MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True)
class QueryParameters:
    """A CREST query as the client asked for it (names follow the CREST parameters without ``_``)."""

    query_filter: str
    fields: tuple[str, ...] | None = None
    page_size: int = 0
    paged_results_cookie: str | None = None
    paged_results_offset: int = 0
    sort_keys: tuple[str, ...] = ()
    total_paged_results_policy: str = "NONE"


def _int_param(params: QueryParams, name: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name}: not an integer: {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ApiError(400, f"{name}: must be {bound}, got {value}")
    return value


def fields_param(params: QueryParams) -> tuple[str, ...] | None:
    """``_fields=a,b`` (repeatable) -> ("a", "b"); absent or empty -> None (the whole object)."""
    for raw in params.getlist("_fields"):
        if not ecma_regex(FIELDS_PATTERN).search(raw):
            bad = next((f for f in raw.split(",") if f and not ecma_regex(FIELDS_PATTERN).search(f)), raw)
            raise ApiError(400, f"_fields: invalid field name {bad!r}")
    values = [v for raw in params.getlist("_fields") for v in raw.split(",")]
    fields = tuple(v.lstrip("/") for v in values if v)
    return fields or None


def query_parameters(request: Request, *, allow_query_id: bool = True) -> QueryParameters:
    """Read the CREST query parameters; exactly one of ``_queryFilter`` / ``_queryId`` is required."""
    params = request.query_params
    query_filter = params.get("_queryFilter")
    query_id = params.get("_queryId")
    if query_filter is not None and query_id is not None:
        raise ApiError(400, "_queryFilter and _queryId cannot be used together")
    fields = fields_param(params)
    if query_filter is None:
        if query_id is None or not allow_query_id:
            raise ApiError(400, "The request requires a _queryFilter parameter (e.g. _queryFilter=true)")
        if query_id != "query-all-ids":
            raise ApiError(400, f"_queryId: unknown query {query_id!r} (supported: query-all-ids)")
        query_filter, fields = "true", ("_id",)
    if params.get("_pagedResultsCookie") and params.get("_pagedResultsOffset"):
        raise ApiError(400, "_pagedResultsCookie and _pagedResultsOffset cannot be used together")
    policy = params.get("_totalPagedResultsPolicy") or "NONE"
    if policy.upper() not in TOTAL_POLICIES:
        raise ApiError(400, f"_totalPagedResultsPolicy: must be one of {', '.join(TOTAL_POLICIES)}, got {policy!r}")
    for raw in params.getlist("_sortKeys"):
        if not ecma_regex(SORT_KEYS_PATTERN).search(raw):
            bad = next((k for k in raw.split(",") if k and not ecma_regex(SORT_KEYS_PATTERN).search(k)), raw)
            raise ApiError(400, f"_sortKeys: invalid sort key {bad!r}")
    sort_keys = tuple(k for raw in params.getlist("_sortKeys") for k in raw.split(",") if k)
    return QueryParameters(
        query_filter=query_filter,
        fields=fields,
        page_size=_int_param(params, "_pageSize", maximum=MAX_PAGE_SIZE),
        paged_results_cookie=params.get("_pagedResultsCookie") or None,
        paged_results_offset=_int_param(params, "_pagedResultsOffset"),
        sort_keys=sort_keys,
        total_paged_results_policy=policy.upper(),
    )


def bool_param(request: Request, name: str) -> bool:
    """A boolean parameter: ``true`` or ``false`` (any case), as the document says; absent is false."""
    raw = request.query_params.get(name)
    if raw is None:
        return False
    if raw.lower() == "true":
        return True
    if raw.lower() == "false":
        return False
    raise ApiError(400, f"{name}: must be true or false, got {raw!r}")


#: CREST's parameters that may be repeated (their values add up); every other one is single-valued
MULTI_VALUED = ("_fields", "_sortKeys")


def check_common(request: Request) -> None:
    """What every endpoint refuses alike, as CREST does: a single-valued parameter given twice, and a
    ``_prettyPrint`` that is not a boolean."""
    params = request.query_params
    for name in {k for k, _ in params.multi_items() if k not in MULTI_VALUED}:
        if len(params.getlist(name)) > 1:
            raise ApiError(400, f"Multiple values provided for the single-valued parameter '{name}'")
    if "_prettyPrint" in params:
        bool_param(request, "_prettyPrint")


def revision(request: Request, header: str = "If-Match") -> str | None:
    """The ``_rev`` an ``If-Match`` names; ``*`` or no header means "whatever is current" (IDM's default)."""
    raw = request.headers.get(header)
    if raw is None:
        return None
    value = raw.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    return None if value in ("", "*") else value


async def json_body(request: Request, *, expect: type) -> Any:
    """The request's JSON body, which must be an ``expect`` (dict or list): otherwise a 400 saying why."""
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "The request body is empty; a JSON " + ("object" if expect is dict else "array")
                       + " is required")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"The request could not be parsed: not valid JSON ({exc})") from None
    try:  # a lone surrogate escape ("\\ud800") parses but is no Unicode text: nothing could store it
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "The request could not be parsed: a string holds a lone surrogate (not Unicode)") \
            from None
    if not isinstance(data, expect):
        kind = "object" if expect is dict else "array"
        raise ApiError(400, f"The request body must be a JSON {kind}")
    return data
