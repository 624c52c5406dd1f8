"""Property tests (hypothesis) the other suites do not have: SOQL escaping through the org's own SOQL parser
(and over HTTP to its query endpoint), and the configuration round trip. The query-filter grammar's
properties live in tests/repo/test_queryfilter.py; the REST fuzz in tests/api/test_fuzz.py."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.config.project import Project
from core.config.provisioner import ProvisionerConfig
from core.config.settings import Settings
from core.emulator import soql as org_soql
from core.errors import ConfigError
from core.salesforce import soql
from tests.reliability.helpers import ROOT

#: any text but NUL (which no Salesforce field holds) and lone surrogates (not text)
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60)


def parsed_value(query: str):
    where = org_soql.parse(query).where
    return where.value


@given(TEXT)
def test_a_quoted_value_is_read_back_by_the_orgs_soql_parser_as_exactly_that_value(value):
    literal = parsed_value(soql.select("User", ["Id"], soql.eq("LastName", value)))
    assert literal.kind == "string"
    assert literal.value.replace("\x00", "") == value


@given(st.lists(TEXT, min_size=1, max_size=8))
def test_a_quoted_list_is_read_back_as_exactly_those_values(values):
    literals = parsed_value(soql.select("User", ["Id"], soql.in_("Username", values)))
    assert [lit.value.replace("\x00", "") for lit in literals] == values


@given(TEXT, TEXT)
def test_no_value_can_end_the_literal_and_add_a_condition(value, other):
    """Whatever the value holds, the WHERE clause stays one comparison (and an AND of two stays two)."""
    where = org_soql.parse(soql.select("User", ["Id"], soql.eq("LastName", value))).where
    assert isinstance(where, org_soql.Compare) and where.path.text == "LastName"
    both = org_soql.parse(soql.select("User", ["Id"], f"{soql.eq('LastName', value)} AND {soql.eq('Alias', other)}"))
    assert isinstance(both.where, org_soql.BoolOp) and len(both.where.items) == 2


ORG_SAFE = st.text(st.characters(whitelist_categories=("L", "N", "P", "S", "Zs"), whitelist_characters="\n\t\\'\"%_"),
                   min_size=1, max_size=40).filter(lambda s: s.strip() == s and s.strip())


@pytest.fixture(scope="module")
def org_over_http():
    """One local org on a loopback socket and a client holding a token, for the examples below."""
    from core.emulator import Org, create_app
    from core.emulator.server import OrgServer

    org = Org.generate(users=5, seed=61)
    server = OrgServer(create_app(org), "127.0.0.1", 0, None)
    server.start()
    client = httpx.Client(base_url=server.url, timeout=30)
    token = client.post("/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": org.auth.client.client_id,
        "client_secret": org.auth.client.client_secret}).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    yield org, client
    client.close()
    server.stop()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=ORG_SAFE)
def test_over_http_the_org_finds_exactly_the_users_holding_the_value(org_over_http, value):
    org, client = org_over_http
    target = next(u for u in org.iter_users() if u["Username"] == org.admin_username)
    try:
        org.update_user(target["Id"], {"LastName": value})
    except Exception:  # noqa: BLE001 - a value the org's own rules refuse is not this property's business
        assume(False)
    query = soql.select("User", ["Id", "LastName"], soql.eq("LastName", value))
    response = client.get("/services/data/v60.0/query", params={"q": query})
    assert response.status_code == 200, response.text
    records = response.json()["records"]
    # Salesforce compares text case-insensitively: the value's holder, and any user whose name differs only in case
    holders = [(u["Id"], u["LastName"]) for u in org.iter_users() if (u["LastName"] or "").lower() == value.lower()]
    assert (target["Id"], value) in holders
    assert sorted((r["Id"], r["LastName"]) for r in records) == sorted(holders)


# ---- the configuration round trip ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("conf-sample")
    (root / "conf").mkdir()
    shutil.copy(ROOT / "conf" / "provisioner.openicf-salesforce.json", root / "conf")
    return root


SECRETISH = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80)
HOST = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){1,3}", fullmatch=True)
UNKNOWN = st.dictionaries(st.from_regex(r"x[A-Za-z]{1,10}", fullmatch=True),
                          st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                                       lambda inner: st.lists(inner, max_size=3)
                                       | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6),
                          max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(client_id=SECRETISH, secret=SECRETISH, refresh=SECRETISH, host=HOST,
       timeout=st.integers(0, 10**9), connections=st.integers(1, 1000), proxy=st.none() | HOST,
       port=st.integers(1, 65535), unknown=UNKNOWN)
def test_provisioner_values_round_trip_and_unknown_keys_survive(sample, tmp_path_factory, client_id, secret,
                                                                refresh, host, timeout, connections, proxy, port,
                                                                unknown):
    root = tmp_path_factory.mktemp("round")
    (root / "conf").mkdir()
    original = json.loads((sample / "conf" / "provisioner.openicf-salesforce.json").read_text())
    original.update(unknown)
    original["configurationProperties"]["xKeep"] = {"nested": [1, "two"]}
    path = root / "conf" / "provisioner.openicf-salesforce.json"
    path.write_text(json.dumps(original, indent=4, ensure_ascii=False))
    project = Project(root)

    config = ProvisionerConfig.load(project)
    config.update_properties(clientId=client_id, clientSecret=secret, refreshToken=refresh,
                             instanceUrl=f"https://{host}", loginUrl=f"https://{host}/services/oauth2/token",
                             connectTimeout=timeout, maximumConnections=connections, proxyHost=proxy, proxyPort=port)
    config.save(project)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    again = ProvisionerConfig.load(project).properties
    assert (again.clientId, again.client_secret, again.refresh_token, again.instanceUrl, again.connectTimeout,
            again.maximumConnections, again.proxyHost, again.proxyPort) == (
        client_id, secret, refresh, f"https://{host}", timeout, connections, proxy, port)
    data = json.loads(path.read_text())
    for key, value in unknown.items():
        assert data[key] == value
    assert data["configurationProperties"]["xKeep"] == {"nested": [1, "two"]}
    assert list(data) == list(original)  # key order kept
    text = path.read_bytes()
    ProvisionerConfig.load(project).save(project)  # an unchanged save is byte-identical
    assert path.read_bytes() == text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["connectTimeout", "maximumConnections", "proxyPort"]),
       value=st.one_of(st.text(max_size=8), st.integers(-10**6, -1), st.floats(allow_nan=True), st.lists(st.integers())))
def test_a_wrong_typed_property_is_refused_naming_it_and_the_file_is_unchanged(sample, tmp_path_factory, name, value):
    root = tmp_path_factory.mktemp("wrong")
    (root / "conf").mkdir()
    path = root / "conf" / "provisioner.openicf-salesforce.json"
    shutil.copy(sample / "conf" / "provisioner.openicf-salesforce.json", path)
    before = path.read_bytes()
    config = ProvisionerConfig.load(Project(root))
    try:
        config.update_properties(**{name: value})
    except ConfigError as exc:
        assert f"configurationProperties.{name}" in str(exc)
    else:  # pydantic accepted it (e.g. "12" for an int): then it must be a value of the field's type and range
        accepted = getattr(config.properties, name)
        assert isinstance(accepted, int) and accepted >= 0
    assert path.read_bytes() == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(port=st.integers(1, 65535), keep=st.integers(1, 10**6), theme=st.none() | st.text(max_size=20),
       ui=st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
                          st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=10), max_size=4))
def test_sfsync_toml_round_trips(tmp_path_factory, port, keep, theme, ui):
    root = tmp_path_factory.mktemp("toml")
    (root / "conf").mkdir()
    project = Project(root)
    Settings(callback_port=port, keep_runs=keep, theme=theme, ui=ui).save(project)
    loaded = Settings.load(project)
    assert (loaded.callback_port, loaded.keep_runs, loaded.theme, loaded.ui) == (port, keep, theme, ui)
    assert stat.S_IMODE(project.settings_path.stat().st_mode) == 0o600
