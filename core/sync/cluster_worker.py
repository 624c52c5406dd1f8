"""A cluster node's loop: claim a page of any open clustered run, process it, again; heartbeat beside it.

Used by ``sfsync worker`` (:func:`serve_node`), by ``sfsync serve`` (a node beside the API) and by a clustered
run's coordinator (a node for its own run: :func:`core.sync.cluster.local_node`). A heartbeat thread renews
the lease of the page in hand every third of the lease and marks the node alive; a node that stops (SIGTERM,
Ctrl-C) finishes its page first, a node that dies has its page taken over by another once the lease lapses.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from core.errors import SfsyncError

log = logging.getLogger(__name__)


class ClusterWorker:
    """One node: ``engine_for(task)`` gives the engine (a :class:`~core.sync.cluster.PageNode`) for a task's
    run, or None when this node cannot run it (another mapping definition: the page goes back)."""

    def __init__(self, repo: Any, node_id: str, engine_for: Callable[[Any], Any], *, stop: threading.Event,
                 only_run: str | None = None, poll: float = 0.2, lease: float | None = None,
                 on_page: Callable[[Any, int, float], None] | None = None) -> None:
        self.repo = repo
        self.cluster = repo.cluster
        self.node_id = node_id
        self.engine_for = engine_for
        self.stop = stop
        self.only_run = only_run
        self.poll = poll
        self.lease = lease
        self.on_page = on_page
        self.processed = 0
        self.pages = 0
        self._task: Any = None
        self._task_lock = threading.Lock()
        self._skip: set[str] = set()
        self._engines: dict[str, Any] = {}

    def _lease(self, task: Any = None) -> float:
        from core.sync.cluster import lease_seconds

        if task is not None and task.facts.get("lease"):
            return float(task.facts["lease"])
        return self.lease if self.lease is not None else lease_seconds()

    def run(self) -> None:
        """Until ``stop`` is set: claim, process, repeat (the page in hand is finished first)."""
        beat = threading.Thread(target=self._heartbeat, name=f"sfsync-heartbeat-{self.node_id}", daemon=True)
        beat.start()
        try:
            while not self.stop.is_set():
                if not self._one():
                    self.stop.wait(self.poll)
        finally:
            self.stop.set()
            beat.join()
            for engine in self._engines.values():
                engine.close()
            self._engines.clear()
            if self.only_run is None:
                try:
                    self.cluster.heartbeat(self.node_id, "STOPPED")
                except Exception:  # noqa: BLE001 - the repository went away: nothing to tell it
                    log.warning("node %s: cannot record its stop", self.node_id)

    def _one(self) -> bool:
        """Claim and process one page; False when there was none to claim."""
        skip = list(self._skip)
        if self.only_run is not None:
            task = self._claim_own()
        else:
            task = self.cluster.claim(self.node_id, self._lease(), skip)
        if task is None:
            return False
        with self._task_lock:
            self._task = task  # the heartbeat renews its lease from now on (making the engine takes a while)
        engine = self._engine(task)
        if engine is None:
            with self._task_lock:
                self._task = None
            self.cluster.release(self.node_id, task)
            self._skip.add(task.run_id)
            return True
        try:
            if task.claims > 1:
                log.info("node %s: took over page %d of run %s", self.node_id, task.page, task.run_id)
            started = time.monotonic()
            n = engine.process(task)
            self.processed += n
            self.pages += 1
            if self.on_page is not None:
                self.on_page(task, n, time.monotonic() - started)
        except SfsyncError as exc:
            from core.repo.pgcluster import LeaseLost

            if isinstance(exc, LeaseLost):
                log.warning("%s", exc)
            else:
                self.cluster.fail(self.node_id, task, str(exc))
        except Exception as exc:  # noqa: BLE001 - the run fails with the reason, as a single node's would
            log.exception("node %s: page %d of run %s failed", self.node_id, task.page, task.run_id)
            self.cluster.fail(self.node_id, task, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            with self._task_lock:
                self._task = None
        return True

    def _claim_own(self) -> Any:
        """The coordinator's node claims only its run's pages."""
        others = [r for (r,) in self.repo.db.fetchall(
            "SELECT run_id FROM sfsync.cluster_runs WHERE run_id <> %s", (self.only_run,))]
        return self.cluster.claim(self.node_id, self._lease(), others)

    def _engine(self, task: Any) -> Any:
        engine = self._engines.get(task.run_id)
        if engine is not None:
            return engine
        for old in self._engines.values():  # one run's engine at a time (its scripts are this thread's)
            old.close()
        self._engines.clear()
        try:
            engine = self.engine_for(task)
        except SfsyncError as exc:
            log.error("node %s cannot run mapping %s of run %s: %s", self.node_id, task.mapping, task.run_id, exc)
            return None
        if engine is not None:
            self._engines[task.run_id] = engine
        return engine

    def _heartbeat(self) -> None:
        while True:
            with self._task_lock:
                task = self._task
            try:
                self.cluster.heartbeat(self.node_id)
                if task is not None:
                    self.cluster.renew(self.node_id, task, self._lease(task))
            except Exception:  # noqa: BLE001 - a repository hiccup: the next beat tries again
                log.warning("node %s: heartbeat failed", self.node_id, exc_info=True)
            if self.stop.wait(self._lease(task) / 3):
                return


def run_node(service: Any, node_id: str, stop: threading.Event, *, poll: float = 0.2,
             on_page: Callable[[Any, int, float], None] | None = None) -> ClusterWorker:
    """Work as node ``node_id`` of every clustered run on ``service``'s repository until ``stop`` is set
    (``sfsync worker``, ``sfsync serve``). A run whose mapping this project defines otherwise than the
    coordinator's (sync.json differs) is left to the other nodes."""
    from core.errors import ConfigError, UsageError
    from core.sync.cluster import PageNode, mapping_fingerprint

    repo = service.repo
    if not hasattr(repo, "cluster"):
        raise UsageError(f"a cluster node needs a PostgreSQL repository (SFSYNC_REPO_URL or "
                         f"conf/datasource.jdbc-default.json); this project's repository is {repo.location}")

    def engine_for(task: Any) -> PageNode:
        mapping, source, target, options = service.node_engine_parts(task.mapping,
                                                                     dry_run=bool(task.facts.get("dryRun")))
        if mapping_fingerprint(mapping) != task.facts.get("mapping"):
            raise ConfigError(f"mapping {task.mapping} in conf/sync.json differs from the one of run {task.run_id}'s "
                              "coordinator; this node leaves that run's pages to the other nodes")
        return PageNode(mapping, source, target, repo, task.run_id, task.facts, options, node_id)

    worker = ClusterWorker(repo, node_id, engine_for, stop=stop, poll=poll, on_page=on_page)
    worker.run()
    return worker
