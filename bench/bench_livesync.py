"""liveSync of system/salesforce/User: the cost of a tick with nothing changed, and the delay from a change in the org
to the managed user under a 2-second schedule.

    python bench/bench_livesync.py --users 100000      # goal: delay <= 2 intervals (4 s) at 100,000 users
    python bench/bench_livesync.py --small             # 2,000 users, a few seconds of schedule

The org runs in its own process (``sfsync demo-org``, as bench_recon.py starts it); the project is the sample's
conf/ pointed at it. After a full reconciliation and liveSync's first tick (the token), and ticks until one finds
nothing:

(a) ``--ticks`` liveSync ticks with nothing changed, one after another on one SyncService (as a schedule runs
    them): API calls per tick (the org's own count, ``limits`` before and after, and the connector's), CPU seconds
    of this process per tick, wall seconds per tick.
(b) the Scheduler (real clock) firing a ``liveSync`` schedule every 2 s (``type: simple``, ``repeatInterval:
    2000``) while ``--changes`` edits are made in the org at moments spread over the intervals (a composite PATCH
    each, LastName); for each, the time until the managed user shows it (the repository polled every 10 ms from
    another thread). Reported in seconds and in intervals (goal: the largest <= 2).

No figure is asserted. The last line is the JSON the harness reads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from bench_recon import INBOUND, OrgProcess, make_project  # noqa: E402
from common import emit, table  # noqa: E402

SOURCE = "system/salesforce/User"
INTERVAL_S = 2.0


async def settle(service: Any) -> int:
    """Ticks until one finds nothing (the sample's implicit sync writes its defaults back once); how many."""
    for n in range(1, 6):
        if (await service.livesync(SOURCE))["sfsync"]["changes"] == 0:
            return n
    return 6


async def idle_ticks(service: Any, org: OrgProcess, ticks: int) -> dict[str, Any]:
    connector_before = service.implicit_connector.current.session.stats["requests"]
    org_before = org.api_used()
    cpu, wall, calls = [], [], []
    for _ in range(ticks):
        c0, w0 = time.process_time(), time.perf_counter()
        answer = await service.livesync(SOURCE)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        calls.append(answer["sfsync"].get("apiCalls", -1))
        assert answer["sfsync"]["changes"] == 0, answer["sfsync"]
    org_calls = org.api_used() - org_before - 1  # the second limits read counts itself
    return {"ticks": ticks, "calls_per_tick_org": org_calls / ticks,
            "calls_per_tick_connector": (service.implicit_connector.current.session.stats["requests"]
                                         - connector_before) / ticks,
            "max_calls_per_tick": max(calls), "cpu_s_per_tick": statistics.mean(cpu),
            "cpu_s_max": max(cpu), "wall_s_per_tick": statistics.mean(wall), "wall_s_max": max(wall)}


async def scheduled_delays(project: Path, service: Any, org: OrgProcess, changes: int) -> dict[str, Any]:
    from core.schedule import Scheduler

    (project / "conf" / "schedule-livesync_salesforce.json").write_text(json.dumps({
        "enabled": True, "type": "simple", "repeatInterval": int(INTERVAL_S * 1000), "persisted": True,
        "concurrentExecution": False, "invokeService": "provisioner",
        "invokeContext": {"action": "liveSync", "source": SOURCE}}, indent=4))
    fired: list[str] = []
    scheduler = Scheduler.for_project(service.project, service=service, on_fire=fired.append)
    links = [link for link in service.repo.iter_links(INBOUND)]
    rng = random.Random(7)
    picked = rng.sample(links, min(changes, len(links)))
    delays: list[float] = []
    done = threading.Event()

    def editor() -> None:
        from core.repo import Repository

        repo = Repository.open(service.repo.path)
        try:
            time.sleep(INTERVAL_S * 1.5)  # the schedule has fired at least once
            for n, link in enumerate(picked):
                time.sleep(rng.uniform(0.3, INTERVAL_S * 1.7))  # anywhere in the interval
                value = f"Delay{n}-{rng.randrange(10**6)}"
                t0 = time.perf_counter()
                org.patch_users([(link.first_id, {"LastName": value})])
                while repo.read(link.second_id).get("sn") != value:
                    if time.perf_counter() - t0 > 60:
                        raise SystemExit(f"bench_livesync: change {n} did not arrive within 60 s")
                    time.sleep(0.01)
                delays.append(time.perf_counter() - t0)
        finally:
            repo.close()
            done.set()

    thread = threading.Thread(target=editor, daemon=True)
    task = asyncio.create_task(scheduler.run())
    thread.start()
    while not done.is_set():
        await asyncio.sleep(0.1)
    scheduler.stop()
    await task
    thread.join()
    return {"changes": len(delays), "interval_s": INTERVAL_S, "delay_s_median": statistics.median(delays),
            "delay_s_max": max(delays), "delay_intervals_max": max(delays) / INTERVAL_S,
            "firings": len(fired), "delays": [round(d, 3) for d in delays]}


async def run(users: int, ticks: int, changes: int) -> int:
    from core.config.project import Project
    from core.sync.service import SyncService

    tmp = Path(tempfile.mkdtemp(prefix="bench-livesync-"))
    org = OrgProcess(users)
    load = os.getloadavg()
    try:
        project = make_project(tmp / "project", org, org.login())
        service = SyncService(Project(project))
        try:
            t0 = time.perf_counter()
            recon = await service.reconcile(INBOUND)
            recon_s = time.perf_counter() - t0
            await service.livesync(SOURCE)  # the first tick stores the token
            settled = await settle(service)
            idle = await idle_ticks(service, org, ticks)
            delay = await scheduled_delays(project, service, org, changes)
        finally:
            service.close()
    finally:
        org.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()
    print(f"users={users:,} (recon {recon['state']} in {recon_s:.1f} s), settled after {settled} tick(s); "
          f"load average {load[0]:.1f} before, {load_after[0]:.1f} after, {os.cpu_count()} cores")
    print(table(["no-change tick", "value"], [[k, v] for k, v in idle.items()]))
    print()
    print(table(["2 s schedule", "value"], [[k, v] for k, v in delay.items() if k != "delays"]))
    print(f"delays (s): {delay['delays']}")
    goals = {"idle_calls_per_tick": (idle["max_calls_per_tick"], 2), "delay_intervals": (delay["delay_intervals_max"], 2)}
    print()
    print(table(["goal", "measured", "limit", "met"], [[k, v, lim, v <= lim] for k, (v, lim) in goals.items()]))
    emit("livesync", users=users, load_before=load[0], load_after=load_after[0],
         **{f"idle_{k}": v for k, v in idle.items()},
         **{f"schedule_{k}": v for k, v in delay.items() if k != "delays"},
         **{f"goal_{k}": v <= lim for k, (v, lim) in goals.items()})
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="users in the org (default 100,000)")
    parser.add_argument("--small", action="store_true", help="2,000 users, 10 idle ticks, 3 scheduled changes")
    parser.add_argument("--ticks", type=int, default=30, help="no-change ticks measured (default 30)")
    parser.add_argument("--changes", type=int, default=8, help="org edits timed under the schedule (default 8)")
    args = parser.parse_args()
    if args.small:
        return asyncio.run(run(2_000, 10, 3))
    return asyncio.run(run(args.users, args.ticks, args.changes))


if __name__ == "__main__":
    raise SystemExit(main())
