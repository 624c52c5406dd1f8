"""The situation decision, rule by rule, from IDM's definitions (reference/idm-sync-semantics.md §2.1)."""

from __future__ import annotations

import pytest

from core.sync.actions import Action
from core.sync.situations import (
    DEFAULT_ACTIONS,
    SUMMARY_SITUATIONS,
    Situation,
    delete_situation,
    source_situation,
    target_situation,
)


@pytest.mark.parametrize(("qualifies", "linked", "target_exists", "correlated", "elsewhere", "expected"), [
    (True, True, True, None, False, Situation.CONFIRMED),          # q=1 l=1 t=1
    (True, False, False, 1, False, Situation.FOUND),              # q=1 l=0 t=1
    (True, False, False, 1, True, Situation.FOUND_ALREADY_LINKED),  # the one target is another source's
    (True, False, False, 0, False, Situation.ABSENT),             # q=1 l=0 t=0
    (True, False, False, None, False, Situation.ABSENT),          # no correlation configured -> ABSENT
    (True, False, False, 3, False, Situation.AMBIGUOUS),          # q=1 l=0 t>1
    (True, True, False, None, False, Situation.MISSING),          # q=1 l=1 t=0
    (False, True, True, None, False, Situation.UNQUALIFIED),      # q=0 l=1 t=1
    (False, False, False, 2, False, Situation.UNQUALIFIED),       # q=0 l=0 t>=1
    (False, False, False, 0, False, Situation.SOURCE_IGNORED),    # q=0 l=0 t=0
    (False, False, False, None, False, Situation.SOURCE_IGNORED),
])
def test_source_phase_situation_follows_idm_table(qualifies, linked, target_exists, correlated, elsewhere, expected):
    assert source_situation(qualifies=qualifies, linked=linked, target_exists=target_exists,
                            correlated=correlated, correlated_linked_elsewhere=elsewhere) is expected


@pytest.mark.parametrize(("valid", "linked", "source_exists", "source_qualifies", "expected"), [
    (False, True, True, True, Situation.TARGET_IGNORED),
    (True, False, False, True, Situation.UNASSIGNED),
    (True, True, False, True, Situation.SOURCE_MISSING),
    (True, True, True, False, Situation.UNQUALIFIED),
    (True, True, True, True, Situation.CONFIRMED),
])
def test_target_phase_situation_follows_idm_rules(valid, linked, source_exists, source_qualifies, expected):
    assert target_situation(target_valid=valid, linked=linked, source_exists=source_exists,
                            source_qualifies=source_qualifies) is expected


@pytest.mark.parametrize(("linked", "target_exists", "valid", "correlated", "old_ok", "expected"), [
    (True, False, True, None, True, Situation.LINK_ONLY),
    (True, True, True, None, True, Situation.SOURCE_MISSING),
    (True, True, False, None, True, Situation.TARGET_IGNORED),
    (False, False, True, None, True, Situation.ALL_GONE),
    (False, False, True, 0, True, Situation.ALL_GONE),
    (False, False, True, 1, True, Situation.UNASSIGNED),
    (False, False, True, 1, False, Situation.TARGET_IGNORED),
    (False, False, True, 2, True, Situation.AMBIGUOUS),
    (False, False, True, 2, False, Situation.UNQUALIFIED),
])
def test_deleted_source_situation_follows_idm_rules(linked, target_exists, valid, correlated, old_ok, expected):
    assert delete_situation(linked=linked, target_exists=target_exists, target_valid=valid,
                            correlated=correlated, old_qualifies=old_ok) is expected


def test_every_situation_has_idms_default_action():
    assert len(Situation) == 13
    assert DEFAULT_ACTIONS[Situation.ABSENT] is Action.CREATE
    assert DEFAULT_ACTIONS[Situation.CONFIRMED] is Action.UPDATE
    assert DEFAULT_ACTIONS[Situation.UNQUALIFIED] is Action.DELETE
    assert DEFAULT_ACTIONS[Situation.ALL_GONE] is Action.NOREPORT
    assert {s for s, a in DEFAULT_ACTIONS.items() if a is Action.EXCEPTION} == {
        Situation.FOUND_ALREADY_LINKED, Situation.AMBIGUOUS, Situation.MISSING, Situation.UNASSIGNED,
        Situation.SOURCE_MISSING, Situation.LINK_ONLY}
    assert set(DEFAULT_ACTIONS) == set(Situation)


def test_run_summary_has_idms_eleven_situations():
    assert [s.value for s in SUMMARY_SITUATIONS] == [
        "CONFIRMED", "FOUND", "ABSENT", "AMBIGUOUS", "MISSING", "UNQUALIFIED", "UNASSIGNED", "SOURCE_MISSING",
        "SOURCE_IGNORED", "TARGET_IGNORED", "FOUND_ALREADY_LINKED"]


def test_the_optional_facts_default_to_the_ordinary_case():
    """Left out, the optional facts mean the common case: the correlated target is free, the source still
    qualifies, the linked target is valid, the deleted source used to qualify."""
    assert source_situation(qualifies=True, linked=False, target_exists=False, correlated=1) is Situation.FOUND
    assert target_situation(target_valid=True, linked=True, source_exists=True) is Situation.CONFIRMED
    assert delete_situation(linked=True, target_exists=True) is Situation.SOURCE_MISSING
    assert delete_situation(linked=False, target_exists=False, correlated=1) is Situation.UNASSIGNED
    assert delete_situation(linked=False, target_exists=False, correlated=2) is Situation.AMBIGUOUS
