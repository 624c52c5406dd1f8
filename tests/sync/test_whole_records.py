"""A Salesforce record in a mapping is the whole record (every attribute objectTypes.User declares that the org
has), narrowed only where the narrowing is provably invisible to the configuration (core/sync/observed.py).

The opening scenario of issue 14: a sourceCondition on a field no property maps deleted every managed user.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.sync.mapping import SyncConfig
from core.sync.observed import WHOLE, observed_fields
from tests.sync.orgproject import REPO_ROOT, in_process_service, make_project

INBOUND = "systemSalesforceUser_managedUser"
OUTBOUND = "managedUser_systemSalesforceUser"


def sample() -> dict:
    return json.loads((REPO_ROOT / "conf" / "sync.json").read_text())


def mapping_of(conf: dict, index: int = 0):
    return SyncConfig.from_data(conf, path=Path("conf/sync.json")).mappings[index]


@pytest.fixture
def setup(org_factory, tmp_path):
    services = []

    def make(conf: dict | None = None, users: int = 50):
        handle = org_factory(users=users, seed=3)
        path = None
        if conf is not None:
            path = tmp_path / f"sync{len(services)}.json"
            path.write_text(json.dumps(conf))
        project = make_project(tmp_path / f"p{len(services)}", handle.org, "http://localhost", sync_json=path)
        service = in_process_service(project, handle.app)
        services.append(service)
        return handle.org, service, project

    yield make
    for s in services:
        s.close()


def managed_revs(service) -> dict[str, str]:
    return {u["_id"]: u["_rev"] for u in service.repo.query({"_queryFilter": "true"})["result"]}


async def test_a_source_condition_on_an_unmapped_field_touches_only_the_deactivated_users(setup):
    org, service, project = setup()
    for user in list(org.iter_users()):  # the generated org has a few inactive users: start from none
        if not user["IsActive"]:
            org.update_user(user["Id"], {"IsActive": True})
    first = await service.reconcile(INBOUND)
    assert first["state"] == "SUCCESS"
    links = [link for link in service.repo.iter_links(INBOUND) if link.first_id != org.admin_id]
    deactivated = links[:3]
    for link in deactivated:
        org.update_user(link.first_id, {"IsActive": False})
    before = managed_revs(service)
    assert len(before) > 40

    conf = sample()
    conf["mappings"][0]["sourceCondition"] = "/source/IsActive eq true"
    project.sync_path.write_text(json.dumps(conf))
    run = await service.reconcile(INBOUND)

    assert run["state"] == "SUCCESS"
    assert run["situationSummary"]["UNQUALIFIED"] == 3
    unqualified = {e["sourceObjectId"].rsplit("/", 1)[1] for e in service.audit(run["_id"])["result"]
                   if e.get("situation") == "UNQUALIFIED"}
    assert unqualified == {link.first_id for link in deactivated}
    after = managed_revs(service)
    gone = {link.second_id for link in deactivated}
    assert set(before) - set(after) == gone  # the sample's UNQUALIFIED -> DELETE, for exactly those three
    assert {i: r for i, r in before.items() if i not in gone} == after  # nobody else was written


async def test_a_script_that_reads_the_record_whole_sees_every_declared_attribute(setup):
    conf = sample()
    # Object.keys(source): the script sees the record itself, so the read cannot be narrowed
    conf["mappings"][0]["validSource"] = {
        "type": "text/javascript",
        "source": "Object.keys(source).indexOf('Department') >= 0 && Object.keys(source).indexOf('IsActive') >= 0"
                  " && source.Email.substring(0,8) !== 'autoproc'"}
    conf["mappings"][0]["properties"].append(
        {"target": "description", "source": "", "transform": {
            "type": "text/javascript", "source": "source.Title + '/' + source.Department"}})
    assert observed_fields(mapping_of(conf), "source") is WHOLE
    org, service, _ = setup(conf, users=20)
    run = await service.reconcile(INBOUND)
    assert run["state"] == "SUCCESS"
    assert run["situationSummary"]["SOURCE_IGNORED"] == 1  # only the autoproc user: every record had both keys
    link = next(link for link in service.repo.iter_links(INBOUND) if link.first_id != org.admin_id)
    sf = org.user(link.first_id)
    assert service.repo.read(link.second_id)["description"] == f"{sf['Title']}/{sf['Department']}"


async def test_a_whole_record_carries_the_declared_attributes_the_org_has(setup):
    org, service, project = setup(users=5)
    from core.config.provisioner import ProvisionerConfig
    from core.salesforce.connector import SalesforceConnector, declared_attributes

    declared = declared_attributes(ProvisionerConfig.load(project).objectTypes["User"])
    assert len(declared) > 150 and "__NAME__" not in declared and "IsActive" in declared
    async with service._connector(True) as connector:
        assert isinstance(connector, SalesforceConnector)
        fields = await connector.record_fields("User")
        assert await connector.record_fields("User") is fields  # one describe per connector
        describe = await connector.described("User")
    org_fields = {f["name"] for f in describe["fields"]}
    assert fields[0] == "Id"
    assert set(fields) == {"Id"} | {n for n in declared if n in org_fields}
    assert {"IsActive", "Title", "Department", "Email"} <= set(fields)


def test_the_sample_mapping_reads_only_what_it_maps_and_validates():
    assert observed_fields(mapping_of(sample()), "source") == [
        "Email", "LastName", "FirstName", "Username", "ProfileId"]
    assert observed_fields(mapping_of(sample(), 1), "target") == [
        "Username", "LastName", "Email", "Alias", "LocaleSidKey", "EmailEncodingKey", "LanguageLocaleKey",
        "FirstName", "TimeZoneSidKey", "CommunityNickname", "ProfileId"]


@pytest.mark.parametrize(("change", "expected"), [
    ({"sourceCondition": "/source/IsActive eq true"}, ["IsActive"]),
    ({"sourceCondition": "/source/IsActive eq true and !(/source/Title co \"bot\")"}, ["IsActive", "Title"]),
    ({"sourceCondition": {"type": "text/javascript", "source": "source.Department === 'Sales'"}}, ["Department"]),
    ({"sourceCondition": "/source pr"}, WHOLE),
    ({"validSource": {"type": "text/javascript", "source": "JSON.stringify(source).length > 2"}}, WHOLE),
    ({"validSource": {"type": "text/javascript", "source": "source['IsActive']"}}, WHOLE),
    ({"validSource": {"type": "text/javascript", "source": "var s = source; s.IsActive"}}, WHOLE),
    ({"validSource": {"type": "text/javascript", "source": "sourc\\u0065.IsActive"}}, WHOLE),
    ({"correlationQuery": {"type": "text/javascript",
                           "source": "({_queryFilter: 'userName eq \"' + source.FederationIdentifier + '\"'})"}},
     ["FederationIdentifier"]),
    ({"onCreate": {"type": "text/javascript", "source": "target.description = source.Division"}}, ["Division"]),
    ({"policies": [{"situation": "CONFIRMED", "action": "UPDATE",
                    "condition": "/source/ManagerId pr"}]}, ["ManagerId"]),
    ({"policies": [{"situation": "CONFIRMED", "action": "UPDATE",
                    "postAction": {"type": "text/javascript", "source": "source.EmployeeNumber"}}]},
     ["EmployeeNumber"]),
])
def test_every_consumer_of_the_source_record_widens_the_read(change, expected):
    conf = sample()
    conf["mappings"][0].update(change)
    observed = observed_fields(mapping_of(conf), "source")
    if expected is WHOLE:
        assert observed is WHOLE
    else:
        assert observed is not WHOLE and set(expected) <= set(observed)


@pytest.mark.parametrize(("change", "expected"), [
    ({"validTarget": {"type": "text/javascript", "source": "target.IsActive !== false"}}, ["IsActive"]),
    ({"correlationQuery": {"type": "text/javascript",
                           "source": "'Username eq \"' + source.userName + '\" and FederationIdentifier eq \"x\"'"}},
     WHOLE),
    ({"onUpdate": {"type": "text/javascript", "source": "target.Title = oldTarget.Department"}}, ["Department"]),
    ({"onUpdate": {"type": "text/javascript", "source": "delete target[Object.keys(target)[0]]"}}, WHOLE),
])
def test_every_consumer_of_a_remote_target_widens_the_read(change, expected):
    conf = sample()
    conf["mappings"][1].update(change)
    observed = observed_fields(mapping_of(conf, 1), "target")
    if expected is WHOLE:
        assert observed is WHOLE
    else:
        assert observed is not WHOLE and set(expected) <= set(observed)


def test_a_correlation_template_adds_its_fields_on_both_sides():
    conf = sample()
    conf["mappings"][1]["correlationQuery"] = {
        "_queryFilter": "Username eq \"${source.userName}\" and FederationIdentifier eq \"${source.employeeId}\""}
    target = observed_fields(mapping_of(conf, 1), "target")
    assert target is not WHOLE and {"Username", "FederationIdentifier"} <= set(target)
    conf["mappings"][0]["correlationQuery"] = {"_queryFilter": "userName eq \"${source.FederationIdentifier}\""}
    source = observed_fields(mapping_of(conf), "source")
    assert source is not WHOLE and "FederationIdentifier" in source
