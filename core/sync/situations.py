"""IDM's 13 synchronization situations and how a record lands in one (``sync/impl/Situation.java``,
``SourceSyncOperation`` / ``TargetSyncOperation``; reference/idm-sync-semantics.md §2.1).

The decision functions take the facts the engine gathered for a record in bulk (does the source qualify,
is there a link, how many targets correlated, is the correlated target linked elsewhere) and return the
situation, in IDM's terms, so each rule can be tested on its own.
"""

from __future__ import annotations

from enum import StrEnum

from core.sync.actions import Action


class Situation(StrEnum):
    """The state of one source (or target) record relative to the other side."""

    CONFIRMED = "CONFIRMED"
    FOUND = "FOUND"
    FOUND_ALREADY_LINKED = "FOUND_ALREADY_LINKED"
    ABSENT = "ABSENT"
    AMBIGUOUS = "AMBIGUOUS"
    MISSING = "MISSING"
    UNQUALIFIED = "UNQUALIFIED"
    SOURCE_IGNORED = "SOURCE_IGNORED"
    TARGET_IGNORED = "TARGET_IGNORED"
    UNASSIGNED = "UNASSIGNED"
    SOURCE_MISSING = "SOURCE_MISSING"
    LINK_ONLY = "LINK_ONLY"
    ALL_GONE = "ALL_GONE"

    def __str__(self) -> str:
        return self.value


#: the code's default action per situation (IDM's ``Situation.getDefaultAction``); a mapping's policies
#: override these. The docs say IGNORE for SOURCE_IGNORED/TARGET_IGNORED/ALL_GONE; the code (which we follow)
#: says REPORT/REPORT/NOREPORT - no state change either way.
DEFAULT_ACTIONS: dict[Situation, Action] = {
    Situation.CONFIRMED: Action.UPDATE,
    Situation.FOUND: Action.UPDATE,
    Situation.FOUND_ALREADY_LINKED: Action.EXCEPTION,
    Situation.ABSENT: Action.CREATE,
    Situation.AMBIGUOUS: Action.EXCEPTION,
    Situation.MISSING: Action.EXCEPTION,
    Situation.UNQUALIFIED: Action.DELETE,
    Situation.SOURCE_IGNORED: Action.REPORT,
    Situation.TARGET_IGNORED: Action.REPORT,
    Situation.UNASSIGNED: Action.EXCEPTION,
    Situation.SOURCE_MISSING: Action.EXCEPTION,
    Situation.LINK_ONLY: Action.EXCEPTION,
    Situation.ALL_GONE: Action.NOREPORT,
}

#: the keys of a run's ``situationSummary``, in IDM's order (``PhaseStatistic``): no LINK_ONLY, no ALL_GONE
SUMMARY_SITUATIONS: tuple[Situation, ...] = (
    Situation.CONFIRMED, Situation.FOUND, Situation.ABSENT, Situation.AMBIGUOUS, Situation.MISSING,
    Situation.UNQUALIFIED, Situation.UNASSIGNED, Situation.SOURCE_MISSING, Situation.SOURCE_IGNORED,
    Situation.TARGET_IGNORED, Situation.FOUND_ALREADY_LINKED,
)


def source_situation(*, qualifies: bool, linked: bool, target_exists: bool, correlated: int | None,
                     correlated_linked_elsewhere: bool = False) -> Situation:
    """The source phase (``SourceSyncOperation.determineSituation``).

    ``linked``: a link exists for this source; ``target_exists``: the linked target exists;
    ``correlated``: how many targets the correlation query returned (None: no correlation configured, or
    not run because the record is linked); ``correlated_linked_elsewhere``: the single correlated target
    already has a link to another source.
    """
    if not qualifies:
        # IDM: a link exists, or correlation found a target -> UNQUALIFIED; neither -> SOURCE_IGNORED
        return Situation.UNQUALIFIED if (linked or correlated) else Situation.SOURCE_IGNORED
    if linked:
        return Situation.CONFIRMED if target_exists else Situation.MISSING
    if not correlated:  # None (no correlation) or 0 results
        return Situation.ABSENT
    if correlated == 1:
        return Situation.FOUND_ALREADY_LINKED if correlated_linked_elsewhere else Situation.FOUND
    return Situation.AMBIGUOUS


def target_situation(*, target_valid: bool, linked: bool, source_exists: bool,
                     source_qualifies: bool = True) -> Situation:
    """The target phase (``TargetSyncOperation``) for a target no source touched in the source phase."""
    if not target_valid:
        return Situation.TARGET_IGNORED
    if not linked:
        return Situation.UNASSIGNED
    if not source_exists:
        return Situation.SOURCE_MISSING
    if not source_qualifies:
        return Situation.UNQUALIFIED
    return Situation.CONFIRMED


def delete_situation(*, linked: bool, target_exists: bool, target_valid: bool = True,
                     correlated: int | None = None, old_qualifies: bool = True) -> Situation:
    """Implicit sync of a deleted source (``SourceSyncOperation`` with a null source)."""
    if linked:
        if not target_exists:
            return Situation.LINK_ONLY
        return Situation.SOURCE_MISSING if target_valid else Situation.TARGET_IGNORED
    if not correlated:
        return Situation.ALL_GONE
    if correlated == 1:
        return Situation.UNASSIGNED if old_qualifies else Situation.TARGET_IGNORED
    return Situation.AMBIGUOUS if old_qualifies else Situation.UNQUALIFIED
