"""CREST queries on PostgreSQL: the parsed ``_queryFilter`` (core/repo/queryfilter.py's tree) as parameterised
SQL over JSONB, with IDM's result shape, ``_fields``, ``_sortKeys``, keyset paging cookies and totals.

The semantics are the SQLite repository's (core/repo/queryfilter.py, core/repo/query.py), so one contract
holds on both backends: strings compare case-insensitively for ASCII letters (``lower(… COLLATE "C")``, which
folds ASCII only), numbers numerically (only values that are JSON numbers), booleans only with ``eq``, ``co``
and ``sw`` only match strings, ``!`` is true whenever its operand is not. A top-level field with a plain name is
written ``fullobject->>'name'`` (the name checked, never user text otherwise), so the expression indexes the
repository makes on searchable fields serve it; any other pointer is a bound ``text[]`` path.

Sorting: every sort key is two expressions, ``(x IS NOT NULL)`` and ``coalesce(lower(x), '')``, so NULLs sort
first ascending and last descending as in SQLite, and the keyset condition compares plain values; the row's
tiebreak column (``id`` or ``objectid``) is always last, so the order is total.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.repo import queryfilter as qf
from core.repo.errors import FieldError, ValidationError
from core.repo.query import QueryRequest, _field_pointers, parse_sort_keys, project

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class PgCollection:
    """A table (or join) of JSON objects as a CREST collection.

    ``source``: the FROM clause; ``base``: a condition every row of the collection meets, with ``base_params``;
    ``id_column``/``rev_column``: the ``_id``/``_rev`` columns (``rev_column`` None: no ``_rev``); ``data``: a
    JSONB expression of the object without ``_id``/``_rev``; ``columns``: fields stored in a text column of their
    own (filters and sorts use the column); ``tiebreak``: a unique column that orders ties.
    """

    source: str
    data: str
    id_column: str = "objectid"
    rev_column: str | None = "rev"
    tiebreak: str = "id"
    base: str = "TRUE"
    base_params: tuple[Any, ...] = ()
    columns: Mapping[str, str] = field(default_factory=dict)
    #: the order of the object's first keys (a JSONB object's own order is by key length)
    key_order: tuple[str, ...] = ()

    def column(self, pointer: qf.Pointer) -> str | None:
        if len(pointer) == 1:
            if pointer[0] == "_id":
                return self.id_column
            if pointer[0] == "_rev" and self.rev_column:
                return self.rev_column
            return self.columns.get(pointer[0])
        return None


class _Builder:
    def __init__(self, coll: PgCollection) -> None:
        self.coll = coll
        self.params: list[Any] = []

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "%s"

    def json(self, pointer: qf.Pointer) -> str:
        """The JSONB value at the pointer (SQL NULL when absent)."""
        if all(_NAME.match(p) for p in pointer):
            return f"({self.coll.data}" + "".join(f"->'{p}'" for p in pointer) + ")"
        return f"({self.coll.data} #> {self.bind(list(pointer))}::text[])"

    def text(self, pointer: qf.Pointer) -> str:
        """The value as text (a column, or ``->>``)."""
        column = self.coll.column(pointer)
        if column is not None:
            return column
        if all(_NAME.match(p) for p in pointer):
            head = "".join(f"->'{p}'" for p in pointer[:-1])
            return f"({self.coll.data}{head}->>'{pointer[-1]}')"
        return f"({self.coll.data} #>> {self.bind(list(pointer))}::text[])"

    def folded(self, pointer: qf.Pointer) -> str:
        return f'lower({self.text(pointer)} COLLATE "C")'

    def is_type(self, pointer: qf.Pointer, kind: str) -> str:
        if self.coll.column(pointer) is not None:
            return "TRUE" if kind == "string" else "FALSE"
        return f"jsonb_typeof({self.json(pointer)}) = '{kind}'"

    def build(self, filt: qf.Filter) -> str:
        if isinstance(filt, qf.Literal):
            return "TRUE" if filt.value else "FALSE"
        if isinstance(filt, qf.Presence):
            if self.coll.column(filt.pointer) is not None:
                return f"{self.text(filt.pointer)} IS NOT NULL"
            return f"coalesce(jsonb_typeof({self.json(filt.pointer)}) <> 'null', FALSE)"
        if isinstance(filt, qf.Not):
            return f"NOT coalesce(({self.build(filt.operand)}), FALSE)"
        if isinstance(filt, qf.And | qf.Or):
            word = " AND " if isinstance(filt, qf.And) else " OR "
            return "(" + word.join(self.build(o) for o in filt.operands) + ")"
        return self.comparison(filt)

    def comparison(self, c: qf.Comparison) -> str:
        ops = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
        if isinstance(c.value, bool):
            if c.op != "eq" or self.coll.column(c.pointer) is not None:
                return "FALSE"
            return f"coalesce({self.json(c.pointer)} = {self.bind('true' if c.value else 'false')}::jsonb, FALSE)"
        if c.op in ("co", "sw"):
            text = qf._like_escape(str(c.value))
            pattern = text + "%" if c.op == "sw" else "%" + text + "%"
            return (f"({self.is_type(c.pointer, 'string')} AND "
                    f"{self.folded(c.pointer)} LIKE lower({self.bind(pattern)} COLLATE \"C\") ESCAPE '\\')")
        if isinstance(c.value, int | float):
            if self.coll.column(c.pointer) is not None:
                return "FALSE"
            number = f"CASE WHEN {self.is_type(c.pointer, 'number')} THEN ({self.text(c.pointer)})::numeric END"
            return f"coalesce({number} {ops[c.op]} {self.bind(c.value)}::numeric, FALSE)"
        return (f"({self.is_type(c.pointer, 'string')} AND "
                f"{self.folded(c.pointer)} {ops[c.op]} lower({self.bind(str(c.value))} COLLATE \"C\"))")


def to_pg_sql(filt: qf.Filter, coll: PgCollection) -> tuple[str, list[Any]]:
    """``(where_sql, params)`` for a parsed filter over ``coll``: every value a bound parameter."""
    builder = _Builder(coll)
    return builder.build(filt), builder.params


# ---------------------------------------------------------------------------------------------- paging

def _encode_cookie(values: list[Any], sort_text: str) -> str:
    raw = json.dumps({"v": values, "s": sort_text}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cookie(cookie: str, sort_text: str, n: int) -> list[Any]:
    bad = ValidationError([FieldError("_pagedResultsCookie", "not a cookie this query returned")], resource="query")
    try:
        data = json.loads(base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4)))
        values, sorted_by = data["v"], data["s"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad from None
    if sorted_by != sort_text or not isinstance(values, list) or len(values) != n:
        raise bad
    return values


def _after(exprs: list[tuple[str, bool]], values: list[Any]) -> tuple[str, list[Any]]:
    """Rows strictly after ``values`` in the order of ``exprs`` (each ``(sql, descending)``, never NULL)."""
    terms, params = [], []
    for i in range(len(exprs)):
        parts = []
        for j in range(i):
            parts.append(f"{exprs[j][0]} = %s")
            params.append(values[j])
        parts.append(f"{exprs[i][0]} {'<' if exprs[i][1] else '>'} %s")
        params.append(values[i])
        terms.append("(" + " AND ".join(parts) + ")")
    return "(" + " OR ".join(terms) + ")", params


Decoder = Callable[[tuple[Any, ...]], dict[str, Any]]


def row_object(coll: PgCollection, row: tuple[Any, ...]) -> dict[str, Any]:
    """``(id, rev, data)`` (or ``(id, data)``) -> the object, ``_id``/``_rev`` first."""
    obj: dict[str, Any] = {"_id": row[0]}
    if coll.rev_column:
        obj["_rev"] = row[1]
    data = row[-1]
    if data:
        obj.update(data)
        if "_id" in data or "_rev" in data:  # IDM 5.x copies them into fullobject: the columns are authoritative
            obj["_id"] = row[0]
            if coll.rev_column:
                obj["_rev"] = row[1]
    if coll.key_order:
        head = {"_id": obj["_id"], **({"_rev": obj["_rev"]} if coll.rev_column else {})}
        head.update((k, obj[k]) for k in coll.key_order if k in obj)
        head.update(obj)
        return head
    return obj


def run_pg_query(db: Any, coll: PgCollection, request: QueryRequest, extra: tuple[str, list[Any]] | None = None,
                 ) -> dict[str, Any]:
    """Answer ``request`` over ``coll`` in IDM's query result shape (``db``: a PgDatabase)."""
    filt = qf.parse(request.query_filter)
    pointers, whole = _field_pointers(request.fields)
    keys = parse_sort_keys(request.sort_keys)
    sort_text = ",".join(request.sort_keys)

    where, where_params = to_pg_sql(filt, coll)
    conditions = [coll.base, f"({where})"]
    params: list[Any] = [*coll.base_params, *where_params]
    if extra:
        conditions.append(extra[0])
        params.extend(extra[1])

    key_builder = _Builder(coll)
    exprs: list[tuple[str, bool]] = []
    for key in keys:  # (text() once per use: a pointer that is a bound path binds it in each)
        exprs.append((f"({key_builder.text(key.pointer)} IS NOT NULL)", key.descending))
        exprs.append((f"coalesce(lower({key_builder.text(key.pointer)} COLLATE \"C\"), '')", key.descending))
    exprs.append((coll.tiebreak, keys[0].descending if keys else False))
    key_params = key_builder.params

    page_conditions, page_params = list(conditions), list(params)
    if request.paged_results_cookie:
        values = _decode_cookie(request.paged_results_cookie, sort_text, len(exprs))
        # the keyset condition repeats the key expressions, whose bound paths come first in each
        page_conditions.append(_after(exprs, values)[0])
        page_params.extend(_interleave(exprs, key_params, values))

    selected = [coll.id_column, *([coll.rev_column] if coll.rev_column else []), coll.data]
    text = (f"SELECT {', '.join([*selected, *(e for e, _ in exprs)])} FROM {coll.source} "
            f"WHERE {' AND '.join(page_conditions)} "
            f"ORDER BY {', '.join(e + (' DESC' if d else ' ASC') for e, d in exprs)}")
    args: list[Any] = [*key_params, *page_params, *key_params]
    if request.page_size:
        text += " LIMIT %s"
        args.append(request.page_size + 1)
    if request.paged_results_offset:
        text += " OFFSET %s"
        args.append(min(request.paged_results_offset, 2**63 - 1))  # past every row anyway
    rows = db.fetchall(text, args)
    more = bool(request.page_size) and len(rows) > request.page_size
    if more:
        rows = rows[:request.page_size]
    n = len(selected)
    result = []
    for row in rows:
        obj = row_object(coll, row[:n])
        result.append(obj if whole else project(obj, pointers, coll.rev_column is not None))
    cookie = _encode_cookie(list(rows[-1][n:]), sort_text) if more and rows else None
    total = -1
    if request.total_paged_results_policy != "NONE":
        total = db.fetchone(f"SELECT count(*) FROM {coll.source} WHERE {' AND '.join(conditions)}", params)[0]
    return {"result": result, "resultCount": len(result), "pagedResultsCookie": cookie,
            "totalPagedResultsPolicy": request.total_paged_results_policy, "totalPagedResults": total,
            "remainingPagedResults": -1}


def _interleave(exprs: list[tuple[str, bool]], key_params: list[Any], values: list[Any]) -> list[Any]:
    """The parameters of :func:`_after`'s text, where each key expression may carry its own bound path."""
    per_expr: list[list[Any]] = []
    it = iter(key_params)
    for sql, _ in exprs:
        per_expr.append([next(it) for _ in range(sql.count("%s"))])
    out: list[Any] = []
    for i in range(len(exprs)):
        for j in range(i):
            out.extend(per_expr[j])
            out.append(values[j])
        out.extend(per_expr[i])
        out.append(values[i])
    return out
