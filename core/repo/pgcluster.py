"""Clustered reconciliation's shared state on PostgreSQL (schema ``sfsync``; tables made by core/repo/pgdb.py).

- ``cluster_runs``: one row per clustered run while it is open: its mapping, its state (``OPEN``, then
  ``CLOSED``) and the coordinator's start-of-run decisions (``facts``) every node decides with.
- ``cluster_tasks``: one row per source page of a run: the page's records, its first audit number, its state
  (``PENDING`` → ``CLAIMED`` → ``DONE``, or ``FAILED``), the node that holds it and until when (a lease on the
  database's clock, renewed by that node's heartbeat), and once done the page's counters and the target ids it
  touched.
- ``cluster_nodes``: every node that works for clustered runs, with its last heartbeat.

Claims use ``FOR UPDATE SKIP LOCKED``, so nodes never wait on each other's claims; a task whose lease lapsed is
claimable again. :meth:`PgCluster.complete` runs inside the page's own transaction and is its fence: it marks
the task done only while this node still holds it and the run is still open, else it raises
:class:`LeaseLost` and the page's writes roll back with it, so a page is committed exactly once.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from core.repo.errors import Conflict
from core.repo.pgdb import PgDatabase

OPEN, CLOSED = "OPEN", "CLOSED"
PENDING, CLAIMED, DONE, FAILED = "PENDING", "CLAIMED", "DONE", "FAILED"


class LeaseLost(Conflict):
    """This node no longer holds the task (its lease lapsed and another node took it, or the run closed)."""


@dataclass(frozen=True)
class ClusterTask:
    """A claimed source page."""

    run_id: str
    mapping: str
    page: int
    audit_base: int
    records: list[dict[str, Any]]
    facts: dict[str, Any]
    claims: int  # how many times it was claimed (more than 1: taken over from a node that lapsed)


class PgCluster:
    """The task queue, leases and node heartbeats of clustered reconciliation."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db

    # ---- the coordinator -----------------------------------------------------------------------------
    def open_run(self, run_id: str, mapping: str, facts: dict[str, Any]) -> None:
        """The run's row (its tasks are added next); what a crashed coordinator of the mapping left (a run no
        longer ACTIVE) is dropped first."""
        stale = ("SELECT c.run_id FROM sfsync.cluster_runs c LEFT JOIN sfsync.recon_runs r ON r.id = c.run_id "
                 "WHERE c.mapping = %s AND (r.state IS NULL OR r.state <> 'ACTIVE')")
        with self.db.transaction():
            self.db.execute(f"DELETE FROM sfsync.cluster_tasks WHERE run_id IN ({stale})", (mapping,))
            self.db.execute(f"DELETE FROM sfsync.cluster_runs WHERE run_id IN ({stale})", (mapping,))
            self.db.execute("INSERT INTO sfsync.cluster_runs (run_id, mapping, state, facts) VALUES (%s, %s, %s, %s)",
                            (run_id, mapping, OPEN, Jsonb(facts)))

    def add_task(self, run_id: str, page: int, audit_base: int, records: Sequence[dict[str, Any]]) -> None:
        self.db.execute("INSERT INTO sfsync.cluster_tasks (run_id, page, state, audit_base, records) "
                        "VALUES (%s, %s, %s, %s, %s)", (run_id, page, PENDING, audit_base, Jsonb(list(records))))

    def close_run(self, run_id: str) -> None:
        """No task of the run is claimed or completed after this returns (a completing page's fence holds the
        run row shared: this waits for it)."""
        self.db.execute("UPDATE sfsync.cluster_runs SET state = %s WHERE run_id = %s", (CLOSED, run_id))

    def drop_run(self, run_id: str) -> None:
        """The run's tasks and row, once its counters and nodes are in the run object."""
        with self.db.transaction():
            self.db.execute("DELETE FROM sfsync.cluster_tasks WHERE run_id = %s", (run_id,))
            self.db.execute("DELETE FROM sfsync.cluster_runs WHERE run_id = %s", (run_id,))

    def states(self, run_id: str) -> dict[str, int]:
        """How many tasks of the run are in each state."""
        return {str(state): int(n) for state, n in self.db.fetchall(
            "SELECT state, count(*) FROM sfsync.cluster_tasks WHERE run_id = %s GROUP BY state", (run_id,))}

    def done_results(self, run_id: str, seen: Sequence[int]) -> list[tuple[int, dict[str, Any]]]:
        """The results of the run's done tasks other than the pages in ``seen``: (page, result)."""
        return [(int(page), dict(result)) for page, result in self.db.fetchall(
            "SELECT page, result FROM sfsync.cluster_tasks WHERE run_id = %s AND state = %s "
            "AND NOT (page = ANY(%s)) ORDER BY page", (run_id, DONE, list(seen)))]

    def failure(self, run_id: str) -> str | None:
        """Why a task of the run failed (the first), or None."""
        row = self.db.fetchone("SELECT result->>'error' FROM sfsync.cluster_tasks WHERE run_id = %s AND state = %s "
                               "ORDER BY page LIMIT 1", (run_id, FAILED))
        return str(row[0]) if row else None

    def touched(self, run_id: str) -> Iterator[str]:
        """Every target id the run's done tasks decided (linked, correlated or ambiguous)."""
        for (ids,) in self.db.fetchall("SELECT touched FROM sfsync.cluster_tasks WHERE run_id = %s AND state = %s",
                                       (run_id, DONE)):
            yield from ids or ()

    def nodes(self, run_id: str, lease: float) -> list[dict[str, Any]]:
        """The nodes that worked for the run: ``nodeId``, ``processed`` (source records of its done pages) and
        ``state`` (``WORKING``: holds a page; ``IDLE``: alive; ``GONE``: no heartbeat for a lease)."""
        rows = self.db.fetchall(
            "SELECT t.owner, sum(t.processed) FILTER (WHERE t.state = 'DONE'), "
            "bool_or(t.state = 'CLAIMED' AND t.lease_expiry > now()), "
            "bool_and(n.last_seen IS NOT NULL AND n.last_seen > now() - make_interval(secs => %s)) "
            "FROM sfsync.cluster_tasks t LEFT JOIN sfsync.cluster_nodes n ON n.node_id = t.owner "
            "WHERE t.run_id = %s AND t.owner IS NOT NULL GROUP BY t.owner ORDER BY t.owner", (lease, run_id))
        return [{"nodeId": owner, "processed": int(processed or 0),
                 "state": "WORKING" if working else "IDLE" if alive else "GONE"}
                for owner, processed, working, alive in rows]

    # ---- every node ----------------------------------------------------------------------------------
    def heartbeat(self, node_id: str, state: str = "ACTIVE") -> None:
        """The node is alive (``state``: ``ACTIVE``; ``STOPPED`` when it ends cleanly)."""
        self.db.execute(
            "INSERT INTO sfsync.cluster_nodes (node_id, host, pid, state, last_seen) VALUES (%s, %s, %s, %s, now()) "
            "ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, pid = excluded.pid, state = excluded.state, "
            "last_seen = excluded.last_seen", (node_id, socket.gethostname(), os.getpid(), state))

    def claim(self, node_id: str, lease: float, skip_runs: Sequence[str] = ()) -> ClusterTask | None:
        """The first claimable page of an open run (pending, or claimed with a lapsed lease), now held by
        ``node_id`` for ``lease`` seconds; None when there is none."""
        row = self.db.fetchone(
            "WITH next AS (SELECT t.run_id, t.page FROM sfsync.cluster_tasks t "
            "  JOIN sfsync.cluster_runs r ON r.run_id = t.run_id AND r.state = 'OPEN' "
            "  JOIN sfsync.recon_runs rr ON rr.id = t.run_id AND rr.state = 'ACTIVE' "
            "  WHERE (t.state = 'PENDING' OR (t.state = 'CLAIMED' AND t.lease_expiry < now())) "
            "  AND NOT (t.run_id = ANY(%s)) ORDER BY t.run_id, t.page LIMIT 1 FOR UPDATE OF t SKIP LOCKED) "
            "UPDATE sfsync.cluster_tasks t SET state = 'CLAIMED', owner = %s, "
            "  lease_expiry = now() + make_interval(secs => %s), claims = t.claims + 1 "
            "FROM next, sfsync.cluster_runs r WHERE t.run_id = next.run_id AND t.page = next.page "
            "  AND r.run_id = t.run_id "
            "RETURNING t.run_id, r.mapping, t.page, t.audit_base, t.records, r.facts, t.claims",
            (list(skip_runs), node_id, lease))
        if row is None:
            return None
        run_id, mapping, page, base, records, facts, claims = row
        return ClusterTask(run_id, mapping, int(page), int(base), list(records), dict(facts), int(claims))

    def renew(self, node_id: str, task: ClusterTask, lease: float) -> bool:
        """Extend the lease of a task this node holds; False when it no longer does."""
        return bool(self.db.execute(
            "UPDATE sfsync.cluster_tasks SET lease_expiry = now() + make_interval(secs => %s) "
            "WHERE run_id = %s AND page = %s AND owner = %s AND claims = %s AND state = 'CLAIMED'",
            (lease, task.run_id, task.page, node_id, task.claims)))

    def complete(self, node_id: str, task: ClusterTask, processed: int, result: dict[str, Any],
                 touched: Sequence[str]) -> None:
        """Mark the task done, in the caller's transaction (the page's writes): LeaseLost when this node no
        longer holds it or the run is no longer open, so the whole page rolls back."""
        with self.db.transaction():
            row = self.db.fetchone("SELECT state FROM sfsync.cluster_runs WHERE run_id = %s FOR SHARE",
                                   (task.run_id,))
            if row is None or row[0] != OPEN:
                raise LeaseLost(f"clustered run {task.run_id} is no longer open; page {task.page} not committed")
            n = self.db.execute(
                "UPDATE sfsync.cluster_tasks SET state = 'DONE', processed = %s, result = %s, touched = %s, "
                "lease_expiry = NULL, records = '[]'::jsonb "
                "WHERE run_id = %s AND page = %s AND owner = %s AND claims = %s AND state = 'CLAIMED'",
                (processed, Jsonb(result), list(touched), task.run_id, task.page, node_id, task.claims))
            if not n:
                raise LeaseLost(f"node {node_id} lost page {task.page} of run {task.run_id} (its lease lapsed and "
                                "another node took it over); this node's copy is not committed")

    def fail(self, node_id: str, task: ClusterTask, error: str) -> None:
        """The page failed (the run fails with ``error``, as a single node's run does)."""
        self.db.execute("UPDATE sfsync.cluster_tasks SET state = 'FAILED', result = %s "
                        "WHERE run_id = %s AND page = %s AND owner = %s AND state = 'CLAIMED'",
                        (Jsonb({"error": error}), task.run_id, task.page, node_id))

    def release(self, node_id: str, task: ClusterTask) -> None:
        """Give the task back (a node stopping, or one that cannot run this mapping): claimable at once."""
        self.db.execute("UPDATE sfsync.cluster_tasks SET state = 'PENDING', owner = NULL, lease_expiry = NULL "
                        "WHERE run_id = %s AND page = %s AND owner = %s AND state = 'CLAIMED'",
                        (task.run_id, task.page, node_id))
