"""Implicit synchronization: a managed object changed, push it through every mapping whose source it is.

IDM (reference §2.7): after the repository write, every mapping with ``source == managed/user`` and
``enableSync != false`` runs, in sync.json order, for that one object; after the first failure the rest are
SKIPPED; a failure never rolls back the managed change. An update that changed nothing syncs nothing.
For a deleted object the source is null and the situation comes from the link and the target.
Each mapping's outcome is returned to the caller and written to the audit log (``eventName: "sync"``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping as Mapping_
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from core.errors import SfsyncError
from core.sync.actions import Action
from core.sync.links import MappingLinks
from core.sync.mapping import Mapping
from core.sync.objectsets import ObjectSet, StagedCreates, WriteResult
from core.sync.observed import observed_fields
from core.sync.operation import SyncOperation
from core.sync.record import Record
from core.sync.run import iso_now
from core.sync.scripts import ScriptEngine
from core.sync.situations import Situation, delete_situation
from core.sync.transform import LINK_QUALIFIER

SUCCESSFUL, FAILED, SKIPPED = "SUCCESSFUL", "FAILED", "SKIPPED"
#: the reconId under which implicit sync entries are audited (audit entries need one)
SYNC_AUDIT_ID = "implicit-sync"

log = logging.getLogger(__name__)

#: each situation's and action's text (an enum's ``value`` is a slow property; a page reads it per record)
_TEXT: dict[Any, str] = {m: m.value for m in (*Action, *Situation)}


@dataclass
class ImplicitResult:
    """One mapping's outcome for one managed object change."""

    mapping: str
    result: str  # SUCCESSFUL | FAILED | SKIPPED
    targetObjectSet: str
    situation: str | None = None
    action: str | None = None
    targetId: str | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sync_object(mappings: list[Mapping], scripts: ScriptEngine, repo: Any, object_sets: Any,
                source_id: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, ImplicitResult]:
    """Run the mappings for one change (create: old None; delete: new None). ``object_sets(name)`` gives
    the ObjectSet for a resource name. Called in the service's worker thread."""
    return sync_changes(mappings, scripts, repo, object_sets, [(source_id, old, new)])[source_id]


def sync_changes(mappings: list[Mapping], scripts: ScriptEngine, repo: Any, object_sets: Any,
                 changes: Sequence[tuple[str, dict[str, Any] | None, dict[str, Any] | None]], *,
                 known: KnownTargets | None = None) -> dict[str, dict[str, ImplicitResult]]:
    """Implicit sync of many changed objects of one managed set at once (a reconciliation's or liveSync's page,
    or one REST write): each mapping decides the whole batch with one bulk read of links and targets and writes
    in bulk (``create_many``/``update_many``…: an UPDATE whose target would not change writes nothing). Per
    object, IDM's rules: an update that changed nothing syncs nothing; after its first failing mapping the later
    ones are SKIPPED; a failure never undoes the managed change. ``known`` holds target records the caller
    already has (a reconciliation's just-read Salesforce records), so deciding them costs no read.

    Per object id, each mapping's outcome (IDM's ``syncDetails``); each decision is audited in ``audit/sync``."""
    out: dict[str, dict[str, ImplicitResult]] = {sid: {} for sid, _o, _n in changes}
    failed: set[str] = set()
    for mapping in mappings:
        items = []
        for sid, old, new in changes:
            unchanged = old is not None and new is not None and _strip(old) == _strip(new)
            if sid in failed or unchanged:
                out[sid][mapping.name] = ImplicitResult(mapping.name, SKIPPED, mapping.target, message=(
                    "no change" if unchanged else "an earlier mapping failed"))
            else:
                items.append((sid, old, new))
        if not items:
            continue
        try:
            target = object_sets(mapping.target)
            links = MappingLinks(repo, mapping)
            if known is not None:
                target = known.over(target, observed_fields(mapping, "target"))
                links = known.links_of(repo, mapping)
            records = _sync_page(mapping, scripts, repo, object_sets(mapping.source), target, items, links=links)
        except SfsyncError as exc:  # an outage: this mapping failed for the batch, the managed changes stand
            records = [Record(phase="source", source=new, source_id=sid, ok=False, message=str(exc))
                       for sid, _old, new in items]
        for r in records:
            result = _result(mapping, r)
            if result.result == FAILED:
                failed.add(r.source_id or "")
            out[r.source_id or ""][mapping.name] = result
    return out


class KnownTargets:
    """Target records a caller already holds, by object set name then id (a reconciliation from Salesforce has
    just read the very records the reverse mapping's links point to). A record is used only when it carries every
    attribute the mapping observes of its target (:func:`~core.sync.observed.observed_fields`); anything else is
    read as usual. ``links``: per link type, ``(firstId, secondId)`` pairs the caller has just committed (the
    page's links), so a mapping of that link type looks up only the others."""

    def __init__(self, records: Mapping_[str, Mapping_[str, dict[str, Any]]],
                 links: Mapping_[str, Sequence[tuple[str, str]]] | None = None) -> None:
        self.records = records
        self.links = links or {}

    def links_of(self, repo: Any, mapping: Mapping) -> MappingLinks:
        pairs = self.links.get(mapping.link_type)
        if not pairs:
            return MappingLinks(repo, mapping)
        # a mapping's source is the link's second side when its links are reversed
        known = {second: first for first, second in pairs} if mapping.reversed_links else dict(pairs)
        return _KnownLinks(repo, mapping, known)

    def over(self, target: ObjectSet, fields: Sequence[str] | None) -> ObjectSet:
        held = self.records.get(target.name)
        if not held or fields is None:
            return target
        return _Known(target, held, tuple(fields))


class _KnownLinks(MappingLinks):
    """A mapping's links, those of the ``known`` sources answered without a query."""

    def __init__(self, repo: Any, mapping: Mapping, known: dict[str, str]) -> None:
        super().__init__(repo, mapping)
        self.known = known

    def targets_of(self, source_ids: Sequence[str]) -> dict[str, str]:
        out = {i: self.known[i] for i in source_ids if i in self.known}
        rest = [i for i in source_ids if i not in out]
        if rest:
            out.update(super().targets_of(rest))
        return out


class _Known(ObjectSet):
    """``inner`` whose reads answer the held records first (writes and everything else go to ``inner``)."""

    def __init__(self, inner: ObjectSet, held: Mapping_[str, dict[str, Any]], fields: tuple[str, ...]) -> None:
        self.inner, self.held, self.fields = inner, held, fields
        self.name, self.local = inner.name, inner.local
        self.hooks = getattr(inner, "hooks", None)

    def read_many(self, ids: Sequence[str], fields: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        rest = []
        for i in ids:
            obj = self.held.get(i)
            if obj is not None and all(f in obj for f in self.fields):
                out[i] = obj
            else:
                rest.append(i)
        if rest:
            out.update(self.inner.read_many(rest, fields))
        return out

    def __getattr__(self, name: str) -> Any:  # find_by, create_many, update_many, delete_many, query_filter…
        return getattr(self.inner, name)

    def find_by(self, field_name: str, values: Sequence[Any],
                fields: Sequence[str] | None = None) -> dict[Any, list[dict[str, Any]]]:
        return self.inner.find_by(field_name, values, fields)

    def create_many(self, objects: Sequence[dict[str, Any]]) -> list[WriteResult]:
        return self.inner.create_many(objects)

    def prepare_creates(self, objects: Sequence[dict[str, Any]]) -> StagedCreates:
        return self.inner.prepare_creates(objects)

    def update_many(self, items: Sequence[tuple[str, dict[str, Any], dict[str, Any], str | None]],
                    ) -> list[WriteResult]:
        return self.inner.update_many(items)

    def delete_many(self, ids: Sequence[str]) -> list[WriteResult]:
        return self.inner.delete_many(ids)


def _result(mapping: Mapping, r: Record) -> ImplicitResult:
    bad = not r.ok or r.action == Action.EXCEPTION
    return ImplicitResult(mapping.name, FAILED if bad else SUCCESSFUL, mapping.target,
                          situation=_TEXT[r.situation] if r.situation else None,
                          action=_TEXT[r.action] if r.action else None, targetId=r.target_id, message=r.message)


def perform_action(mapping: Mapping, scripts: ScriptEngine, repo: Any, object_sets: Any, source_id: str,
                   action: Action, target_id: str | None = None) -> ImplicitResult:
    """IDM's ``sync?_action=performAction``: the source object through ``mapping`` as implicit sync takes it
    (situation included), but with ``action`` whatever the situation and policies say; ``target_id`` names the
    target (LINK a given account); otherwise the linked or the one correlated target. A source that no longer
    exists is taken as deleted (the link and the target decide, as for a deletion)."""
    source, target = object_sets(mapping.source), object_sets(mapping.target)
    found = source.read_many([source_id]).get(source_id)
    try:
        [r] = _sync_page(mapping, scripts, repo, source, target, [(source_id, None, found)], force=action,
                         force_target=target_id)
        return _result(mapping, r)
    except SfsyncError as exc:
        return ImplicitResult(mapping.name, FAILED, mapping.target, action=action.value, message=str(exc))


def _sync_page(mapping: Mapping, scripts: ScriptEngine, repo: Any, source: ObjectSet, target: ObjectSet,
               items: Sequence[tuple[str, dict[str, Any] | None, dict[str, Any] | None]], *,
               force: Action | None = None, force_target: str | None = None,
               links: MappingLinks | None = None) -> list[Record]:
    """One mapping over a batch of changes: IDM's source sync of each (a deleted object: the situation from the
    link, the target and the old value), decided together, written in bulk, audited; the records decided."""
    op = SyncOperation(mapping, scripts, source, target, links or MappingLinks(repo, mapping),
                       target_fields=observed_fields(mapping, "target"),
                       source_fields=observed_fields(mapping, "source"))
    records = [Record(phase="source", source=new, source_id=sid, old_source=old) for sid, old, new in items]
    present = [r for r in records if r.source is not None]
    gone = [r for r in records if r.source is None]
    if gone:
        op.load_links(gone)
        # SourceSyncOperation correlates an unlinked deleted object by its old value: one bulk correlation
        probes = {r.source_id: Record(phase="source", source=r.old_source, source_id=r.source_id) for r in gone
                  if not r.linked and r.old_source is not None and mapping.correlation is not None}
        op.correlate(list(probes.values()))
        for r in gone:
            try:
                _deleted_situation(op, r, probes.get(r.source_id))
            except SfsyncError as exc:
                r.fail(str(exc))
    if present:
        op.qualify(present)
        op.load_links(present)
        op.correlate(present)
        op.mark_linked_elsewhere(present)
    op.decide(records)
    if force is not None:  # performAction (one record): this action, regardless of situation and policy
        for r in records:
            if not r.ok:
                continue
            if force_target is not None and force_target != r.target_id:
                found = target.read_many([force_target], op.target_fields).get(force_target)
                if found is None:
                    r.fail(f"{force.value}: {target.name}/{force_target} not found")
                r.target, r.target_id = found, force_target
            r.action, r.policy = force, None
    op.plan(records)
    for r in records:
        if r.ok and r.action == Action.EXCEPTION:
            # IDM throws: implicit sync of this mapping fails, while its audit entry says SUCCESS (intentional)
            r.message = f"Situation {r.situation} marked as EXCEPTION"
    ok = [r for r in records if r.ok and r.action != Action.EXCEPTION]
    if not target.local and ok:
        op.write_targets(ok)
    with repo.transaction():
        if target.local and ok:
            op.write_targets(ok)
        if ok:
            op.write_links(ok)
            op.post_actions(ok, None)
        repo.audit.add_many([_entry(mapping, source, target, r) for r in records])
    return records


def _deleted_situation(op: SyncOperation, r: Record, probe: Record | None) -> None:
    """A deleted source's situation (``SourceSyncOperation`` without a source object); ``probe``: its old value,
    correlated (when unlinked and the mapping correlates)."""
    r.qualifies = False
    old_qualifies = True
    if probe is not None:
        if not probe.ok:
            raise SfsyncError(probe.message)
        r.correlated = probe.correlated
        if r.correlated and r.old_source is not None:  # SourceSyncOperation: isSourceValid(oldValue) alone
            old_qualifies = op.source_valid(r.old_source)
    valid = r.target is None or op.target_valid(r.target)
    r.situation = delete_situation(linked=r.linked, target_exists=r.target is not None, target_valid=valid,
                                   correlated=None if r.correlated is None else len(r.correlated),
                                   old_qualifies=old_qualifies)
    if r.situation.value in ("UNASSIGNED", "TARGET_IGNORED") and r.correlated:
        r.target, r.target_id = r.correlated[0], r.correlated[0]["_id"]


def _entry(mapping: Mapping, source: ObjectSet, target: ObjectSet, r: Record) -> dict[str, Any]:
    """IDM's sync event (``ObjectMapping.doSourceSync``): one per mapping run, whatever the action (NOREPORT
    and ASYNC included); EXCEPTION is status SUCCESS with its message as the exception. Only the fields known
    are stored (``audit/sync`` answers the others as null); the repository gives the id and one timestamp for
    the batch."""
    entry = {"eventName": "sync", "reconId": SYNC_AUDIT_ID, "entryType": "entry", "mapping": mapping.name,
             "reconciling": "source", "status": "SUCCESS" if r.ok else "FAILURE", "linkQualifier": LINK_QUALIFIER,
             "sourceObjectId": f"{source.name}/{r.source_id}"}
    if r.situation is not None:
        entry["situation"] = _TEXT[r.situation]
    if r.action is not None:
        entry["action"] = _TEXT[r.action]
    if r.message:
        entry["message"] = r.message
        if not r.ok or r.action == Action.EXCEPTION:
            entry["exception"] = r.message
    if r.target_id:
        entry["targetObjectId"] = f"{target.name}/{r.target_id}"
    return entry


def _strip(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("_rev", "_meta")}


def push_changes(mappings: list[Mapping], scripts: ScriptEngine, repo: Any, object_sets: Any,
                 changes: Sequence[tuple[str, dict[str, Any] | None, dict[str, Any] | None]], *,
                 hooks: Any = None, known: KnownTargets | None = None) -> dict[str, dict[str, ImplicitResult]]:
    """What IDM's managed object service does after its writes (``performSyncAction``): :func:`sync_changes`,
    then ``onSync`` of ``hooks`` (``managed.json``) per object with ``syncResults``, a page in one crossing
    into JS. An ``onSync`` that throws is logged and audited in ``audit/sync``; the writes stand."""
    results = sync_changes(mappings, scripts, repo, object_sets, changes, known=known) if mappings \
        else {sid: {} for sid, _o, _n in changes}
    if hooks is not None and hooks.has("onSync") and changes:
        errors = hooks.on_sync_many(scripts, [(sid, old, new, results[sid]) for sid, old, new in changes])
        failed = [(sid, err) for (sid, _o, _n), err in zip(changes, errors, strict=True) if err is not None]
        for sid, err in failed:
            log.warning("%s: %s", hooks.resource_name(sid), err)
        if failed:
            repo.audit.add_many([{
                "_id": str(uuid.uuid4()), "eventName": "sync", "timestamp": iso_now(), "reconId": SYNC_AUDIT_ID,
                "entryType": "entry", "mapping": None, "reconciling": "source", "action": "onSync",
                "status": "FAILURE", "message": str(err), "exception": str(err),
                "sourceObjectId": hooks.resource_name(sid)} for sid, err in failed])
    return results


def written_changes(records: Sequence[Record]) -> list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]:
    """``(id, old, new)`` of each managed object a page of decided records wrote (create: old None; delete:
    new None): what implicit sync runs for."""
    out: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]] = []
    for r in records:
        if not (r.ok and r.wrote and r.target_id):
            continue
        if r.action == Action.DELETE:
            out.append((r.target_id, r.target, None))
        elif r.created:
            out.append((r.target_id, None, r.target))
        elif r.new_target is not None:
            out.append((r.target_id, r.target, {**r.new_target, "_id": r.target_id}))
    return out


class AfterPages:
    """Implicit sync of the managed objects each committed page of a reconciliation wrote, as IDM's managed object
    service runs it after every write: the mappings whose source is the reconciliation's target (``enableSync``),
    a page at a time (one decision pass and bulk writes per mapping), then ``onSync``; audited in ``audit/sync``,
    never undoing the page. The Salesforce records the page has just read are the known targets: a reverse
    mapping's round trip back to them is decided without reading Salesforce, and writes only what would change
    (the sample's inbound then outbound: nothing). Call :meth:`push` and :meth:`close` in the committing thread.
    """

    def __init__(self, recon_mapping: Mapping, mappings: list[Mapping], repo: Any, object_sets: Any,
                 hooks: Any, engine: ScriptEngine) -> None:
        from core.sync.managed_hooks import ManagedHooks

        self.recon_mapping = recon_mapping
        self.mappings = mappings
        self.repo = repo
        self.object_sets = object_sets
        self.hooks = hooks
        self._engines = hooks if hooks is not None else ManagedHooks()  # a script engine per committing thread
        self._default = engine

    def source_fields(self) -> list[str] | None:
        """What the reconciliation must read of its source so the reverse mappings' known targets carry every
        attribute they observe (None: whole records)."""
        names: list[str] = []
        for m in self.mappings:
            if m.target != self.recon_mapping.source:
                continue
            wanted = observed_fields(m, "target")
            if wanted is None:
                return None
            names += [f for f in wanted if f not in names]
        return names

    def push(self, records: Sequence[Record]) -> None:
        changes = written_changes(records)
        if not changes:
            return
        known = {r.source_id: r.source for r in records
                 if r.ok and r.source_id and r.source is not None and r.action != Action.DELETE}
        reverse = self.recon_mapping.reversed_links
        links = [(r.target_id, r.source_id) if reverse else (r.source_id, r.target_id) for r in records
                 if r.ok and r.source_id and r.target_id and (r.linked or r.link_created) and not r.unlink]
        try:
            push_changes(self.mappings, self._engines.engine(self._default), self.repo, self.object_sets, changes,
                         hooks=self.hooks, known=KnownTargets({self.recon_mapping.source: known},
                                                              {self.recon_mapping.link_type: links}))
        except Exception:  # noqa: BLE001 - implicit sync never fails the reconciliation's committed page
            log.exception("implicit sync after a page of %s failed", self.recon_mapping.name)

    def close(self) -> None:
        """Free this thread's own script engine (call in the committing thread)."""
        if self._engines is not self.hooks:
            self._engines.close_thread_engine()
