"""CREST queries over a table of JSON objects: filter, fields, sort, keyset paging, totals, in IDM's shape.

The answer is IDM's query result object::

    {"result": [...], "resultCount": n, "pagedResultsCookie": str | None,
     "totalPagedResultsPolicy": "NONE", "totalPagedResults": -1, "remainingPagedResults": -1}

``pagedResultsCookie`` is opaque (base64url JSON of the last row's sort values and ``_id``): the next page
continues after that row (keyset paging), so rows inserted meanwhile never shift or repeat a page, and a
page deep into 100,000 rows costs what the first page costs. The row's ``seq`` (its INTEGER PRIMARY KEY,
stable, in insertion order) is always the last sort key, so the order is total; it is also what every index
on a rowid table ends with, so an index ``(f_sn)`` serves ``ORDER BY f_sn, seq`` without sorting.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.repo import queryfilter as qf
from core.repo.errors import FieldError, ValidationError
from core.repo.jsoncodec import decode

POLICIES = ("NONE", "EXACT", "ESTIMATE")


#: SQLite's largest INTEGER: a larger Python int cannot be bound (OverflowError)
SQLITE_MAX_INT = 2**63 - 1


@dataclass(frozen=True)
class QueryRequest:
    """IDM's query parameters (``_queryFilter``, ``_fields``, ``_pageSize``, …) as Python values."""

    query_filter: str = "true"
    fields: tuple[str, ...] = ()
    page_size: int = 0
    paged_results_cookie: str | None = None
    paged_results_offset: int = 0
    sort_keys: tuple[str, ...] = ()
    total_paged_results_policy: str = "NONE"

    def __post_init__(self) -> None:
        errors = []
        if self.page_size < 0:
            errors.append(FieldError("_pageSize", "must be 0 or more"))
        if self.paged_results_offset < 0:
            errors.append(FieldError("_pagedResultsOffset", "must be 0 or more"))
        if self.paged_results_cookie and self.paged_results_offset:
            errors.append(FieldError("_pagedResultsOffset", "cannot be combined with _pagedResultsCookie"))
        if self.total_paged_results_policy not in POLICIES:
            errors.append(FieldError("_totalPagedResultsPolicy", f"must be one of {', '.join(POLICIES)}"))
        if errors:
            raise ValidationError(errors, resource="query")

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> QueryRequest:
        """From URL-style parameters (REST, CLI): ``_fields=a,b``, ``_sortKeys=+a,-b``, ``_pageSize=50``."""

        def integer(name: str) -> int:
            raw = params.get(name)
            if raw in (None, ""):
                return 0
            try:
                return int(raw)  # type: ignore[arg-type]
            except ValueError:
                raise ValidationError([FieldError(name, f"not an integer: {raw!r}")], resource="query") from None

        def listing(name: str) -> tuple[str, ...]:
            return tuple(p.strip() for p in (params.get(name) or "").split(",") if p.strip())

        query_id = params.get("_queryId")
        if query_id not in (None, "", "query-all-ids", "query-all"):
            raise ValidationError([FieldError("_queryId", f"unknown query {query_id!r} (query-all-ids, query-all)")],
                                  resource="query")
        if query_id and params.get("_queryFilter"):
            raise ValidationError([FieldError("_queryId", "cannot be combined with _queryFilter")], resource="query")
        return cls(
            query_filter=params.get("_queryFilter") or "true",
            fields=("_id",) if query_id == "query-all-ids" else listing("_fields"),
            page_size=integer("_pageSize"),
            paged_results_cookie=params.get("_pagedResultsCookie") or None,
            paged_results_offset=integer("_pagedResultsOffset"),
            sort_keys=listing("_sortKeys"),
            total_paged_results_policy=(params.get("_totalPagedResultsPolicy") or "NONE").upper(),
        )


@dataclass(frozen=True)
class Collection:
    """A table of JSON objects: its name, its indexed columns (top-level field -> column), ``_rev`` or not."""

    table: str
    columns: Mapping[str, str] = field(default_factory=dict)
    has_rev: bool = True
    data_column: str = "data"

    def resolve(self, pointer: qf.Pointer) -> str | None:
        if len(pointer) == 1:
            if pointer[0] == "_id":
                return "id"
            if pointer[0] == "_rev" and self.has_rev:
                return "rev"
            return self.columns.get(pointer[0])
        return None

    def row_to_object(self, row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
        """``(id, rev, data)`` or ``(id, data)`` -> the object with ``_id`` (and ``_rev``) first."""
        if self.has_rev:
            obj: dict[str, Any] = {"_id": row[0], "_rev": row[1]}
            if row[2] is not None:
                obj.update(decode(row[2]))
        else:
            obj = {"_id": row[0]}
            obj.update(decode(row[1]))
        return obj

    @property
    def select_columns(self) -> str:
        return f"id, rev, {self.data_column}" if self.has_rev else f"id, {self.data_column}"


# ---------------------------------------------------------------------------------------------- fields

def project(obj: Mapping[str, Any], fields: tuple[qf.Pointer, ...], has_rev: bool = True) -> dict[str, Any]:
    """The object cut down to ``_fields`` (nested pointers give nested objects); ``_id``/``_rev`` always."""
    out: dict[str, Any] = {"_id": obj["_id"]}
    if has_rev:
        out["_rev"] = obj.get("_rev")
    for pointer in fields:
        value: Any = obj
        for part in pointer:
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                break
        else:
            target = out
            for part in pointer[:-1]:
                target = target.setdefault(part, {})
            target[pointer[-1]] = value
    return out


def _field_pointers(fields: tuple[str, ...]) -> tuple[tuple[qf.Pointer, ...], bool]:
    """The ``_fields`` as pointers, and whether the whole object is wanted (no fields, or ``*``)."""
    if not fields or "*" in fields:
        return (), True
    pointers = []
    for name in fields:
        try:
            pointers.append(qf.parse_pointer(name))
        except Exception:
            raise ValidationError([FieldError("_fields", f"bad field {name!r}")], resource="query") from None
    return tuple(pointers), False


# ---------------------------------------------------------------------------------------------- sort/cookie

@dataclass(frozen=True)
class _SortKey:
    pointer: qf.Pointer
    descending: bool


def parse_sort_keys(keys: tuple[str, ...]) -> list[_SortKey]:
    out = []
    for key in keys:
        desc = key.startswith("-")
        name = key[1:] if key[:1] in "+-" and key else key
        try:
            pointer = qf.parse_pointer(name)
            qf.json_path(pointer)  # a name SQLite's JSON paths cannot address is refused here, not in SQL
            out.append(_SortKey(pointer, desc))
        except Exception:
            raise ValidationError([FieldError("_sortKeys", f"bad sort key {key!r}")], resource="query") from None
    return out


def _encode_cookie(values: list[Any], last_seq: int, sort_text: str) -> str:
    raw = json.dumps({"v": values, "seq": last_seq, "s": sort_text}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cookie(cookie: str, sort_text: str, n_keys: int) -> tuple[list[Any], int]:
    bad = ValidationError([FieldError("_pagedResultsCookie", "not a cookie this query returned")],
                          resource="query")
    try:
        data = json.loads(base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4)))
        values, last_seq, sorted_by = data["v"], data["seq"], data["s"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad from None
    if sorted_by != sort_text or not isinstance(values, list) or len(values) != n_keys \
            or not isinstance(last_seq, int) or isinstance(last_seq, bool):
        raise bad
    return values, last_seq


class _Sql:
    """SQL text and its parameters, appended in text order."""

    def __init__(self, coll: Collection) -> None:
        self.coll = coll
        self.params: list[Any] = []

    def expr(self, pointer: qf.Pointer) -> str:
        column = self.coll.resolve(pointer)
        if column is not None:
            return column
        self.params.append(qf.json_path(pointer))
        return f"(json_extract({self.coll.data_column}, ?) COLLATE NOCASE)"

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "?"


Segment = tuple[str, list[Any]]


def _after(coll: Collection, keys: list[_SortKey], values: list[Any], last_seq: int) -> list[Segment]:
    """The rows strictly after ``(values, last_seq)`` in ORDER BY order, as conditions run one after another.

    With one sort key the answer is split where NULLs sit (first in ASC, last in DESC), so each segment is a
    plain index range (``(f_sn, seq) < (?, ?)``) that SQLite walks in order without sorting; more keys
    need an OR chain, which SQLite sorts.
    """
    if len(keys) == 1:
        key, v = keys[0], values[0]
        sql = _Sql(coll)
        e = sql.expr(key.pointer)
        if v is None and not key.descending:  # within the leading NULLs, then every non-NULL
            first = f"{e} IS NULL AND seq > {sql.bind(last_seq)}"
            rest = _Sql(coll)
            return [(first, sql.params), (f"{rest.expr(key.pointer)} IS NOT NULL", rest.params)]
        if v is None:  # DESC: within the trailing NULLs
            return [(f"{e} IS NULL AND seq < {sql.bind(last_seq)}", sql.params)]
        op = "<" if key.descending else ">"
        segments = [(f"({e}, seq) {op} ({sql.bind(v)}, {sql.bind(last_seq)})", sql.params)]
        if key.descending:
            nulls = _Sql(coll)
            segments.append((f"{nulls.expr(key.pointer)} IS NULL", nulls.params))
        return segments
    sql = _Sql(coll)
    id_desc = keys[0].descending if keys else False
    terms = []
    for i in range(len(keys) + 1):
        parts = []
        for j in range(i):
            e = sql.expr(keys[j].pointer)
            parts.append(f"{e} IS NULL" if values[j] is None else f"{e} = {sql.bind(values[j])}")
        if i < len(keys):
            key, v = keys[i], values[i]
            if not key.descending:
                e = sql.expr(key.pointer)
                parts.append(f"{e} IS NOT NULL" if v is None else f"{e} > {sql.bind(v)}")
            elif v is None:
                parts.append("0")  # DESC puts NULLs last: nothing sorts after a NULL but its seq ties
            else:
                less = f"{sql.expr(key.pointer)} < {sql.bind(v)}"
                parts.append(f"({less} OR {sql.expr(key.pointer)} IS NULL)")
        else:
            parts.append(f"seq {'<' if id_desc else '>'} {sql.bind(last_seq)}")
        terms.append("(" + " AND ".join(parts) + ")")
    return [("(" + " OR ".join(terms) + ")", sql.params)]


# ---------------------------------------------------------------------------------------------- run

def run_query(conn: sqlite3.Connection, coll: Collection, request: QueryRequest,
              where_extra: Segment | None = None) -> dict[str, Any]:
    """Answer ``request`` over ``coll`` in IDM's query result shape."""
    filt = qf.parse(request.query_filter)
    pointers, whole = _field_pointers(request.fields)
    keys = parse_sort_keys(request.sort_keys)
    sort_text = ",".join(request.sort_keys)

    where_sql, where_params = qf.to_sql(filt, coll.resolve, data_column=coll.data_column)
    conditions, params = [where_sql], list(where_params)
    if where_extra:
        conditions.append(where_extra[0])
        params.extend(where_extra[1])
    base_sql, base_params = " AND ".join(conditions), params

    segments: list[Segment] = [("1", [])]
    if request.paged_results_cookie:
        values, last_seq = _decode_cookie(request.paged_results_cookie, sort_text, len(keys))
        segments = _after(coll, keys, values, last_seq)

    wants_data = whole or any(p[0] not in ("_id", "_rev") for p in pointers)
    selected = coll.select_columns if wants_data else ("id, rev" if coll.has_rev else "id")
    key_sql = _Sql(coll)  # the sort expressions: selected (for the cookie) and ordered by
    key_exprs = [key_sql.expr(k.pointer) for k in keys]
    order = [f"{e} {'DESC' if k.descending else 'ASC'}" for e, k in zip(key_exprs, keys, strict=True)]
    order.append(f"seq {'DESC' if keys and keys[0].descending else 'ASC'}")

    wanted = request.page_size + 1 if request.page_size else None
    rows: list[Any] = []
    for seg_sql, seg_params in segments:
        text = (f"SELECT {', '.join([selected, *key_exprs, 'seq'])} FROM {coll.table} "
                f"WHERE ({base_sql}) AND {seg_sql} ORDER BY {', '.join(order)}")
        args = [*key_sql.params, *base_params, *seg_params, *key_sql.params]
        if wanted is not None:
            text += " LIMIT ?"
            args.append(wanted - len(rows))
            if request.paged_results_offset:
                text += " OFFSET ?"
                args.append(min(request.paged_results_offset, SQLITE_MAX_INT))  # past every row anyway
        rows.extend(conn.execute(text, args).fetchall())
        if wanted is not None and len(rows) >= wanted:
            break

    more = wanted is not None and len(rows) >= wanted
    if more:
        rows = rows[:request.page_size]
    n_obj_cols = len(selected.split(","))
    result = []
    for row in rows:
        if wants_data:
            obj = coll.row_to_object(row[:n_obj_cols])
        else:
            obj = {"_id": row[0], "_rev": row[1]} if coll.has_rev else {"_id": row[0]}
        result.append(obj if whole else project(obj, pointers, coll.has_rev))

    cookie = None
    if more and rows:
        last = rows[-1]
        cookie = _encode_cookie(list(last[n_obj_cols:-1]), last[-1], sort_text)

    total = -1
    if request.total_paged_results_policy != "NONE":
        total = conn.execute(f"SELECT count(*) FROM {coll.table} WHERE {base_sql}", base_params).fetchone()[0]
    return {
        "result": result,
        "resultCount": len(result),
        "pagedResultsCookie": cookie,
        "totalPagedResultsPolicy": request.total_paged_results_policy,
        "totalPagedResults": total,
        "remainingPagedResults": -1,
    }
