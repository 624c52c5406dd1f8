"""Bad input: each gives a clear, specific error (exit 2 naming the file, field or argument, no traceback)
and changes nothing; bad records are that record's FAILURE with the reason, and the run goes on."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from core.config.project import Project
from core.config.provisioner import ProvisionerConfig
from core.repo import Repository
from core.salesforce import soql
from core.salesforce.connector import SalesforceConnector
from core.sync.service import SyncService
from tests.reliability.helpers import (
    INBOUND,
    OUTBOUND,
    ROOT,
    accepted,
    assert_no_retryable_failure,
    audit_failures,
    cli,
    managed,
)
from tests.sync.orgproject import make_project

PROVISIONER = "provisioner.openicf-salesforce.json"


def sample_project(root: Path) -> Path:
    (root / "conf").mkdir(parents=True)
    for name in ("managed.json", PROVISIONER, "sync.json"):
        shutil.copy(ROOT / "conf" / name, root / "conf" / name)
    return root


def fingerprint(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def assert_usage_error(result, *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    message = result.stderr.strip()
    assert message.startswith("sfsync: ") and len(message.splitlines()) == 1, message
    for word in words:
        assert word in message, (word, message)


def _mapping(data: dict, name: str) -> dict:
    return next(m for m in data["mappings"] if m["name"] == name)


def _sync(mutate):
    def change(text: str) -> str:
        data = json.loads(text)
        mutate(data)
        return json.dumps(data, indent=4)
    return change


BROKEN_CONF = {
    "sync.json not JSON": ("sync.json", lambda t: t[:300], ["sync.json", "not valid JSON"]),
    "sync.json mappings an object": ("sync.json", lambda t: '{"mappings": {"a": 1}}', ["sync.json", "mappings"]),
    "sync.json properties a string": (
        "sync.json", _sync(lambda d: _mapping(d, INBOUND).update(properties="givenName")),
        ["sync.json", "properties"]),
    "sync.json property without target": (
        "sync.json", _sync(lambda d: _mapping(d, INBOUND)["properties"].append({"source": "Email"})),
        ["sync.json", "target"]),
    "sync.json script that does not compile": (
        "sync.json", _sync(lambda d: _mapping(d, INBOUND)["properties"][0].update(
            transform={"type": "text/javascript", "source": "function ("})),
        ["sync.json", INBOUND, "SyntaxError"]),
    "sync.json script of an unknown type": (
        "sync.json", _sync(lambda d: _mapping(d, INBOUND)["properties"][0].update(
            transform={"type": "text/groovy", "source": "source"})),
        ["sync.json", "groovy"]),
    "sync.json bad correlation filter": (
        "sync.json", _sync(lambda d: _mapping(d, INBOUND).update(
            correlationQuery={"type": "text/javascript", "source": "var x = ;"})),
        ["sync.json", "correlationQuery"]),
    "managed.json not JSON": ("managed.json", lambda t: "{", ["managed.json", "not valid JSON"]),
    "managed.json objects a string": ("managed.json", lambda t: '{"objects": "user"}', ["managed.json", "objects"]),
    "provisioner not JSON": (PROVISIONER, lambda t: t.replace('"enabled"', '"enabled" "', 1),
                             [PROVISIONER, "not valid JSON"]),
    "provisioner connectTimeout a word": (
        PROVISIONER, lambda t: t.replace('"connectTimeout": 120000', '"connectTimeout": "soon"'),
        [PROVISIONER, "connectTimeout"]),
    "provisioner enabled a word": (PROVISIONER, lambda t: t.replace('"enabled": false', '"enabled": "maybe"'),
                                   [PROVISIONER, "enabled"]),
    "provisioner loginUrl plain http": (
        PROVISIONER, lambda t: t.replace('https://test.salesforce.com', 'http://login.example.com'),
        [PROVISIONER, "loginUrl"]),
    "provisioner maximumConnections zero": (
        PROVISIONER, lambda t: t.replace('"maximumConnections": 10', '"maximumConnections": 0'),
        [PROVISIONER, "maximumConnections"]),
}


@pytest.mark.parametrize("case", list(BROKEN_CONF))
def test_a_broken_conf_file_is_refused_by_recon_naming_file_and_field_and_nothing_changes(case, tmp_path, capsys):
    name, mutate, words = BROKEN_CONF[case]
    root = sample_project(tmp_path / "p")
    path = root / "conf" / name
    changed = mutate(path.read_text())
    assert changed != path.read_text(), "the case must really change the file"
    path.write_text(changed)
    before = fingerprint(root)
    result = cli(capsys, root, "recon", INBOUND)
    assert_usage_error(result, *words)
    after = fingerprint(root)
    assert {k: v for k, v in after.items() if not k.startswith("db/")} == before
    if (root / "db" / "sfsync.sqlite3").exists():  # opened perhaps, but no run was recorded
        with Repository.open(root / "db" / "sfsync.sqlite3") as repo:
            assert repo.runs.list() == [] and repo.count() == 0


def test_a_broken_sfsync_toml_is_refused_naming_the_file(tmp_path, capsys):
    root = sample_project(tmp_path / "p")
    (root / "conf" / "sfsync.toml").write_text('callback_port = "seventeen"\n')
    assert_usage_error(cli(capsys, root, "login", "--no-browser", "--timeout", "1"), "sfsync.toml", "callback_port")
    (root / "conf" / "sfsync.toml").write_text("callback_port = [\n")
    assert_usage_error(cli(capsys, root, "login", "--no-browser", "--timeout", "1"), "sfsync.toml")


def test_an_unknown_mapping_is_refused_listing_the_mappings_there_are(tmp_path, capsys):
    root = sample_project(tmp_path / "p")
    result = cli(capsys, root, "recon", "systemSalesforceUser_managedUserX")
    assert_usage_error(result, "systemSalesforceUser_managedUserX", INBOUND, OUTBOUND)
    assert not (root / "db").exists() or Repository.open(root / "db" / "sfsync.sqlite3").runs.list() == []


@pytest.mark.parametrize("text, words", [
    ('userName eq "x" or 1=1', ["position"]),
    ('userName eq "x"; DROP TABLE managed_objects; --', ["position"]),
    ("userName eq 'x' OR '1'='1'", ["position"]),
    ('userName eq', ["position"]),
    ('(userName eq "x"', ["position"]),
    ('userName zz "x"', ["zz"]),
])
def test_a_malformed_query_filter_is_a_usage_error_naming_the_position(text, words, tmp_path, capsys):
    root = sample_project(tmp_path / "p")
    with Repository.for_project(Project(root)) as repo:
        repo.create({"userName": "u@example.com", "givenName": "U", "sn": "User", "mail": "u@example.com"})
    before = fingerprint(root / "db")
    result = cli(capsys, root, "users", "--filter", text)
    assert_usage_error(result, *words)
    assert fingerprint(root / "db") == before


@pytest.mark.parametrize("value", ['x" or true or userName eq "', "x' OR '1'='1", "%", "_", "' ; DROP TABLE x; --",
                                   "\\", "\\\"", "a\nb", "Zoë ☃ 𝄞"])
def test_injection_in_a_filter_value_is_only_ever_a_value(value, tmp_path, capsys):
    root = sample_project(tmp_path / "p")
    with Repository.for_project(Project(root)) as repo:
        repo.create({"userName": "victim@example.com", "givenName": "V", "sn": "Victim", "mail": "v@example.com"})
        repo.create({"userName": value, "givenName": "I", "sn": "Inject", "mail": "i@example.com"})
    text = "userName eq " + json.dumps(value)
    result = cli(capsys, root, "users", "--filter", text)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)["result"]
    assert [u["userName"] for u in found] == [value]
    # co / sw with the LIKE wildcards of SQL: literal characters, not patterns
    for op in ("co", "sw"):
        result = cli(capsys, root, "users", "--filter", f"userName {op} {json.dumps(value)}")
        names = [u["userName"] for u in json.loads(result.stdout)["result"]]
        assert names == [value], (op, names)


# ---- scripts stopped by the sandbox ------------------------------------------------------------------------
GUARDED_GIVEN_NAME = """
(function () {
    if (source === 'Thrower') { throw new Error('refused by the script'); }
    if (source === 'Looper') { while (true) {} }
    if (source === 'Hoarder') { var a = []; while (true) { a.push(new Array(100000).join('x') + a.length); } }
    return source;
}())
"""


def test_scripts_that_throw_loop_forever_or_allocate_without_bound_fail_their_record_only(live_org_factory,
                                                                                          tmp_path):
    live = live_org_factory(users=300, seed=42)
    victims = {}
    for name, user in zip(("Thrower", "Looper", "Hoarder"), accepted(live.org)[10:13], strict=True):
        live.org.update_user(user["Id"], {"FirstName": name})
        victims[user["Id"]] = name
    project = make_project(tmp_path / "p", live.org, live.url)
    data = json.loads(project.sync_path.read_text())
    prop = next(p for p in _mapping(data, INBOUND)["properties"] if p["target"] == "givenName")
    prop["transform"] = {"type": "text/javascript", "source": GUARDED_GIVEN_NAME}
    project.sync_path.write_text(json.dumps(data, indent=4))
    service = SyncService(project)
    try:
        run = asyncio.run(service.reconcile(INBOUND))
        assert run["state"] == "SUCCESS", run.get("failureReason")
        failures = {e["sourceObjectId"].rsplit("/", 1)[-1]: e["message"] for e in audit_failures(service, run)}
        for sf_id, name in victims.items():
            assert sf_id in failures, name
        assert "refused by the script" in failures[next(i for i, n in victims.items() if n == "Thrower")]
        assert "time limit" in failures[next(i for i, n in victims.items() if n == "Looper")]
        assert "memory" in failures[next(i for i, n in victims.items() if n == "Hoarder")]
        for message in (failures[i] for i in victims):
            assert "givenName" in message or "transform" in message, message  # names the script
        # everyone else came in
        expected = {u["Username"] for u in accepted(live.org) if u["Id"] not in victims}
        assert {u["userName"] for u in managed(service)} == expected
    finally:
        service.close()


# ---- Salesforce values reaching SOQL -----------------------------------------------------------------------
NASTY = ["O'Brien", "back\\slash", "50%_off", "under_score", "per%cent", "two\nlines", "tab\there", "Zoë Ñandú 日本",
         "quote\"double", "emoji 🎉", "' OR Id != null OR Name = '", "\\' OR '1'='1", "trailing\\"]


async def test_nasty_values_reach_soql_escaped_and_find_exactly_their_record(live_org_factory):
    live = live_org_factory(users=30, seed=43)
    config = ProvisionerConfig.from_data({"configurationProperties": {
        "loginUrl": live.login_url, "clientId": live.client_id, "clientSecret": live.client_secret,
        "refreshToken": live.org.auth.issue(live.org.auth.client, live.org.admin_id, "api refresh_token", 7200,
                                            with_refresh=True)[1], "instanceUrl": live.url}})
    people = accepted(live.org)
    for value, user in zip(NASTY, people, strict=False):
        live.org.update_user(user["Id"], {"LastName": value})
    async with SalesforceConnector(config) as connector:
        for value, user in zip(NASTY, people, strict=False):
            rows = [r async for page in connector.select_pages("User", ["Id", "LastName"], soql.eq("LastName", value))
                    for r in page.records]
            assert [(r["Id"], r["LastName"]) for r in rows] == [(user["Id"], value)], value
        rows = [r async for page in connector.select_pages("User", ["Id"], soql.in_("LastName", NASTY))
                for r in page.records]
        assert sorted(r["Id"] for r in rows) == sorted(u["Id"] for u in people[:len(NASTY)])


def test_nasty_managed_values_go_out_and_correlate_back_through_soql(live_org_factory, tmp_path):
    live = live_org_factory(users=30, seed=44)
    project = make_project(tmp_path / "p", live.org, live.url)
    profile = accepted(live.org)[0]["ProfileId"]
    service = SyncService(project)
    try:
        people = [{"userName": f"nasty{i}@example.com", "givenName": f"N{i}", "sn": value[:80],
                   "mail": f"nasty{i}@example.com", "profileId": profile} for i, value in enumerate(NASTY)]
        service.repo.create_many(people)
        run = asyncio.run(service.reconcile(OUTBOUND))
        assert run["state"] == "SUCCESS" and run["statusSummary"]["FAILURE"] == 0, run.get("failureReason")
        for person in people:
            sf = live.org.user_by_username(person["userName"])
            assert sf is not None and sf["LastName"] == person["sn"], person
        again = asyncio.run(service.reconcile(OUTBOUND))
        assert again["situationSummary"]["CONFIRMED"] == len(people)
        back = asyncio.run(service.reconcile(INBOUND))
        assert back["state"] == "SUCCESS"
        by_name = {u["userName"]: u for u in managed(service)}
        assert all(by_name[p["userName"]]["sn"] == p["sn"] for p in people)
    finally:
        service.close()


# ---- records Salesforce or the schema refuses -------------------------------------------------------------
def test_records_salesforce_rejects_are_each_a_failure_with_salesforces_message_and_the_run_goes_on(
        live_org_factory, tmp_path):
    live = live_org_factory(users=30, seed=45)
    project = make_project(tmp_path / "p", live.org, live.url)
    profile = accepted(live.org)[0]["ProfileId"]
    service = SyncService(project)
    try:
        good = [{"userName": f"good{i}@example.com", "givenName": "G", "sn": "Good", "mail": f"good{i}@example.com",
                 "profileId": profile} for i in range(5)]
        bad = [
            {"userName": "not a username", "givenName": "B", "sn": "BadName", "mail": "b1@example.com",
             "profileId": profile},
            {"userName": "toolong@example.com", "givenName": "B", "sn": "L" * 81, "mail": "b2@example.com",
             "profileId": profile},
            {"userName": "noprofile@example.com", "givenName": "B", "sn": "NoProfile", "mail": "b3@example.com",
             "profileId": "00e000000000BAD"},
        ]
        created = service.repo.create_many(good + bad)
        assert all(isinstance(c, dict) for c in created), created
        run = asyncio.run(service.reconcile(OUTBOUND))
        assert run["state"] == "SUCCESS", run.get("failureReason")
        failures = {e["sourceObjectId"].rsplit("/", 1)[-1]: e["message"] for e in audit_failures(service, run)}
        bad_ids = {c["_id"]: c for c in created[len(good):]}
        assert set(bad_ids) <= set(failures)
        for id_, message in failures.items():
            if id_ in bad_ids:
                assert message and ":" in message, message  # Salesforce's errorCode: message
        assert_no_retryable_failure(service, run)
        for person in good:
            assert live.org.user_by_username(person["userName"]) is not None
        assert live.org.user_by_username("not a username") is None
    finally:
        service.close()


@pytest.mark.parametrize("change, words", [
    (["mail=not-an-email"], ["mail"]),
    (["userName="], ["userName"]),
    (["givenName:=42"], ["givenName"]),
    (["_rev=x"], ["_rev"]),
    (["nonsense"], ["nonsense", "FIELD=VALUE"]),
    (["sn:={broken"], ["sn", "JSON"]),
])
def test_an_invalid_user_update_is_refused_naming_the_field_and_nothing_changes(change, words, tmp_path, capsys):
    root = sample_project(tmp_path / "p")
    with Repository.for_project(Project(root)) as repo:
        user = repo.create({"userName": "u@example.com", "givenName": "U", "sn": "User", "mail": "u@example.com"})
    before = fingerprint(root / "db")
    result = cli(capsys, root, "user", "update", user["_id"], *change)
    assert_usage_error(result, *words)
    with Repository.for_project(Project(root)) as repo:
        assert repo.read(user["_id"]) == user
    assert fingerprint(root / "db").keys() == before.keys()


def test_an_oversized_value_is_stored_whole_and_queried_without_error(tmp_path, capsys):
    """managed.json gives ``description`` no maxLength, so a 1 MB value is valid: it is stored whole (never cut),
    and a 1 MB filter value is just a value. Implicit sync then FAILS (this project has no Salesforce login):
    the managed change stays and the command exits 1, naming the mapping (``sfsync user``'s documented code)."""
    root = sample_project(tmp_path / "p")
    with Repository.for_project(Project(root)) as repo:
        user = repo.create({"userName": "big@example.com", "givenName": "B", "sn": "Big", "mail": "big@example.com"})
    huge = "x" * 1_000_000
    result = cli(capsys, root, "user", "update", user["_id"], f"description={huge}")
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert f"managed/user/{user['_id']} was saved, but mapping {OUTBOUND} FAILED" in result.stderr, result.stderr
    with Repository.for_project(Project(root)) as repo:
        assert repo.read(user["_id"])["description"] == huge
    result = cli(capsys, root, "users", "--filter", f'sn eq "{huge}"')
    assert (result.returncode, json.loads(result.stdout)["result"]) == (0, []), result.stderr
    result = cli(capsys, root, "users", "--filter", f'description eq "{huge}"', "--fields", "userName")
    assert result.returncode == 0, result.stderr
    assert [u["userName"] for u in json.loads(result.stdout)["result"]] == ["big@example.com"]
