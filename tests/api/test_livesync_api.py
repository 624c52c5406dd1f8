"""``POST /openidm/system/salesforce/User?_action=liveSync`` (and IDM's schedule form) against the local org."""

from __future__ import annotations

import pytest

from core.api import create_app
from core.api.backend import ApiBackend
from tests.sync.orgproject import in_process_service, make_project

ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}
INBOUND = "systemSalesforceUser_managedUser"


@pytest.fixture
def served(org_factory, tmp_path):
    handle = org_factory(users=20, seed=3)
    project = make_project(tmp_path / "p", handle.org, "http://localhost")
    service = in_process_service(project, handle.app)
    backend = ApiBackend(project, sync=service)
    yield handle.org, service, create_app(project, services=backend)
    service.close()


async def test_livesync_answers_idm_stage_object_and_brings_the_change(served, asgi_client):
    org, service, app = served
    assert (await service.reconcile(INBOUND))["state"] == "SUCCESS"
    async with asgi_client(app, headers=ADMIN) as client:
        first = await client.post("/openidm/system/salesforce/User?_action=liveSync")
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["_id"] == "SYSTEMSALESFORCEUSER" and body["_rev"] == "1"
        assert body["connectorData"]["nativeType"] == "string" and body["connectorData"]["syncToken"]
        assert body["sfsync"]["firstSync"] is True
        link = next(link for link in service.repo.iter_links(INBOUND) if link.first_id != org.admin_id)
        org.update_user(link.first_id, {"LastName": "OverRest"})
        stamp = org.user(link.first_id)["SystemModstamp"]  # (implicit sync then writes the sample's defaults back)
        second = (await client.post("/openidm/system?_action=liveSync&source=system/salesforce/User")).json()
    assert second["sfsync"]["status"] == "SUCCESS" and second["sfsync"]["changes"] == 1
    assert second["connectorData"]["syncToken"] == stamp
    assert int(second["_rev"]) > 1 and "lastException" not in second
    assert service.repo.read(link.second_id)["sn"] == "OverRest"


async def test_a_failed_record_is_in_last_exception_with_detailed_failure(served, asgi_client):
    org, service, app = served
    await service.reconcile(INBOUND)
    async with asgi_client(app, headers=ADMIN) as client:
        await client.post("/openidm/system/salesforce/User?_action=liveSync")
        link = next(link for link in service.repo.iter_links(INBOUND) if link.first_id != org.admin_id)
        org.update_user(link.first_id, {"FirstName": None})
        plain = (await client.post("/openidm/system/salesforce/User?_action=liveSync")).json()
        detailed = (await client.post("/openidm/system/salesforce/User?_action=liveSync&detailedFailure=true")).json()
    assert plain["sfsync"]["status"] == "FAILED" and "syncDelta" not in plain["lastException"]
    assert link.first_id in plain["lastException"]["throwable"]
    assert any(link.first_id in d for d in detailed["lastException"]["syncDelta"])


async def test_livesync_errors_are_idm_shaped(served, asgi_client):
    _, _, app = served
    async with asgi_client(app, headers=ADMIN) as client:
        other = await client.post("/openidm/system/ldap/account?_action=liveSync")
        unmapped = await client.post("/openidm/system/salesforce/Profile?_action=liveSync")
        no_action = await client.post("/openidm/system/salesforce/User")
        no_source = await client.post("/openidm/system?_action=liveSync")
        get = await client.get("/openidm/system/salesforce/User?_action=liveSync")
    assert other.status_code == 404 and other.json()["code"] == 404
    # an object set no mapping reads: nothing to liveSync there, a 404 (the document's source pattern takes any
    # system/salesforce/<type>, so a schema-valid request is never a 400)
    assert unmapped.status_code == 404 and "no mapping" in unmapped.json()["message"]
    assert no_action.status_code == 400 and "liveSync" in no_action.json()["message"]
    assert no_source.status_code == 400 and "source" in no_source.json()["message"]
    # GET on the object set is now IDM's query (system_routes): without _queryFilter, a 400 saying so
    assert get.status_code == 400 and "_queryFilter" in get.json()["message"]


async def test_the_test_action_takes_no_source_and_typed_flags(served, asgi_client):
    """The document's one selector: _action=test alone, or _action=liveSync with its source."""
    _, _, app = served
    async with asgi_client(app, headers=ADMIN) as client:
        with_source = await client.post("/openidm/system?_action=test&source=system/salesforce/User")
        mistyped = await client.post("/openidm/system?_action=test&detailedFailure=3246")
        typed = await client.post("/openidm/system?_action=test&detailedFailure=false")
    assert with_source.status_code == 400 and "source" in with_source.json()["message"]
    assert mistyped.status_code == 400 and "detailedFailure" in mistyped.json()["message"]
    assert typed.status_code == 200
