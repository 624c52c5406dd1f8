"""Implicit synchronization: a managed object changed, push it through every mapping whose source it is.

IDM (reference §2.7): after the repository write, every mapping with ``source == managed/user`` and
``enableSync != false`` runs, in sync.json order, for that one object; after the first failure the rest are
SKIPPED; a failure never rolls back the managed change. An update that changed nothing syncs nothing.
For a deleted object the source is null and the situation comes from the link and the target.
Each mapping's outcome is returned to the caller and written to the audit log (``eventName: "sync"``).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from core.errors import SfsyncError
from core.sync.actions import Action
from core.sync.links import MappingLinks
from core.sync.mapping import Mapping
from core.sync.objectsets import ObjectSet
from core.sync.observed import observed_fields
from core.sync.operation import SyncOperation
from core.sync.record import Record
from core.sync.run import iso_now
from core.sync.scripts import ScriptEngine
from core.sync.situations import delete_situation
from core.sync.transform import LINK_QUALIFIER

SUCCESSFUL, FAILED, SKIPPED = "SUCCESSFUL", "FAILED", "SKIPPED"
#: the reconId under which implicit sync entries are audited (audit entries need one)
SYNC_AUDIT_ID = "implicit-sync"


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
    results: dict[str, ImplicitResult] = {}
    failed = False
    unchanged = old is not None and new is not None and _strip(old) == _strip(new)
    for mapping in mappings:
        if failed or unchanged:
            results[mapping.name] = ImplicitResult(mapping.name, SKIPPED, mapping.target,
                                                   message="no change" if unchanged else "an earlier mapping failed")
            continue
        try:
            result = _sync_one(mapping, scripts, repo, object_sets(mapping.source), object_sets(mapping.target),
                               source_id, old, new)
        except SfsyncError as exc:  # an outage: this mapping failed, the managed change stands
            result = ImplicitResult(mapping.name, FAILED, mapping.target, message=str(exc))
        results[mapping.name] = result
        failed = result.result == FAILED
    return results


def perform_action(mapping: Mapping, scripts: ScriptEngine, repo: Any, object_sets: Any, source_id: str,
                   action: Action, target_id: str | None = None) -> ImplicitResult:
    """IDM's ``sync?_action=performAction``: the source object through ``mapping`` as implicit sync takes it
    (situation included), but with ``action`` whatever the situation and policies say; ``target_id`` names the
    target (LINK a given account); otherwise the linked or the one correlated target. A source that no longer
    exists is taken as deleted (the link and the target decide, as for a deletion)."""
    source, target = object_sets(mapping.source), object_sets(mapping.target)
    found = source.read_many([source_id]).get(source_id)
    try:
        return _sync_one(mapping, scripts, repo, source, target, source_id, None, found, force=action,
                         force_target=target_id)
    except SfsyncError as exc:
        return ImplicitResult(mapping.name, FAILED, mapping.target, action=action.value, message=str(exc))


def _sync_one(mapping: Mapping, scripts: ScriptEngine, repo: Any, source: ObjectSet, target: ObjectSet,
              source_id: str, old: dict[str, Any] | None, new: dict[str, Any] | None, *,
              force: Action | None = None, force_target: str | None = None) -> ImplicitResult:
    links = MappingLinks(repo, mapping)
    op = SyncOperation(mapping, scripts, source, target, links, target_fields=observed_fields(mapping, "target"),
                       source_fields=observed_fields(mapping, "source"))
    r = Record(phase="source", source=new, source_id=source_id, old_source=old)
    if new is None:  # deleted: the situation from the link, the target and the old value
        op.load_links([r])
        r.qualifies = False
        old_qualifies = True
        if not r.linked and old is not None and mapping.correlation is not None:
            probe = Record(phase="source", source=old, source_id=source_id)
            op.correlate([probe])
            r.correlated = probe.correlated
            if r.correlated:  # SourceSyncOperation: isSourceValid(oldValue), validSource alone
                old_qualifies = op.source_valid(old)
        valid = r.target is None or op.target_valid(r.target)
        r.situation = delete_situation(linked=r.linked, target_exists=r.target is not None, target_valid=valid,
                                       correlated=None if r.correlated is None else len(r.correlated),
                                       old_qualifies=old_qualifies)
        if r.situation.value in ("UNASSIGNED", "TARGET_IGNORED") and r.correlated:
            r.target, r.target_id = r.correlated[0], r.correlated[0]["_id"]
    else:
        op.qualify([r])
        op.load_links([r])
        op.correlate([r])
        op.mark_linked_elsewhere([r])
    op.decide([r])
    if force is not None and r.ok:  # performAction: this action, regardless of situation and policy
        if force_target is not None and force_target != r.target_id:
            found = target.read_many([force_target], op.target_fields).get(force_target)
            if found is None:
                r.fail(f"{force.value}: {target.name}/{force_target} not found")
            r.target, r.target_id = found, force_target
        r.action, r.policy = force, None
    op.plan([r])
    if r.ok and r.action == Action.EXCEPTION:
        # IDM throws: implicit sync of this mapping fails, while its audit entry says SUCCESS (intentional)
        r.message = f"Situation {r.situation} marked as EXCEPTION"
        _audit(repo, mapping, source, target, r)
        return ImplicitResult(mapping.name, FAILED, mapping.target, situation=str(r.situation),
                              action=r.action.value, targetId=r.target_id, message=r.message)
    if r.ok:
        if not target.local:
            op.write_targets([r])
        with repo.transaction():
            if target.local:
                op.write_targets([r])
            op.write_links([r])
            op.post_actions([r], None)
            _audit(repo, mapping, source, target, r)
    else:
        _audit(repo, mapping, source, target, r)
    return ImplicitResult(mapping.name, SUCCESSFUL if r.ok else FAILED, mapping.target,
                          situation=str(r.situation) if r.situation else None,
                          action=r.action.value if r.action else None, targetId=r.target_id, message=r.message)


def _audit(repo: Any, mapping: Mapping, source: ObjectSet, target: ObjectSet, r: Record) -> None:
    """IDM's sync event (``ObjectMapping.doSourceSync``): one per mapping run, whatever the action (NOREPORT
    and ASYNC included); EXCEPTION is status SUCCESS with its message as the exception."""
    exception = not r.ok or r.action == Action.EXCEPTION
    repo.audit.add_many([{
        "_id": str(uuid.uuid4()), "eventName": "sync", "timestamp": iso_now(), "reconId": SYNC_AUDIT_ID,
        "entryType": "entry", "mapping": mapping.name, "reconciling": "source",
        "situation": str(r.situation) if r.situation else None, "action": r.action.value if r.action else None,
        "status": "SUCCESS" if r.ok else "FAILURE", "message": r.message or None, "linkQualifier": LINK_QUALIFIER,
        "sourceObjectId": f"{source.name}/{r.source_id}",
        "targetObjectId": f"{target.name}/{r.target_id}" if r.target_id else None,
        **({"exception": r.message} if exception else {}),
    }])


def _strip(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("_rev", "_meta")}
