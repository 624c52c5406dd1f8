"""``audit/recon`` queries and ``system?_action=test``."""

from __future__ import annotations

from core.api import create_app

ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}


async def test_audit_query_by_recon_id_and_situation(api):
    client, backend = api
    backend.sync.repo.create_many([{"userName": f"a{i}", "givenName": "A", "sn": "Audit", "mail": f"a{i}@a.example"}
                                   for i in range(4)])
    run_id = (await client.post("/openidm/recon?_action=recon&mapping=userAccount&waitForCompletion=true")).json()["_id"]
    entries = (await client.get("/openidm/audit/recon", params={"_queryFilter": f'/reconId eq "{run_id}"'})).json()
    kinds = [e["entryType"] for e in entries["result"]]
    assert kinds.count("start") == 1 and kinds.count("summary") == 1 and kinds.count("entry") == 4
    absent = (await client.get("/openidm/audit/recon", params={
        "_queryFilter": f'/reconId eq "{run_id}" and situation eq "ABSENT"'})).json()
    assert absent["resultCount"] == 4
    assert all(e["situation"] == "ABSENT" and e["action"] == "CREATE" for e in absent["result"])
    one = await client.get(f"/openidm/audit/recon/{absent['result'][0]['_id']}")
    assert one.status_code == 200 and one.json() == absent["result"][0]


async def test_audit_errors(api):
    client, _ = api
    assert (await client.get("/openidm/audit/recon/nope")).status_code == 404
    bad = await client.get("/openidm/audit/recon", params={"_queryFilter": "reconId eq"})
    assert bad.status_code == 400 and "_queryFilter" in bad.json()["message"]


async def test_system_test_of_a_disabled_connector_is_ok_false_with_the_reason(sample_project, asgi_client):
    app = create_app(sample_project)
    async with asgi_client(app, headers=ADMIN) as client:
        response = await client.post("/openidm/system?_action=test")
        wrong = await client.post("/openidm/system?_action=liveSync")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "salesforce" and body["ok"] is False and "disabled" in body["error"]
    assert body["config"] == "config/provisioner.openicf/salesforce"
    assert wrong.status_code == 400


async def test_per_connector_test_answers_the_same_object_and_404_for_another_name(sample_project, asgi_client):
    app = create_app(sample_project)
    async with asgi_client(app, headers=ADMIN) as client:
        collection = (await client.post("/openidm/system?_action=test")).json()
        one = await client.post("/openidm/system/salesforce?_action=test")
        other = await client.post("/openidm/system/ldap?_action=test")
    assert one.status_code == 200 and one.json() == collection
    assert other.status_code == 404 and other.json()["code"] == 404
