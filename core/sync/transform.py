"""Applying a mapping's ``properties`` to a record (IDM's ``PropertyMapping``; reference §2.3).

value = source attribute (``""`` = the whole source) -> ``transform`` script -> if null then ``default``;
written at the target pointer, creating nested objects. A property whose ``condition`` fails is skipped.
A missing source attribute is null, so the target attribute becomes null (or the default), as in IDM.
"""

from __future__ import annotations

import copy
from typing import Any

from core.sync.filters import resolve
from core.sync.mapping import Mapping
from core.sync.scripts import ScriptEngine, ScriptError

LINK_QUALIFIER = "default"


def apply_properties(mapping: Mapping, engine: ScriptEngine, source: dict[str, Any],
                     target: dict[str, Any] | None, *, old_source: dict[str, Any] | None = None,
                     transformed: dict[int, Any] | None = None) -> dict[str, Any]:
    """The target after mapping ``source`` onto a copy of ``target`` (``{}`` for a create). ``transformed``:
    per property index, its transform's value (or ScriptError) already computed (:func:`transform_many`)."""
    out: dict[str, Any] = dict(target) if target else {}  # copy-on-write below: nested dicts copied in _set
    value: Any
    for index, prop in enumerate(mapping.properties):
        if transformed is not None and index in transformed:
            value = transformed[index]
            if isinstance(value, ScriptError):
                raise value
            if value is None and prop.has_default:
                value = prop.default if isinstance(prop.default, (str, int, float, bool)) \
                    else copy.deepcopy(prop.default)
            _set(out, prop.target_path, value)
            continue
        if prop.condition is not None:
            variables = {"object": source, "source": source, "target": target, "oldSource": old_source,
                         "oldTarget": target, "linkQualifier": LINK_QUALIFIER}
            if not prop.condition.test(engine, variables):
                continue
        if prop.source is None:
            value = None
        elif prop.source == "":
            value = source
        else:
            path = prop.source_path
            value = source.get(path[0]) if len(path) == 1 else resolve(source, path)
        if prop.transform is not None:
            value = engine.script(prop.transform)(source=value, linkQualifier=LINK_QUALIFIER)
        if value is None and prop.has_default:
            value = prop.default if isinstance(prop.default, (str, int, float, bool)) else copy.deepcopy(prop.default)
        _set(out, prop.target_path, value)
    return out


def transform_many(mapping: Mapping, engine: ScriptEngine, sources: list[dict[str, Any]]) -> list[dict[int, Any]]:
    """For a batch of sources, each unconditional property's ``transform`` in one crossing into JS per property
    (instead of one per record and property): per source, ``{property index: value or ScriptError}`` for
    :func:`apply_properties`. Only scripts that cannot reach the host (no ``openidm``, ``logger``…) are batched:
    they have no effect but their value, so the order they run in is invisible; the rest run per record."""
    out: list[dict[int, Any]] = [{} for _ in sources]
    if not sources:
        return out
    for index, prop in enumerate(mapping.properties):
        if prop.transform is None or prop.condition is not None:
            continue
        script = engine.script(prop.transform)
        if script.host:
            continue
        values: list[Any] = []
        for source in sources:
            if prop.source is None:
                values.append(None)
            elif prop.source == "":
                values.append(source)
            else:
                path = prop.source_path
                values.append(source.get(path[0]) if len(path) == 1 else resolve(source, path))
        results = engine.call_many(script, [{"source": v, "linkQualifier": LINK_QUALIFIER} for v in values])
        for k, (ok, value) in enumerate(results):
            out[k][index] = value if ok else ScriptError(script.spec.name, value)
    return out


def simple_plan(mapping: Mapping) -> list[tuple[str | None, str, bool, Any]] | None:
    """``[(source attribute or None, target attribute, has default, default)]`` when every property is a plain
    top-level copy or a constant default (no transform, no condition): then mapping a record is a tight loop
    (see :func:`simple_changes`); None otherwise."""
    plan: list[tuple[str | None, str, bool, Any]] = []
    for prop in mapping.properties:
        if prop.transform is not None or prop.condition is not None or len(prop.target_path) != 1:
            return None
        if prop.source is None:
            plan.append((None, prop.target_path[0], prop.has_default, prop.default))
        elif len(prop.source_path) == 1:
            plan.append((prop.source_path[0], prop.target_path[0], prop.has_default, prop.default))
        else:
            return None
        if prop.has_default and not isinstance(prop.default, (str, int, float, bool, type(None))):
            return None
    return plan


def simple_changes(plan: list[tuple[str | None, str, bool, Any]], source: dict[str, Any],
                   target: dict[str, Any] | None) -> dict[str, Any]:
    """What :func:`apply_properties` then :func:`changed_fields` give, for a :func:`simple_plan` mapping;
    with ``target=None`` (a create) every mapped attribute, null included."""
    changes: dict[str, Any] = {}
    for src, tgt, has_default, default in plan:
        value = source.get(src) if src is not None else None
        if value is None and has_default:
            value = default
        if target is None or target.get(tgt) != value:
            changes[tgt] = value
    return changes


def _set(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        nxt = obj.get(part)
        nxt = dict(nxt) if isinstance(nxt, dict) else {}  # never write into the caller's nested objects
        obj[part] = nxt
        obj = nxt
    obj[path[-1]] = value


def changed_fields(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Top-level attributes of ``new`` that differ from ``old`` (what an update must write)."""
    old = old or {}
    return {k: v for k, v in new.items() if old.get(k) != v and not k.startswith("_")}
