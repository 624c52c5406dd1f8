"""A mapping's view of the repository's links (IDM ``LinkType``; reference §2.6).

IDM stores a link once, under the mapping that owns it (``linkType``); a mapping with ``links: OTHER``
uses OTHER's links reversed: for both sample mappings ``firstId`` is the Salesforce Id and ``secondId`` the
managed user's ``_id``. This class hides the reversal, so the engine asks in its own terms: "which target
is this source linked to?", in bulk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.repo.links import LinkRow
from core.sync.mapping import Mapping
from core.sync.transform import LINK_QUALIFIER


class MappingLinks:
    """Links of one mapping, seen from its source side."""

    def __init__(self, repo: Any, mapping: Mapping) -> None:
        self.repo = repo
        self.link_type = mapping.link_type
        self.reversed = mapping.reversed_links

    def targets_of(self, source_ids: Sequence[str]) -> dict[str, str]:
        """source id -> linked target id."""
        if not source_ids:
            return {}
        side = "second_id" if self.reversed else "first_id"
        return self.repo.links.other_sides(self.link_type, source_ids, given=side, qualifier=LINK_QUALIFIER)

    def sources_of(self, target_ids: Sequence[str]) -> dict[str, str]:
        """target id -> linked source id."""
        if not target_ids:
            return {}
        side = "first_id" if self.reversed else "second_id"
        return self.repo.links.other_sides(self.link_type, target_ids, given=side, qualifier=LINK_QUALIFIER)

    def link(self, source_id: str, target_id: str) -> None:
        first, second = (target_id, source_id) if self.reversed else (source_id, target_id)
        self.repo.link(self.link_type, first, second, qualifier=LINK_QUALIFIER)

    def prepare(self, pairs: Sequence[tuple[str, str]]) -> list[LinkRow]:
        """The rows linking ``(source id, target id)`` pairs, made without touching storage."""
        ordered = [(t, s) for s, t in pairs] if self.reversed else list(pairs)
        return self.repo.links.prepare(self.link_type, ordered, qualifier=LINK_QUALIFIER)

    def insert(self, rows: Sequence[LinkRow]) -> None:
        """Store rows from :meth:`prepare`; a side already linked raises a Conflict and writes none of them."""
        self.repo.links.insert(rows)

    def unlink_sources(self, source_ids: Sequence[str]) -> None:
        if not source_ids:
            return
        if self.reversed:
            self.repo.unlink_many(self.link_type, second_ids=list(source_ids), qualifier=LINK_QUALIFIER)
        else:
            self.repo.unlink_many(self.link_type, first_ids=list(source_ids), qualifier=LINK_QUALIFIER)

    def unlink_targets(self, target_ids: Sequence[str]) -> None:
        if not target_ids:
            return
        if self.reversed:
            self.repo.unlink_many(self.link_type, first_ids=list(target_ids), qualifier=LINK_QUALIFIER)
        else:
            self.repo.unlink_many(self.link_type, second_ids=list(target_ids), qualifier=LINK_QUALIFIER)

    def unlink_source(self, source_id: str) -> None:
        if self.reversed:
            self.repo.unlink(self.link_type, second_id=source_id)
        else:
            self.repo.unlink(self.link_type, first_id=source_id)

    def unlink_target(self, target_id: str) -> None:
        if self.reversed:
            self.repo.unlink(self.link_type, first_id=target_id)
        else:
            self.repo.unlink(self.link_type, second_id=target_id)
