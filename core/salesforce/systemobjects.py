"""IDM's ``system/salesforce/<type>`` object set: read, query, create, update and deactivate records through
the connector, in IDM's object shape (the record's attributes under the provisioner's names, ``_id`` = Id).

Queries take IDM's ``_queryFilter`` over the attributes ``objectTypes.<type>`` declares and become SOQL built
by :mod:`core.salesforce.soql` alone (the one place values are quoted): ``eq``, ``co``, ``sw``, ``pr``, ``and``,
``or``, ``!``, ``true``/``false``. Anything else (another operator, an undeclared or nested attribute, a value
of the wrong type) is refused as a :class:`~core.repo.errors.FilterSyntaxError` naming its position. Results
come in Id order; ``_pageSize`` pages with a cookie that is the last Id of the page (keyset paging).

Choices where IDM's connector leaves room: ``PUT`` sends the attributes that differ from the stored record as
one PATCH (Salesforce has no replace; attributes left out keep their values); a read-only attribute may be
sent back unchanged (a GET then PUT works) but not changed; ``DELETE`` deactivates (``IsActive`` false), as
the engine's DELETE does, since Salesforce cannot delete a User.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.repo import queryfilter as qf
from core.repo.errors import FieldError, ValidationError
from core.salesforce import soql

#: a Salesforce Id (15 or 18 characters), as a page cookie must be
_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
FILTER_OPERATORS = ("eq", "co", "sw", "pr")
_NUMERIC = ("number", "integer", "double", "float", "long")


@dataclass(frozen=True)
class Attribute:
    """A declared attribute: its IDM name, its Salesforce field, its provisioner type."""

    name: str
    native: str
    type: str


def declared(object_type: Any) -> dict[str, Attribute]:
    """``{IDM name: Attribute}`` for what ``objectTypes.<type>`` declares (ICF's ``__NAME__``-style special
    attributes apart), plus ``_id`` for ``Id``."""
    out = {"_id": Attribute("_id", "Id", "string")}
    props = object_type.get("properties") if isinstance(object_type, dict) else None
    for key, spec in (props or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        native = spec.get("nativeName", key)
        if isinstance(key, str) and isinstance(native, str) and not key.startswith("__") \
                and not native.startswith("__"):
            out[key] = Attribute(key, native, str(spec.get("type") or "string").lower())
    return out


class _FilterParser(qf._Parser):
    """CREST's parser, checking each comparison against the declared attributes where its tokens are."""

    def __init__(self, text: str, attributes: dict[str, Attribute], where: str) -> None:
        super().__init__(text)
        self.attributes = attributes
        self.where = where

    def parse_primary(self) -> qf.Filter:
        start = self.i
        node = super().parse_primary()
        if isinstance(node, qf.Comparison | qf.Presence):
            field_tok, op_tok = self.tokens[start], self.tokens[start + 1]
            pointer = node.pointer
            attribute = self.attributes.get(pointer[0]) if len(pointer) == 1 else None
            if attribute is None:
                raise self.fail(f"{field_tok.text!r} is not an attribute of {self.where} (objectTypes declares "
                                "its attributes; nested fields cannot be queried)", field_tok)
            if isinstance(node, qf.Comparison):
                if node.op not in FILTER_OPERATORS:
                    raise self.fail(f"operator {op_tok.text!r} is not supported on {self.where} "
                                    f"(supported: {' '.join(FILTER_OPERATORS)})", op_tok)
                self._check_value(node, attribute, self.tokens[start + 2])
        return node

    def _check_value(self, node: qf.Comparison, attribute: Attribute, value_tok: Any) -> None:
        value = node.value
        if node.op in ("co", "sw"):
            if attribute.type != "string" or not isinstance(value, str):
                raise self.fail(f"{node.op!r} needs a string attribute and a \"string\" value", value_tok)
        elif attribute.type == "boolean" and not isinstance(value, bool):
            raise self.fail(f"{attribute.name} is a boolean: compare it with true or false", value_tok)
        elif attribute.type == "string" and not isinstance(value, str):
            raise self.fail(f"{attribute.name} is a string: compare it with a \"string\"", value_tok)
        elif attribute.type in _NUMERIC and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise self.fail(f"{attribute.name} is a number: compare it with a number", value_tok)


def parse_filter(text: str, attributes: dict[str, Attribute], where: str = "system/salesforce/User") -> qf.Filter:
    """The filter, checked against ``attributes`` (FilterSyntaxError with the position otherwise)."""
    qf.parse(text)  # the grammar's errors (and unpaired surrogates) first, as for managed objects
    return _FilterParser(text, attributes, where).parse()


def to_soql(filt: qf.Filter, attributes: dict[str, Attribute], *, top: bool = True) -> str | None:
    """The WHERE clause of a checked filter (None: every record); compound parts are parenthesized (SOQL
    refuses AND and OR mixed without parentheses)."""
    if isinstance(filt, qf.Literal):
        if top and filt.value:
            return None
        return soql.compare("Id", "!=" if filt.value else "=", None)
    if isinstance(filt, qf.Presence):
        return soql.compare(attributes[filt.pointer[0]].native, "!=", None)
    if isinstance(filt, qf.Comparison):
        native = attributes[filt.pointer[0]].native
        if filt.op == "eq":
            return soql.compare(native, "=", filt.value)
        return soql.like(native, str(filt.value), starts_with=filt.op == "sw")
    if isinstance(filt, qf.Not):
        return f"(NOT {to_soql(filt.operand, attributes, top=False)})"
    joiner = " AND " if isinstance(filt, qf.And) else " OR "
    return "(" + joiner.join(str(to_soql(f, attributes, top=False)) for f in filt.operands) + ")"


class SystemObjects:
    """``system/<connector>/<type>`` over one connector (call on the connector's loop)."""

    def __init__(self, connector: Any, object_type: str, system: str = "salesforce") -> None:
        self.connector = connector
        self.sobject = object_type
        self.name = f"system/{system}/{object_type}"
        self.attributes = declared(connector.config.objectTypes.get(object_type))
        self._by_native = {a.native: a.name for a in self.attributes.values()}

    # ---- shapes ------------------------------------------------------------------------------------
    def _object(self, record: dict[str, Any]) -> dict[str, Any]:
        """IDM's object: ``_id`` first, then the attributes under their IDM names."""
        out: dict[str, Any] = {"_id": record.get("Id")}
        for native, value in record.items():
            if native != "attributes":
                out[self._by_native.get(native, native)] = value
        return out

    def _natives(self, fields: Sequence[str] | None) -> list[str] | None:
        """The Salesforce fields for ``_fields`` (None: the whole record)."""
        if not fields or "*" in fields:
            return None
        out = ["Id"]
        for raw in fields:
            name = raw.strip("/")
            attribute = self.attributes.get(name)
            if attribute is None:
                raise ValidationError([FieldError("_fields", f"{raw!r} is not an attribute of {self.name}")],
                                      resource=self.name)
            if attribute.native not in out:
                out.append(attribute.native)
        return out

    async def _whole(self) -> list[str]:
        return list(await self.connector.record_fields(self.sobject))

    def _select(self, obj: dict[str, Any], fields: Sequence[str] | None) -> dict[str, Any]:
        if not fields or "*" in fields:
            return obj
        keep = {"_id", *(f.strip("/") for f in fields)}
        return {k: v for k, v in obj.items() if k in keep}

    # ---- read, query -------------------------------------------------------------------------------
    async def read(self, object_id: str, fields: Sequence[str] | None = None) -> dict[str, Any]:
        from core.repo.errors import NotFound

        natives = self._natives(fields) or await self._whole()
        record = await self.connector.get(self.sobject, object_id, natives) if _ID.match(object_id) else None
        if record is None:
            raise NotFound(f"Object {object_id} not found on {self.name}")
        return self._select(self._object(record), fields)

    async def query(self, query_filter: str, fields: Sequence[str] | None = None, page_size: int = 0,
                    cookie: str | None = None) -> dict[str, Any]:
        """IDM's query result, in Id order; ``page_size`` 0 = every record."""
        where = to_soql(parse_filter(query_filter, self.attributes, self.name), self.attributes)
        if cookie is not None:
            if not _ID.match(cookie):
                raise ValidationError([FieldError("_pagedResultsCookie", "not a cookie this query returned")],
                                      resource=self.name)
            after = soql.compare("Id", ">", cookie)
            where = f"{where} AND {after}" if where else after
        natives = self._natives(fields) or await self._whole()
        text = soql.select(self.sobject, natives, where, order_by="Id",
                           limit=page_size + 1 if page_size else None)
        records: list[dict[str, Any]] = []
        async for page in self.connector.query_pages(text):
            records.extend(page.records)
        more = bool(page_size) and len(records) > page_size
        if more:
            records = records[:page_size]
        result = [self._select(self._object(r), fields) for r in records]
        return {"result": result, "resultCount": len(result),
                "pagedResultsCookie": records[-1]["Id"] if more else None, "totalPagedResultsPolicy": "NONE",
                "totalPagedResults": -1, "remainingPagedResults": -1}

    # ---- writes ------------------------------------------------------------------------------------
    async def _writable(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        """``body`` (IDM names) as the Salesforce fields to send: undeclared attributes and changed read-only
        ones are a 400 naming them; unchanged values (and read-only ones sent back as read) are left out."""
        describe = await self.connector.described(self.sobject)
        flags = {f["name"]: f for f in describe.get("fields") or () if f.get("name")}
        flag = "createable" if current is None else "updateable"
        changes: dict[str, Any] = {}
        problems = []
        for name, value in body.items():
            if name in ("_id", "_rev"):
                continue
            attribute = self.attributes.get(name)
            if attribute is None:
                problems.append(FieldError(name, f"is not an attribute of {self.name} (objectTypes)"))
                continue
            if current is not None and current.get(attribute.native) == value:
                continue
            if attribute.native == "Id" or not flags.get(attribute.native, {}).get(flag, True):
                if current is None and value is None:
                    continue
                problems.append(FieldError(name, f"is read-only on {self.name}"
                                           if current is not None else f"cannot be set when creating in {self.name}"))
                continue
            changes[attribute.native] = value
        if problems:
            raise ValidationError(problems, resource=self.name)
        return changes

    async def create(self, body: dict[str, Any], fields: Sequence[str] | None = None) -> dict[str, Any]:
        """Create a record; IDM's ``_id`` is its new Salesforce Id. The created object is returned."""
        new_id = await self.connector.create(self.sobject, await self._writable(body, None))
        return await self.read(new_id, fields)

    async def update(self, object_id: str, body: dict[str, Any], fields: Sequence[str] | None = None,
                     ) -> dict[str, Any]:
        """Send what differs from the stored record; the object as it is afterwards."""
        if body.get("_id") not in (None, object_id):
            raise ValidationError([FieldError("_id", f"differs from the id in the path ({object_id})")],
                                  resource=self.name)
        await self.read(object_id, ["_id"])  # NotFound first
        current = await self.connector.get(self.sobject, object_id, await self._whole())
        changes = await self._writable(body, current)
        await self.connector.update(self.sobject, object_id, changes)
        return await self.read(object_id, fields)

    async def delete(self, object_id: str, fields: Sequence[str] | None = None) -> dict[str, Any]:
        """Deactivate (Salesforce cannot delete a User); the object as it is afterwards."""
        await self.read(object_id, ["_id"])
        await self.connector.update(self.sobject, object_id, {"IsActive": False})
        return await self.read(object_id, fields)
