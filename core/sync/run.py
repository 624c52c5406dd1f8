"""The reconciliation run object: IDM's recon status shape (reference/idm-sync-semantics.md §3.1, CONTRACT).

One :class:`ReconRun` is what every front end shows, what ``--json`` prints, and what the repository stores
per page, so a run started by one process is watched live by another. Beyond IDM's keys it carries
``dryRun``, ``changedOnly``, ``actionSummary``, ``failureReason`` (why a run failed) and ``watermark`` (where the next incremental run
starts), which IDM clients ignore.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from core.sync.situations import SUMMARY_SITUATIONS


class ReconStage(Enum):
    """IDM's ``ReconStage``: (state, stageDescription)."""

    ACTIVE_INITIALIZED = ("ACTIVE", "initialized")
    ACTIVE_QUERY_ENTRIES = ("ACTIVE", "querying sets of entries to reconcile")
    ACTIVE_RECONCILING_SOURCE = ("ACTIVE", "reconciling source entries")
    ACTIVE_RECONCILING_TARGET = ("ACTIVE", "reconciling target entries")
    ACTIVE_LINK_CLEANUP = ("ACTIVE", "link clean-up")
    ACTIVE_PROCESSING_RESULTS = ("ACTIVE", "processing reconciling results")
    ACTIVE_CANCELING = ("ACTIVE", "aborting reconciling")
    COMPLETED_SUCCESS = ("SUCCESS", "reconciliation completed.")
    COMPLETED_CANCELED = ("CANCELED", "reconciliation aborted.")
    COMPLETED_FAILED = ("FAILED", "reconciliation failed")

    @property
    def state(self) -> str:
        return self.value[0]

    @property
    def description(self) -> str:
        return self.value[1]


def iso_now() -> str:
    """UTC, milliseconds, ``Z``: IDM's timestamp format."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class PageTally:
    """One page's contribution to a run's counters (IDM's ``ReconciliationStatistic``), kept apart from the
    run until the page's transaction has committed: a page that was rolled back (a failed COMMIT, a full
    disk) is never counted, so the run object always says what the repository holds."""

    source_processed: int = 0
    target_processed: int = 0
    target_created: int = 0
    links_processed: int = 0
    links_created: int = 0
    success: int = 0
    failure: int = 0
    situations: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)


_TALLIED = ("source_processed", "target_processed", "target_created", "links_processed", "links_created",
            "success", "failure")


@dataclass
class ReconRun:
    """A reconciliation's status, counters and timing."""

    mapping: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    stage: ReconStage = ReconStage.ACTIVE_INITIALIZED
    source_total: int | None = None
    source_processed: int = 0
    target_total: int | None = None
    target_processed: int = 0
    target_created: int = 0
    links_total: int | None = None
    links_processed: int = 0
    links_created: int = 0
    situations: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in SUMMARY_SITUATIONS})
    actions: dict[str, int] = field(default_factory=dict)
    success: int = 0
    failure: int = 0
    started: str = field(default_factory=iso_now)
    ended: str = ""
    dry_run: bool = False
    changed_only: bool = False
    message: str = ""
    watermark: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    #: the deletion safeguard held the run's deletions back: how many, the threshold, a few examples
    deletions_held: dict[str, Any] | None = None
    #: a clustered run's nodes: ``[{"nodeId", "processed", "state"}]`` (core/sync/cluster.py)
    nodes: list[dict[str, Any]] | None = None
    _t0: float = field(default_factory=time.monotonic, repr=False)
    _elapsed: float | None = field(default=None, repr=False)

    @property
    def state(self) -> str:
        return self.stage.state

    @property
    def finished(self) -> bool:
        return self.stage.state != "ACTIVE"

    def add(self, tally: PageTally) -> None:
        """Count a committed page."""
        for name in _TALLIED:
            setattr(self, name, getattr(self, name) + getattr(tally, name))
        for situation, n in tally.situations.items():
            if situation in self.situations:
                self.situations[situation] += n
        for action, n in tally.actions.items():
            self.actions[action] = self.actions.get(action, 0) + n

    def plus(self, tally: PageTally) -> ReconRun:
        """A copy of this run with ``tally`` counted: what a page's transaction stores, while this run itself
        is only counted (:meth:`add`) once that transaction has committed."""
        staged = replace(self, situations=dict(self.situations), actions=dict(self.actions))
        staged.add(tally)
        return staged

    def finish(self, stage: ReconStage, message: str = "") -> None:
        self.stage = stage
        self.ended = iso_now()
        self._elapsed = time.monotonic() - self._t0
        if message:
            self.message = message

    @property
    def duration_ms(self) -> int:
        elapsed = self._elapsed if self._elapsed is not None else time.monotonic() - self._t0
        return int(elapsed * 1000)

    def to_dict(self) -> dict[str, Any]:
        """IDM's shape: totals are strings (``"?"`` when unknown), counters numbers."""
        def total(n: int | None) -> str:
            return "?" if n is None else str(n)
        links_total = self.links_total
        if links_total is None and self.finished:
            links_total = self.links_processed
        out: dict[str, Any] = {
            "_id": self.id,
            "mapping": self.mapping,
            "state": self.state,
            "stage": self.stage.name,
            "stageDescription": self.stage.description,
            "progress": {
                "source": {"existing": {"processed": self.source_processed, "total": total(self.source_total)}},
                "target": {"existing": {"processed": self.target_processed, "total": total(self.target_total)},
                           "created": self.target_created},
                "links": {"existing": {"processed": self.links_processed, "total": total(links_total)},
                          "created": self.links_created},
            },
            "situationSummary": dict(self.situations),
            "statusSummary": {"SUCCESS": self.success, "FAILURE": self.failure},
            "actionSummary": dict(self.actions),
            "parameters": self.parameters,
            "started": self.started,
            "ended": self.ended,
            "duration": self.duration_ms,
            "dryRun": self.dry_run,
            "changedOnly": self.changed_only,
        }
        if self.message:
            out["failureReason"] = self.message
        if self.watermark:
            out["watermark"] = self.watermark
        if self.deletions_held:
            out["deletionsHeld"] = self.deletions_held
        if self.nodes is not None:
            out["nodes"] = [dict(n) for n in self.nodes]
            # IDM's own name for it (its summary's ``sourceProcessedByNode``)
            out["sourceProcessedByNode"] = {str(n["nodeId"]): n["processed"] for n in self.nodes}
        return out
