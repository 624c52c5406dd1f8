"""One record in flight through a reconciliation or an implicit sync, and everything decided about it."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

from core.sync.actions import Action
from core.sync.mapping import Policy
from core.sync.situations import Situation


class Record:
    """One record in flight and everything decided about it.

    A plain class whose defaults live on the class: a page creates thousands of these, and setting three
    attributes is much cheaper than a 25-field dataclass ``__init__``. Defaults are immutable or replaced,
    never mutated in place.
    """

    phase: str  # "source" or "target"
    source: dict[str, Any] | None
    source_id: str | None
    target: dict[str, Any] | None = None
    target_id: str | None = None
    old_source: dict[str, Any] | None = None
    linked: bool = False
    qualifies: bool = True
    correlated: list[dict[str, Any]] | None = None
    situation: Situation | None = None
    action: Action | None = None
    policy: Policy | None = None
    ok: bool = True
    message: str = ""
    new_target: dict[str, Any] | None = None
    changes: dict[str, Any] = MappingProxyType({})  # type: ignore[assignment]  # replaced, never mutated
    link_after: bool = False
    unlink: bool = False
    link_created: bool = False
    created: bool = False
    wrote: bool = False
    ambiguous: list[str] = ()  # type: ignore[assignment]  # replaced, never mutated

    def __init__(self, phase: str, source: dict[str, Any] | None, source_id: str | None, **fields: Any) -> None:
        self.phase = phase
        self.source = source
        self.source_id = source_id
        for name, value in fields.items():
            setattr(self, name, value)

    def fail(self, message: str) -> None:
        self.ok = False
        self.message = message


def failures(records: Sequence[Record]) -> int:
    """How many of ``records`` have failed (a page compares it before and after its writes)."""
    return sum(1 for r in records if not r.ok)
