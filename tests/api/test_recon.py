"""``/openidm/recon``: start (waiting or not), list, read and cancel runs, in IDM's shapes."""

from __future__ import annotations

SITUATIONS = {"CONFIRMED", "FOUND", "ABSENT", "AMBIGUOUS", "MISSING", "UNQUALIFIED", "UNASSIGNED",
              "SOURCE_MISSING", "SOURCE_IGNORED", "TARGET_IGNORED", "FOUND_ALREADY_LINKED"}
RECON = "/openidm/recon?_action=recon&mapping=userAccount"


def seed_users(backend, n: int) -> None:
    backend.sync.repo.create_many([{"userName": f"u{i:05d}", "givenName": "U", "sn": "Recon",
                                    "mail": f"u{i}@r.example"} for i in range(n)])


async def test_recon_waiting_for_completion_answers_id_and_final_state(api):
    client, backend = api
    seed_users(backend, 30)
    response = await client.post(RECON + "&waitForCompletion=true")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"_id", "state"} and body["state"] == "SUCCESS"
    run = (await client.get(f"/openidm/recon/{body['_id']}")).json()
    assert run["_id"] == body["_id"] and run["mapping"] == "userAccount"
    assert run["stage"] == "COMPLETED_SUCCESS" and set(run["situationSummary"]) == SITUATIONS
    assert run["situationSummary"]["ABSENT"] == 30 and run["statusSummary"] == {"SUCCESS": 30, "FAILURE": 0}
    assert run["progress"]["source"]["existing"]["processed"] == 30
    assert backend.sync.repo.count(resource="account") == 30


async def test_recon_without_waiting_answers_at_once_and_the_run_is_readable(api):
    client, backend = api
    seed_users(backend, 10)
    response = await client.post(RECON)
    assert response.status_code == 200
    started = response.json()
    assert set(started) == {"_id", "state"} and started["state"] in ("ACTIVE", "SUCCESS")
    assert (await client.get(f"/openidm/recon/{started['_id']}")).status_code == 200
    final = await backend.wait(started["_id"])
    assert final["state"] == "SUCCESS"
    listing = (await client.get("/openidm/recon")).json()
    assert [run["_id"] for run in listing["reconciliations"]] == [started["_id"]]


async def test_runs_are_listed_oldest_first(api):
    client, backend = api
    seed_users(backend, 3)
    first = (await client.post(RECON + "&waitForCompletion=true")).json()["_id"]
    second = (await client.post(RECON + "&waitForCompletion=true")).json()["_id"]
    listing = (await client.get("/openidm/recon")).json()["reconciliations"]
    assert [run["_id"] for run in listing] == [first, second]
    assert listing[1]["situationSummary"]["CONFIRMED"] == 3


async def test_unknown_run_is_404_in_idm_words(api):
    client, _ = api
    response = await client.get("/openidm/recon/no-such-run")
    assert response.status_code == 404
    assert response.json()["message"] == "Reconciliation with id no-such-run not found."
    assert (await client.post("/openidm/recon/no-such-run?_action=cancel")).status_code == 404


async def test_bad_recon_requests_are_400(api):
    client, _ = api
    cases = {
        "/openidm/recon?_action=recon": "mapping",
        "/openidm/recon?_action=recon&mapping=nope": "nope",
        "/openidm/recon?_action=reconById&mapping=userAccount": "reconById",
        "/openidm/recon?mapping=userAccount": "_action",
        RECON + "&waitForCompletion=perhaps": "waitForCompletion",
    }
    for url, named in cases.items():
        response = await client.post(url)
        assert response.status_code == 400, url
        assert named in response.json()["message"], url
    run_action = await client.post("/openidm/recon/x?_action=explode")
    assert run_action.status_code == 400


async def test_allow_deletions_goes_past_the_deletion_safeguard(api, managed_project):
    client, backend = api
    (managed_project.conf_dir / "sfsync.toml").write_text("deletion_threshold = 1\n")
    seed_users(backend, 3)
    assert (await client.post(RECON + "&waitForCompletion=true")).json()["state"] == "SUCCESS"
    for user in backend.sync.repo.query({"_queryFilter": "true"})["result"][:2]:
        backend.sync.repo.delete(user["_id"])  # no implicit sync: their accounts become SOURCE_MISSING -> DELETE
    held = (await client.post(RECON + "&waitForCompletion=true")).json()
    assert held["state"] == "FAILED"
    run = (await client.get(f"/openidm/recon/{held['_id']}")).json()
    assert run["deletionsHeld"]["count"] == 2 and "deletion_threshold 1" in run["failureReason"]
    assert backend.sync.repo.count(resource="account") == 3
    bad = await client.post(RECON + "&waitForCompletion=true&allowDeletions=perhaps")
    assert bad.status_code == 400 and "allowDeletions" in bad.json()["message"]
    done = (await client.post(RECON + "&waitForCompletion=true&allowDeletions=true")).json()
    assert done["state"] == "SUCCESS" and backend.sync.repo.count(resource="account") == 1


async def test_recon_by_id_over_rest(api):
    client, backend = api
    seed_users(backend, 3)
    users = backend.sync.repo.query({"_queryFilter": "true"})["result"]
    first, second = users[0]["_id"], users[1]["_id"]
    response = await client.post(f"/openidm/recon?_action=reconById&mapping=userAccount&ids={first},{second}"
                                 "&waitForCompletion=true")
    assert response.status_code == 200 and response.json()["state"] == "SUCCESS"
    run = (await client.get(f"/openidm/recon/{response.json()['_id']}")).json()
    assert run["situationSummary"]["ABSENT"] == 2 and run["parameters"]["reconById"] is True
    assert backend.sync.repo.count(resource="account") == 2
    single = await client.post(f"/openidm/recon?_action=reconById&mapping=userAccount&id={users[2]['_id']}"
                               "&waitForCompletion=true")
    assert single.json()["state"] == "SUCCESS" and backend.sync.repo.count(resource="account") == 3
    missing = await client.post("/openidm/recon?_action=reconById&mapping=userAccount")
    assert missing.status_code == 400 and "id=ID" in missing.json()["message"]
    commas = await client.post("/openidm/recon?_action=reconById&mapping=userAccount&ids=,,")
    assert commas.status_code == 400  # the document's id lists need an id: something besides commas
    plain = await client.post(f"/openidm/recon?_action=recon&mapping=userAccount&id={users[2]['_id']}")
    assert plain.status_code == 400 and "reconById" in plain.json()["message"]  # not silently a full recon


async def test_a_recon_request_body_is_refused_not_ignored(api):
    client, _ = api
    response = await client.post(RECON + "&waitForCompletion=true", json={"runTargetPhase": False})
    assert response.status_code == 400 and "request body" in response.json()["message"]
