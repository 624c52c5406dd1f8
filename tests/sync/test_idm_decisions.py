"""IDM's decisions as a table built from IDM's own code, each row citing the file and line it comes from.

Source: OpenIdentityPlatform/OpenIDM at d7bd51f4298362b3adb03fdd1940434799bb83fe,
``openidm-core/src/main/java/org/forgerock/openidm/sync/impl/`` (abbreviated below: SSO = SourceSyncOperation,
TSO = TargetSyncOperation, SO = SyncOperation, SR = SourceRecon, TR = TargetRecon, RS = ReconciliationStatistic,
Sit = Situation, OM = ObjectMapping). Every row runs through the real engine and SQLite repository: a mapping
``managed/user -> managed/account`` with no policies (so each situation takes IDM's default action, Sit.java),
``validSource`` (accountStatus), ``sourceCondition`` (description), ``validTarget`` (kind) and a correlation query
(login = userName, case-insensitive). The rows are IDM's; where sfsync deliberately differs, the row says so and
README "Differences from IDM's sample" gives the reason.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from core.sync.links import MappingLinks
from core.sync.objectsets import ManagedObjects
from core.sync.operation import SyncOperation
from core.sync.scripts import ScriptEngine
from tests.sync.conftest import account_mapping

MAPPING = account_mapping(
    validSource={"type": "text/javascript", "source": "source.accountStatus !== 'inactive'"},
    sourceCondition='!(/source/description eq "skip")',
    validTarget={"type": "text/javascript", "source": "target.kind !== 'robot'"},
)


@dataclass(frozen=True)
class Row:
    cite: str
    valid_source: bool = True       # validSource
    condition: bool = True          # sourceCondition
    linked: bool = False
    target: str = "none"            # "present", "gone" (linked to a target that no longer exists), "none"
    correlated: int = 0             # how many targets correlate (when not linked)
    elsewhere: bool = False         # the one correlated target is linked to another source
    situation: str = ""
    action: str = ""
    shows_target: bool = False      # the audit entry names a target (SR.java:98: only if it exists after the action)
    ambiguous: int = 0              # ambiguousTargetObjectIds listed
    targets_left: int | None = None  # of the accounts there were (or ada's new one), how many are left after the run


SOURCE_ROWS = {
    "qualifies, linked, target exists": Row("SSO.java:246", linked=True, target="present",
                                            situation="CONFIRMED", action="UPDATE", shows_target=True, targets_left=1),
    "qualifies, linked, target gone": Row("SSO.java:248", linked=True, target="gone",
                                          situation="MISSING", action="EXCEPTION", targets_left=0),
    "qualifies, no link, none correlates": Row("SSO.java:274", situation="ABSENT", action="CREATE",
                                               shows_target=True, targets_left=1),
    "qualifies, no link, one correlates": Row("SSO.java:266", correlated=1, situation="FOUND", action="UPDATE",
                                              shows_target=True, targets_left=1),
    "qualifies, no link, one correlates, linked elsewhere": Row(
        "SSO.java:268", correlated=1, elsewhere=True, situation="FOUND_ALREADY_LINKED", action="EXCEPTION",
        shows_target=True, targets_left=1),
    "qualifies, no link, several correlate": Row("SSO.java:276-277", correlated=2, situation="AMBIGUOUS",
                                                 action="EXCEPTION", ambiguous=2, targets_left=2),
    "validSource false, linked": Row("SSO.java:243,282", valid_source=False, linked=True, target="present",
                                     situation="UNQUALIFIED", action="DELETE", targets_left=0),
    "validSource false, linked, target gone": Row("SSO.java:243,282", valid_source=False, linked=True, target="gone",
                                                  situation="UNQUALIFIED", action="DELETE", targets_left=0),
    "sourceCondition false, linked": Row("SSO.java:243,282", condition=False, linked=True, target="present",
                                         situation="UNQUALIFIED", action="DELETE", targets_left=0),
    "not qualified, no link, none correlates": Row("SSO.java:286", valid_source=False,
                                                   situation="SOURCE_IGNORED", action="REPORT", targets_left=0),
    "not qualified, no link, one correlates": Row("SSO.java:291", valid_source=False, correlated=1,
                                                  situation="UNQUALIFIED", action="DELETE", targets_left=0),
    "not qualified, no link, several correlate": Row("SSO.java:293-294", valid_source=False, correlated=2,
                                                     situation="UNQUALIFIED", action="DELETE", ambiguous=2,
                                                     targets_left=2),
    # deliberate deviation (README): IDM says UNQUALIFIED here and its DELETE deletes another source's target
    "not qualified, no link, one correlates, linked elsewhere (sfsync: safer)": Row(
        "SSO.java:291 (deviation)", valid_source=False, correlated=1, elsewhere=True, situation="SOURCE_IGNORED",
        action="REPORT", targets_left=1),
}


def run_source_row(env, row: Row) -> tuple[dict, dict, list]:
    ada = env.user("ada", accountStatus="active" if row.valid_source else "inactive",
                   description="keep" if row.condition else "skip")
    if row.linked:
        if row.target == "present":
            acct = env.account("ada")
            env.repo.link("userAccount", ada["_id"], acct["_id"])
        else:
            env.repo.link("userAccount", ada["_id"], "no-such-account")
    else:
        accounts = [env.account(login) for login in ("ada", "ADA", "Ada")[: row.correlated]]
        if row.elsewhere:
            bob = env.user("bob")  # bob's own record is CONFIRMED; only ada's is checked
            env.repo.link("userAccount", bob["_id"], accounts[0]["_id"])
    before = {a["_id"] for a in env.accounts()}
    run = env.recon()
    [entry] = [e for e in env.audit(run) if e.get("sourceObjectId") == f"managed/user/{ada['_id']}"]
    left = [a for a in env.accounts() if a["_id"] in before or a["login"].lower() == "ada"]
    return run, entry, left


@pytest.mark.parametrize("name", list(SOURCE_ROWS))
def test_source_phase(make_env, name):
    row = SOURCE_ROWS[name]
    env = make_env(MAPPING)
    run, entry, left = run_source_row(env, row)
    assert (entry["situation"], entry["action"], entry["status"]) == (row.situation, row.action, "SUCCESS"), row.cite
    assert entry["reconciling"] == "source"
    assert ("targetObjectId" in entry) == row.shows_target, row.cite
    listed = entry.get("ambiguousTargetObjectIds", "")
    assert len([t for t in listed.split(", ") if t]) == row.ambiguous, row.cite
    if row.action == "EXCEPTION":  # SR.java:77-81 + OM.setLogEntryMessage: intentional, so SUCCESS with both set
        assert entry["message"] == entry["exception"] == f"Situation {row.situation} marked as EXCEPTION"
    assert len(left) == row.targets_left, row.cite
    assert run["situationSummary"][row.situation] >= 1
    # nothing else was left for the target phase to pick up: the candidates left it too (SR.java:88-92)
    assert run["situationSummary"]["UNASSIGNED"] == 0, row.cite


TARGET_ROWS = {
    "target not valid": (dict(kind="robot"), False, "TARGET_IGNORED", "REPORT", "TSO.java:110"),
    "valid, no link": ({}, False, "UNASSIGNED", "EXCEPTION", "TSO.java:117"),
    "valid, linked, source gone": ({}, True, "SOURCE_MISSING", "EXCEPTION", "TSO.java:121"),
}


@pytest.mark.parametrize("name", list(TARGET_ROWS))
def test_target_phase(make_env, name):
    fields, linked, situation, action, cite = TARGET_ROWS[name]
    env = make_env(MAPPING)
    env.user("carol")  # a source, so the run is not an empty source set
    acct = env.account("zed", **fields)
    if linked:
        env.repo.link("userAccount", "gone-user", acct["_id"])
    run = env.recon()
    [entry] = [e for e in env.audit(run) if e.get("reconciling") == "target"]
    assert (entry["situation"], entry["action"]) == (situation, action), cite
    assert entry["targetObjectId"] == f"managed/account/{acct['_id']}"  # TR.java:63: always named
    assert entry["status"] == "SUCCESS"
    # RS.java:206: a target-phase record with a source id (its link) counts as a processed source
    assert run["progress"]["source"]["existing"]["processed"] == 1 + (1 if linked else 0), cite


@pytest.mark.parametrize(("valid_source", "condition", "situation", "cite"), [
    (False, True, "UNQUALIFIED", "TSO.java:122-123"),
    (True, False, "CONFIRMED", "TSO.java:124-127 (validSource only: no sourceCondition in the target phase)"),
    (True, True, "CONFIRMED", "TSO.java:124-127"),
])
def test_target_phase_with_a_live_linked_source(make_env, valid_source, condition, situation, cite):
    """A source that appeared after the source phase's query (IDM: "should happen rarely"), through the operation
    the target phase uses."""
    env = make_env(MAPPING)
    ada = env.user("ada", accountStatus="active" if valid_source else "inactive",
                   description="keep" if condition else "skip")
    acct = env.account("ada")
    env.repo.link("userAccount", ada["_id"], acct["_id"])
    mapping = env.service.config().get("userAccount")
    op = SyncOperation(mapping, ScriptEngine(), ManagedObjects(env.repo, "user"), ManagedObjects(env.repo, "account"),
                       MappingLinks(env.repo, mapping))
    [record] = op.target_records([acct["_id"]])
    assert str(record.situation) == situation, cite


def test_a_target_gone_before_the_target_phase_is_still_processed(make_env):
    """TR.java: the target is loaded lazily; gone, it is not valid (SO.isTargetValid: no target object) ->
    TARGET_IGNORED, reported."""
    env = make_env(MAPPING)
    mapping = env.service.config().get("userAccount")
    op = SyncOperation(mapping, ScriptEngine(), ManagedObjects(env.repo, "user"), ManagedObjects(env.repo, "account"),
                       MappingLinks(env.repo, mapping))
    [record] = op.target_records(["vanished"])
    assert (str(record.situation), record.target) == ("TARGET_IGNORED", None)


DELETE_ROWS = {
    "linked, target valid": (True, "present", 0, True, "SOURCE_MISSING", "SSO.java:204"),
    "linked, target not valid": (True, "robot", 0, True, "TARGET_IGNORED", "SSO.java:207"),
    "linked, target gone": (True, "gone", 0, True, "LINK_ONLY", "SSO.java:210"),
    "no link, none correlates": (False, "none", 0, True, "ALL_GONE", "SSO.java:222"),
    "no link, one correlates, old valid": (False, "none", 1, True, "UNASSIGNED", "SSO.java:219,227"),
    "no link, one correlates, old not valid": (False, "none", 1, False, "TARGET_IGNORED", "SSO.java:219,230"),
    "no link, several correlate, old valid": (False, "none", 2, True, "AMBIGUOUS", "SSO.java:236"),
    "no link, several correlate, old not valid": (False, "none", 2, False, "UNQUALIFIED", "SSO.java:238"),
}


@pytest.mark.parametrize("name", list(DELETE_ROWS))
def test_delete_sync(make_env, name):
    linked, target, correlated, old_valid, situation, cite = DELETE_ROWS[name]
    env = make_env(MAPPING)
    ada = env.user("ada", accountStatus="active" if old_valid else "inactive")
    if linked:
        if target == "gone":
            env.repo.link("userAccount", ada["_id"], "no-such-account")
        else:
            acct = env.account("ada", kind="robot" if target == "robot" else "person")
            env.repo.link("userAccount", ada["_id"], acct["_id"])
    for login in ("ada", "ADA")[:correlated]:
        env.account(login)
    _, results = asyncio.run(env.service.delete_user(ada["_id"]))
    result = results["userAccount"]
    assert result.situation == situation, cite
    entries = env.service.repo.audit.query(f'/sourceObjectId eq "managed/user/{ada["_id"]}"')
    [entry] = entries["result"]  # OM.doSourceSync logs one sync event whatever the action (NOREPORT too)
    assert entry["situation"] == situation and entry["eventName"] == "sync"
    if result.action == "EXCEPTION":  # OM.java:429-431: intentional, status SUCCESS; the mapping itself fails
        assert (entry["status"], result.result) == ("SUCCESS", "FAILED"), cite
        assert entry["exception"] == f"Situation {situation} marked as EXCEPTION"


def test_a_record_that_fails_before_its_action_counts_only_as_a_failure(make_env):
    """SSO.sync: RS.processed is called in performAction's finally; a validSource that throws stops earlier."""
    env = make_env(account_mapping(validSource={"type": "text/javascript",
                                                "source": "if (source.userName === 'boom') throw 'no'; true"}))
    env.user("boom")
    env.user("fine")
    run = env.recon()
    assert run["statusSummary"] == {"SUCCESS": 1, "FAILURE": 1}
    assert run["progress"]["source"]["existing"]["processed"] == 1
    assert sum(run["situationSummary"].values()) == 1


def test_a_policy_condition_sees_object_and_the_first_policy_runs_its_post_action(make_env):
    """SO.java:404-408: a condition is evaluated on {object, linkQualifier}; SO.java:578-586: with no matching
    policy, the situation's first policy is the active one for the postAction; SO.java:568: EXCEPTION throws
    before any postAction. A postAction that throws makes its record a FAILURE, which shows that it ran."""
    def throws(text: str) -> dict:
        return {"type": "text/javascript", "source": f"throw '{text}'"}

    env = make_env(account_mapping(policies=[
        {"situation": "ABSENT", "action": "CREATE", "condition": '/object/sn eq "Create"', "postAction": throws("first")},
        {"situation": "ABSENT", "action": "IGNORE", "condition": '/object/sn eq "Nothing"',
         "postAction": throws("second")},
        {"situation": "AMBIGUOUS", "action": "EXCEPTION", "postAction": throws("never")},
    ]))
    ada, bob, nil = env.user("ada", sn="Create"), env.user("bob", sn="Other"), env.user("nil", sn="Nothing")
    env.account("cy"), env.account("CY")
    cy = env.user("cy")
    run = env.recon()
    by_source = {e["sourceObjectId"].rsplit("/", 1)[1]: e for e in env.audit(run)}
    assert "first" in by_source[ada["_id"]]["message"]  # its own policy's postAction
    assert by_source[bob["_id"]]["action"] == "CREATE" and "first" in by_source[bob["_id"]]["message"]
    assert by_source[nil["_id"]]["action"] == "IGNORE"  # IGNORE runs no postAction
    assert by_source[nil["_id"]]["status"] == "SUCCESS"
    assert (by_source[cy["_id"]]["action"], by_source[cy["_id"]]["status"]) == ("EXCEPTION", "SUCCESS")


def test_an_action_script_sees_recon_action_param_and_its_answer_is_case_sensitive(make_env):
    """Policy.java: the script's scope has recon.actionParam (the operation, _action performAction) and its
    result goes through ReconAction.valueOf: "create" is not an action."""
    script = {"type": "text/javascript",
              "source": "recon.actionParam._action === 'performAction' && recon.actionParam.situation === 'ABSENT'"
                        " && recon.actionParam.mapping === 'userAccount' ? 'CREATE' : 'IGNORE'"}
    env = make_env(account_mapping(policies=[{"situation": "ABSENT", "action": script}]))
    env.user("ada")
    run = env.recon()
    assert run["actionSummary"] == {"CREATE": 1}
    env.write_mappings([account_mapping(policies=[{"situation": "ABSENT", "action": {
        "type": "text/javascript", "source": "'create'"}}])])
    env.user("bob")
    run = env.recon()
    [entry] = [e for e in env.audit(run) if e["status"] == "FAILURE"]
    assert "action script returned invalid action 'create'" in entry["message"]
