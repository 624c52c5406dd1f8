"""Readers never wait on a reconciliation, and a server shutting down cancels the runs it started.

The org holds every SOQL query until the test opens a gate (or the run is asked to cancel), so the run is
certainly ACTIVE while the test reads: nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import itertools
import threading

import pytest

from core.api import create_app
from core.api.backend import ApiBackend
from tests.api.conftest import log_in_to

ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}
RECON = "/openidm/recon?_action=recon&mapping=systemSalesforceUser_managedUser"


@pytest.fixture
def slow_org_api(sample_project, live_org_factory, asgi_client, monkeypatch):
    """``(client, backend, gate)``: the REST API over a live org whose queries wait for ``gate``; asking any
    run to cancel opens the gate (the held page arrives and the run stops at that page boundary)."""
    import core.emulator.app
    from core.emulator.rest import data_api

    gate = threading.Event()

    async def held_queries(request):
        if "/query" in request.url.path:
            while not gate.is_set():  # the org's own loop keeps serving other calls meanwhile
                await asyncio.sleep(0.01)
        return await data_api(request)

    monkeypatch.setattr(core.emulator.app, "data_api", held_queries)
    org = live_org_factory(users=20)
    project = log_in_to(sample_project, org.org, org.url)
    backend = ApiBackend(project)
    cancel = backend.sync.cancel

    def cancel_and_release(run_id):
        answer = cancel(run_id)
        gate.set()
        return answer

    monkeypatch.setattr(backend.sync, "cancel", cancel_and_release)
    client = asgi_client(create_app(project, services=backend), headers=ADMIN)
    yield client, backend, gate
    backend.cancel_started_runs()  # a test that failed half-way leaves no run going behind it
    gate.set()
    for recon in list(backend._recons.values()):
        recon.run.join(60)
    backend.sync.close()


async def test_fifty_concurrent_reads_are_answered_while_a_recon_is_active(slow_org_api):
    client, backend, _gate = slow_org_api
    async with client:
        users = backend.sync.repo.create_many([{"userName": f"r{i}", "givenName": "R", "sn": "Reader",
                                                "mail": f"r{i}@r.example"} for i in range(17)])
        started = (await client.post(RECON)).json()
        assert started["state"] == "ACTIVE"
        run_url = f"/openidm/recon/{started['_id']}"
        reads = [client.get(run_url), client.get("/openidm/recon"),
                 client.get("/openidm/audit/recon", params={"_queryFilter": f'/reconId eq "{started["_id"]}"'})]
        reads += [client.get(f"/openidm/managed/user/{u['_id']}") for u in users]
        reads += [client.get("/openidm/managed/user?_queryFilter=true&_pageSize=5") for _ in range(30)]
        answers = await asyncio.gather(*reads)
        assert [a.status_code for a in answers] == [200] * len(reads)
        still = (await client.get(run_url)).json()
        assert still["state"] == "ACTIVE", "the reads waited for the recon to end"
        assert (await client.post(run_url + "?_action=cancel")).status_code == 200
        final = await backend.wait(started["_id"])
        assert final["state"] == "CANCELED"


async def test_shutting_the_server_down_cancels_the_runs_it_started(slow_org_api):
    client, backend, _gate = slow_org_api
    async with client:
        started = (await client.post(RECON)).json()
        assert started["state"] == "ACTIVE"
        await backend.aclose()
        from core.repo import Repository

        with Repository.for_project(backend.project) as repo:
            assert repo.runs.get(started["_id"])["state"] == "CANCELED"


async def test_cancel_stops_an_active_run_which_ends_canceled(slow_org_api):
    client, backend, _gate = slow_org_api
    async with client:
        started = (await client.post(RECON)).json()
        cancel = await client.post(f"/openidm/recon/{started['_id']}?_action=cancel")
        assert cancel.status_code == 200
        assert cancel.json() == {"_id": started["_id"], "action": "cancel", "status": "SUCCESS"}
        assert (await backend.wait(started["_id"]))["state"] == "CANCELED"
        # cancelling a finished run changes nothing and says so as IDM does
        again = await client.post(f"/openidm/recon/{started['_id']}?_action=cancel")
        assert again.status_code == 200 and again.json()["status"] == "SUCCESS"
        assert (await client.get(f"/openidm/recon/{started['_id']}")).json()["state"] == "CANCELED"


async def test_a_second_run_of_an_active_mapping_is_409(slow_org_api):
    client, backend, _gate = slow_org_api
    async with client:
        first = (await client.post(RECON)).json()
        second = await client.post(RECON + "&waitForCompletion=true")
        assert second.status_code == 409, second.text
        assert second.json()["code"] == 409 and second.json()["reason"] == "Conflict"
        await client.post(f"/openidm/recon/{first['_id']}?_action=cancel")
        assert (await backend.wait(first["_id"]))["state"] == "CANCELED"


async def test_reads_leave_a_core_to_a_running_recon_and_get_it_back_when_it_ends(slow_org_api, monkeypatch):
    """Reads run at most one per core, one fewer per recon running here: with 40 reader threads (anyio's
    default) the engine waited its turn at the interpreter behind them (bench/bench_api.py). Each read waits
    inside the repository for a second reader to join it, so the peak is what the limiter lets in, not luck."""
    from core.config.settings import Settings

    client, backend, _gate = slow_org_api
    settings = Settings.load(backend.project)
    settings.read_share_during_recon = 1.0  # no pause after a read: this test is about the core count alone
    settings.save(backend.project)
    monkeypatch.setattr("core.api.backend.os.cpu_count", lambda: 2)
    backend._resize_readers()
    inside, most, joined = 0, 0, threading.Condition()
    wait_for_a_peer = [30.0]  # bounds only: a read goes on as soon as a second one is inside
    query = backend.repo.query

    def counted_query(request):
        nonlocal inside, most
        with joined:
            inside += 1
            most = max(most, inside)
            joined.notify_all()
            joined.wait_for(lambda: inside >= 2, timeout=wait_for_a_peer[0])
            inside -= 1
        return query(request)

    async def eight_reads() -> list[int]:
        return [a.status_code for a in await asyncio.gather(*[client.get(page) for _ in range(8)])]

    monkeypatch.setattr(backend.repo, "query", counted_query)
    page = "/openidm/managed/user?_queryFilter=true&_pageSize=5"
    async with client:
        assert await eight_reads() == [200] * 8
        assert most == 2, "with no recon running, reads use both cores"
        started = (await client.post(RECON)).json()
        assert started["state"] == "ACTIVE" and backend._readers.total_tokens == 1
        most, wait_for_a_peer[0] = 0, 0.3  # a peer must not come now: each read gives it a chance to
        assert await eight_reads() == [200] * 8
        assert most == 1, "while the recon runs, reads take one core at a time"
        assert (await client.get(f"/openidm/recon/{started['_id']}")).json()["state"] == "ACTIVE"
        await client.post(f"/openidm/recon/{started['_id']}?_action=cancel")
        assert (await backend.wait(started["_id"]))["state"] == "CANCELED"
        for _ in range(3000):  # bounded, never a hang: the run's end reaches the server's loop through call_soon_threadsafe
            if backend._readers.total_tokens == 2:
                break
            await asyncio.sleep(0.01)
        most, wait_for_a_peer[0] = 0, 30.0
        assert await eight_reads() == [200] * 8
        assert most == 2, "the core comes back when the run ends"


async def test_while_a_recon_runs_a_read_answers_at_once_and_its_slot_stays_idle_until_the_run_ends(
        slow_org_api, monkeypatch):
    """read_share_during_recon 0.1: a read keeps its slot 9x its own time after its answer went out; cancelling
    the run is not queued behind it, and the run's end gives the slot back (bench/bench_api.py). The backend's
    clock is the test's: every read "takes" 100 s, so its slot is held until the run ends, on any machine."""
    from types import SimpleNamespace

    from core.config.settings import Settings

    client, backend, _gate = slow_org_api
    ticks = itertools.count(0, 100)
    monkeypatch.setattr("core.api.backend.time", SimpleNamespace(perf_counter=lambda: float(next(ticks))))
    settings = Settings.load(backend.project)
    settings.read_share_during_recon = 0.1
    settings.save(backend.project)
    monkeypatch.setattr("core.api.backend.os.cpu_count", lambda: 2)
    backend._resize_readers()
    page = "/openidm/managed/user?_queryFilter=true&_pageSize=5"
    async with client:
        assert (await client.get(page)).status_code == 200
        assert backend._readers.borrowed_tokens == 0 and not backend._held, "no run: no pause"
        started = (await client.post(RECON)).json()
        assert started["state"] == "ACTIVE" and backend._readers.total_tokens == 1
        assert (await client.get(page)).status_code == 200
        assert backend._readers.borrowed_tokens == 1 and len(backend._held) == 1, "answered, slot still held"
        missing = asyncio.create_task(client.get("/openidm/managed/user/no-such-user"))
        for _ in range(50):
            await asyncio.sleep(0)
        assert backend._readers.statistics().tasks_waiting == 1, "the next read waits for the slot"
        cancelled = await client.post(f"/openidm/recon/{started['_id']}?_action=cancel")
        assert cancelled.status_code == 200 and not missing.done(), "a cancel is not queued behind the readers"
        assert (await backend.wait(started["_id"]))["state"] == "CANCELED"
        assert (await missing).status_code == 404
        for _ in range(3000):  # bounded, never a hang: the run's end reaches the server's loop through call_soon_threadsafe
            if backend._read_pause == 0.0 and not backend._held:
                break
            await asyncio.sleep(0.01)
        assert backend._read_pause == 0.0 and not backend._held, "the run's end gives the slot back"
        assert backend._readers.borrowed_tokens == 0
