"""One batch of records through IDM's decision: qualify, link, correlate, situation, policy, action.

IDM's ``SourceSyncOperation``/``TargetSyncOperation`` handle one record at a time; we keep their rules but
work a page at a time so every look-up is one bulk call (links, targets, correlation), and every write is
one bulk call (``create_many``…, in :mod:`core.sync.writes`). Reconciliation and implicit sync both use this class.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from typing import Any

from core.errors import SfsyncError
from core.sync import filters
from core.sync.actions import Action
from core.sync.links import MappingLinks
from core.sync.mapping import Mapping, Policy
from core.sync.objectsets import ObjectSet
from core.sync.record import Record
from core.sync.scripts import ScriptEngine, ScriptError
from core.sync.situations import (
    DEFAULT_ACTIONS,
    Situation,
    source_situation,
    target_situation,
)
from core.sync.transform import (
    LINK_QUALIFIER,
    apply_properties,
    changed_fields,
    simple_changes,
    simple_plan,
    transform_many,
)
from core.sync.writes import TargetWrites

__all__ = ["SyncOperation"]


class SyncOperation(TargetWrites):
    """The rules of one mapping applied to batches of records."""

    def __init__(self, mapping: Mapping, scripts: ScriptEngine, source: ObjectSet, target: ObjectSet,
                 links: MappingLinks, *, target_fields: Sequence[str] | None = None,
                 source_fields: Sequence[str] | None = None) -> None:
        self.mapping = mapping
        self.scripts = scripts
        self.source = source
        self.target = target
        self.links = links
        #: what a remote read of each side fetches (:func:`core.sync.observed.observed_fields`; None: whole)
        self.target_fields = list(target_fields) if target_fields is not None else None
        self.source_fields = list(source_fields) if source_fields is not None else None
        self.skip_correlation = False
        #: the reconciliation this operation belongs to (None: implicit sync), for scripts' ``recon.actionParam``
        self.recon_id: str | None = None
        self._simple = simple_plan(mapping)

    # ---- qualification ---------------------------------------------------------------------------------
    def qualify(self, records: Sequence[Record]) -> None:
        m = self.mapping
        todo = [r for r in records if r.ok and r.source is not None]
        if m.valid_source is not None and todo:
            verdicts = self.scripts.script(m.valid_source).boolean_many(
                [{"source": r.source, "linkQualifier": LINK_QUALIFIER} for r in todo])
            for r, verdict in zip(todo, verdicts, strict=True):
                if isinstance(verdict, ScriptError):
                    r.fail(str(verdict))
                else:
                    r.qualifies = verdict
        for r in todo:
            if not r.ok or not r.qualifies:
                continue
            try:
                ok = True
                if m.source_condition is not None:
                    ok = m.source_condition.test(self.scripts, {"source": r.source, "linkQualifier": LINK_QUALIFIER})
                r.qualifies = ok
            except SfsyncError as exc:
                r.fail(str(exc))

    def source_valid(self, source: dict[str, Any]) -> bool:
        """``validSource`` alone (``SyncOperation.isSourceValid``): what the target phase and delete sync check."""
        if self.mapping.valid_source is None:
            return True
        return self.scripts.script(self.mapping.valid_source).boolean(source=source, linkQualifier=LINK_QUALIFIER)

    def target_valid(self, target: dict[str, Any]) -> bool:
        if self.mapping.valid_target is None:
            return True
        return self.scripts.script(self.mapping.valid_target).boolean(target=target, linkQualifier=LINK_QUALIFIER)

    # ---- links and targets -----------------------------------------------------------------------------
    def load_links(self, records: Sequence[Record]) -> None:
        ids = [r.source_id for r in records if r.source_id]
        linked = self.links.targets_of(ids)
        for r in records:
            if r.source_id in linked:
                r.linked = True
                r.target_id = linked[r.source_id]
        target_ids = [r.target_id for r in records if r.target_id]
        found = self.target.read_many(target_ids, self.target_fields) if target_ids else {}
        for r in records:
            if r.target_id:
                r.target = found.get(r.target_id)

    # ---- correlation -----------------------------------------------------------------------------------
    def correlate(self, records: Sequence[Record]) -> None:
        """Bulk correlation for unlinked records: one ``find_by`` per distinct field per page."""
        corr = self.mapping.correlation
        todo = [r for r in records if r.ok and not r.linked and r.source is not None]
        if corr is None or not todo:
            return
        if self.skip_correlation:
            for r in todo:
                r.correlated = []
            return
        if corr.ids_script is not None:
            self._correlate_by_script(todo)
            return
        queries: list[tuple[Record, list[list[tuple[str, Any]]] | None, Any]] = []
        for r in todo:
            try:
                alternatives, tree = self._correlation_query(r)
            except (SfsyncError, ValueError) as exc:
                r.fail(f"correlationQuery: {exc}")
                continue
            plural = next((f for eqs in alternatives or () for f, v in eqs if isinstance(v, (list, dict))), None)
            if plural is not None:  # equality with a list or an object: a record's failure, never the run's
                r.fail(f"correlationQuery: {plural} would be compared with a list or an object; "
                       "correlation compares single values")
                continue
            queries.append((r, alternatives, tree))
        by_field: dict[str, dict[Any, Any]] = {}
        for _r, alternatives, _tree in queries:
            for eqs in alternatives or ():
                if eqs and eqs[0][1] is not None:
                    by_field.setdefault(eqs[0][0], {}).setdefault(_hashable(eqs[0][1]), eqs[0][1])
        found: dict[str, dict[Any, list[dict[str, Any]]]] = {}
        for fname, values in by_field.items():
            hits = self.target.find_by(fname, list(values.values()), self.target_fields)
            keyed: dict[Any, list[dict[str, Any]]] = {}
            for k, objs in hits.items():
                keyed.setdefault(_hashable(k), []).extend(objs)
            found[fname] = keyed
        for r, alternatives, tree in queries:
            if not r.ok:
                continue
            if alternatives is None:
                r.correlated = self._query_each(tree)
                continue
            matches: dict[str, dict[str, Any]] = {}
            for eqs in alternatives:
                if not eqs:
                    continue
                for cand in found.get(eqs[0][0], {}).get(_hashable(eqs[0][1]), []):
                    if all(_eq(filters.resolve(cand, (f,)), v) for f, v in eqs[1:]):
                        matches[cand["_id"]] = cand
            r.correlated = list(matches.values())

    def _correlate_by_script(self, records: Sequence[Record]) -> None:
        """``correlationScript``: the script names the targets, a list of ``{"_id": ...}`` (IDM: none -> ABSENT,
        one -> FOUND, several -> AMBIGUOUS); they are read in one bulk call. An id that names no target is left
        out, as a query would not have found it."""
        corr = self.mapping.correlation
        assert corr is not None and corr.ids_script is not None
        script = self.scripts.script(corr.ids_script)
        wanted: list[tuple[Record, list[str]]] = []
        for r in records:
            try:
                wanted.append((r, _correlated_ids(script(source=r.source, linkQualifier=LINK_QUALIFIER))))
            except SfsyncError as exc:
                r.fail(f"correlationScript: {exc}")
        ids = list(dict.fromkeys(i for _, found in wanted for i in found))
        targets = self.target.read_many(ids, self.target_fields) if ids else {}
        for r, found in wanted:
            r.correlated = [targets[i] for i in found if i in targets]

    def _correlation_query(self, r: Record) -> tuple[list[list[tuple[str, Any]]] | None, Any]:
        """The record's query as OR-ed conjunctions of equalities (bulk), or a filter tree (one query)."""
        corr = self.mapping.correlation
        assert corr is not None and r.source is not None
        if corr.tree_fields:
            preview = apply_properties(self.mapping, self.scripts, r.source, None)
            pairs = [(f, preview.get(f)) for f in corr.tree_fields]
            if any(v is None for _, v in pairs):
                pairs = [(f, v) for f, v in pairs if v is not None]
                if not pairs or not corr.tree_any:
                    return [], None
            return ([[p] for p in pairs] if corr.tree_any else [pairs]), None
        if corr.template is not None:
            text = _substitute(corr.template, {"source": r.source, "sourceId": r.source_id})
        else:
            assert corr.script is not None
            result = self.scripts.script(corr.script)(source=r.source, linkQualifier=LINK_QUALIFIER)
            if not isinstance(result, dict) or not isinstance(result.get("_queryFilter"), str):
                raise ValueError("the script must return {\"_queryFilter\": \"...\"}")
            text = result["_queryFilter"]
        tree = filters.parse(text)
        eqs = filters.equalities(tree)
        if eqs is not None:
            return [eqs], None
        if isinstance(tree, filters.Or):
            alts = [filters.equalities(p) for p in tree.operands]
            if all(a is not None for a in alts):
                return [a for a in alts if a is not None], None
        return None, tree

    def _query_each(self, tree: Any) -> list[dict[str, Any]]:
        query = getattr(self.target, "query_filter", None)
        if query is None:
            raise SfsyncError(f"correlation on {self.target.name} supports only 'field eq value' filters")
        return list(query(tree))

    def mark_linked_elsewhere(self, records: Sequence[Record]) -> None:
        singles = [r for r in records if r.ok and not r.linked and r.correlated and len(r.correlated) == 1]
        if not singles:
            return
        owners = self.links.sources_of([r.correlated[0]["_id"] for r in singles if r.correlated])
        for r in singles:
            assert r.correlated is not None
            cand = r.correlated[0]
            owner = owners.get(cand["_id"])
            if owner is not None and owner != r.source_id:
                if not r.qualifies:  # never act on another source's target for a source that does not qualify
                    r.correlated = []
                    continue
                r.situation = Situation.FOUND_ALREADY_LINKED
            r.target, r.target_id = cand, cand["_id"]

    # ---- situation and action --------------------------------------------------------------------------
    def decide(self, records: Sequence[Record]) -> None:
        for r in records:
            if not r.ok:
                continue
            try:
                if r.phase == "source" and r.situation is None:
                    n = None if r.correlated is None else len(r.correlated)
                    r.situation = source_situation(qualifies=r.qualifies, linked=r.linked,
                                                   target_exists=r.target is not None, correlated=n)
                    if r.situation in (Situation.AMBIGUOUS, Situation.UNQUALIFIED) and not r.linked and r.correlated:
                        if len(r.correlated) == 1:  # IDM: the one correlated target is the unqualified one
                            r.target, r.target_id = r.correlated[0], r.correlated[0]["_id"]
                        else:  # several: IDM names them all and acts on none (its DELETE finds no target)
                            r.ambiguous = [c["_id"] for c in r.correlated]
                assert r.situation is not None
                r.action, r.policy = self.determine_action(r)
            except SfsyncError as exc:
                r.fail(str(exc))

    def determine_action(self, r: Record) -> tuple[Action, Policy | None]:
        """The first policy for the situation whose condition passes; else the situation's default action,
        with the situation's first policy kept for its postAction (``SyncOperation.determineAction`` and
        ``performAction``). A condition sees ``object`` (the source) and ``linkQualifier`` as in IDM, and also
        ``source`` and ``target`` (an extension: IDM leaves them undefined there)."""
        assert r.situation is not None
        policies = self.mapping.policies.get(r.situation, [])
        for pol in policies:
            variables = {"object": r.source, "source": r.source, "target": r.target, "linkQualifier": LINK_QUALIFIER}
            if pol.condition is not None and not pol.condition.test(self.scripts, variables):
                continue
            if pol.action_script is not None:
                return self._scripted_action(pol, r), pol
            assert pol.action is not None
            return pol.action, pol
        return DEFAULT_ACTIONS[r.situation], (policies[0] if policies else None)

    def _scripted_action(self, pol: Policy, r: Record) -> Action:
        """An action script's answer (``Policy.getAction``): the action's exact name (``ReconAction.valueOf``,
        so case counts); the script sees ``recon.actionParam``, the operation as IDM's performAction takes it."""
        assert pol.action_script is not None and r.situation is not None
        param = {"reconId": self.recon_id, "mapping": self.mapping.name, "situation": str(r.situation),
                 "action": str(DEFAULT_ACTIONS[r.situation]), "sourceId": r.source_id,
                 "linkQualifier": LINK_QUALIFIER, "_action": "performAction"}
        if r.target_id:
            param["targetId"] = r.target_id
        if r.phase == "target":
            param["target"] = "true"
        value = self.scripts.script(pol.action_script)(
            source=r.source, target=r.target, linkQualifier=LINK_QUALIFIER, sourceAction=r.phase == "source",
            recon={"actionParam": param})
        name = pol.action_script.name
        if value is None:
            raise SfsyncError(f"script {name}: action script returned null value")
        try:
            return Action(str(value))
        except ValueError:
            raise SfsyncError(f"script {name}: action script returned invalid action {str(value)!r} "
                              f"(one of {', '.join(a.value for a in Action)}, exactly)") from None

    # ---- what each action does -------------------------------------------------------------------------
    def plan(self, records: Sequence[Record]) -> None:
        """Compute every write (targets mapped, scripts run) before any is made; the properties' transforms of
        the page's creates and updates in one crossing into JS per property (:func:`transform_many`)."""
        transformed: dict[int, dict[int, Any]] = {}
        if self._simple is None and any(p.transform is not None for p in self.mapping.properties):
            mapped = [r for r in records if r.ok and r.source is not None and (
                (r.action == Action.CREATE and r.target is None)
                or (r.action == Action.UPDATE and r.target is not None and r.target_id is not None))]
            if len(mapped) > 1:
                values = transform_many(self.mapping, self.scripts, [r.source for r in mapped if r.source])
                transformed = {id(r): v for r, v in zip(mapped, values, strict=True)}
        for r in records:
            if not r.ok or r.action is None:
                continue
            try:
                self._plan_one(r, transformed.get(id(r)))
            except SfsyncError as exc:
                r.fail(str(exc))
        hooks = getattr(self.target, "hooks", None)
        if hooks is not None:
            self._managed_hooks(hooks, records)

    def _managed_hooks(self, hooks: Any, records: Sequence[Record]) -> None:
        """The target's ``managed.json`` hooks that run before its writes, for the whole batch at once
        (``onCreate``/``onUpdate``, ``onValidate``, ``onStore``; ``onDelete``): the object they leave is the one
        written, and a throw fails its record before anything is written. As in IDM, an update that changes
        nothing runs none."""
        creates = [r for r in records if r.ok and r.action == Action.CREATE and r.new_target is not None]
        if creates:
            done = hooks.before_create_many(self.scripts, [dict(r.new_target or {}) for r in creates])
            for r, out in zip(creates, done, strict=True):
                if isinstance(out, SfsyncError):
                    r.fail(str(out))
                else:
                    r.new_target = out
        updates = [r for r in records if r.ok and r.action == Action.UPDATE and r.target is not None
                   and r.new_target is not None and r.changes]
        if updates:
            done = hooks.before_update_many(self.scripts, [(r.target_id or "", r.target or {}, dict(r.new_target or {}))
                                                           for r in updates])
            for r, out in zip(updates, done, strict=True):
                if isinstance(out, SfsyncError):
                    r.fail(str(out))
                else:
                    r.new_target, r.changes = out, changed_fields(r.target or {}, out)
        deletes = [r for r in records if r.ok and r.action == Action.DELETE and r.target is not None and r.target_id]
        if deletes:
            for r, err in zip(deletes, hooks.before_delete_many(
                    self.scripts, [(r.target_id or "", r.target or {}) for r in deletes]), strict=True):
                if err is not None:
                    r.fail(str(err))

    def _plan_one(self, r: Record, transformed: dict[int, Any] | None = None) -> None:
        m, action = self.mapping, r.action
        if action == Action.CREATE:
            if r.source is None:
                raise SfsyncError("CREATE needs a source object")
            if r.target is not None:
                raise SfsyncError(f"CREATE: target {r.target_id} already exists")
            if self._simple is not None:
                new = simple_changes(self._simple, r.source, None)
            else:
                new = apply_properties(m, self.scripts, r.source, None, old_source=r.old_source,
                                       transformed=transformed)
            if m.on_create is not None:
                _, out = self.scripts.script(m.on_create).call_capturing(
                    ("target",), source=r.source, target=new, situation=str(r.situation),
                    linkQualifier=LINK_QUALIFIER, sourceId=r.source_id, targetId=None, mappingConfig=m.raw)
                new = out["target"] if isinstance(out["target"], dict) else new
            r.new_target, r.link_after = new, True
        elif action in (Action.UPDATE, Action.LINK):
            if r.target_id is None or r.source is None:
                raise SfsyncError(f"{action.value}: no target object to {action.value.lower()}")
            if r.target is None:  # linked, target gone (MISSING): IDM updates nothing and reports success
                return
            r.link_after = not r.linked
            if action == Action.UPDATE and self._simple is not None and m.on_update is None:
                r.changes = simple_changes(self._simple, r.source, r.target)  # the common case, fast
                r.new_target = {**r.target, **r.changes} if r.changes else r.target
            elif action == Action.UPDATE:
                new = apply_properties(m, self.scripts, r.source, r.target, old_source=r.old_source,
                                       transformed=transformed)
                if m.on_update is not None:
                    _, out = self.scripts.script(m.on_update).call_capturing(
                        ("target",), source=r.source, target=new, oldTarget=copy.deepcopy(r.target),
                        oldSource=r.old_source, situation=str(r.situation), linkQualifier=LINK_QUALIFIER,
                        sourceId=r.source_id, targetId=r.target_id, mappingConfig=m.raw)
                    new = out["target"] if isinstance(out["target"], dict) else new
                r.new_target = new
                r.changes = changed_fields(r.target, new)
        elif action == Action.DELETE:
            if r.target is not None and m.on_delete is not None:
                self.scripts.script(m.on_delete)(source=r.source, target=r.target, oldTarget=r.target,
                                                 situation=str(r.situation), linkQualifier=LINK_QUALIFIER,
                                                 sourceId=r.source_id, targetId=r.target_id, mappingConfig=m.raw)
            r.unlink = r.linked or r.phase == "target"
            self._on_unlink(r)
        elif action == Action.UNLINK:
            r.unlink = r.linked
            self._on_unlink(r)
        elif action == Action.EXCEPTION:
            r.message = f"Situation {r.situation} marked as EXCEPTION"
        if r.link_after and m.on_link is not None:
            self.scripts.script(m.on_link)(source=r.source, target=r.new_target or r.target,
                                           linkQualifier=LINK_QUALIFIER, sourceId=r.source_id,
                                           targetId=r.target_id, mappingConfig=m.raw)

    def _on_unlink(self, r: Record) -> None:
        """``onUnlink`` runs before an existing link is removed (``SyncOperation.performAction``: DELETE falls
        through to UNLINK, and both run it only when a link exists)."""
        if r.linked and self.mapping.on_unlink is not None:
            self.scripts.script(self.mapping.on_unlink)(
                source=r.source, target=r.target, linkQualifier=LINK_QUALIFIER, sourceId=r.source_id,
                targetId=r.target_id, mappingConfig=self.mapping.raw)

    # ---- target phase ----------------------------------------------------------------------------------
    def target_records(self, target_ids: Sequence[str]) -> list[Record]:
        """Records for targets no source touched: their situation from link, source and validTarget."""
        targets = self.target.read_many(target_ids, self.target_fields)
        owners = self.links.sources_of(list(target_ids))
        sources = self.source.read_many(list(set(owners.values())), self.source_fields) if owners else {}
        out = []
        for tid in target_ids:
            target = targets.get(tid)
            sid = owners.get(tid)
            r = Record(phase="target", source=sources.get(sid) if sid else None, source_id=sid,
                       target=target, target_id=tid, linked=sid is not None)
            try:
                # a target gone since the start is not valid (TargetSyncOperation: no target object, not valid)
                valid = target is not None and self.target_valid(target)
                qualifies = True
                if r.source is not None and valid and r.linked:
                    qualifies = self.source_valid(r.source)  # validSource only: IDM's target phase skips sourceCondition
                r.situation = target_situation(target_valid=valid, linked=r.linked, source_exists=r.source is not None,
                                               source_qualifies=qualifies)
            except SfsyncError as exc:
                r.fail(str(exc))
            out.append(r)
        return out


def _correlated_ids(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, dict) and isinstance(v.get("_id"), str) for v in value):
        raise SfsyncError("the script must return a list of {\"_id\": \"...\"} objects")
    return list(dict.fromkeys(v["_id"] for v in value))


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return bool(a == b)


def _hashable(v: Any) -> Any:
    if isinstance(v, str):
        return v.lower()  # correlation on names: Salesforce compares case-insensitively
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return v


_TOKEN = re.compile(r"\$\{([^}]*)\}")


def _substitute(template: str, scope: dict[str, Any]) -> str:
    """``userName eq "${source.Username}"`` with the value escaped for a JSON string literal."""
    def value(m: re.Match[str]) -> str:
        path = tuple(p for p in re.split(r"[./]", m.group(1).strip()) if p)
        v = filters.resolve(scope, path)
        if v is None:
            v = ""
        return json.dumps(v if isinstance(v, str) else str(v))[1:-1]
    return _TOKEN.sub(value, template)
