"""The recon audit's fast rows (a prefix per kind of entry) are the very entries the field-by-field path makes."""

from __future__ import annotations

import json

from core.sync.actions import Action
from core.sync.recon_audit import ReconAudit
from core.sync.record import Record
from core.sync.situations import Situation


def _records() -> list[Record]:
    out = [
        Record("source", {}, "005A", target_id="u-1", target={"_id": "u-1"}, situation=Situation.CONFIRMED,
               action=Action.UPDATE),
        Record("source", {}, "005B", target_id="u-2", created=True, situation=Situation.ABSENT, action=Action.CREATE),
        Record("source", {}, 'odd "id" \\ Zoë', situation=Situation.SOURCE_IGNORED, action=Action.IGNORE),
        Record("source", {}, "005N", situation=Situation.ABSENT, action=Action.NOREPORT),  # not audited
        Record("target", None, None, target_id="u-9", situation=Situation.UNASSIGNED, action=Action.REPORT),
        Record("source", {}, "005D", situation=Situation.AMBIGUOUS, action=Action.EXCEPTION,
               message="Situation AMBIGUOUS marked as EXCEPTION", ambiguous=["u-3", "u-4"]),
        Record("source", {}, "005E", situation=Situation.ABSENT, action=Action.CREATE),
        Record("source", {}, "005F", target_id="u-5", target={"_id": "u-5"}, situation=Situation.CONFIRMED,
               action=Action.UPDATE),
        # IDM names the target only while it exists after the action: not after a DELETE, not when MISSING
        Record("source", {}, "005G", target_id="u-6", target={"_id": "u-6"}, situation=Situation.UNQUALIFIED,
               action=Action.DELETE),
        Record("source", {}, "005H", target_id="u-7", linked=True, situation=Situation.MISSING,
               action=Action.EXCEPTION, message="Situation MISSING marked as EXCEPTION"),
    ]
    next(r for r in out if r.source_id == "005E").fail("managed/user: userName: must be unique")
    return out


def test_fast_rows_equal_the_field_by_field_entries_with_the_same_ids():
    audit = ReconAudit("run-1", "m", "system/salesforce/User", "managed/user", dry_run=True)
    fast = audit.rows(_records(), 11)
    slow = audit.rows(_records(), 11, fast=False)
    # in record order (the stored order), the NOREPORT record's number left out
    assert [row[0] for row in fast] == [f"run-1-{n}" for n in (11, 12, 13, 15, 16, 17, 18, 19, 20)]
    by_id = {row[0]: json.loads(row[2]) for row in slow}
    for row_id, recon_id, text in fast:
        entry = json.loads(text)
        assert recon_id == "run-1" and entry == {**by_id[row_id], "timestamp": entry["timestamp"]}
    first = json.loads(fast[0][2])
    assert first["sourceObjectId"] == "system/salesforce/User/005A" and first["targetObjectId"] == "managed/user/u-1"
    assert first["dryRun"] is True and first["status"] == "SUCCESS" and first["situation"] == "CONFIRMED"
    assert json.loads(fast[2][2])["sourceObjectId"] == 'system/salesforce/User/odd "id" \\ Zoë'
    deleted, missing = json.loads(fast[-2][2]), json.loads(fast[-1][2])
    assert "targetObjectId" not in deleted and "targetObjectId" not in missing
    assert json.loads(fast[3][2])["targetObjectId"] == "managed/user/u-9"  # the target phase always names it
    assert (missing["status"], missing["exception"]) == ("SUCCESS", "Situation MISSING marked as EXCEPTION")
    failed = json.loads(fast[-4][2])
    assert failed["status"] == "FAILURE" and failed["exception"] == "managed/user: userName: must be unique"
