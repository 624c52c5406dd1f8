"""IDM query filters evaluated in memory, for the places a mapping uses one on an object it already holds.

``sourceCondition``, a policy's or a property's ``condition`` and a correlation query may be IDM query
filters (``/source/accountStatus eq "active"``). There is one grammar and one parser,
:mod:`core.repo.queryfilter`; the repository translates its trees to SQL for stored objects, and here the
object is a dict in hand, so we evaluate the same trees directly. :func:`equalities` recognises the filters
that are plain conjunctions of ``field eq value``, which correlation can look up in bulk, one query per page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.repo.errors import FilterSyntaxError as FilterError
from core.repo.queryfilter import And, Comparison, Literal, Not, Or, Presence, parse, render

__all__ = ["FilterError", "Or", "describe", "equalities", "evaluate", "filter_matching", "parse", "render", "resolve",
           "skeleton"]


def skeleton(template: str) -> str:
    """A correlation query template (``userName eq "${source.Username}"``) with each ``${...}`` replaced by a
    plain value, so it parses as a filter: to check it at load and to read the fields it compares."""
    import re

    return re.sub(r"\$\{[^}]*\}", "x", template)


def describe(exc: FilterError) -> str:
    """The fault as a ``sync.json`` field error reads it (the field path already says ``_queryFilter``)."""
    return f"query filter: {exc.reason} at position {exc.position}: {exc.text!r}"


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
        return not evaluate(tree.operand, obj)
    if isinstance(tree, And):
        return all(evaluate(p, obj) for p in tree.operands)
    if isinstance(tree, Or):
        return any(evaluate(p, obj) for p in tree.operands)
    value = resolve(obj, tree.pointer)
    if isinstance(tree, Presence):
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
    if isinstance(tree, Comparison) and tree.op == "eq" and len(tree.pointer) == 1:
        return [(tree.pointer[0], tree.value)]
    if isinstance(tree, And):
        out: list[tuple[str, Any]] = []
        for part in tree.operands:
            sub = equalities(part)
            if sub is None:
                return None
            out.extend(sub)
        return out
    return None


def filter_matching(text: str, objects: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The objects ``text`` (an IDM query filter) matches, in their order; a bad filter is a FilterError."""
    tree = parse(text)
    return [obj for obj in objects if evaluate(tree, obj)]
