"""Clustered reconciliation (``clusteredSourceReconEnabled``) on a real PostgreSQL, with real ``sfsync worker``
subprocesses against a local org on a loopback socket: a clustered run ends exactly as a single-node run of
the same org does; a worker killed (``kill -9``) mid-page has its page taken over and the run still ends exact;
two coordinators cannot run one mapping; a lapsed lease hands a page over."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config.project import Project
from core.repo import Conflict, LeaseLost, PgRepository
from core.sync.service import SyncService
from tests.fixtures.pg import _admin_connect, _with_database
from tests.sync.orgproject import make_project

INBOUND = "systemSalesforceUser_managedUser"
ROOT = Path(__file__).resolve().parents[2]
#: kill -9 rounds (the normal suite runs a few; SFSYNC_CLUSTER_KILL_ROUNDS=20 for the full check)
KILL_ROUNDS = int(os.environ.get("SFSYNC_CLUSTER_KILL_ROUNDS", "3"))


@pytest.fixture
def databases(pg_server: str) -> Iterator[Callable[[], str]]:
    """Fresh databases on the test server (each dropped afterwards)."""
    made: list[str] = []

    def make() -> str:
        name = f"sfsync_cluster_{uuid.uuid4().hex[:12]}"
        with _admin_connect(pg_server) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return _with_database(pg_server, name)

    yield make
    with _admin_connect(pg_server) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def clustered_project(root: Path, org: Any, url: str, clustered: bool = True) -> Project:
    project = make_project(root, org, url)
    data = json.loads(project.sync_path.read_text())
    for m in data["mappings"]:
        if m["name"] == INBOUND and clustered:
            m["clusteredSourceReconEnabled"] = True
    project.sync_path.write_text(json.dumps(data))
    return project


class Workers:
    """``sfsync worker`` subprocesses on one project and repository."""

    def __init__(self, project: Project, repo_url: str, logs: Path) -> None:
        self.project, self.repo_url, self.logs = project, repo_url, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, node_id: str) -> subprocess.Popen[bytes]:
        code = ("import sys\nfrom tui.cli import main\n"
                f"sys.exit(main(['-p', {str(self.project.root)!r}, 'worker', '--node-id', {node_id!r}]))")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SFSYNC_REPO_URL": self.repo_url}
        out = open(self.logs / f"{node_id}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=out, stderr=out)
        out.close()
        self.procs[node_id] = proc
        return proc

    def wait_registered(self, repo: PgRepository, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = repo.db.fetchall("SELECT node_id FROM sfsync.cluster_nodes WHERE state = 'ACTIVE'")
            if {r[0] for r in rows} >= set(self.procs):
                return
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            assert not dead, f"worker {dead} exited: {(self.logs / f'{dead[0]}.log').read_text()}"
            time.sleep(0.05)
        raise AssertionError("the workers did not register")

    def stop(self) -> dict[str, int | None]:
        """SIGTERM each (a clean stop after the page in hand); their exit codes."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {}
        for node, proc in self.procs.items():
            try:
                codes[node] = proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[node] = None
        return codes


def outcome(service: SyncService, run: dict[str, Any]) -> dict[str, Any]:
    """What must be identical between a single-node and a clustered run: the managed users (by userName,
    without generated ids and revisions), the links (Salesforce id -> userName), the run's counters."""
    users = service.repo.query({"_queryFilter": "true"})["result"]
    names = [u["userName"] for u in users]
    assert len(names) == len(set(names)), "duplicate managed users"
    by_id = {u["_id"]: u["userName"] for u in users}
    links = list(service.repo.iter_links(INBOUND))
    assert len({link.first_id for link in links}) == len(links) == len({link.second_id for link in links})
    return {
        "users": sorted(json.dumps({k: v for k, v in u.items() if k not in ("_id", "_rev")}, sort_keys=True)
                         for u in users),
        "links": sorted((link.first_id, by_id[link.second_id]) for link in links),
        "state": run["state"], "progress": run["progress"], "situations": run["situationSummary"],
        "status": run["statusSummary"], "actions": run["actionSummary"],
    }


def seed_targets(service: SyncService, org: Any, n: int) -> None:
    """Managed users the correlation query finds (so the run correlates instead of skipping it)."""
    for u in list(org.iter_users())[:n]:
        if u["FirstName"] and not u["Email"].startswith("autoproc"):
            service.repo.create({"userName": u["Username"], "givenName": u["FirstName"], "sn": u["LastName"],
                                 "mail": u["Email"]})


def reconcile(service: SyncService) -> dict[str, Any]:
    return asyncio.run(service.reconcile(INBOUND))


@pytest.mark.parametrize(("nodes", "seeded"), [(2, 0), (3, 60)])
def test_clustered_run_ends_exactly_like_a_single_node(live_org_factory, databases, tmp_path, monkeypatch,
                                                       nodes, seeded):
    live = live_org_factory(users=1200, seed=11)
    monkeypatch.setenv("SFSYNC_CLUSTER_TASK_SIZE", "100")
    single_url, cluster_url = databases(), databases()

    monkeypatch.setenv("SFSYNC_REPO_URL", single_url)
    single = SyncService(clustered_project(tmp_path / "single", live.org, live.url, clustered=False))
    assert single.repo is not None  # opened now, on its own database
    monkeypatch.setenv("SFSYNC_REPO_URL", cluster_url)
    project = clustered_project(tmp_path / "cluster", live.org, live.url)
    clustered = SyncService(project)
    workers = Workers(project, cluster_url, tmp_path)
    try:
        seed_targets(single, live.org, seeded)
        seed_targets(clustered, live.org, seeded)
        for i in range(nodes):
            workers.start(f"w{i + 1}")
        workers.wait_registered(clustered.repo)
        expected = outcome(single, reconcile(single))
        run = reconcile(clustered)
        assert outcome(clustered, run) == expected
        assert "nodes" not in single.run(expected_id(single))
        total = run["progress"]["source"]["existing"]["processed"]
        assert sum(n["processed"] for n in run["nodes"]) == total
        assert any(n["nodeId"].startswith("w") and n["processed"] > 0 for n in run["nodes"]), run["nodes"]
        # the second run confirms everything, on both
        again = reconcile(clustered)
        assert outcome(clustered, again) == outcome(single, reconcile(single))
        assert again["situationSummary"]["CONFIRMED"] > 0
        assert clustered.repo.db.fetchone("SELECT count(*) FROM sfsync.cluster_tasks")[0] == 0
    finally:
        codes = workers.stop()
        single.close()
        clustered.close()
    assert set(codes.values()) == {0}  # SIGTERM ends a worker cleanly


def expected_id(service: SyncService) -> str:
    return str(service.runs(1)[0]["_id"])


def kill_mid_page(repo: PgRepository, procs: dict[str, subprocess.Popen[bytes]], nth: int,
                  box: dict[str, Any]) -> None:
    """``kill -9`` the worker that holds the ``nth`` page claimed by any worker (claimed, not yet committed)."""
    seen: set[tuple[str, int]] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "run" not in box:
        for run_id, page, owner in repo.db.fetchall(
                "SELECT run_id, page, owner FROM sfsync.cluster_tasks WHERE owner = ANY(%s) AND state = 'CLAIMED'",
                (list(procs),)):
            seen.add((run_id, page))
            if len(seen) >= nth:
                os.kill(procs[owner].pid, signal.SIGKILL)
                box["killed"] = (owner, page)
                return
        time.sleep(0.002)


def test_kill_9_a_worker_mid_page_the_run_still_ends_exact(live_org_factory, databases, tmp_path, monkeypatch):
    live = live_org_factory(users=1000, seed=5)
    monkeypatch.setenv("SFSYNC_CLUSTER_TASK_SIZE", "50")
    monkeypatch.setenv("SFSYNC_CLUSTER_LEASE", "2")
    monkeypatch.setenv("SFSYNC_REPO_URL", databases())
    single = SyncService(clustered_project(tmp_path / "single", live.org, live.url, clustered=False))
    try:
        expected = outcome(single, reconcile(single))
    finally:
        single.close()
    project = clustered_project(tmp_path / "cluster", live.org, live.url)
    kills = 0
    for round_no in range(KILL_ROUNDS):
        rng = random.Random(1000 + round_no)
        url = databases()
        monkeypatch.setenv("SFSYNC_REPO_URL", url)
        service = SyncService(project)
        logs = tmp_path / f"round{round_no}"
        logs.mkdir()
        workers = Workers(project, url, logs)
        try:
            for name in ("w1", "w2", "w3"):
                workers.start(name)
            workers.wait_registered(service.repo)
            nth = rng.randint(1, 3)  # the worker holding the nth page workers claim is killed holding it
            box: dict[str, Any] = {}
            killer = threading.Thread(target=kill_mid_page, args=(service.repo, workers.procs, nth, box))
            killer.start()
            run = reconcile(service)
            box["run"] = run
            killer.join()
            assert outcome(service, run) == expected, f"round {round_no}: killed {box.get('killed')}"
            if "killed" in box:
                kills += 1
                assert workers.procs[box["killed"][0]].wait(10) == -signal.SIGKILL
        finally:
            workers.stop()
            service.close()
    print(f"kill -9 rounds: {KILL_ROUNDS}, a worker killed mid-page in {kills}")
    assert kills >= max(1, KILL_ROUNDS * 3 // 4)  # nearly every round kills (workers may claim fewer pages)


async def test_two_coordinators_cannot_run_one_mapping(live_org_factory, databases, tmp_path, monkeypatch):
    live = live_org_factory(users=600, seed=2)
    monkeypatch.setenv("SFSYNC_CLUSTER_TASK_SIZE", "50")
    monkeypatch.setenv("SFSYNC_REPO_URL", databases())
    project = clustered_project(tmp_path / "p", live.org, live.url)
    first, second = SyncService(project), SyncService(project)
    try:
        results = await asyncio.gather(first.reconcile(INBOUND), second.reconcile(INBOUND), return_exceptions=True)
        refused = [r for r in results if isinstance(r, Exception)]
        done = [r for r in results if not isinstance(r, Exception)]
        assert len(refused) == 1 and isinstance(refused[0], Conflict), results
        assert "already has an active reconciliation" in str(refused[0])
        assert done[0]["state"] == "SUCCESS"
        users = first.repo.query({"_queryFilter": "true"})["result"]
        assert len({u["userName"] for u in users}) == len(users) > 0
    finally:
        first.close()
        second.close()


def test_a_lapsed_lease_hands_the_page_over(pg_url):
    repo = PgRepository.open(pg_url)
    try:
        repo.runs.create({"_id": "r1", "mapping": "m", "state": "ACTIVE", "stage": "ACTIVE_RECONCILING_SOURCE"})
        cluster = repo.cluster
        cluster.open_run("r1", "m", {"lease": 1})
        cluster.add_task("r1", 0, 0, [{"_id": "a"}, {"_id": "b"}])
        held = cluster.claim("dead", 1.0)
        assert held is not None and held.claims == 1 and held.records == [{"_id": "a"}, {"_id": "b"}]
        assert cluster.claim("alive", 1.0) is None  # leased: skipped, not waited for
        deadline = time.monotonic() + 10
        taken = None
        while taken is None and time.monotonic() < deadline:
            time.sleep(0.2)
            taken = cluster.claim("alive", 30.0)
        assert taken is not None and taken.page == 0 and taken.claims == 2
        assert not cluster.renew("dead", held, 30.0)  # the dead node's heartbeat no longer extends it
        with pytest.raises(LeaseLost), repo.transaction():
            cluster.complete("dead", held, 2, {"tally": {}}, [])
        with repo.transaction():
            cluster.complete("alive", taken, 2, {"tally": {}}, ["t1"])
        assert cluster.states("r1") == {"DONE": 1}
        assert cluster.nodes("r1", 30.0) == [{"nodeId": "alive", "processed": 2, "state": "GONE"}]
        cluster.close_run("r1")
        cluster.add_task("r1", 1, 2, [{"_id": "c"}])
        assert cluster.claim("alive", 30.0) is None  # a closed run's pages are claimed by no one
    finally:
        repo.close()


OUTBOUND = "managedUser_systemSalesforceUser"


def salesforce_state(org: Any) -> list[str]:
    """The org's users as they can be compared across two orgs (no timestamps)."""
    return sorted(json.dumps({k: v for k, v in u.items() if "Date" not in k and "Modstamp" not in k},
                             sort_keys=True, default=str) for u in org.iter_users())


def test_a_clustered_outbound_run_writes_salesforce_exactly_like_a_single_node(live_org_factory, databases,
                                                                             tmp_path, monkeypatch):
    """Nodes with a Salesforce target: each worker process its own connector; the same org changes as a single
    node makes (two identical orgs, one per run)."""
    monkeypatch.setenv("SFSYNC_CLUSTER_TASK_SIZE", "60")
    states, links = [], []
    for name, clustered in (("single", False), ("cluster", True)):
        live = live_org_factory(users=400, seed=21)
        url = databases()
        monkeypatch.setenv("SFSYNC_REPO_URL", url)
        project = clustered_project(tmp_path / name, live.org, live.url, clustered=False)
        if clustered:
            data = json.loads(project.sync_path.read_text())
            for m in data["mappings"]:
                if m["name"] == OUTBOUND:
                    m["clusteredSourceReconEnabled"] = True
            project.sync_path.write_text(json.dumps(data))
        service = SyncService(project)
        workers = Workers(project, url, tmp_path)
        try:
            assert reconcile(service)["state"] == "SUCCESS"  # inbound, single node: the users and links
            for user in service.repo.query({"_queryFilter": "true", "_pageSize": "120"})["result"]:
                service.repo.patch(user["_id"], [{"operation": "replace", "field": "sn", "value": "Changed"}])
            if clustered:
                for node in ("o1", "o2"):
                    workers.start(node)
                workers.wait_registered(service.repo)
            run = asyncio.run(service.reconcile(OUTBOUND))
            assert run["state"] == "SUCCESS", run
            assert run["actionSummary"].get("UPDATE", 0) > 0
            if clustered:
                assert sum(n["processed"] for n in run["nodes"]) == run["progress"]["source"]["existing"]["processed"]
                assert any(n["nodeId"] in ("o1", "o2") and n["processed"] for n in run["nodes"]), run["nodes"]
            states.append((salesforce_state(live.org), {k: run[k] for k in ("situationSummary", "statusSummary",
                                                                             "actionSummary")}))
            names = {u["_id"]: u["userName"] for u in service.repo.query({"_queryFilter": "true"})["result"]}
            links.append(sorted((link.first_id, names[link.second_id]) for link in service.repo.iter_links(INBOUND)))
        finally:
            workers.stop()
            service.close()
    assert states[0] == states[1]
    assert links[0] == links[1]
