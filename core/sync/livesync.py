"""liveSync of a Salesforce object (``system/salesforce/User``): what changed since the stored sync token, through
every mapping whose source is that object, as IDM's liveSync does (``idm-beyond-the-sample.md`` §4).

IDM's Salesforce connector has no SyncOp, so IDM itself answers liveSync of Salesforce with nothing; this is
sfsync's extension, built on Salesforce's own change tracking (``salesforce-api.md`` §3.10).

**Finding the changes.** ONE SOQL query, ``SystemModstamp >= token - OVERLAP ORDER BY SystemModstamp, Id``, read a
page of 2,000 at a time (the next page fetched while one is processed). Salesforce stamps every change of a
record, deactivation included (Users are never deleted, so ``getDeleted`` has nothing to say about them and is
not called). The overlap (:data:`OVERLAP`, 60 s) re-reads the last minute before the token, so a change whose
transaction committed after a later-stamped one was read is still found; what was already processed is skipped
by the ``seen`` map stored with the token: ``Id -> [SystemModstamp, digest of the record as read]``. The digest
(not the stamp alone) decides, because Salesforce stamps to the second: two changes within one second carry one
stamp. So a poll that finds nothing costs one API call (two when failed records wait for a retry: one more
query reads them by Id), whatever the size of the org. The token is the newest stamp processed, or the poll's
start less the overlap when that is later (a quiet org): the query covered everything stamped until then, and
the token never ages out of the replication window while liveSync runs. That takes this host's clock and the
org's to agree within the overlap (Salesforce's is NTP-synchronised; keep this host's so too).

**Processing.** Each change is a one-record source sync per mapping in sync.json order (``enableSync`` false
skips the mapping), through the engine's own :class:`~core.sync.operation.SyncOperation` (qualification, links,
correlation, the situations, policies, the planned writes) and :class:`~core.sync.writes.TargetWrites`: the
source-phase situations only, no target phase. After a record's first failing mapping the later ones are
skipped for it (IDM). Each mapping's decision is audited as IDM audits liveSync, a ``sync`` event
(``eventName: "sync"``, the fields of ``audit/sync``), stored under ``reconId`` :data:`LIVESYNC_AUDIT_ID` with the
tick's id as ``transactionId``. The managed objects written are then pushed through implicit sync (the
mappings whose source is ``managed/user``), as IDM's managed object service does after a liveSync write.

**The token** is IDM's stage object ``repo/synchronisation/pooledSyncStage/SYSTEMSALESFORCEUSER``:
``{"connectorData": {"nativeType": "string", "syncToken": "<newest SystemModstamp processed>"}}``, plus sfsync's
``sfsyncState`` (``seen``, ``retry``, ``pendingImplicit``). A page's managed writes, links, audit entries and
the new token are ONE repository transaction, and the stage is saved with a revision check: a crash before
COMMIT leaves the old token, so the next tick processes the page again (idempotent: CONFIRMED with nothing
changed writes nothing; correlation finds a target created before a crash). Implicit sync of the page's
managed writes follows the COMMIT; the ids still to push are stored with the page (``pendingImplicit``) and
pushed by the next tick if this one dies first.

**A record that fails** (a refused write, a script error, EXCEPTION) does not hold the token back: it is put
on the stage's ``retry`` list in the same transaction and read again by Id on every later tick until it goes
through, or until ``syncFailureHandler.maxRetries`` of the provisioner file (IDM's key; absent or -1: forever)
is used up; then ``postRetryAction`` ``logged-ignore`` (the only one supported) logs and drops it. The tick
reports the failure (status FAILED, ``lastException`` as IDM's stage has it).

**The first liveSync** (no token) stores the newest ``SystemModstamp`` of the org and processes nothing, as
IDM's connector does: load the data with a reconciliation first. **A token older than the replication window**
(:data:`REPLICATION_WINDOW`, 30 days, ``getUpdated``'s limit) cannot be trusted to find every change, so the
tick runs a full reconciliation of each mapping instead and says so (``fullReconciliation`` in the result,
a warning in the log); the token then starts from the org's newest stamp read before those runs.

**Deletions.** The deletion safeguard of reconciliations (``deletion_threshold``) holds here too, per tick:
every DELETE a tick decides is put on the retry list first (``held``); at the end of the tick, when they are
no more than the threshold they are applied (each record decided again), otherwise none is, each is audited
as a FAILURE, and the tick FAILS saying how to go on (``allow_deletions``).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from core.errors import ConfigError, SfsyncError, UsageError
from core.repo.stages import stage_id
from core.sync.actions import Action
from core.sync.implicit import FAILED, SKIPPED, SUCCESSFUL
from core.sync.links import MappingLinks
from core.sync.mapping import Mapping
from core.sync.objectsets import PAGE_SIZE, ObjectSet
from core.sync.observed import observed_fields
from core.sync.operation import SyncOperation
from core.sync.record import Record
from core.sync.run import iso_now
from core.sync.scripts import ScriptEngine
from core.sync.transform import LINK_QUALIFIER

log = logging.getLogger("sfsync.livesync")

DEFAULT_SOURCE = "system/salesforce/User"
#: how far before the token each poll reads again (late commits); what was processed is skipped by ``seen``
OVERLAP = timedelta(seconds=60)
#: Salesforce's replication window (getUpdated/getDeleted answer at most 30 days back): an older token falls
#: back to a full reconciliation
REPLICATION_WINDOW = timedelta(days=30)
#: the reconId liveSync's ``sync`` audit events are stored under (entries need one; the tick is transactionId)
LIVESYNC_AUDIT_ID = "livesync"
#: IDM's ``connectorData.nativeType`` of a string token (ICF's ``ConnectorUtil``)
NATIVE_TYPE = "string"
STAMP = "SystemModstamp"


def check_source(source: str) -> str:
    """``system/salesforce/<sobject>``, or a UsageError naming the argument."""
    parts = source.strip("/").split("/")
    if len(parts) != 3 or parts[0] != "system" or not parts[2]:
        raise UsageError(f"source: {source!r} is not a system object set; liveSync reads e.g. {DEFAULT_SOURCE}")
    if parts[1] != "salesforce":
        raise UsageError(f"source: {source!r}: the one connector is system/salesforce")
    return "/".join(parts)


def parse_stamp(text: str) -> datetime:
    """A Salesforce date-time (``2026-05-01T10:00:00.000+0000``) or ISO text, as an aware UTC datetime."""
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
        value = value[:-2] + ":" + value[-2:]
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_stamp(moment: datetime) -> str:
    """Salesforce's form, the one the org answers with: ``2026-05-01T10:00:00.000+0000``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def digest(record: dict[str, Any]) -> str:
    """What identifies a version of a record as read (every field but the stamp itself), in 16 hex digits."""
    body = {k: v for k, v in record.items() if k not in ("attributes", "_id")}
    return hashlib.blake2b(orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str), digest_size=8).hexdigest()


@dataclass
class FailureHandler:
    """IDM's provisioner ``syncFailureHandler``: ``maxRetries`` (-1, or absent: retry forever) and
    ``postRetryAction`` once they are used up (``logged-ignore``)."""

    max_retries: int = -1
    post_retry_action: str = "logged-ignore"

    @classmethod
    def from_provisioner(cls, data: Any, path: str) -> FailureHandler:
        raw = data.get("syncFailureHandler") if isinstance(data, dict) else None
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ConfigError("syncFailureHandler: must be an object", path=path)
        retries = raw.get("maxRetries", -1)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < -1:
            raise ConfigError("syncFailureHandler.maxRetries: must be an integer, -1 (forever) or more", path=path)
        action = raw.get("postRetryAction", "logged-ignore")
        if action != "logged-ignore":
            raise ConfigError(f"syncFailureHandler.postRetryAction: {action!r} is not supported by sfsync "
                              "(only \"logged-ignore\")", path=path)
        return cls(retries, action)


@dataclass
class LiveSyncResult:
    """One tick: what it read, decided and wrote."""

    source: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: str = field(default_factory=iso_now)
    ended: str | None = None
    status: str = "SUCCESS"
    message: str = ""
    first: bool = False
    full_reconciliation: dict[str, Any] | None = None
    needs_full: str = ""  # why a full reconciliation must run (the token is too old)
    changes: int = 0  # changed records processed (after dedupe), retried ones included
    retried: int = 0
    success: int = 0
    failure: int = 0
    ignored: int = 0  # given up on (syncFailureHandler)
    situations: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    implicit: dict[str, int] = field(default_factory=lambda: {SUCCESSFUL: 0, FAILED: 0, SKIPPED: 0})
    retrying: int = 0
    deletions_held: dict[str, Any] | None = None
    api_calls: int | None = None
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "_id": self.id, "source": self.source, "status": self.status, "started": self.started,
            "ended": self.ended, "firstSync": self.first, "changes": self.changes, "retried": self.retried,
            "situationSummary": dict(self.situations), "actionSummary": dict(self.actions),
            "statusSummary": {"SUCCESS": self.success, "FAILURE": self.failure},
            "implicitSync": dict(self.implicit), "retrying": self.retrying, "ignored": self.ignored,
        }
        if self.message:
            out["message"] = self.message
        if self.full_reconciliation is not None:
            out["fullReconciliation"] = self.full_reconciliation
        if self.deletions_held is not None:
            out["deletionsHeld"] = self.deletions_held
        if self.api_calls is not None:
            out["apiCalls"] = self.api_calls
        return out


def _sync_entry(tx: str, mapping: Mapping, source: str, target: str, r: Record) -> dict[str, Any]:
    """IDM's ``audit/sync`` event for one record and mapping (``ObjectMapping.doSourceSync``): every action,
    NOREPORT included; EXCEPTION is status SUCCESS with its message as the exception."""
    exception = not r.ok or r.action == Action.EXCEPTION
    return {
        "_id": str(uuid.uuid4()), "eventName": "sync", "timestamp": iso_now(), "reconId": LIVESYNC_AUDIT_ID,
        "transactionId": tx, "userId": "sfsync", "entryType": "entry", "mapping": mapping.name,
        "reconciling": "source", "situation": str(r.situation) if r.situation else None,
        "action": r.action.value if r.action else None, "status": "SUCCESS" if r.ok else "FAILURE",
        "message": r.message or None, "linkQualifier": LINK_QUALIFIER,
        "sourceObjectId": f"{source}/{r.source_id}",
        "targetObjectId": f"{target}/{r.target_id}" if r.target_id and not (r.ok and r.action == Action.DELETE)
        else None,
        **({"exception": r.message} if exception else {}),
    }


class LiveSyncEngine:
    """One tick of liveSync of one source; synchronous, in the service's liveSync thread (scripts are per
    thread). ``object_sets(name)`` gives the object set of a resource (the source's is a SalesforceObjects)."""

    def __init__(self, source: str, mappings: list[Mapping], managed_mappings: Callable[[str], list[Mapping]],
                 repo: Any, scripts: ScriptEngine, object_sets: Callable[[str], ObjectSet], *,
                 deletion_threshold: int = 0, allow_deletions: bool = False,
                 failure_handler: FailureHandler | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.source_name = source
        self.sid = stage_id(source)
        self.mappings = mappings
        self.managed_mappings = managed_mappings
        self.repo = repo
        self.scripts = scripts
        self.object_sets = object_sets
        self.source: Any = object_sets(source)
        self.hold = deletion_threshold > 0 and not allow_deletions
        self.threshold = deletion_threshold
        self.failure_handler = failure_handler or FailureHandler()
        self.now = now
        self.result = LiveSyncResult(source)
        self.fields = self._read_fields()
        self.ops: dict[str, SyncOperation] = {}
        self.rev: str | None = None
        self.token: datetime | None = None
        self.seen: dict[str, list[str]] = {}
        self.retry: dict[str, dict[str, Any]] = {}
        self.held: dict[str, dict[str, Any]] = {}  # id -> the record as read, for the end of the tick
        self.done: set[tuple[str, str]] = set()  # (id, version) processed this tick

    def _read_fields(self) -> list[str] | None:
        """The union of what each mapping can observe of the source (None: whole records)."""
        names: list[str] = []
        for m in self.mappings:
            wanted = observed_fields(m, "source")
            if wanted is None:
                return None
            names += [f for f in wanted if f not in names]
            # and what the mappings back to this source observe of it: implicit sync decides on the records read
            for back in self.managed_mappings(m.target) if m.target.startswith("managed/") else ():
                if back.target == self.source_name:
                    wanted = observed_fields(back, "target")
                    if wanted is None:
                        return None
                    names += [f for f in wanted if f not in names]
        return names

    def _op(self, mapping: Mapping) -> SyncOperation:
        op = self.ops.get(mapping.name)
        if op is None:
            op = SyncOperation(mapping, self.scripts, self.source, self.object_sets(mapping.target),
                               MappingLinks(self.repo, mapping), target_fields=observed_fields(mapping, "target"),
                               source_fields=observed_fields(mapping, "source"))
            self.ops[mapping.name] = op
        return op

    # ---- the tick --------------------------------------------------------------------------------------
    def run(self) -> LiveSyncResult:
        """Process what changed since the token; :attr:`LiveSyncResult.needs_full` says when the caller must
        reconcile instead (then :meth:`after_full_reconciliation`)."""
        result = self.result
        try:
            stage = self.repo.stages.get(self.sid)
            self.rev = stage["_rev"] if stage else None
            token_text = ((stage or {}).get("connectorData") or {}).get("syncToken")
            if not token_text:
                self._first()
                return self._end()
            try:
                self.token = parse_stamp(str(token_text))
            except ValueError:
                raise SfsyncError(f"repo/synchronisation/pooledSyncStage/{self.sid}: connectorData.syncToken "
                                  f"{token_text!r} is not a date-time") from None
            state = (stage or {}).get("sfsyncState") or {}
            self.seen = {k: list(v) for k, v in (state.get("seen") or {}).items()}
            self.retry = dict(state.get("retry") or {})
            age = self.now() - self.token
            if age > REPLICATION_WINDOW:
                result.needs_full = (f"the sync token {token_text} is {age.days} days old, older than Salesforce's "
                                     f"{REPLICATION_WINDOW.days}-day replication window: changes since then cannot "
                                     "all be listed, so every mapping of the source is reconciled in full instead")
                log.warning("liveSync %s: %s", self.source_name, result.needs_full)
                return result
            pending = list(state.get("pendingImplicit") or [])
            if pending:
                self._push_pending(pending)
            self._changes()
            self._settle_held()
        except SfsyncError as exc:
            result.status, result.message = "FAILED", str(exc)
            log.error("liveSync %s failed: %s", self.source_name, exc)
        except Exception as exc:  # noqa: BLE001 - a bug ends the tick FAILED with its reason; the token stays
            log.exception("liveSync %s failed", self.source_name)
            result.status, result.message = "FAILED", f"internal error: {type(exc).__name__}: {exc}"
        return self._end()

    def _end(self) -> LiveSyncResult:
        result = self.result
        result.retrying = len(self.retry)
        if result.status == "SUCCESS" and result.failure:
            result.status = "FAILED"
            result.message = (f"{result.failure} record(s) failed; they are retried on the next liveSync: "
                              + "; ".join(result.failures[:3]))
        result.ended = iso_now()
        return result

    def _first(self) -> None:
        """No token yet: store the org's newest stamp and process nothing (IDM's first liveSync)."""
        token, seen = self._baseline()
        self._save(token, seen, {}, [])
        self.result.first = True
        self.result.message = (f"first liveSync of {self.source_name}: the sync token is now {format_stamp(token)} "
                               "and nothing was processed; load what exists with a reconciliation")

    def _baseline(self) -> tuple[datetime, dict[str, list[str]]]:
        """The org's newest stamp (now, for an empty org) and the records stamped within the overlap before it."""
        floor = self.now() - OVERLAP
        newest = self.source.newest(self.fields, PAGE_SIZE)
        if not newest:
            return floor, {}
        token = max(parse_stamp(newest[0][STAMP]), floor)
        seen = {}
        for rec in newest:
            if parse_stamp(rec[STAMP]) >= token - OVERLAP:
                seen[rec["_id"]] = [rec[STAMP], digest(rec)]
        return token, seen

    def after_full_reconciliation(self, token: datetime, seen: dict[str, list[str]],
                                  runs: list[dict[str, Any]]) -> LiveSyncResult:
        """Store the token read before the full reconciliations (when every one succeeded) and report them."""
        result = self.result
        result.full_reconciliation = {"reason": result.needs_full,
                                      "runs": [{"_id": r.get("_id"), "mapping": r.get("mapping"),
                                                "state": r.get("state")} for r in runs]}
        failed = [r for r in runs if r.get("state") != "SUCCESS"]
        if failed:
            result.status = "FAILED"
            result.message = ("full reconciliation instead of liveSync: " + ", ".join(
                f"{r.get('mapping')} {r.get('state')} ({r.get('failureReason', '')})" for r in failed)
                + "; the token is unchanged, the next liveSync tries again")
        else:
            self._save(token, seen, {}, [])
            result.message = (f"full reconciliation instead of liveSync ({result.needs_full}); the sync token is now "
                              f"{format_stamp(token)}")
        result.needs_full = ""
        return self._end()

    # ---- the changes -----------------------------------------------------------------------------------
    def _changes(self) -> None:
        assert self.token is not None
        if self.retry:  # the failed and held records first, read again by Id (one more call)
            found = self.source.read_stamped(sorted(self.retry), self.fields)
            gone = [i for i in self.retry if i not in found]
            for i in gone:  # a User cannot be deleted; an Id that no longer reads is dropped, logged
                log.warning("liveSync %s: %s no longer exists, dropped from the retry list", self.source_name, i)
                self.retry.pop(i)
            records = [found[i] for i in sorted(found)]
            if records or gone:
                self.result.retried += len(records)
                self._page(records, advance=False)
        poll = self.now()
        for page in self.source.stamped_pages(self.token - OVERLAP, self.fields):
            fresh = []
            for rec in page:
                version = [rec.get(STAMP) or "", digest(rec)]
                key = (rec["_id"], version[1])
                if key in self.done or (self.seen.get(rec["_id"]) == version and rec["_id"] not in self.retry):
                    continue
                fresh.append(rec)
            self._page(fresh, advance=True, read=page)
        floor = poll - OVERLAP
        if self.token < floor:  # a quiet org: the token follows the clock, so it never falls out of the window
            self.token = floor
            self.seen = {k: v for k, v in self.seen.items() if parse_stamp(v[0]) >= floor - OVERLAP}
            self._save(self.token, self.seen, self.retry, [])

    def _page(self, records: list[dict[str, Any]], *, advance: bool, read: Sequence[dict[str, Any]] = (),
              hold: bool | None = None, count: bool = True) -> None:
        """One page: every mapping decides, remote writes, then ONE transaction with the local writes, links,
        audit, the retry list and the token (past every record read, ``advance``); then implicit sync."""
        hold = self.hold if hold is None else hold
        result = self.result
        failed: dict[str, str] = {}
        held: set[str] = set()
        decided: list[tuple[Mapping, SyncOperation, list[Record]]] = []
        by_id = {r["_id"]: r for r in records}
        for mapping in self.mappings:
            op = self._op(mapping)
            recs = [Record(phase="source", source=obj, source_id=obj["_id"]) for obj in records
                    if obj["_id"] not in failed and obj["_id"] not in held]
            if not recs:
                continue
            op.qualify(recs)
            op.load_links(recs)
            op.correlate(recs)
            op.mark_linked_elsewhere(recs)
            op.decide(recs)
            op.plan(recs)
            if hold:
                kept = []
                for r in recs:
                    if r.ok and r.action == Action.DELETE and r.target is not None and r.target_id:
                        held.add(r.source_id or "")
                    else:
                        kept.append(r)
                recs = kept
            if not op.target.local:
                op.write_targets(recs)  # remote writes before the transaction (their ids are linked in it)
            decided.append((mapping, op, recs))
            for r in recs:
                if not r.ok or r.action == Action.EXCEPTION:
                    failed[r.source_id or ""] = r.message or f"{r.situation} marked as EXCEPTION"
        tx = result.id
        with self.repo.transaction():
            entries = []
            implicit: list[tuple[str, str, dict[str, Any] | None, bool]] = []
            for mapping, op, recs in decided:
                if op.target.local:
                    op.write_targets(recs)
                op.write_links(recs)
                op.post_actions(recs, None)
                for r in recs:
                    if (not r.ok or r.action == Action.EXCEPTION) and r.source_id not in failed:
                        failed[r.source_id or ""] = r.message or f"{r.situation} marked as EXCEPTION"
                    entries.append(_sync_entry(tx, mapping, self.source_name, op.target.name, r))
                    if op.target.local and r.ok and r.wrote and r.target_id and mapping.target.startswith("managed/"):
                        deleted = r.action == Action.DELETE
                        implicit.append((mapping.target, r.target_id, None if r.created else r.target, deleted))
            if entries:
                self.repo.audit.add_many(entries)
            self._bookkeep(records, failed, held, by_id)
            token = self.token
            if advance:
                for rec in read:
                    stamp = rec.get(STAMP)
                    if stamp:
                        token = max(token, parse_stamp(stamp)) if token else parse_stamp(stamp)
                        self.seen[rec["_id"]] = [stamp, digest(rec)]
            for rec in records:
                version = [rec.get(STAMP) or "", digest(rec)]
                self.done.add((rec["_id"], version[1]))
                if rec.get(STAMP):
                    self.seen[rec["_id"]] = version
            assert token is not None
            self.seen = {k: v for k, v in self.seen.items() if parse_stamp(v[0]) >= token - OVERLAP}
            self._save(token, self.seen, self.retry, [[res, i] for res, i, _o, _d in implicit])
            self.token = token
        for _mapping, _op, recs in decided:
            for r in recs:
                if r.situation is not None:
                    result.situations[str(r.situation)] = result.situations.get(str(r.situation), 0) + 1
                if r.action is not None:
                    result.actions[r.action.value] = result.actions.get(r.action.value, 0) + 1
        if count:
            result.changes += len(records)
        for rid in by_id:
            if rid in failed:
                result.failure += 1
                result.failures.append(f"{self.source_name}/{rid}: {failed[rid]}")
            elif rid not in held:
                result.success += 1
        if implicit:
            self._push(implicit, by_id)
            self._save(self.token, self.seen, self.retry, [])

    def _bookkeep(self, records: list[dict[str, Any]], failed: dict[str, str], held: set[str],
                  by_id: dict[str, dict[str, Any]]) -> None:
        """The retry list after a page: failed records on it (until syncFailureHandler gives up), held deletions
        on it (no attempt counted), the others off it."""
        handler = self.failure_handler
        for rid in by_id:
            before = self.retry.get(rid) or {}
            if rid in held:
                self.retry[rid] = {**before, "held": True, "message": "DELETE held back by the deletion safeguard"}
                self.held[rid] = by_id[rid]
            elif rid in failed:
                attempts = int(before.get("attempts", 0)) + 1
                if 0 <= handler.max_retries < attempts:
                    log.warning("liveSync %s: %s failed %d time(s), syncFailureHandler gives up (%s): %s",
                                self.source_name, rid, attempts, handler.post_retry_action, failed[rid])
                    self.retry.pop(rid, None)
                    self.result.ignored += 1
                else:
                    self.retry[rid] = {"attempts": attempts, "message": failed[rid]}
            else:
                self.retry.pop(rid, None)
                self.held.pop(rid, None)

    def _save(self, token: datetime, seen: dict[str, list[str]], retry: dict[str, Any],
              pending: list[list[str]]) -> None:
        stage = {"connectorData": {"nativeType": NATIVE_TYPE, "syncToken": format_stamp(token)},
                 "sfsyncState": {"seen": seen, "retry": retry, "pendingImplicit": pending}}
        if self.result.failures:
            stage["lastException"] = {"throwable": self.result.failures[-1]}
        saved = self.repo.stages.put(self.sid, stage, self.rev)
        self.rev = saved["_rev"]

    # ---- deletions held back ---------------------------------------------------------------------------
    def _settle_held(self) -> None:
        held = {i: self.held[i] for i in self.retry if self.retry[i].get("held") and i in self.held}
        if not held:
            return
        if len(held) <= self.threshold:
            self._page(list(held.values()), advance=False, hold=False, count=False)
            return
        names = [str(r.get("Username") or r["_id"]) for r in held.values()]
        reason = (f"{len(held)} deletions would exceed deletion_threshold {self.threshold} (conf/sfsync.toml): none "
                  f"was applied, every other change was; they wait on the retry list. To apply them run "
                  f"'sfsync livesync --source {self.source_name} --allow-deletions' (REST: allowDeletions=true), "
                  "or raise deletion_threshold (0 turns the safeguard off)")
        entries = [{"_id": str(uuid.uuid4()), "eventName": "sync", "timestamp": iso_now(),
                    "reconId": LIVESYNC_AUDIT_ID, "transactionId": self.result.id, "userId": "sfsync",
                    "entryType": "entry", "reconciling": "source", "action": "DELETE", "status": "FAILURE",
                    "message": "DELETE held back by the deletion safeguard", "linkQualifier": LINK_QUALIFIER,
                    "sourceObjectId": f"{self.source_name}/{i}"} for i in held]
        self.repo.audit.add_many(entries)
        self.result.deletions_held = {"count": len(held), "threshold": self.threshold, "examples": names[:5]}
        self.result.status, self.result.message = "FAILED", reason
        log.warning("liveSync %s: %s", self.source_name, reason)

    # ---- implicit sync of the managed writes -----------------------------------------------------------
    def _push_pending(self, pending: list[list[str]]) -> None:
        """Implicit sync a crashed tick committed but never pushed (the old values are gone: no skip for an
        unchanged object)."""
        items = []
        for resource, mid in pending:
            new = self.object_sets(resource).read_many([mid]).get(mid)
            items.append((resource, mid, None, new is None))
        self._push(items)
        assert self.token is not None
        self._save(self.token, self.seen, self.retry, [])

    def _push(self, items: Iterable[tuple[str, str, dict[str, Any] | None, bool]],
              known: dict[str, dict[str, Any]] | None = None) -> None:
        """Run the mappings whose source is each written managed object, then its ``onSync`` (IDM's managed object
        service does after every write), a page at a time (``core.sync.implicit.push_changes``); ``known``: the
        source records this page read, so a mapping back to them decides without reading them again."""
        from core.sync.implicit import KnownTargets, push_changes

        by_resource: dict[str, list[tuple[str, dict[str, Any] | None, bool]]] = {}
        for resource, mid, old, deleted in items:
            by_resource.setdefault(resource, []).append((mid, old, deleted))
        for resource, changes in by_resource.items():
            mappings = self.managed_mappings(resource)
            objects = self.object_sets(resource)
            hooks = getattr(objects, "hooks", None)
            if not mappings and not (hooks is not None and hooks.has("onSync")):
                continue
            current = objects.read_many([mid for mid, _o, d in changes if not d])
            batch = [(mid, old, None if d else current[mid]) for mid, old, d in changes if d or mid in current]
            results = push_changes(mappings, self.scripts, self.repo, self.object_sets, batch, hooks=hooks,
                                   known=KnownTargets({self.source_name: known or {}}))
            for per_object in results.values():
                for res in per_object.values():
                    self.result.implicit[res.result] = self.result.implicit.get(res.result, 0) + 1


def stage_answer(stage: dict[str, Any] | None, result: LiveSyncResult) -> dict[str, Any]:
    """The REST/CLI answer: IDM's stage object (``_id``, ``_rev``, ``connectorData``, ``lastException`` when
    the tick failed) plus ``sfsync``, this tick's summary. sfsync's own bookkeeping stays out."""
    out: dict[str, Any] = {"_id": stage_id(result.source)}
    if stage:
        out.update({k: v for k, v in stage.items() if k not in ("sfsyncState", "lastException")})
    if result.status != "SUCCESS":
        out["lastException"] = {"throwable": result.message, "syncDelta": list(result.failures)}
    out["sfsync"] = result.summary()
    return out
