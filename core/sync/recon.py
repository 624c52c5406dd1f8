"""The reconciliation engine: IDM's phases over pages (reference §2.5).

Source phase: source pages (the object set fetches the next while this one is processed) -> one
:class:`SyncOperation` batch per page (bulk links, targets, correlation) -> remote target writes in bulk ->
ONE repository transaction with the page's managed writes, links, audit entries and the run's progress.
Target phase: the target ids no source touched (ids only in memory), a page at a time. A crash at any point
leaves whole pages committed; a rerun converges because every decision is recomputed from what is stored
(and correlation re-finds a target whose link was never stored).

Runs synchronously in one worker thread per run (scripts are per thread; see :mod:`core.sync.scripts`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from core.errors import SfsyncError
from core.repo.audit import AuditRow
from core.sync.actions import Action
from core.sync.implicit import AfterPages
from core.sync.links import MappingLinks
from core.sync.mapping import Mapping
from core.sync.objectsets import ObjectSet, Preloaded, SalesforceObjects, chunked
from core.sync.observed import observed_fields
from core.sync.operation import SyncOperation
from core.sync.page_commit import PageWriter
from core.sync.recon_audit import ReconAudit
from core.sync.record import Record, failures
from core.sync.run import PageTally, ReconRun, ReconStage
from core.sync.scriptenv import ScriptEnv
from core.sync.scripts import ScriptEngine
from core.sync.writes import StagedPage

log = logging.getLogger(__name__)

EMPTY_SOURCE = "Cannot reconcile from an empty data source, unless allowEmptySourceSet is true."


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class ReconOptions:
    dry_run: bool = False
    changed_only: bool = False
    since: str | None = None  # the watermark an incremental run starts from
    on_progress: Callable[[dict[str, Any]], None] | None = None
    cancel: CancelFlag | None = None
    on_page: Callable[[ReconRun], None] | None = field(default=None, repr=False)  # after each commit
    #: a one-thread pool for page commits, kept by the caller so its SQLite connection is reused across runs
    commit_pool: ThreadPoolExecutor | None = field(default=None, repr=False)
    #: the deletion safeguard (``deletion_threshold`` in sfsync.toml; 0: off): a run whose DELETE actions
    #: would exceed it applies none of them and ends FAILED, unless ``allow_deletions``
    deletion_threshold: int = 0
    allow_deletions: bool = False
    #: reconById: only these source ids, no target phase (IDM's ``_action=reconById``)
    ids: list[str] | None = None
    #: what the run's scripts reach (project, logs); the engine binds its repository and Salesforce set
    script_env: ScriptEnv | None = field(default=None, repr=False)
    #: implicit sync after each committed page (the mappings whose source is this run's managed target, and
    #: the object set of a resource name neither side of the run is): see core.sync.implicit.AfterPages
    implicit_mappings: list[Mapping] = field(default_factory=list, repr=False)
    implicit_sets: Callable[[str], ObjectSet] | None = field(default=None, repr=False)


class ReconEngine:
    """One run of one mapping."""

    def __init__(self, mapping: Mapping, source: ObjectSet, target: ObjectSet, repo: Any,
                 run: ReconRun, options: ReconOptions) -> None:
        self.mapping = mapping
        self.source = source
        self.target = target
        self.repo = repo
        self.run = run
        self.options = options
        self.scripts = ScriptEngine(env=self._script_env(options.script_env, source, target, repo))
        self.links = MappingLinks(repo, mapping)
        self.audit = ReconAudit(run.id, mapping.name, source.name, target.name, dry_run=options.dry_run)
        #: what a remote read fetches: the attributes the mapping can observe, or None for whole records
        self.source_read_fields = observed_fields(mapping, "source")
        self.target_read_fields = observed_fields(mapping, "target")
        self.implicit = self._after_pages(options)
        if self.implicit is not None and self.source_read_fields is not None:
            extra = self.implicit.source_fields()  # the reverse mappings decide on these without a read
            self.source_read_fields = None if extra is None else list(dict.fromkeys([*self.source_read_fields,
                                                                                      *extra]))
        self.op = SyncOperation(mapping, self.scripts, source, target, self.links,
                                target_fields=self.target_read_fields, source_fields=self.source_read_fields)
        self.op.recon_id = run.id
        self.remaining: set[str] = set()
        #: DELETE actions held back until the run knows how many there are (the deletion safeguard)
        self.deletions = HeldDeletions(options.deletion_threshold if not (options.allow_deletions or options.dry_run)
                                       else 0)
        self._audit_seq = 0  # the last audit number given out (pages are numbered before they commit)
        self._committed_seq = 0  # the last audit number written
        self._cancel_requested = False
        self._last_saved: dict[str, Any] | None = None
        # pipelined commits only where the writes run no script (QuickJS belongs to this thread)
        has_post_actions = any(p.post_action for ps in mapping.policies.values() for p in ps)
        parallel = not has_post_actions and not options.dry_run
        # a remote target's writes are sent a few pages deep (see PageWriter), a local one's commit in order
        sending = not target.local
        if not parallel:
            self._writer = PageWriter(None)
        elif options.commit_pool is not None:
            self._writer = PageWriter(options.commit_pool, sending=sending)
        else:
            self._writer = PageWriter.owning(sending=sending)

    def _after_pages(self, options: ReconOptions) -> AfterPages | None:
        """Implicit sync of each page's managed writes (IDM runs it after every write of managed/user)."""
        if options.dry_run or not options.implicit_mappings or not self.target.name.startswith("managed/"):
            return None
        sides = {self.source.name: self.source, self.target.name: self.target}

        def object_sets(name: str) -> ObjectSet:
            if name in sides:
                return sides[name]
            if options.implicit_sets is None:
                raise SfsyncError(f"implicit sync: no object set for {name}")
            sides[name] = options.implicit_sets(name)
            return sides[name]

        return AfterPages(self.mapping, options.implicit_mappings, self.repo, object_sets,
                          getattr(self.target, "hooks", None), self.scripts)

    @staticmethod
    def _script_env(env: ScriptEnv | None, source: ObjectSet, target: ObjectSet, repo: Any) -> ScriptEnv:
        """Reads only: a script's write could neither join the page's transaction (committed later, maybe in
        the commit thread) nor be undone when its record fails (README, Scripts)."""
        salesforce = next((s for s in (source, target) if isinstance(s, SalesforceObjects) and s.sobject == "User"),
                          None)
        base = env if env is not None else ScriptEnv(refused_because="a reconciliation")
        return base.bound(repo=repo, salesforce=salesforce, writes=False, origin="recon",
                          refused_because=base.refused_because or "a reconciliation")

    # ---- the run ---------------------------------------------------------------------------------------
    def execute(self) -> ReconRun:
        run = self.run
        try:
            self._stage(ReconStage.ACTIVE_QUERY_ENTRIES)
            self._script("onRecon", self.mapping.on_recon, mappingConfig=self.mapping.raw)
            self._audit([{"entryType": "start", "message": "Reconciliation initiated by sfsync",
                          "status": "SUCCESS"}])
            partial = self.options.changed_only or self.options.ids is not None
            missing: list[str] = []
            if self.options.ids is not None:
                pages, missing = self._pages_by_id(self.options.ids)
            elif self.options.changed_only:
                pages = self._changed_pages()
            else:
                watermark = self.source.start_watermark()
                self._load_target_ids()
                pages = self.source.pages(self.source_read_fields)
            self._stage(ReconStage.ACTIVE_RECONCILING_SOURCE)
            if not self._source_phase(pages):
                return run
            if missing and not self._missing_sources(missing):
                return run
            if not partial:
                run.watermark = watermark()
            if self.mapping.run_target_phase and not partial:
                self._stage(ReconStage.ACTIVE_RECONCILING_TARGET)
                if not self._target_phase():
                    return run
            refused = self._settle_deletions()
            self._stage(ReconStage.ACTIVE_PROCESSING_RESULTS)
            self._script("result", self.mapping.result, **self._statistics())
            if refused:
                run.finish(ReconStage.COMPLETED_FAILED, refused)
            else:
                run.finish(ReconStage.COMPLETED_SUCCESS)
        except SfsyncError as exc:
            self._writer.drain()
            run.finish(ReconStage.COMPLETED_FAILED, str(exc))
        except Exception as exc:  # noqa: BLE001 - any bug ends the run FAILED with its reason, never ACTIVE
            self._writer.drain()
            log.exception("reconciliation %s failed", run.id)
            run.finish(ReconStage.COMPLETED_FAILED, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            hooks = getattr(self.target, "hooks", None)
            if hooks is not None and self._writer.parallel:  # the commit thread's own hook engine, freed there
                self._writer.submit(hooks.close_thread_engine)
                self._writer.drain()
            if self.implicit is not None and self._writer.parallel:
                self._writer.submit(self.implicit.close)
                self._writer.drain()
            self._writer.close()
            if run.finished:
                self.scripts.close()
        self._summary()
        return run

    def _load_target_ids(self) -> None:
        """Every target id (the target phase reconciles those no source touched); remote sets preload
        the mapped fields of every target instead, which costs fewer calls than per-page look-ups."""
        if self.target.preload:
            self.target = self.op.target = Preloaded(self.target, self.target_read_fields)
        for ids in self.target.ids():
            self.remaining.update(ids)
        self.run.target_total = len(self.remaining)
        if not self.remaining and not self.mapping.correlate_empty_target_set:
            self.op.skip_correlation = True  # IDM: nothing to correlate with in an empty target set

    def _changed_pages(self) -> Iterator[list[dict[str, Any]]]:
        since = self.options.since
        if since is None:
            raise SfsyncError("incremental reconciliation needs an earlier successful run of "
                              f"{self.mapping.name}; run a full reconciliation first")
        changes = self.source.changes_since(since, self.source_read_fields)
        if changes is None:
            raise SfsyncError(f"{self.source.name} cannot list its changes; run a full reconciliation")
        self.run.watermark = changes.watermark or since
        seen: set[str] = set()
        for page in changes.pages:
            seen.update(o["_id"] for o in page)
            yield page
        rest = [i for i in changes.deactivated if i not in seen]
        for ids in chunked(rest, 2000):
            found = self.source.read_many(ids, self.source_read_fields)
            yield [found[i] for i in ids if i in found]

    def _script(self, hook: str, spec: Any, **variables: Any) -> None:
        """``onRecon`` (before the first query) or ``result`` (after the last phase): a throw fails the run, as
        IDM's ``onRecon script encountered exception`` does."""
        if spec is None:
            return
        try:
            self.scripts.script(spec)(**variables)
        except SfsyncError as exc:
            raise SfsyncError(f"{self.mapping.name} {hook} script encountered exception: {exc}") from None

    def _statistics(self) -> dict[str, Any]:
        """What a ``result`` script sees: ``source`` and ``target`` (the phases' counts) and ``global`` (the run
        object, IDM's shape). IDM's per-situation id lists are not kept (a 100,000-user run would hold them all)."""
        run = self.run.to_dict()
        progress = run["progress"]
        return {"source": {"processed": progress["source"]["existing"]["processed"],
                           "situationSummary": run["situationSummary"]},
                "target": {"processed": progress["target"]["existing"]["processed"],
                           "created": progress["target"]["created"]},
                "global": run, "mappingConfig": self.mapping.raw}

    def _pages_by_id(self, ids: list[str]) -> tuple[Iterator[list[dict[str, Any]]], list[str]]:
        """reconById: the named sources that exist, as pages, and the ids that name no source."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunked(wanted, 2000):
            found.update(self.source.read_many(chunk, self.source_read_fields))
        self.run.source_total = len(wanted)
        present = [found[i] for i in wanted if i in found]
        return iter(chunked(present, 2000)), [i for i in wanted if i not in found]

    def _missing_sources(self, ids: list[str]) -> bool:
        """reconById of ids that name no source: IDM's SourceSyncOperation without a source object (link and
        target decide: SOURCE_MISSING, TARGET_IGNORED, LINK_ONLY, or ALL_GONE with no link)."""
        from core.sync.situations import delete_situation

        for chunk in chunked(ids, 2000):
            records = [Record(phase="source", source=None, source_id=i, qualifies=False) for i in chunk]
            self.op.load_links(records)
            for r in records:
                try:
                    valid = r.target is None or self.op.target_valid(r.target)
                    r.situation = delete_situation(linked=r.linked, target_exists=r.target is not None,
                                                   target_valid=valid)
                except SfsyncError as exc:
                    r.fail(str(exc))
            if not self._decide_and_commit(records):
                return False
        return True

    def _decide_and_commit(self, records: list[Record]) -> bool:
        """A page whose situations are known (target phase, reconById's missing sources): action, plan, the
        deletion safeguard, then its commit; False when a cancel was asked meanwhile."""
        self.op.decide(records)
        self.op.plan(records)
        self.deletions.hold(records)
        self._writer.submit(self._commit, records, self._stage_page(records))
        self._writer.wait()
        return not self._cancelled()

    def _cancel_asked(self) -> bool:
        cancel = self.options.cancel
        return self._cancel_requested or (cancel is not None and cancel.is_set())

    def _cancelled(self) -> bool:
        if self._cancel_asked():
            self._stage(ReconStage.ACTIVE_CANCELING)
            self.run.finish(ReconStage.COMPLETED_CANCELED)
            self._summary()
            return True
        return False

    # ---- source phase ----------------------------------------------------------------------------------
    def _source_phase(self, pages: Iterator[list[dict[str, Any]]]) -> bool:
        first = True
        for page in pages:
            if (first and not page and not self.options.changed_only and self.options.ids is None
                    and not self.mapping.allow_empty_source_set):
                raise SfsyncError(EMPTY_SOURCE)
            first = False
            if self.run.source_total is None:
                self.run.source_total = self.source.count()
            records = [Record(phase="source", source=obj, source_id=obj.get("_id")) for obj in page]
            self._decide(records)
            if self._writer.parallel:
                plan = self._stage_page(records)  # no side effect: done while the previous page commits
                if self._writer.depth > 1 and not self._cancel_asked():
                    # the page's writes go out now, behind those in flight; it commits after them, in order
                    self._writer.submit(partial(self._commit, sent=True), records, plan,
                                        send=partial(self.op.write_targets, records),
                                        keys=[r.target_id for r in records if r.target_id])
                    continue
                self._writer.wait()  # the previous page is committed: a cancel stops here, this page unwritten
                if self._cancelled():
                    return False
            else:
                if self._cancelled():
                    return False
                plan = self._stage_page(records)  # may write to Salesforce: only once no cancel is asked
            self._writer.submit(self._commit, records, plan)
        self._writer.wait()
        if self._cancelled():
            return False
        if first and not self.options.changed_only and self.options.ids is None and not self.mapping.allow_empty_source_set:
            raise SfsyncError(EMPTY_SOURCE)
        if self.run.source_total is None or self.options.changed_only:
            self.run.source_total = self.run.source_processed
        return True

    def _decide(self, records: list[Record]) -> None:
        """Everything up to the writes: qualification, links, correlation, situation, action, plan."""
        op = self.op
        op.qualify(records)
        op.load_links(records)
        op.correlate(records)
        op.mark_linked_elsewhere(records)
        op.decide(records)
        op.plan(records)
        for r in records:
            if r.target_id:
                self.remaining.discard(r.target_id)
            for t in r.ambiguous:
                self.remaining.discard(t)
        self.deletions.hold(records)

    def _stage_page(self, records: list[Record]) -> PagePlan:
        """Everything of the page's commit that needs no transaction, done in the engine's thread: the local
        creates prepared (validated, encoded: see :meth:`~core.sync.writes.TargetWrites.stage_writes`) and the
        audit rows (a remote target's writes and rows are the commit's). A dry run writes only its audit and
        progress."""
        staged = None
        if self.options.dry_run:
            for r in records:
                if r.ok and r.action == Action.CREATE:
                    r.created = True
                if r.ok and (r.link_after and r.source_id):
                    r.link_created = True
        elif self.target.local:
            staged = self.op.stage_writes(records)
        # every record has an audit number, audited or not, so rebuilding the rows keeps their ids
        base = self._audit_seq
        self._audit_seq += len(records)
        if not self.target.local and not self.options.dry_run:
            # remote writes go with the commit (the second thread): the next page is decided while they are
            # on the network; their audit rows need the ids Salesforce gives, so they are built after them
            return PagePlan(None, base, None, failures(records))
        return PagePlan(staged, base, self.audit.rows(records, base + 1), failures(records))

    def _commit(self, records: list[Record], plan: PagePlan, *, sent: bool = False) -> None:
        """ONE transaction: the page's managed writes, links, audit entries and the run's progress (a remote
        target's writes first, unless the page was ``sent`` already).

        The page is counted into the run only once that transaction has committed: the stored run is a staged
        copy (:meth:`ReconRun.plus`), so when COMMIT fails (a full disk) neither the repository nor the run
        object a front end sees has the page, and a FAILED run reports exactly what was written."""
        op = self.op
        if not self.options.dry_run and not self.target.local and not sent:
            op.write_targets(records)
        with self.repo.transaction():
            if not self.options.dry_run:
                if self.target.local:
                    op.write_targets(records, plan.staged)
                op.write_links(records, plan.staged)
                op.post_actions(records, self.run.id)
            # the rows were built before the writes; a write that failed (a record's only change) rebuilds them
            rows = plan.audit_rows if plan.audit_rows is not None and failures(records) == plan.failures \
                else self.audit.rows(records, plan.audit_base + 1)
            self.repo.audit.insert(rows)
            tally = tally_of(records)  # after the writes: they set each record's outcome
            saved = self._page_committing(records, tally)
        self.run.add(tally)
        self._committed_seq = max(self._committed_seq, plan.audit_base + len(records))
        self._last_saved = saved
        self._notify()
        if self.options.on_page is not None:
            self.options.on_page(self.run)
        if self.implicit is not None:  # after the COMMIT: implicit sync never undoes the page
            self.implicit.push(records)

    def _page_committing(self, records: list[Record], tally: PageTally) -> dict[str, Any]:
        """In the page's transaction, after its writes: the run stored with the page counted (a clustered
        node marks its task done there instead: core/sync/cluster.py)."""
        return self._persist(self.run.plus(tally).to_dict())

    # ---- target phase ----------------------------------------------------------------------------------
    def _target_phase(self) -> bool:
        remaining = sorted(self.remaining)
        self.remaining = set()
        for ids in chunked(remaining, 2000):
            if not self._decide_and_commit(self.op.target_records(ids)):
                return False
        return True

    def _settle_deletions(self) -> str:
        """The held DELETE actions: applied, a page at a time, when they are within the threshold; otherwise
        none is, each is audited as a FAILURE saying why, and the run's failure reason (returned) says how to
        go on."""
        held = self.deletions
        if not held.records:
            return ""
        refused = held.refusal(self.mapping.name)
        if refused:
            self.run.deletions_held = held.summary(self.source.name, self.target.name)
            for r in held.records:
                r.fail(f"DELETE held back by the deletion safeguard: {len(held.records)} deletions exceed "
                       f"deletion_threshold {held.threshold}")
        for page in chunked(held.records, 2000):
            self._writer.submit(self._commit, page, self._stage_page(page))
            self._writer.wait()
        held.records = []
        return refused

    # ---- progress, audit, persistence -----------------------------------------------------------------
    def _audit(self, entries: list[dict[str, Any]]) -> None:
        """The run's own entries (start, summary): numbered after the pages' records."""
        if not entries:
            return
        base = self.audit.base()
        first = self._audit_seq + 1
        self._audit_seq += len(entries)
        ids = [f"{self.run.id}-{n}" for n in range(first, self._audit_seq + 1)]
        self.repo.audit.add_many([base | e for e in entries], ids=ids)
        self._committed_seq = self._audit_seq

    def _stage(self, stage: ReconStage) -> None:
        self._writer.wait()
        self.run.stage = stage
        self._save()

    def _save(self) -> None:
        """Persist the run object (its own transaction) and tell the front end."""
        self._last_saved = self._persist(self.run.to_dict())
        self._notify()

    def _persist(self, data: dict[str, Any]) -> dict[str, Any]:
        """Store ``data`` as the run; a cancel asked by another process (REST, TUI) is read here, at each page."""
        with self.repo.transaction():
            stored = self.repo.runs.get(self.run.id)
            if stored and stored.get("cancelRequested"):
                self._cancel_requested = True
                data["cancelRequested"] = True
            self.repo.runs.update(data)
        return data

    def _notify(self) -> None:
        """Progress to the front end, always after the commit (a callback may touch the repository)."""
        if self.options.on_progress is not None and self._last_saved is not None:
            self.options.on_progress(self._last_saved)

    def _summary(self) -> None:
        run = self.run
        self._audit_seq = self._committed_seq  # after a failed or canceled page, numbers follow what was written
        summary = " ".join(f"{k}: {v}" for k, v in run.situations.items())
        try:
            self._audit([{"entryType": "summary", "message": summary, "messageDetail": run.to_dict(),
                          "status": "SUCCESS" if run.state == "SUCCESS" else "FAILURE"}])
        finally:
            self._save()


class HeldDeletions:
    """The deletion safeguard (beyond IDM, like Microsoft Entra ID's "prevent accidental deletions"): every
    DELETE that would delete or deactivate an existing target waits until the run has decided every record;
    then all of them are applied, or, when there are more than ``threshold``, none is. ``threshold`` 0: off."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.records: list[Record] = []

    def hold(self, records: list[Record]) -> None:
        """Take the page's deletions out of ``records`` (in place), to be settled at the end of the run."""
        if self.threshold <= 0:
            return
        kept = []
        for r in records:
            if r.ok and r.action == Action.DELETE and r.target is not None and r.target_id:
                self.records.append(r)
            else:
                kept.append(r)
        if len(kept) != len(records):
            records[:] = kept

    def refusal(self, mapping: str) -> str:
        """Why the held deletions are not applied, or "" when they are within the threshold."""
        n = len(self.records)
        if n <= self.threshold:
            return ""
        return (f"{n} deletions would exceed deletion_threshold {self.threshold} (conf/sfsync.toml): none was "
                f"applied, every other change was. Check them in the run's audit (action DELETE, status FAILURE); "
                f"to apply them run 'sfsync recon {mapping} --allow-deletions' (REST: allowDeletions=true; the "
                f"app asks), or raise deletion_threshold (0 turns the safeguard off)")

    def summary(self, source: str, target: str, examples: int = 5) -> dict[str, Any]:
        """What a front end shows before asking to go on: how many, and a few of them by name."""
        def name(r: Record) -> str | None:
            for obj in (r.target, r.source):
                for key in ("userName", "Username"):
                    if obj and isinstance(obj.get(key), str):
                        return str(obj[key])
            return None

        return {"count": len(self.records), "threshold": self.threshold,
                "examples": [{"sourceObjectId": f"{source}/{r.source_id}" if r.source_id else None,
                              "targetObjectId": f"{target}/{r.target_id}", "situation": str(r.situation),
                              "name": name(r)} for r in self.records[:examples]]}


@dataclass(frozen=True)
class PagePlan:
    """What :meth:`ReconEngine._stage_page` made ready for a page's commit."""

    staged: StagedPage | None  # the local creates, prepared
    audit_base: int  # the page's records are audit entries base+1, base+2, …
    audit_rows: list[AuditRow] | None  # built from the outcomes expected before the writes (None: after them)
    failures: int  # how many records had failed then


def tally_of(records: list[Record]) -> PageTally:
    """IDM's ``ReconciliationStatistic`` of one page: per record processed/created counters and situations."""
    tally = PageTally()
    situations, actions = tally.situations, tally.actions
    for r in records:
        if not r.ok and r.action is None:
            tally.failure += 1  # failed before its action (a script, correlation): IDM counts only the FAILURE
            continue
        if r.source_id is not None:  # IDM counts every record with a source, target-phase links included
            tally.source_processed += 1
        if r.created:
            tally.target_created += 1
        elif r.target_id:
            tally.target_processed += 1
        if r.linked:
            tally.links_processed += 1
        if r.link_created:
            tally.links_created += 1
        if r.situation is not None:
            situations[r.situation] = situations.get(r.situation, 0) + 1
        if r.ok:
            tally.success += 1
        else:
            tally.failure += 1
        if r.action is not None:
            actions[r.action] = actions.get(r.action, 0) + 1
    return tally
