"""A run killed at any point leaves the repository consistent, and rerunning converges: no duplicate
managed user, no duplicate Salesforce user, no lost link. The killed runs are real processes (``kill -9``)
against a local org on a loopback socket."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.repo import Repository
from core.sync.service import SyncService
from tests.sync.orgproject import make_project

INBOUND = "systemSalesforceUser_managedUser"
OUTBOUND = "managedUser_systemSalesforceUser"
ROOT = Path(__file__).resolve().parents[2]


def sfsync(project: Path, *args: str, prelude: str = "") -> subprocess.Popen:
    code = (f"import sys\n{prelude}\nfrom tui.cli import main\n"
            f"sys.exit(main(['-p', {str(project)!r}, *{list(args)!r}]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def converged_inbound(org, service: SyncService) -> None:
    users = [u for u in org.iter_users() if not u["Email"].startswith("autoproc") and u["FirstName"]]
    managed = service.repo.query({"_queryFilter": "true"})["result"]
    names = [u["userName"] for u in managed]
    assert len(names) == len(set(names)), "duplicate managed users"
    assert sorted(names) == sorted(u["Username"] for u in users)
    links = list(service.repo.iter_links(INBOUND))
    assert sorted(link.second_id for link in links) == sorted(u["_id"] for u in managed)
    assert {link.first_id for link in links} == {u["Id"] for u in users}


def test_inbound_killed_between_pages_then_rerun_converges(live_org_factory, tmp_path):
    live = live_org_factory(users=5000, seed=3, latency_ms=150)
    project = make_project(tmp_path / "p", live.org, live.url)
    proc = sfsync(project.root, "recon", INBOUND)
    repo = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if project.db_path.exists():
                repo = repo or Repository.open(project.db_path)
                runs = repo.runs.list(1)
                if runs and runs[0]["progress"]["source"]["existing"]["processed"] >= 2000:
                    break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert repo is not None
        killed = repo.runs.list(1)[0]
        assert killed["state"] == "ACTIVE"
        # consistent: whole pages only, each managed user with its link
        count = repo.count()
        assert count > 0 and len(list(repo.iter_links(INBOUND))) == count
    finally:
        if proc.poll() is None:
            proc.kill()
        if repo is not None:
            repo.close()
    service = SyncService(project)
    try:
        run = asyncio.run(service.reconcile(INBOUND))
        assert run["state"] == "SUCCESS"
        assert run["situationSummary"]["CONFIRMED"] == count  # what the killed run committed
        converged_inbound(live.org, service)
        assert service.run(killed["_id"])["state"] == "FAILED"  # the orphan is closed, not left ACTIVE
    finally:
        service.close()


KILL_AFTER_CREATE = """
import os
from core.sync import objectsets
_create = objectsets.SalesforceObjects.create_many
def create_many(self, objects):
    results = _create(self, objects)
    os._exit(9)  # the Salesforce users exist; their links were never stored
objectsets.SalesforceObjects.create_many = create_many
"""


def test_outbound_killed_after_salesforce_create_then_rerun_links_instead_of_duplicating(live_org_factory, tmp_path):
    live = live_org_factory(users=30, seed=4)
    project = make_project(tmp_path / "p", live.org, live.url)
    profile = next(iter(live.org.iter_users()))["ProfileId"]
    with Repository.for_project(project) as repo:
        for i in range(5):
            repo.create({"userName": f"crash.test{i}@example.com", "givenName": f"Crash{i}", "sn": "Test",
                         "mail": f"crash.test{i}@example.com", "profileId": profile})
    proc = sfsync(project.root, "recon", OUTBOUND, prelude=KILL_AFTER_CREATE)
    assert proc.wait(60) == 9, proc.stderr.read().decode()
    created = [live.org.user_by_username(f"crash.test{i}@example.com") for i in range(5)]
    assert all(created)
    service = SyncService(project)
    try:
        assert list(service.repo.iter_links(INBOUND)) == []  # the kill came before the links
        run = asyncio.run(service.reconcile(OUTBOUND))
        assert run["state"] == "SUCCESS"
        assert run["situationSummary"]["FOUND"] == 5 and run["situationSummary"]["ABSENT"] == 0
        usernames = [u["Username"] for u in live.org.iter_users()]
        assert all(usernames.count(f"crash.test{i}@example.com") == 1 for i in range(5))
        links = {link.first_id for link in service.repo.iter_links(INBOUND)}
        assert links == {u["Id"] for u in created}
        again = asyncio.run(service.reconcile(OUTBOUND))
        assert again["situationSummary"]["CONFIRMED"] == 5
    finally:
        service.close()
