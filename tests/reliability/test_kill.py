"""``kill -9`` of ``sfsync recon`` at random points, again and again, then a rerun: the repository and the org
end exactly as an uninterrupted run leaves them, with no duplicate on either side.

Real processes (``sfsync -p DIR recon MAPPING``) against the local org on a loopback socket; delays drawn from
a seeded generator so a failure can be replayed. Besides the random points, some outbound runs kill
themselves with SIGKILL right after Salesforce answered a ``composite/sobjects`` create and before the
links were stored: the one point where a naive engine would create the same user twice. At least 20 kills
over the module (10 inbound, 10 outbound of which at least 3 between create and link), plus the lock test's.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time

from core.repo.runs import STALE_AFTER
from core.sync.service import SyncService
from tests.reliability.helpers import (
    INBOUND,
    OUTBOUND,
    accepted,
    assert_failures_are_the_invalid_users,
    assert_inbound_exact,
    assert_outbound_exact,
    managed,
    sfsync,
)
from tests.sync.orgproject import make_project

#: a real SIGKILL of this very process after Salesforce created the page's users, before the links
KILL_AFTER_CREATE = """
import os, signal
from core.sync import objectsets
_create = objectsets.SalesforceObjects.create_many
def create_many(self, objects):
    results = _create(self, objects)
    if any(r.ok for r in results):
        os.kill(os.getpid(), signal.SIGKILL)
objectsets.SalesforceObjects.create_many = create_many
"""


def kill_at_random(project, mapping: str, rnd: random.Random, low: float, high: float) -> str:
    """Start ``sfsync recon MAPPING``, SIGKILL it after a random delay; how it ended."""
    proc = sfsync(project.root, "recon", mapping, stdout=open(os.devnull, "wb"), stderr=open(os.devnull, "wb"))
    try:
        proc.wait(rnd.uniform(low, high))
        return f"finished ({proc.returncode})"  # it won the race: a complete run is a valid point too
    except Exception:  # noqa: BLE001 - TimeoutExpired: still running, as intended
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        return "killed"


def comparable(users: list[dict]) -> list[tuple]:
    return sorted((u["userName"], u["givenName"], u["sn"], u["mail"], u.get("profileId")) for u in users)


def test_inbound_killed_at_random_points_then_rerun_equals_an_uninterrupted_run(live_org_factory, tmp_path):
    live = live_org_factory(users=1_500, seed=21, latency_ms=30)
    rnd = random.Random(2108)
    project = make_project(tmp_path / "killed", live.org, live.url)
    outcomes: list[str] = []
    # a run that ends before its kill is a valid point too; how many do depends on the machine's speed
    # (9 kills of 16 on a busy CI machine), so go on until 10 were killed
    while outcomes.count("killed") < 10 and len(outcomes) < 40:
        outcomes.append(kill_at_random(project, INBOUND, rnd, 0.2, 1.6))
    assert outcomes.count("killed") >= 10, outcomes

    reference = SyncService(make_project(tmp_path / "reference", live.org, live.url))
    service = SyncService(project)
    try:
        run = asyncio.run(service.reconcile(INBOUND))
        assert run["state"] == "SUCCESS", run.get("failureReason")
        assert_inbound_exact(live.org, service)
        assert_failures_are_the_invalid_users(live.org, service, run)
        asyncio.run(reference.reconcile(INBOUND))
        assert comparable(managed(service)) == comparable(managed(reference))
        # every killed run is closed (FAILED), none is left ACTIVE holding the lock
        states = [r["state"] for r in service.runs(None)]
        assert "ACTIVE" not in states and service.repo.runs.holder(INBOUND) is None
    finally:
        service.close()
        reference.close()


def test_outbound_killed_at_random_points_and_between_create_and_link_then_rerun_has_no_duplicates(
        live_org_factory, tmp_path):
    live = live_org_factory(users=100, seed=22, latency_ms=40)
    rnd = random.Random(2208)
    project = make_project(tmp_path / "p", live.org, live.url)
    profile = accepted(live.org)[0]["ProfileId"]
    service = SyncService(project)
    before = {u["Username"] for u in live.org.iter_users()}
    try:
        def person(i: int) -> dict:
            return {"userName": f"kill.{i:04d}@example.com", "givenName": f"Kíll{i}", "sn": "Nine",
                    "mail": f"kill.{i:04d}@example.com", "profileId": profile}

        people = [person(i) for i in range(500)]
        service.repo.create_many(people)
        outcomes: list[str] = []
        while sum(o.startswith("killed") for o in outcomes) < 10 and len(outcomes) < 40:  # as above
            if len(outcomes) % 3 == 0:  # the precise point: Salesforce created the users, the links are not stored
                fresh = [person(len(people) + i) for i in range(60)]  # so that this run has users to create
                service.repo.create_many(fresh)
                people += fresh
                proc = sfsync(project.root, "recon", OUTBOUND, prelude=KILL_AFTER_CREATE)
                proc.communicate(timeout=60)
                outcomes.append("killed after create" if proc.returncode == -signal.SIGKILL
                                else f"finished ({proc.returncode})")
            else:
                outcomes.append(kill_at_random(project, OUTBOUND, rnd, 0.3, 1.6))
        assert sum(o.startswith("killed") for o in outcomes) >= 10, outcomes
        assert outcomes.count("killed after create") >= 3, outcomes

        run = asyncio.run(service.reconcile(OUTBOUND))
        assert run["state"] == "SUCCESS", run.get("failureReason")
        assert run["statusSummary"]["FAILURE"] == 0
        assert_outbound_exact(live.org, service)
        after = [u["Username"] for u in live.org.iter_users()]
        assert sorted(set(after) - before) == sorted(p["userName"] for p in people)
        assert len(after) == len(set(after)) == len(before) + len(people)
        again = asyncio.run(service.reconcile(OUTBOUND))
        assert again["situationSummary"]["CONFIRMED"] == len(people)
        assert again["situationSummary"]["ABSENT"] == again["situationSummary"]["FOUND"] == 0
    finally:
        service.close()


def test_a_killed_runs_lock_is_taken_over_at_once_by_the_next_run(live_org_factory, tmp_path):
    live = live_org_factory(users=3_000, seed=23, latency_ms=20)
    project = make_project(tmp_path / "p", live.org, live.url)
    proc = sfsync(project.root, "recon", INBOUND)
    service = SyncService(project)
    try:
        deadline = time.monotonic() + 30
        while service.repo.runs.holder(INBOUND) is None:  # the subprocess holds the run lock
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        # the dead run's heartbeat is still fresh, so only seeing that its process is gone can free the lock
        # (a lock held by a live process, or aged by heartbeat alone, would make this run a Conflict)
        killed = service.repo.runs.holder(INBOUND)
        assert killed is not None and time.time() - killed["heartbeat"] < STALE_AFTER
        run = asyncio.run(service.reconcile(INBOUND))
        assert run["state"] == "SUCCESS"
        assert service.repo.runs.get(killed["runId"])["failureReason"] == \
            f"the process running it ({proc.pid}) stopped"
        assert_inbound_exact(live.org, service)
    finally:
        service.close()
