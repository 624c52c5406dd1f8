"""The writes of a batch of decided records: creates, updates and deletes on the target, links, post-actions.

For a local target a page's creates and links are prepared first (:meth:`TargetWrites.stage_writes`: ids,
validation, JSON, rows; no storage touched), so the engine's thread does that while the commit thread is still
writing the previous page; the commit then only runs SQL and corrects the records whose write turned out
differently (a unique value taken meanwhile).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import SfsyncError
from core.repo.links import LinkRow
from core.sync.actions import Action
from core.sync.links import MappingLinks
from core.sync.objectsets import ObjectSet, StagedCreates, WriteResult
from core.sync.record import Record, failures
from core.sync.scripts import ScriptEngine
from core.sync.transform import LINK_QUALIFIER


@dataclass(frozen=True)
class StagedPage:
    """A batch's creates and links prepared ahead of the writes (:meth:`TargetWrites.stage_writes`)."""

    records: list[Record]  # the creates
    creates: StagedCreates
    to_link: list[Record]
    link_rows: list[LinkRow]
    failures: int  # records failed when staged: a different count later means an outcome changed


def _created(r: Record, res: WriteResult) -> None:
    if _outcome(r, res):
        r.target_id, r.target, r.created, r.wrote = res.id, res.object or r.new_target, True, True


def _outcome(r: Record, res: WriteResult) -> bool:
    if not res.ok:
        r.fail(res.error or f"{r.action} failed")
    return res.ok


class TargetWrites:
    """Writing a batch's decisions (a part of :class:`~core.sync.operation.SyncOperation`)."""

    target: ObjectSet
    links: MappingLinks
    scripts: ScriptEngine

    def stage_writes(self, records: Sequence[Record]) -> StagedPage:
        """The batch's creates and links made ready (ids, validation, encoding) without writing, each record
        given the outcome expected when nothing clashes; :meth:`write_targets` and :meth:`write_links` then
        write them, correcting any record whose actual outcome differs."""
        creates = [r for r in records if r.ok and r.action == Action.CREATE and r.new_target is not None]
        staged = self.target.prepare_creates([r.new_target for r in creates if r.new_target is not None])
        if staged.expected is not None:
            for r, res in zip(creates, staged.expected, strict=True):
                _created(r, res)
        to_link = self._to_link(records)
        links = self.links.prepare([(r.source_id or "", r.target_id or "") for r in to_link])
        return StagedPage(creates, staged, to_link, links, failures(records))

    def write_targets(self, records: Sequence[Record], staged: StagedPage | None = None) -> None:
        """Creates, updates and deletes in bulk; each record keeps its own outcome."""
        updates = [r for r in records if r.ok and r.action == Action.UPDATE and r.changes]
        deletes = [r for r in records if r.ok and r.action == Action.DELETE and r.target_id and r.target is not None]
        if staged is None:
            staged = self.stage_writes(records)
        actual = staged.creates.apply()
        if actual is not None:  # None: exactly as expected, the common case, with nothing to correct
            expected = staged.creates.expected
            for k, (r, res) in enumerate(zip(staged.records, actual, strict=True)):
                if expected is None:
                    _created(r, res)
                elif res.ok != expected[k].ok or res.id != expected[k].id:  # e.g. a unique value taken meanwhile
                    r.ok, r.message, r.created, r.wrote, r.target_id, r.target = True, "", False, False, None, None
                    _created(r, res)
        items = [(r.target_id or "", r.new_target or {}, r.changes, (r.target or {}).get("_rev")) for r in updates]
        updated: list[tuple[Record, dict[str, Any] | None]] = []
        for r, res in zip(updates, self.target.update_many(items), strict=True):
            if _outcome(r, res):
                r.wrote = True
                updated.append((r, res.object))
        for r, res in zip(deletes, self.target.delete_many([r.target_id or "" for r in deletes]), strict=True):
            if _outcome(r, res):
                r.wrote = True
        hooks = getattr(self.target, "hooks", None)
        if hooks is not None and hooks.has("postCreate", "postUpdate", "postDelete"):
            self._post_hooks(hooks, staged.records, updated, deletes)

    def _post_hooks(self, hooks: Any, creates: Sequence[Record], updated: Sequence[tuple[Record, Any]],
                    deletes: Sequence[Record]) -> None:
        """``postCreate``/``postUpdate``/``postDelete`` of the target's ``managed.json`` after the writes (in
        whichever thread commits: that thread's own script engine). A throw fails the record (audited with
        the script's message); the write stands, as in IDM, where the post hook runs after the repository's."""
        engine = hooks.engine(self.scripts)
        created = [r for r in creates if r.ok and r.created and r.target is not None]
        for r, err in zip(created, hooks.after_create_many(engine, [r.target or {} for r in created]), strict=True):
            if err is not None:
                r.fail(str(err))
        live = [(r, new) for r, new in updated if r.ok and r.target is not None]
        for (r, _), err in zip(live, hooks.after_update_many(engine, [
                (r.target_id or "", r.target or {}, new or r.new_target or {}) for r, new in live]), strict=True):
            if err is not None:
                r.fail(str(err))
        gone = [r for r in deletes if r.ok and r.wrote and r.target is not None]
        for r, err in zip(gone, hooks.after_delete_many(engine, [(r.target_id or "", r.target or {}) for r in gone]),
                          strict=True):
            if err is not None:
                r.fail(str(err))

    @staticmethod
    def _to_link(records: Sequence[Record]) -> list[Record]:
        return [r for r in records if r.ok and r.link_after and r.source_id and r.target_id]

    def write_links(self, records: Sequence[Record], staged: StagedPage | None = None) -> None:
        """Links and unlinks of the batch in bulk; a conflict (another writer linked a side meanwhile) is
        that record's failure. ``staged`` links are used as prepared unless a write failed since."""
        to_unlink = [r for r in records if r.ok and r.unlink and not (r.link_after and r.target_id)]
        if to_unlink:
            self.links.unlink_sources([r.source_id for r in to_unlink if r.source_id and r.linked])
            self.links.unlink_targets([r.target_id for r in to_unlink
                                       if r.target_id and not (r.source_id and r.linked)])
        if staged is not None and staged.failures == failures(records):
            to_link, rows = staged.to_link, staged.link_rows
        else:
            to_link = self._to_link(records)
            rows = self.links.prepare([(r.source_id or "", r.target_id or "") for r in to_link])
        if not to_link:
            return
        pairs = [(r.source_id or "", r.target_id or "") for r in to_link]
        try:
            self.links.insert(rows)
        except SfsyncError:
            existing = self.links.targets_of([p[0] for p in pairs])
            for r, (sid, tid) in zip(to_link, pairs, strict=True):
                if existing.get(sid) == tid:
                    r.link_created = True
                    continue
                try:
                    self.links.link(sid, tid)
                    r.link_created = True
                except SfsyncError as exc:
                    r.fail(str(exc))
            return
        for r in to_link:
            r.link_created = True

    def post_actions(self, records: Sequence[Record], recon_id: str | None) -> None:
        for r in records:
            pol = r.policy
            if not r.ok or pol is None or pol.post_action is None or r.action is None or not r.action.runs_post_action:
                continue
            try:
                self.scripts.script(pol.post_action)(
                    source=r.source, target=r.target, action=r.action.value, sourceAction=r.phase == "source",
                    linkQualifier=LINK_QUALIFIER, reconId=recon_id, situation=str(r.situation))
            except SfsyncError as exc:
                r.fail(str(exc))
