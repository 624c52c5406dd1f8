"""A managed object beside its linked Salesforce record: what the app's user screen shows.

Which link and which fields come from ``sync.json``: the link is that of the first mapping (in file order)
between the managed object set and a Salesforce one; the compared fields are the properties a mapping reading
the managed set copies without a transform, as (managed field, Salesforce field) pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.sync.links import MappingLinks
from core.sync.mapping import Mapping, SyncConfig

SALESFORCE_PREFIX = "system/salesforce/"


@dataclass(frozen=True)
class RemoteLink:
    """How the objects of a managed set (``managed/user``) are linked to a Salesforce set: one mapping's links."""

    mapping: Mapping
    resource: str

    @property
    def remote(self) -> str:
        """The Salesforce object set on the other side (``system/salesforce/User``)."""
        return self.mapping.target if self.mapping.source == self.resource else self.mapping.source

    @property
    def sobject(self) -> str:
        return self.remote.removeprefix(SALESFORCE_PREFIX)

    @property
    def link_type(self) -> str:
        return self.mapping.link_type

    def remote_ids(self, repo: Any, ids: Sequence[str]) -> dict[str, str]:
        """managed id -> the linked Salesforce id (ids without a link are left out)."""
        links = MappingLinks(repo, self.mapping)
        return links.targets_of(ids) if self.mapping.source == self.resource else links.sources_of(ids)


def remote_link(config: SyncConfig, resource: str) -> RemoteLink | None:
    """The link between ``resource`` and Salesforce, or None when no mapping joins them."""
    for mapping in config.mappings:
        sides = (mapping.source, mapping.target)
        if resource in sides and any(s.startswith(SALESFORCE_PREFIX) for s in sides):
            return RemoteLink(mapping, resource)
    return None


def copied_pairs(config: SyncConfig, resource: str) -> list[tuple[str, str]]:
    """(managed field, target field) of every property a mapping reading ``resource`` copies verbatim."""
    return [(p.source, p.target) for m in config.mappings if m.source == resource
            for p in m.properties if p.source and p.target and p.transform is None]


@dataclass
class UserDetail:
    """A managed object, its link and the linked Salesforce record read live.

    ``remote`` is None when there is no link, or when reading it failed (``remote_error``: the exception, so a
    front end words it its own way; the managed side stays usable)."""

    user: dict[str, Any]
    link_type: str | None = None
    remote_id: str | None = None
    remote: dict[str, Any] | None = None
    remote_error: Exception | None = None
    #: (managed field, Salesforce field) pairs compared
    pairs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def linked(self) -> bool:
        return self.remote_id is not None

    def differences(self) -> list[tuple[str, str]]:
        """The pairs whose two values differ, as text (a missing value reads as empty text)."""
        if self.remote is None:
            return []
        return [(ours, theirs) for ours, theirs in self.pairs
                if _text(self.user.get(ours)) != _text(self.remote.get(theirs))]


def _text(value: Any) -> str:
    return "" if value is None else str(value)
