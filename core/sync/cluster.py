"""Clustered reconciliation (IDM's ``clusteredSourceReconEnabled``) on a PostgreSQL repository.

The process that starts the run is its **coordinator** (:class:`ClusteredReconEngine`): it takes the mapping's
run lock, runs ``onRecon``, reads the target ids and makes the start-of-run decisions a single node makes (skip
correlation when the target set is empty, the deletion safeguard's threshold), stores them with the run
(``sfsync.cluster_runs.facts``), then turns each source page into a task row (``sfsync.cluster_tasks``: the page's
records and its first audit number). Every live node on the repository (``sfsync worker``, ``sfsync serve`` and
the coordinator itself: :mod:`core.sync.cluster_worker`) claims pages and processes each with the single-node
engine's own code (:class:`PageNode`: qualify, links, correlation, decide, stage, commit), marking the task done
in the page's own transaction (the fence of :meth:`core.repo.pgcluster.PgCluster.complete`), so a page is
committed exactly once whichever nodes crash or lapse. Once every page is done, the coordinator adds the
pages' counters into the run, decides the DELETEs the nodes held back for the deletion safeguard, and runs the
target phase over the target ids no page touched, as a single node does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from core.errors import ConfigError, SfsyncError
from core.sync.mapping import Mapping
from core.sync.objectsets import ObjectSet, chunked
from core.sync.page_commit import PageWriter
from core.sync.recon import EMPTY_SOURCE, ReconEngine, ReconOptions
from core.sync.record import Record
from core.sync.run import PageTally, ReconRun

log = logging.getLogger(__name__)

LEASE_ENV = "SFSYNC_CLUSTER_LEASE"
DEFAULT_LEASE = 30.0
TASK_SIZE_ENV = "SFSYNC_CLUSTER_TASK_SIZE"
DEFAULT_TASK_SIZE = 2000
#: how often the coordinator reads the pages' progress while nodes work
POLL = 0.25


def node_name(project_dir: Path | None = None) -> str:
    """This process as a cluster node, unless named (``sfsync worker --node-id``): IDM's ``openidm.node.id`` of
    the project's ``resolver/boot.properties`` (or ``conf/boot.properties``) when set, else host and process id."""
    if project_dir is not None:
        from core.sync.scriptenv import read_properties

        for candidate in (project_dir / "resolver" / "boot.properties", project_dir / "conf" / "boot.properties"):
            named = read_properties(candidate).get("openidm.node.id", "").strip()
            if named:
                return named
    return f"{socket.gethostname()}:{os.getpid()}"


def recon_engine(mapping: Mapping, source: ObjectSet, target: ObjectSet, repo: Any, run: ReconRun,
                 options: ReconOptions, *, node_id: str) -> ReconEngine:
    """The engine of one run: a clustered run's coordinator for a full run of a mapping with
    ``clusteredSourceReconEnabled`` (incremental and by-id runs stay on this node), else the single-node one."""
    if not mapping.clustered or options.changed_only or options.ids is not None:
        return ReconEngine(mapping, source, target, repo, run, options)

    def start(coordinator: ClusteredReconEngine) -> Callable[[], None]:
        facts = coordinator.facts
        return local_node(lambda: PageNode(mapping, source, target, repo, run.id, facts, options, node_id),
                          repo, node_id, run.id, coordinator.lease)

    return ClusteredReconEngine(mapping, source, target, repo, run, options, node_id=node_id, start_node=start)


def lease_seconds() -> float:
    """A task's lease (``SFSYNC_CLUSTER_LEASE`` seconds, default 30): how long a silent node keeps its page
    before another node takes it over; its heartbeat renews it every third of that."""
    text = os.environ.get(LEASE_ENV, "").strip()
    if not text:
        return DEFAULT_LEASE
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{LEASE_ENV}: a number of seconds, not {text!r}") from None
    if not 1.0 <= value <= 3600.0:
        raise ConfigError(f"{LEASE_ENV}: between 1 and 3600 seconds, not {text}")
    return value


def task_size() -> int:
    """Source records per task (``SFSYNC_CLUSTER_TASK_SIZE``, default 2,000: a whole source page)."""
    text = os.environ.get(TASK_SIZE_ENV, "").strip()
    if not text:
        return DEFAULT_TASK_SIZE
    if not text.isdigit() or not 1 <= int(text) <= 10000:
        raise ConfigError(f"{TASK_SIZE_ENV}: a whole number of records from 1 to 10000, not {text!r}")
    return int(text)


def mapping_fingerprint(mapping: Mapping) -> str:
    """What every node must agree on to process a run's pages: the mapping as sync.json defines it."""
    return hashlib.sha256(json.dumps(mapping.raw, sort_keys=True, default=str).encode()).hexdigest()[:16]


def tally_to_json(tally: PageTally) -> dict[str, Any]:
    data = asdict(tally)
    data["situations"] = {str(k): v for k, v in tally.situations.items()}
    data["actions"] = {str(k): v for k, v in tally.actions.items()}
    return data


def tally_from_json(data: dict[str, Any]) -> PageTally:
    return PageTally(**data)


class PageNode(ReconEngine):
    """One node's engine for one clustered run: processes the pages it claims exactly as a single node's
    source phase does, with the coordinator's start-of-run decisions (``facts``)."""

    def __init__(self, mapping: Mapping, source: ObjectSet, target: ObjectSet, repo: Any, run_id: str,
                 facts: dict[str, Any], options: ReconOptions, node_id: str) -> None:
        options = replace(options, dry_run=bool(facts.get("dryRun")), changed_only=False, ids=None,
                          deletion_threshold=int(facts.get("deletionThreshold", 0)), allow_deletions=False,
                          on_progress=None, on_page=None, cancel=None, commit_pool=None)
        run = ReconRun(mapping=mapping.name, id=run_id, dry_run=bool(facts.get("dryRun")))
        super().__init__(mapping, source, target, repo, run, options)
        self._writer.close()
        self._writer = PageWriter(None)  # the page commits in this node's thread, its fence with it
        self.op.skip_correlation = bool(facts.get("skipCorrelation"))
        self.node_id = node_id
        self._task: Any = None
        self.touched: list[str] = []

    def process(self, task: Any) -> int:
        """Decide, stage and commit one claimed page (its task marked done in the same transaction); the
        number of source records it held. LeaseLost when another node took the page over meanwhile."""
        self._task = task
        self._audit_seq = self._committed_seq = task.audit_base
        self.deletions.records = []
        records = [Record(phase="source", source=obj, source_id=obj.get("_id")) for obj in task.records]
        self._decide(records)
        held = list(self.deletions.records)
        self.touched = [t for r in [*records, *held] for t in ([r.target_id] if r.target_id else []) + list(r.ambiguous)]
        plan = self._stage_page(records)
        self._commit(records, plan)
        return len(task.records)

    def _page_committing(self, records: list[Record], tally: PageTally) -> dict[str, Any]:
        result = {"tally": tally_to_json(tally), "deferred": [r.source for r in self.deletions.records]}
        self.repo.cluster.complete(self.node_id, self._task, len(self._task.records), result, self.touched)
        return {}

    def close(self) -> None:
        hooks = getattr(self.target, "hooks", None)
        if hooks is not None:
            hooks.close_thread_engine()
        if self.implicit is not None:  # implicit sync ran in this node's thread, its engine with it
            self.implicit.close()
        self.scripts.close()


class ClusteredReconEngine(ReconEngine):
    """The coordinator of a clustered run: the single-node engine, whose source phase hands its pages to the
    cluster's nodes (itself one of them) and whose target phase runs once they are all done."""

    def __init__(self, mapping: Mapping, source: ObjectSet, target: ObjectSet, repo: Any, run: ReconRun,
                 options: ReconOptions, *, node_id: str,
                 start_node: Callable[[ClusteredReconEngine], Callable[[], None]]) -> None:
        super().__init__(mapping, source, target, repo, run, options)
        if not hasattr(repo, "cluster"):
            raise ConfigError(f"mapping {mapping.name}: clusteredSourceReconEnabled needs a PostgreSQL repository")
        self.cluster = repo.cluster
        self.node_id = node_id
        self.lease = lease_seconds()
        self.task_size = task_size()
        self._start_node = start_node
        self._seen: list[int] = []
        self._deferred: list[dict[str, Any]] = []
        self._opened = False
        self.run.nodes = []

    @property
    def facts(self) -> dict[str, Any]:
        """The start-of-run decisions every node decides with, as a single node would have them."""
        return {"skipCorrelation": self.op.skip_correlation, "dryRun": self.options.dry_run,
                "deletionThreshold": self.deletions.threshold, "lease": self.lease,
                "mapping": mapping_fingerprint(self.mapping), "coordinator": self.node_id}

    def execute(self) -> ReconRun:
        try:
            return super().execute()
        finally:
            if self._opened:
                try:
                    self.cluster.drop_run(self.run.id)
                except Exception:  # noqa: BLE001 - leftovers are dropped when the mapping's next run opens
                    log.exception("cannot drop the tasks of clustered run %s", self.run.id)

    def _source_phase(self, pages: Iterator[list[dict[str, Any]]]) -> bool:
        if self.options.changed_only or self.options.ids is not None:  # partial runs stay on this node
            return super()._source_phase(pages)
        self.cluster.open_run(self.run.id, self.mapping.name, self.facts)
        self._opened = True
        stop_node = self._start_node(self)
        try:
            return self._distribute(pages)
        finally:
            stop_node()
            self.cluster.close_run(self.run.id)
            self._absorb()

    def _distribute(self, pages: Iterator[list[dict[str, Any]]]) -> bool:
        count = 0
        for page in pages:
            if count == 0 and not page and not self.mapping.allow_empty_source_set:
                raise SfsyncError(EMPTY_SOURCE)
            if self.run.source_total is None:
                self.run.source_total = self.source.count()
            for part in chunked(page, self.task_size):
                self.cluster.add_task(self.run.id, count, self._audit_seq, part)
                self._audit_seq += len(part)
                self._committed_seq = self._audit_seq  # given to the page: the summary's numbers follow
                count += 1
            if self._stopping():
                return False
        if count == 0 and not self.mapping.allow_empty_source_set:
            raise SfsyncError(EMPTY_SOURCE)
        last = 0.0
        while True:
            states = self.cluster.states(self.run.id)
            if states.get("FAILED"):
                raise SfsyncError(self.cluster.failure(self.run.id) or "a page of the clustered run failed")
            if states.get("DONE", 0) >= count:
                break
            if time.monotonic() - last >= 1.0:
                last = time.monotonic()
                if self._stopping():
                    return False
            time.sleep(POLL)
        self.cluster.close_run(self.run.id)  # no page commits after this
        self._absorb()
        self.remaining.difference_update(self.cluster.touched(self.run.id))
        if self._deferred:  # the DELETEs nodes held back: decided again here, held for the safeguard
            records = [Record(phase="source", source=obj, source_id=obj.get("_id")) for obj in self._deferred]
            self._deferred = []
            self._decide(records)
            if records:
                self._writer.submit(self._commit, records, self._stage_page(records))
                self._writer.wait()
        if self.run.source_total is None:
            self.run.source_total = self.run.source_processed
        return not self._cancelled()

    def _stopping(self) -> bool:
        """Progress stored (and a cancel asked elsewhere read); whether the run is to stop. A cancel closes the
        run's tasks first, so the run's counters include every page that committed."""
        self._absorb()
        self._save()
        cancel = self.options.cancel
        if not (self._cancel_requested or (cancel is not None and cancel.is_set())):
            return False
        self.cluster.close_run(self.run.id)
        self._absorb()
        return self._cancelled()

    def _absorb(self) -> None:
        """Count the pages done since last time into the run; the nodes as they are now."""
        for page, result in self.cluster.done_results(self.run.id, self._seen):
            self._seen.append(page)
            self.run.add(tally_from_json(result["tally"]))
            self._deferred.extend(result.get("deferred") or [])
        self.run.nodes = self.cluster.nodes(self.run.id, self.lease)


def local_node(make_engine: Callable[[], PageNode], repo: Any, node_id: str, run_id: str,
               lease: float) -> Callable[[], None]:
    """Run a node for ``run_id`` in a thread of this process (the coordinator works too); the function that
    stops it (after its page in hand) and waits for it."""
    from core.sync.cluster_worker import ClusterWorker

    stop = threading.Event()
    worker = ClusterWorker(repo, node_id, lambda task: make_engine(), stop=stop, only_run=run_id,
                           poll=POLL, lease=lease)
    thread = threading.Thread(target=worker.run, name=f"sfsync-node-{run_id[:8]}", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join()

    return halt
