"""IDM query filters evaluated in memory, for the places a mapping uses one on an object it already holds.

``sourceCondition``, a policy's or a property's ``condition`` and a correlation query may be IDM query
filters (``/source/accountStatus eq "active"``). The repository translates filters to SQL for stored objects;
here the object is a dict in hand, so we evaluate directly. :func:`equalities` recognises the filters that
are plain conjunctions of ``field eq value``, which correlation can look up in bulk, one query per page.

Grammar (ForgeRock ``QueryFilters``): or / and / ``!`` (prefix), parentheses, ``true`` / ``false``,
``pointer op value`` with ``eq co sw lt le gt ge``, ``pointer pr``; values are JSON strings (double or single
quoted), numbers, booleans, ``null``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import SfsyncError


class FilterError(SfsyncError):
    """A filter that does not parse; the message names the position."""

    exit_code = 2


@dataclass(frozen=True)
class Cmp:
    pointer: tuple[str, ...]
    op: str
    value: Any


@dataclass(frozen=True)
class Bool:
    op: str  # "and" | "or"
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    part: Any


@dataclass(frozen=True)
class Literal:
    value: bool


_TOKEN = re.compile(r"""\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<bang>!)|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|"""
                    r"""(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w/]))|(?P<word>[^\s()"']+))""")
_OPS = {"eq", "co", "sw", "lt", "le", "gt", "ge"}


def parse(text: str) -> Any:
    """Parse an IDM query filter into a small tree of :class:`Cmp`, :class:`Bool`, :class:`Not`, :class:`Literal`."""
    tokens: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FilterError(f"query filter: unexpected character at position {pos + 1}: {text!r}")
        kind = m.lastgroup or ""
        raw = m.group(kind)
        start = m.start(kind)
        if kind == "str":
            body = raw[1:-1] if raw[0] == '"' else raw[1:-1].replace('"', '\\"').replace("\\'", "'")
            tokens.append(("value", json.loads('"' + body + '"'), start))
        elif kind == "num":
            tokens.append(("value", json.loads(raw), start))
        else:
            tokens.append((kind, raw, start))
        pos = m.end()
    parser = _Parser(tokens, text)
    tree = parser.expr()
    if parser.i != len(tokens):
        raise FilterError(f"query filter: unexpected {tokens[parser.i][1]!r} at position "
                          f"{tokens[parser.i][2] + 1}: {text!r}")
    return tree


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any, int]], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.i = 0

    def _peek(self) -> tuple[str, Any, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _fail(self, what: str) -> FilterError:
        tok = self._peek()
        where = f"position {tok[2] + 1}" if tok else "the end"
        return FilterError(f"query filter: expected {what} at {where}: {self.text!r}")

    def expr(self) -> Any:
        parts = [self.and_expr()]
        while (tok := self._peek()) and tok[0] == "word" and tok[1] == "or":
            self.i += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Bool("or", tuple(parts))

    def and_expr(self) -> Any:
        parts = [self.not_expr()]
        while (tok := self._peek()) and tok[0] == "word" and tok[1] == "and":
            self.i += 1
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else Bool("and", tuple(parts))

    def not_expr(self) -> Any:
        tok = self._peek()
        if tok and tok[0] == "bang":
            self.i += 1
            return Not(self.primary())
        return self.primary()

    def primary(self) -> Any:
        tok = self._peek()
        if tok is None:
            raise self._fail("a filter")
        if tok[0] == "lp":
            self.i += 1
            inner = self.expr()
            close = self._peek()
            if not close or close[0] != "rp":
                raise self._fail("')'")
            self.i += 1
            return inner
        if tok[0] == "word" and tok[1] in ("true", "false"):
            self.i += 1
            return Literal(tok[1] == "true")
        if tok[0] != "word":
            raise self._fail("a field")
        self.i += 1
        pointer = tuple(p for p in tok[1].split("/") if p)
        op = self._peek()
        if op is None or op[0] != "word":
            raise self._fail("an operator")
        self.i += 1
        if op[1] == "pr":
            return Cmp(pointer, "pr", None)
        if op[1] not in _OPS:
            raise FilterError(f"query filter: unknown operator {op[1]!r} at position {op[2] + 1}: {self.text!r}")
        value = self._peek()
        if value is None:
            raise self._fail("a value")
        self.i += 1
        if value[0] == "value":
            return Cmp(pointer, op[1], value[1])
        if value[0] == "word" and value[1] in ("true", "false", "null"):
            return Cmp(pointer, op[1], {"true": True, "false": False, "null": None}[value[1]])
        raise FilterError(f"query filter: expected a quoted value at position {value[2] + 1}: {self.text!r}")


def resolve(obj: Any, pointer: tuple[str, ...]) -> Any:
    for part in pointer:
        if isinstance(obj, Mapping):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
    return obj


def evaluate(tree: Any, obj: Mapping[str, Any]) -> bool:
    """Does ``obj`` match the filter? Comparisons of different types are false, as in IDM."""
    if isinstance(tree, Literal):
        return tree.value
    if isinstance(tree, Not):
        return not evaluate(tree.part, obj)
    if isinstance(tree, Bool):
        if tree.op == "and":
            return all(evaluate(p, obj) for p in tree.parts)
        return any(evaluate(p, obj) for p in tree.parts)
    value = resolve(obj, tree.pointer)
    if tree.op == "pr":
        return value is not None
    values = value if isinstance(value, list) else [value]
    return any(_compare(v, tree.op, tree.value) for v in values)


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is None:
        return False
    if isinstance(left, str) and isinstance(right, str):
        if op == "co":
            return right.lower() in left.lower()
        if op == "sw":
            return left.lower().startswith(right.lower())
    if op == "eq":
        return left == right
    try:
        if op == "lt":
            return bool(left < right)
        if op == "le":
            return bool(left <= right)
        if op == "gt":
            return bool(left > right)
        if op == "ge":
            return bool(left >= right)
    except TypeError:
        return False
    return False


def equalities(tree: Any) -> list[tuple[str, Any]] | None:
    """``a eq 1 and b eq "x"`` -> ``[("a", 1), ("b", "x")]``; None when the filter is anything else."""
    if isinstance(tree, Cmp) and tree.op == "eq" and len(tree.pointer) == 1:
        return [(tree.pointer[0], tree.value)]
    if isinstance(tree, Bool) and tree.op == "and":
        out: list[tuple[str, Any]] = []
        for part in tree.parts:
            sub = equalities(part)
            if sub is None:
                return None
            out.extend(sub)
        return out
    return None


def render(tree: Any) -> str:
    """The filter as IDM query filter text (values JSON-quoted), e.g. for the repository's query."""
    if isinstance(tree, Literal):
        return "true" if tree.value else "false"
    if isinstance(tree, Not):
        return f"!({render(tree.part)})"
    if isinstance(tree, Bool):
        return "(" + f" {tree.op} ".join(render(p) for p in tree.parts) + ")"
    pointer = "/" + "/".join(tree.pointer)
    if tree.op == "pr":
        return f"{pointer} pr"
    return f"{pointer} {tree.op} {json.dumps(tree.value)}"
