"""A reconciliation's audit entries (IDM's recon event fields; absent rather than null), as stored rows.

Every record of a page gets an entry, 100,000 for a large run, so the common entry (a record that succeeded,
without message) is written from a JSON prefix made once per page and kind (phase, situation, action), with
only its ids encoded per record: about a third of the cost of building and encoding a dict per record. Any
other entry (a failure, a message, ambiguous targets) is built field by field and checked by
:meth:`core.repo.audit.Audit.prepare`. Both give the same JSON object (``tests/sync/test_recon_audit.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from core.repo.audit import Audit, AuditRow
from core.sync.actions import Action
from core.sync.record import Record
from core.sync.run import iso_now
from core.sync.transform import LINK_QUALIFIER

_UNAUDITED = frozenset({Action.NOREPORT})


def target_shown(r: Record) -> bool:
    """Whether the entry names the target: the target phase always does (``TargetRecon`` sets it first); the
    source phase only when the target exists after the action (``SourceRecon``: ``op.hasTargetObject()``), so
    not after a DELETE, nor for a MISSING target."""
    if not r.target_id:
        return False
    if r.phase == "target":
        return True
    if r.ok and r.action == Action.DELETE:
        return False
    return r.target is not None or r.created


class ReconAudit:
    """The audit rows of one run: entry ``n`` has the id ``<reconId>-<n>``."""

    def __init__(self, run_id: str, mapping: str, source: str, target: str, *, dry_run: bool) -> None:
        self.run_id = run_id
        self.mapping = mapping
        self.source = source
        self.target = target
        self.dry_run = dry_run

    def base(self) -> dict[str, Any]:
        """The fields every entry of the run shares, stamped now."""
        base: dict[str, Any] = {"eventName": "recon", "reconId": self.run_id, "mapping": self.mapping,
                                "reconAction": "recon", "userId": "sfsync", "timestamp": iso_now()}
        if self.dry_run:
            base["dryRun"] = True
        return base

    def rows(self, records: Sequence[Record], first: int, *, fast: bool = True) -> list[AuditRow]:
        """One row per audited record, record ``k`` numbered ``first + k`` whether audited or not (NOREPORT is
        not), so rebuilding a page's rows keeps their ids."""
        common = self.base()
        prefixes: dict[tuple[Any, ...], str] = {}
        rows: list[AuditRow] = []
        dumps, run_id, id_prefix = orjson.dumps, self.run_id, f"{self.run_id}-"
        source_prefix, target_prefix = f"{self.source}/", f"{self.target}/"
        for n, r in enumerate(records, start=first):
            action = r.action
            if r.ok and action is not None and action in _UNAUDITED:
                continue
            if not (fast and r.ok and not r.message and not r.ambiguous):  # rare: checked, in record order
                rows += Audit.prepare([self._entry(common, r)], ids=[f"{id_prefix}{n}"])
                continue
            kind = (r.phase, r.situation, action)
            head = prefixes.get(kind)
            if head is None:
                head = prefixes[kind] = dumps(self._entry(common, r, ids=False)).decode()[:-1]
            text = head
            if r.source_id:
                text += ',"sourceObjectId":' + dumps(source_prefix + r.source_id).decode()
            if r.target_id and target_shown(r):
                text += ',"targetObjectId":' + dumps(target_prefix + r.target_id).decode()
            rows.append((f"{id_prefix}{n}", run_id, text + "}"))
        return rows

    def _entry(self, common: dict[str, Any], r: Record, *, ids: bool = True) -> dict[str, Any]:
        entry: dict[str, Any] = {**common, "entryType": "entry", "reconciling": r.phase,
                                 "status": "SUCCESS" if r.ok else "FAILURE", "linkQualifier": LINK_QUALIFIER}
        if r.situation is not None:
            entry["situation"] = r.situation  # a StrEnum: JSON writes its value
        if r.action is not None:
            entry["action"] = r.action
        if r.message:
            entry["message"] = r.message
            if not r.ok or r.action == Action.EXCEPTION:  # IDM's setLogEntryMessage: status SUCCESS, both set
                entry["exception"] = r.message
        if ids and r.source_id:
            entry["sourceObjectId"] = f"{self.source}/{r.source_id}"
        if ids and target_shown(r):
            entry["targetObjectId"] = f"{self.target}/{r.target_id}"
        if r.ambiguous:
            entry["ambiguousTargetObjectIds"] = ", ".join(r.ambiguous)
        return entry
