"""Real-world speed (issue 17): the same reconciliation against the local org 250 ms away and on loopback.

Each comparison runs the same data (same seed) in one run: one org on loopback and one with ``--latency-ms``
(every data call waits that long, Bulk API results included), each in its own process:

- inbound at each size (default 40,000 and 100,000 users): the path the connector chooses (``bulk_query =
  "auto"``); the ratio far / loopback (goal <= 1.2);
- outbound of ``--outbound`` changed managed users (default 10,000; composite/sobjects, ``maximumConnections``
  calls at once, ``--connections`` to change it); the ratio (goal <= 1.2), and the far run's network floor:
  the round trips it cannot avoid (2 to read the target set, one per ``maximumConnections`` calls of 200) times
  the latency;
- a Bulk API job whose completion takes ``--job-s`` seconds (default 5) in the far org, the Bulk API forced
  (``bulk_query = "always"``) at each size: goal total <= job + 1.2 x the loopback inbound of that size.

Each recon step also reports where its engine waited: ``fetch_wait_s`` (the engine's thread waiting for the
next Salesforce page) and ``commit_wait_s`` (waiting for the previous page's commit, Salesforce writes included
for outbound). Times are measured, never asserted; the machine is shared, so compare ratios.

    python bench/bench_latency.py                     # 40,000 and 100,000 users, 10,000 outbound, 5 s job
    python bench/bench_latency.py --small             # 5,000 users, 1,000 outbound, 2 s job
    python bench/bench_latency.py --outbound-only [--connections 25]   # the outbound comparison alone
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import bench_recon  # noqa: E402
from common import emit, run_measured, table  # noqa: E402

INBOUND, OUTBOUND = bench_recon.INBOUND, bench_recon.OUTBOUND


def start_org(users: int, seed: int = 0, flags: tuple[str, ...] = ()) -> bench_recon.OrgProcess:
    """``sfsync demo-org`` with extra flags (latency, job time), logged in like bench_recon's."""
    return bench_recon.OrgProcess(users, seed, flags, timeout=300)


def step_recon(project: str, mapping: str) -> None:
    """One run, in its own process, with the engine's waits measured (fetch: the next Salesforce page;
    commit: the previous page's commit, remote writes included)."""
    import asyncio

    import core.salesforce.connector  # noqa: F401 - module import is start-up, not the run
    from core.config.project import Project
    from core.sync import objectsets, page_commit
    from core.sync.service import SyncService

    waits = {"fetch": 0.0, "commit": 0.0}
    pages_of = objectsets.SalesforceObjects.pages

    def timed_pages(self: Any, fields: Any = None) -> Any:
        pages = pages_of(self, fields)
        while True:
            t = time.perf_counter()
            try:
                page = next(pages)
            except StopIteration:
                waits["fetch"] += time.perf_counter() - t
                return
            waits["fetch"] += time.perf_counter() - t
            yield page

    wait_of = page_commit.PageWriter.wait

    def timed_wait(self: Any) -> None:
        t = time.perf_counter()
        try:
            wait_of(self)
        finally:
            waits["commit"] += time.perf_counter() - t

    objectsets.SalesforceObjects.pages = timed_pages  # type: ignore[method-assign]
    page_commit.PageWriter.wait = timed_wait  # type: ignore[method-assign]
    service = SyncService(Project(Path(project)))
    t0 = time.perf_counter()
    run = asyncio.run(service.reconcile(mapping))
    seconds = time.perf_counter() - t0
    service.close()
    print(json.dumps({"seconds": seconds, "state": run["state"], "reason": run.get("failureReason"),
                      "processed": run["progress"]["source"]["existing"]["processed"],
                      "fetch_wait_s": waits["fetch"], "commit_wait_s": waits["commit"]}))


def run_step(project: Path, mapping: str, org: bench_recon.OrgProcess) -> dict[str, Any]:
    before = org.api_used()
    child = run_measured([sys.executable, str(Path(__file__).resolve()), "--step", str(project), mapping],
                         timeout=1800, env={**os.environ, "PYTHONPATH": str(ROOT)})
    calls = org.api_used() - before - 1
    if child.exit_code != 0 or not child.results:
        raise SystemExit(f"bench_latency: step {mapping} failed:\n{child.stderr[-3000:]}")
    result = {**child.results[-1], "calls": calls, "cpu_s": child.cpu_s}
    if result.get("state") != "SUCCESS":
        raise SystemExit(f"bench_latency: {mapping} ended {result.get('state')}: {result.get('reason')}")
    return result


def project_for(root: Path, org: bench_recon.OrgProcess, toml: str = "", connections: int | None = None) -> Path:
    """A project logged in to ``org``; ``connections``: its provisioner's ``maximumConnections`` (else the
    sample's 10)."""
    project = bench_recon.make_project(root, org, org.login())
    if toml:
        (project / "conf" / "sfsync.toml").write_text(toml)
    if connections is not None:
        from core.config.project import Project
        from core.config.provisioner import ProvisionerConfig

        config = ProvisionerConfig.load(Project(project))
        config.update_properties(maximumConnections=connections)
        config.save(Project(project))
    return project


def inbound(users: int, latency: int, tmp: Path, results: dict[str, dict[str, Any]]) -> None:
    near, far = start_org(users), start_org(users, flags=("--latency-ms", str(latency)))
    try:
        p_near, p_far = project_for(tmp / f"in-near-{users}", near), project_for(tmp / f"in-far-{users}", far)
        results[f"inbound {users:,} loopback"] = run_step(p_near, INBOUND, near)
        results[f"inbound {users:,} {latency} ms"] = run_step(p_far, INBOUND, far)
    finally:
        near.stop()
        far.stop()


def bulk_job(users: int, latency: int, job_s: float, tmp: Path, results: dict[str, dict[str, Any]]) -> None:
    far = start_org(users, flags=("--latency-ms", str(latency), "--job-ms", str(job_s * 1000), "--job-rate", "0"))
    try:
        project = project_for(tmp / "bulk", far, 'bulk_query_threshold = 1\nbulk_query = "always"\n')
        results[f"inbound {users:,} {latency} ms, Bulk job of {job_s:g} s"] = run_step(project, INBOUND, far)
    finally:
        far.stop()


def outbound(changes: int, latency: int, tmp: Path, results: dict[str, dict[str, Any]],
             connections: int | None = None) -> None:
    users = max(changes - bench_recon.SYSTEM_USERS, 0)
    for name, flags in (("loopback", ()), (f"{latency} ms", ("--latency-ms", str(latency)))):
        org = start_org(users, seed=1, flags=flags)
        try:
            project = project_for(tmp / f"out-{name.split()[0]}", org, connections=connections)
            run_step(project, INBOUND, org)
            run_step(project, OUTBOUND, org)     # settles the mapping's defaults (Alias, locale…)
            bench_recon.change_managed(project, changes)
            results[f"outbound {changes:,} {name}"] = run_step(project, OUTBOUND, org)
        finally:
            org.stop()


def outbound_floor(changes: int, latency: int, connections: int) -> tuple[int, float]:
    """The far outbound run's network floor: round trips and seconds if the engine took no time. The target
    read is 2 round trips (the first page, then the rest at once, up to 6 ahead: 12,000 users), the writes one
    per ``connections`` calls of 200."""
    pages = math.ceil(changes / 2000)
    trips = 1 + math.ceil(max(pages - 1, 0) / 6) + math.ceil(math.ceil(changes / 200) / connections)
    return trips, trips * latency / 1000


def orchestrate(sizes: list[int], changes: int, latency: int, job_s: float, connections: int | None = None) -> int:
    results: dict[str, dict[str, Any]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    try:
        for users in sizes:
            inbound(users, latency, tmp, results)
            bulk_job(users, latency, job_s, tmp, results)
        outbound(changes, latency, tmp, results, connections)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    goals: dict[str, tuple[float, float]] = {}
    for users in sizes:
        near = results[f"inbound {users:,} loopback"]["seconds"]
        goals[f"inbound {users:,}: {latency} ms / loopback"] = (
            results[f"inbound {users:,} {latency} ms"]["seconds"] / near, 1.2)
    for users in sizes:
        near = results[f"inbound {users:,} loopback"]["seconds"]
        bulk = results[f"inbound {users:,} {latency} ms, Bulk job of {job_s:g} s"]["seconds"]
        goals[f"Bulk job {users:,}: (total - {job_s:g} s) / loopback inbound"] = ((bulk - job_s) / near, 1.2)
    goals[f"outbound {changes:,}: {latency} ms / loopback"] = (
        results[f"outbound {changes:,} {latency} ms"]["seconds"] / results[f"outbound {changes:,} loopback"]["seconds"],
        1.2)
    print(table(["step", "seconds", "records", "API calls", "CPU s", "engine waited for pages s",
                 "engine waited for commits s"],
                [[k, r["seconds"], r["processed"], r["calls"], r["cpu_s"], r["fetch_wait_s"], r["commit_wait_s"]]
                 for k, r in results.items()]))
    print()
    print(table(["goal", "measured", "limit", "met"], [[k, v, lim, v <= lim] for k, (v, lim) in goals.items()]))
    trips, floor_s = outbound_floor(changes, latency, connections or 10)
    print(f"\noutbound at {latency} ms, maximumConnections {connections or 10}: network floor {trips} round trips = "
          f"{floor_s:.2f} s (the loopback run took {results[f'outbound {changes:,} loopback']['seconds']:.2f} s)")
    emit("latency", sizes=sizes, outbound=changes, latency_ms=latency, job_s=job_s, connections=connections or 10,
         outbound_network_floor_s=floor_s,
         **{f"{k} {m}": v for k, r in results.items() for m, v in r.items()
            if m in ("seconds", "calls", "fetch_wait_s", "commit_wait_s")},
         **{f"ratio {k}": v for k, (v, _) in goals.items()},
         **{f"goal {k}": v <= lim for k, (v, lim) in goals.items()})
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="40000,100000", help="org sizes, comma-separated (default 40000,100000)")
    parser.add_argument("--outbound", type=int, default=10_000, help="managed users changed for the outbound run")
    parser.add_argument("--latency-ms", type=int, default=250, help="the far org's latency (default 250)")
    parser.add_argument("--job-s", type=float, default=5.0, help="the Bulk API job's completion time (default 5)")
    parser.add_argument("--small", action="store_true", help="5,000 users, 1,000 outbound, a 2 s job")
    parser.add_argument("--connections", type=int, default=None,
                        help="maximumConnections of the outbound projects (default: the sample's 10)")
    parser.add_argument("--outbound-only", action="store_true", help="only the outbound comparison")
    parser.add_argument("--step", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        step_recon(*args.step)
        return 0
    if args.connections is not None and args.connections < 1:
        parser.error("--connections: 1 or more")
    if args.small:
        return orchestrate([] if args.outbound_only else [5_000], 1_000, args.latency_ms, 2.0, args.connections)
    if args.outbound_only:
        return orchestrate([], args.outbound, args.latency_ms, args.job_s, args.connections)
    try:
        sizes = [int(s) for s in str(args.users).split(",") if s.strip()]
    except ValueError:
        parser.error(f"--users: not a comma-separated list of numbers: {args.users!r}")
    if not sizes or min(sizes) < 1:
        parser.error("--users: at least one size of 1 or more")
    return orchestrate(sizes, args.outbound, args.latency_ms, args.job_s, args.connections)


if __name__ == "__main__":
    sys.exit(main())
