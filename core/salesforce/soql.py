"""Building SOQL safely: values are always escaped literals, names are checked identifiers.

This module is the only place SOQL is assembled from values (the architecture's rule), so an Id or a
name with a quote in it can never change the query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def quote(value: object) -> str:
    """``value`` as a SOQL literal: strings quoted and escaped, numbers, booleans, ``null``, dates."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return datetime_literal(value)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + "".join(_ESCAPES.get(ch, ch) for ch in text) + "'"


def datetime_literal(value: datetime) -> str:
    """A SOQL dateTime literal in UTC (``2024-05-01T12:00:00Z``); naive datetimes are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond // 1000:03d}"
    return text + "Z"


def ident(name: str) -> str:
    """``name`` if it is a field or object name (``Profile.Name`` allowed); else ``ValueError``."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ValueError(f"not a Salesforce field or object name: {name!r}")
    return name


def quote_list(values: Iterable[object]) -> str:
    """``('a','b')`` for ``IN``."""
    return "(" + ",".join(quote(v) for v in values) + ")"


def select(sobject: str, fields: Iterable[str], where: str | None = None, order_by: str | None = None,
           limit: int | None = None) -> str:
    """``SELECT f1,f2 FROM sobject [WHERE …] [ORDER BY …] [LIMIT n]``.

    ``where`` must itself have been built with :func:`quote`/:func:`eq`/:func:`in_`; ``order_by`` is
    checked as ``Field [ASC|DESC] [NULLS FIRST|LAST]``, several separated by commas.
    """
    names = [ident(f) for f in dict.fromkeys(fields)]
    if not names:
        raise ValueError("a query needs at least one field")
    text = f"SELECT {','.join(names)} FROM {ident(sobject)}"
    if where:
        text += f" WHERE {where}"
    if order_by:
        keys = []
        for key in order_by.split(","):
            parts = key.split()
            if not parts:
                raise ValueError(f"not an ORDER BY clause: {order_by!r}")
            ident(parts[0])
            rest = " ".join(p.upper() for p in parts[1:])
            if rest and not re.fullmatch(r"(ASC|DESC)?( ?NULLS (FIRST|LAST))?", rest):
                raise ValueError(f"not an ORDER BY clause: {order_by!r}")
            keys.append(" ".join([parts[0], rest]).strip())
        text += f" ORDER BY {', '.join(keys)}"
    if limit is not None:
        text += f" LIMIT {int(limit)}"
    return text


def eq(field: str, value: object) -> str:
    """``Field = 'value'``."""
    return f"{ident(field)} = {quote(value)}"


def in_(field: str, values: Iterable[object]) -> str:
    """``Field IN ('a','b')``."""
    return f"{ident(field)} IN {quote_list(values)}"


#: the comparison operators :func:`compare` writes
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")


def compare(field: str, op: str, value: object) -> str:
    """``Field op value`` (``Id > '005…'``, ``Email != null``), the value quoted by :func:`quote`."""
    if op not in COMPARISONS:
        raise ValueError(f"not a SOQL comparison operator: {op!r}")
    return f"{ident(field)} {op} {quote(value)}"


def like(field: str, value: str, *, starts_with: bool) -> str:
    """``Field LIKE 'value%'`` (``starts_with``) or ``Field LIKE '%value%'``: the value escaped as by
    :func:`quote`, and its ``%`` and ``_`` escaped too, so they match themselves rather than anything."""
    text = "".join(_ESCAPES.get(ch, ch) for ch in str(value)).replace("%", "\\%").replace("_", "\\_")
    return f"{ident(field)} LIKE '{'' if starts_with else '%'}{text}%'"
