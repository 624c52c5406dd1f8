"""Run parsed SOQL against the org: bind names to fields, compile WHERE to a Python predicate, sort,
and page results through query locators.

A query scans the org once (under the org's lock) and keeps the matching rows in a cursor; each page then
serialises only its own rows, so following ``nextRecordsUrl`` costs O(page), not O(org). Rows are the
org's live lists, so a page shows a record's current values, as Salesforce does.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

from . import ids, soql
from .clock import format_dt, parse_dt
from .errors import DataApiError
from .schema import PROFILE, SOBJECTS, USER, Field, SObjectType

MAX_BATCH = 2000
MIN_BATCH = 200
MAX_OFFSET = 2000
CURSOR_IDLE = 15 * 60
MAX_CURSORS = 50     # Salesforce allows 10 per user; a 100,000-row cursor holds ~0.8 MB of references
_TEXT = ("string", "email", "phone", "picklist", "textarea", "url")


def _bad_field(path: soql.Path, entity: str) -> soql.SoqlError:
    return soql.SoqlError(
        "INVALID_FIELD",
        f"No such column '{path.parts[-1]}' on entity '{entity}'. If you are attempting to use a custom field, "
        "be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe "
        "call for the appropriate names.", path.pos)


@dataclass
class Column:
    """A resolved field path: the final field, where to find it, and the relationship hop if any."""

    field: Field
    index: int
    relationship: str | None = None   # e.g. "Profile"
    ref_index: int = -1               # position of e.g. ProfileId in the base row
    target: SObjectType | None = None

    def getter(self, tables: dict[str, dict]) -> Callable[[list], object]:
        i = self.index
        if self.relationship is None:
            return lambda row: row[i]
        assert self.target is not None
        ref, table = self.ref_index, tables[self.target.name]

        def get(row: list) -> object:
            other = table.get(row[ref])
            return other[i] if other is not None else None
        return get


def resolve(path: soql.Path, sobject: SObjectType) -> Column:
    parts = path.parts
    if len(parts) > 1 and parts[0].lower() == sobject.name.lower():
        parts = parts[1:]
    if len(parts) == 1:
        f = sobject.field(parts[0])
        if f is None:
            raise _bad_field(path, sobject.name)
        return Column(f, sobject.pos(f.name))
    if len(parts) == 2:
        for ref in sobject.fields:
            if ref.relationship and ref.relationship.lower() == parts[0].lower():
                target = SOBJECTS.get(ref.reference_to[0].lower())
                if target is None:
                    break
                f = target.field(parts[1])
                if f is None:
                    raise _bad_field(soql.Path((parts[1],), path.pos), target.name)
                return Column(f, target.pos(f.name), ref.relationship, sobject.pos(ref.name), target)
    raise soql.SoqlError(
        "INVALID_FIELD",
        f"Didn't understand relationship '{parts[0]}' in field path. If you are attempting to use a custom "
        "relationship, be sure to append the '__r' after the custom relationship name. Please reference your "
        "WSDL or the describe call for the appropriate names.", path.pos)


# --------------------------------------------------------------------------------------- predicates
def _kind(f: Field) -> str:
    if f.type in ("id", "reference"):
        return "id"
    if f.type in ("boolean", "datetime"):
        return f.type
    return "text"


def _type_error(col: Column, lit: soql.Literal, expected: str) -> soql.SoqlError:
    quoted = "should be enclosed in quotes" if expected in ("string", "id") else "should not be enclosed in quotes"
    return soql.SoqlError("INVALID_FIELD", f"value of filter criterion for field '{col.field.name}' must be of "
                          f"type {expected} and {quoted}", lit.pos)


def _date_range(lit: soql.Literal) -> tuple[str, str]:
    word, n = cast(tuple[str, int | None], lit.value)   # a date constant's value is (word, n)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = timedelta(days=1)
    start, end = {
        "today": (today, today + day), "yesterday": (today - day, today), "tomorrow": (today + day, today + 2 * day),
        "last_n_days": (today - (n or 0) * day, today + day), "next_n_days": (today + day, today + ((n or 0) + 1) * day),
        "this_month": (today.replace(day=1), (today.replace(day=28) + 4 * day).replace(day=1)),
        "last_month": ((today.replace(day=1) - day).replace(day=1), today.replace(day=1)),
    }[word]
    return format_dt(start), format_dt(end)


def _literal(col: Column, lit: soql.Literal) -> object:
    """The literal converted to the stored form of the column (lower-cased text, 18-char ids, UTC text)."""
    kind = _kind(col.field)
    if lit.kind == "null":
        return None
    if kind == "text":
        if lit.kind != "string":
            raise _type_error(col, lit, "string")
        return str(lit.value).replace("\x00", "").lower()
    if kind == "id":
        if lit.kind != "string":
            raise _type_error(col, lit, "id")
        value = ids.normalize(str(lit.value))
        if value is None:
            raise soql.SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {lit.value}", lit.pos)
        return value
    if kind == "boolean":
        if lit.kind != "bool":
            raise _type_error(col, lit, "boolean")
        return lit.value
    if lit.kind == "datetime":
        return format_dt(parse_dt(str(lit.value)))
    if lit.kind == "constant":
        return _date_range(lit)
    raise _type_error(col, lit, "dateTime")


def _like(pattern: str) -> Callable[[object], bool]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\x00" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    rx = re.compile("".join(out), re.IGNORECASE | re.DOTALL)
    return lambda v: isinstance(v, str) and rx.fullmatch(v) is not None


def compile_where(node, sobject: SObjectType, tables: dict[str, dict]) -> Callable[[list], bool]:
    if isinstance(node, soql.BoolOp):
        parts = [compile_where(n, sobject, tables) for n in node.items]
        if node.op == "and":
            return lambda row: all(p(row) for p in parts)
        return lambda row: any(p(row) for p in parts)
    if isinstance(node, soql.Not):
        inner = compile_where(node.item, sobject, tables)
        return lambda row: not inner(row)
    col = resolve(node.path, sobject)
    if not col.field.filterable:
        raise soql.SoqlError("INVALID_FIELD", f"field '{col.field.name}' can not be filtered in a query call",
                             node.path.pos)
    get = col.getter(tables)
    kind = _kind(col.field)
    low = kind == "text"
    op = node.op

    if op in ("in", "notin"):
        values = {_literal(col, v) for v in node.value}
        values.discard(None)
        if any(isinstance(v, tuple) for v in values):
            raise soql.SoqlError("MALFORMED_QUERY", "date literals are not supported in IN", node.path.pos)
        if op == "in":
            return (lambda row: isinstance(v := get(row), str) and v.lower() in values) if low else \
                (lambda row: get(row) in values)
        return (lambda row: not isinstance(v := get(row), str) or v.lower() not in values) if low else \
            (lambda row: get(row) not in values)
    if op == "like":
        if kind not in ("text", "id"):
            raise soql.SoqlError("INVALID_FIELD", f"invalid operator on {col.field.type} field", node.path.pos)
        matches = _like(node.value.value)
        return lambda row: matches(get(row))

    lit = _literal(col, node.value)
    lower = kind == "text" and node.value.kind == "string"

    def norm(v):
        return v.lower() if lower else v
    if lit is None:
        if op == "=":
            return lambda row: get(row) is None
        if op == "!=":
            return lambda row: get(row) is not None
        return lambda row: False
    if kind == "boolean" and op not in ("=", "!="):
        raise soql.SoqlError("INVALID_FIELD", f"invalid operator on boolean field: {op}", node.path.pos)
    if isinstance(lit, tuple):                       # a date constant: a half-open range of instants
        start, end = lit
        tests = {"=": lambda v: start <= v < end, "!=": lambda v: not start <= v < end,
                 "<": lambda v: v < start, "<=": lambda v: v < end, ">": lambda v: v >= end,
                 ">=": lambda v: v >= start}
        test = tests[op]
        return lambda row: (v := get(row)) is not None and test(v)
    if op == "=":
        return lambda row: (v := get(row)) is not None and norm(v) == lit
    if op == "!=":
        return lambda row: (v := get(row)) is None or norm(v) != lit
    cmp = {"<": lambda a: a < lit, "<=": lambda a: a <= lit, ">": lambda a: a > lit, ">=": lambda a: a >= lit}[op]
    return lambda row: (v := get(row)) is not None and cmp(norm(v))


# ------------------------------------------------------------------------------------------ results
@dataclass
class Projection:
    """Turns stored rows into Salesforce's JSON records, in SELECT order, with nested relationships."""

    sobject: SObjectType
    columns: list[tuple[str, Column]]
    tables: dict[str, dict]

    def records(self, rows: list[list], version: str) -> list[dict]:
        base = f"/services/data/v{version}/sobjects/"
        obj = self.sobject.name
        direct = all(c.relationship is None for _, c in self.columns)
        if direct:
            pairs = [(c.field.name, c.index) for _, c in self.columns]
            return [{"attributes": {"type": obj, "url": f"{base}{obj}/{row[0]}"},
                     **{name: row[i] for name, i in pairs}} for row in rows]
        out = []
        for row in rows:
            rec: dict = {"attributes": {"type": obj, "url": f"{base}{obj}/{row[0]}"}}
            for _, col in self.columns:
                if col.relationship is None:
                    rec[col.field.name] = row[col.index]
                    continue
                target = col.target
                assert target is not None
                other = self.tables[target.name].get(row[col.ref_index])
                if other is None:
                    rec[col.relationship] = None
                    continue
                nested = rec.get(col.relationship)
                if nested is None:
                    nested = rec[col.relationship] = {"attributes": {
                        "type": target.name, "url": f"{base}{target.name}/{other[0]}"}}
                nested[col.field.name] = other[col.index]
            out.append(rec)
        return out


@dataclass
class Cursor:
    rows: list[list]
    projection: Projection
    batch: int
    last_used: float = field(default_factory=time.monotonic)


class QueryEngine:
    """Executes SOQL for one org and keeps its open cursors (LRU, idle ones expire after 15 minutes)."""

    def __init__(self, org) -> None:
        self.org = org
        self.cursors: OrderedDict[str, Cursor] = OrderedDict()
        self.lock = threading.Lock()

    def tables(self) -> dict[str, dict]:
        return {"User": self.org.users, "Profile": self.org.profiles}

    def run(self, text: str, version: str, batch: int = MAX_BATCH) -> dict:
        try:
            return self._run(soql.parse(text), version, batch)
        except soql.SoqlError as exc:
            raise DataApiError(400, exc.code, exc.render(text)) from None

    def _run(self, q: soql.Query, version: str, batch: int) -> dict:
        sobject, columns, rows = self._select(q)
        if q.count_only:
            return {"totalSize": len(rows), "done": True, "records": []}
        if q.aggregates:
            rec: dict = {"attributes": {"type": "AggregateResult"}}
            for path, alias in q.aggregates:
                get = resolve(path, sobject).getter(self.tables())
                rec[alias] = sum(1 for r in rows if get(r) is not None)
            return {"totalSize": 1, "done": True, "records": [rec]}
        if not columns:
            raise soql.SoqlError("MALFORMED_QUERY", "unexpected token: 'FROM'", q.sobject_pos)
        projection = Projection(sobject, columns, self.tables())
        cursor = Cursor(rows, projection, max(MIN_BATCH, min(MAX_BATCH, batch)))
        if len(rows) <= cursor.batch:
            return {"totalSize": len(rows), "done": True, "records": projection.records(rows, version)}
        locator = self._open(cursor)
        return self.page(locator, 0, version)

    def select(self, text: str) -> tuple[str, list[tuple[str, Callable[[list], object]]], list[list]]:
        """A plain SELECT for a Bulk API 2.0 job: its sObject, its columns (API name, e.g. ``Profile.Name``, and
        value getter) and the rows it matches, in order.
        Counts, aggregates and OFFSET are refused as Bulk API 2.0 refuses them."""
        try:
            q = soql.parse(text)
            if q.count_only or q.aggregates:
                raise soql.SoqlError("API_ERROR", "Aggregate queries are not supported by Bulk API 2.0", 0)
            if q.offset is not None:
                raise soql.SoqlError("API_ERROR", "OFFSET is not supported by Bulk API 2.0", 0)
            sobject, columns, rows = self._select(q)
            if not columns:
                raise soql.SoqlError("MALFORMED_QUERY", "unexpected token: 'FROM'", q.sobject_pos)
        except soql.SoqlError as exc:
            raise DataApiError(400, exc.code, exc.render(text)) from None
        tables = self.tables()
        return sobject.name, [(col.field.name if col.relationship is None else f"{col.relationship}.{col.field.name}",
                               col.getter(tables)) for _, col in columns], rows

    def _select(self, q: soql.Query) -> tuple[SObjectType, list[tuple[str, Column]], list[list]]:
        """Bind, filter, sort and cut: the query's sObject, its columns and the rows it matches, in order."""
        sobject = SOBJECTS.get(q.sobject.lower())
        if sobject is None:
            raise soql.SoqlError(
                "INVALID_TYPE", f"sObject type '{q.sobject}' is not supported. If you are attempting to use a "
                "custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or "
                "the describe call for the appropriate names.", q.sobject_pos)
        tables = self.tables()
        paths = list(q.fields)
        if q.standard_fields:
            paths += [soql.Path((f.name,), 0) for f in sobject.fields]
        columns: list[tuple[str, Column]] = []
        seen = set()
        for path in paths:
            col = resolve(path, sobject)
            key = (col.relationship, col.field.name)
            if key in seen:
                if path.pos:
                    raise soql.SoqlError("DUPLICATE_FIELD", f"duplicate field selected: {path.text}", path.pos)
                continue
            seen.add(key)
            columns.append((path.text, col))
        predicate = compile_where(q.where, sobject, tables) if q.where is not None else None
        order = []
        for item in q.order:
            col = resolve(item.path, sobject)
            if not col.field.sortable:
                raise soql.SoqlError("INVALID_FIELD", f"field '{col.field.name}' can not be sorted in a query call",
                                     item.path.pos)
            order.append((col.getter(tables), col.field.is_text and col.field.type not in ("id", "reference"), item))
        if q.offset is not None and q.offset > MAX_OFFSET:
            raise soql.SoqlError("NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}", 0)

        table = tables[sobject.name]
        with self.org.lock:
            rows = [r for r in table.values() if predicate(r)] if predicate else list(table.values())
        for get, text, item in reversed(order):
            rows.sort(key=_sort_key(get, text, item), reverse=item.descending)
        if q.offset:
            rows = rows[q.offset:]
        if q.limit is not None:
            rows = rows[:q.limit]
        return sobject, columns, rows

    def _open(self, cursor: Cursor) -> str:
        locator = ids.to18(ids.LOCATOR_PREFIX + "".join(secrets.choice(ids._BASE62) for _ in range(12)))
        with self.lock:
            now = time.monotonic()
            for key in [k for k, c in self.cursors.items() if now - c.last_used > CURSOR_IDLE]:
                del self.cursors[key]
            while len(self.cursors) >= MAX_CURSORS:
                self.cursors.popitem(last=False)
            self.cursors[locator] = cursor
        return locator

    def page(self, locator: str, offset: int, version: str) -> dict:
        """One page of an open cursor: rows ``offset`` .. ``offset + batch``."""
        with self.lock:
            cursor = self.cursors.get(locator)
            if cursor is None or time.monotonic() - cursor.last_used > CURSOR_IDLE or not 0 <= offset <= len(cursor.rows):
                raise DataApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            cursor.last_used = time.monotonic()
            self.cursors.move_to_end(locator)
        end = offset + cursor.batch
        out: dict = {"totalSize": len(cursor.rows), "done": end >= len(cursor.rows)}
        if not out["done"]:
            out["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        out["records"] = cursor.projection.records(cursor.rows[offset:end], version)
        return out


def _sort_key(get, text: bool, item: soql.OrderItem):
    # Python sorts False before True; choose the null flag so nulls land where NULLS FIRST/LAST asks,
    # bearing in mind that reverse=True flips the flag's order too.
    null_flag = item.nulls_last != item.descending
    if text:
        return lambda row: (null_flag, "") if (v := get(row)) is None else (not null_flag, v.lower())
    return lambda row: (null_flag, "") if (v := get(row)) is None else (not null_flag, v)


__all__ = ["QueryEngine", "USER", "PROFILE"]
