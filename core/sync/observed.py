"""Which attributes of a remote record a mapping can observe, so a remote read may fetch only those.

As in IDM, a Salesforce record in a mapping is the WHOLE record: every attribute the provisioner's
``objectTypes`` declares (IDM's connector returns them all by default). Fetching some 150 attributes per user
when a mapping reads six costs the network and the engine most of a run, so a read is narrowed, but only
when the narrowing is provably invisible to the configuration: every property, condition, correlation and
script that is handed the record reads it as ``name.attribute`` (or as an IDM query filter pointer
``/source/attribute``). One use we cannot see through (a script passing ``source`` along, ``source[k]``,
``Object.keys(source)``, ``eval``, a whole-object property ``"source": ""``, a correlation script whose filter
is only known when it runs) and the read is the whole record.

The result is the attribute list to fetch, or :data:`WHOLE` (None).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal as Side

from core.repo.queryfilter import And, Comparison, Not, Or, Presence
from core.sync.mapping import Condition, Mapping
from core.sync.scripts import ScriptSpec, variables_used

__all__ = ["WHOLE", "observed_fields"]

#: the whole record: fetch every declared attribute
WHOLE = None


class _Whole(Exception):
    """Raised inside the walk as soon as one use needs the whole record."""


class _Fields:
    def __init__(self) -> None:
        self.names: list[str] = []

    def add(self, name: str) -> None:
        if name and name not in self.names:
            self.names.append(name)

    def script(self, spec: ScriptSpec | None, variables: Iterable[str]) -> None:
        """The attributes ``spec`` reads of the record it receives under any of ``variables``."""
        if spec is None:
            return
        used = variables_used(spec)
        for var in variables:
            if var not in used:
                continue
            props = used[var]
            if props is None:
                raise _Whole
            for p in props:
                self.add(p)

    def filter(self, tree: object, heads: Iterable[str]) -> None:
        """The attributes an IDM query filter reads under ``/head/...`` for each of ``heads``."""
        heads = tuple(heads)
        for pointer in _pointers(tree):
            if pointer and pointer[0] in heads:
                if len(pointer) == 1:
                    raise _Whole  # ``/source pr``: the record itself
                self.add(pointer[1])

    def condition(self, cond: Condition | None, variables: Iterable[str]) -> None:
        if cond is None:
            return
        variables = tuple(variables)
        if cond.script is not None:
            self.script(cond.script, variables)
        else:
            self.filter(cond.tree, variables)


def _pointers(tree: object) -> Iterable[tuple[str, ...]]:
    if isinstance(tree, (Comparison, Presence)):
        yield tuple(tree.pointer)
    elif isinstance(tree, (And, Or)):
        for part in tree.operands:
            yield from _pointers(part)
    elif isinstance(tree, Not):
        yield from _pointers(tree.operand)


def observed_fields(mapping: Mapping, side: Side["source", "target"]) -> list[str] | None:
    """The attributes of ``side``'s records that anything in ``mapping`` can read; :data:`WHOLE` when that
    cannot be proven (then a remote read fetches every declared attribute)."""
    out = _Fields()
    try:
        if side == "source":
            _source_uses(mapping, out)
        else:
            _target_uses(mapping, out)
    except _Whole:
        return WHOLE
    return out.names


#: the variables that hold the source record, the target record, in each kind of script IDM runs
_SOURCE_VARS = ("source", "oldSource", "object")
_TARGET_VARS = ("target", "oldTarget", "existingTarget")


def _common(m: Mapping, out: _Fields, variables: tuple[str, ...]) -> None:
    """Scripts and conditions that receive both records (policies, event scripts)."""
    for policies in m.policies.values():
        for pol in policies:
            out.condition(pol.condition, variables)
            out.script(pol.action_script, variables)
            out.script(pol.post_action, variables)
    for spec in (m.on_create, m.on_update, m.on_delete, m.on_link, m.on_unlink):  # not result: it gets statistics
        out.script(spec, variables)
    for prop in m.properties:
        out.condition(prop.condition, variables)


def _source_uses(m: Mapping, out: _Fields) -> None:
    for prop in m.properties:
        if prop.source == "":
            raise _Whole  # the whole source object is the property's value
        if prop.source_path:
            out.add(prop.source_path[0])
    out.script(m.valid_source, _SOURCE_VARS)
    out.condition(m.source_condition, _SOURCE_VARS)
    corr = m.correlation
    if corr is not None:
        if corr.template is not None:
            for head in _template_heads(corr.template, "source"):
                out.add(head)
        out.script(corr.script, _SOURCE_VARS)
        out.script(corr.ids_script, _SOURCE_VARS)
    _common(m, out, _SOURCE_VARS)


def _target_uses(m: Mapping, out: _Fields) -> None:
    for prop in m.properties:
        if prop.target_path:
            out.add(prop.target_path[0])
    out.script(m.valid_target, _TARGET_VARS)
    corr = m.correlation
    if corr is not None:
        for name in corr.tree_fields:
            out.add(name)
        if corr.template is not None:
            from core.sync import filters

            try:
                tree = filters.parse(filters.skeleton(corr.template))
            except filters.FilterError:
                raise _Whole from None
            for pointer in _pointers(tree):
                if not pointer:
                    raise _Whole
                out.add(pointer[0])
        if corr.script is not None:
            raise _Whole  # the filter the script returns names target fields only known when it runs
    _common(m, out, _TARGET_VARS)


def _template_heads(template: str, variable: str) -> list[str]:
    """``${source.Username}`` / ``${source/Username}`` -> ``Username``; ``${source}`` alone is the whole record."""
    import re

    heads: list[str] = []
    for token in re.findall(r"\$\{([^}]*)\}", template):
        parts = [p for p in re.split(r"[./]", token.strip()) if p]
        if parts and parts[0] == variable:
            if len(parts) == 1:
                raise _Whole
            heads.append(parts[1])
    return heads

