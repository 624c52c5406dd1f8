"""Benchmark the REST API under load: many readers while a large reconciliation runs.

    python bench/bench_api.py [--users 20000] [--readers 50] [--rounds 10] [--think-ms 0] [--client mini|httpx]
                              [--read-share 0.3] [--small]

Three processes, as in production: the local org (``sfsync demo-org``), ``sfsync serve`` (one per measured
run, each over a fresh project so both runs do the same work: every Salesforce user ABSENT -> CREATE), and
this script's readers. Real readers are on other machines; these share the 2 cores with the server they
measure, so by default each reader has its own kept-alive connection through ``bench/miniclient.py`` (~0.2 ms
of this process's CPU per read, like wrk or ab). ``--client httpx`` sends them all through one httpx client
instead (~9 ms per read: the load generator alone then takes more than one of the machine's two cores).
Per round:

- unloaded: ``POST recon?_action=recon&mapping=systemSalesforceUser_managedUser&waitForCompletion=true``
  with nothing else going on;
- loaded: the same recon started without waiting, while ``--readers`` concurrent clients (closed loop,
  ``--think-ms`` between requests) query ``managed/user`` (a page with the exact total, a filter, one user),
  poll ``recon/ID`` and page the run's ``audit/recon``, and check every answer (status, IDM shape, the
  total and the run's progress never going backwards), until the run has ended.

The recon's time is the run object's ``duration``. A 20,000-user run takes about 1.3 s, and on a shared 2-core
machine one round's ratio strays by 20 % either way (0.82-1.57 with no readers at all), so the goal is read off
the median of many rounds (10 by default), given with its quartiles and the ratio of the summed times.
``--readers 0`` is the control: the same two runs with nothing loading the second, whose ratio should be 1.

The server pauses reads while its run goes (``read_share_during_recon`` in sfsync.toml, 0.3 by default);
``--read-share 1`` measures it without the pause. The figures also give the CPU seconds the server process and
this process (the readers' HTTP client) used while the loaded recon ran: on a small machine the readers' own
client takes a large share of the CPU the recon would otherwise have. Goal (issue 6): every reader answer
correct, and the loaded recon within 1.2x of the unloaded one. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from bench_recon import OrgProcess, make_project  # noqa: E402
from common import emit, machine, table  # noqa: E402
from miniclient import MiniClient  # noqa: E402

from core.config.project import Project  # noqa: E402
from core.config.settings import DEFAULT_READ_SHARE_DURING_RECON, Settings  # noqa: E402

MAPPING = "systemSalesforceUser_managedUser"
ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}
QUERY_KEYS = {"result", "resultCount", "pagedResultsCookie", "totalPagedResultsPolicy", "totalPagedResults",
              "remainingPagedResults"}


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds a process has used (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """``sfsync -p PROJECT serve --port 0`` in a subprocess; ``url`` from the line it prints when listening."""

    def __init__(self, project: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tui", "-p", str(project), "serve", "--port", "0"],
                                     cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "serving" not in line:
            self.stop()
            raise SystemExit(f"bench_api.py: sfsync serve did not start: {line!r}")
        self.url = line.split("at ", 1)[1].split("/openidm/", 1)[0]

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Reader:
    """One client in a closed loop; counts requests, keeps latencies, records any wrong answer."""

    def __init__(self, index: int, client: Any, run_id: str, think: float) -> None:
        self.index, self.client, self.run_id, self.think = index, client, run_id, think
        self.latencies: list[float] = []
        self.by_kind: dict[str, list[float]] = {}
        self.wrong: list[str] = []
        self.last_total = -1
        self.last_processed = -1
        self.user_ids: list[str] = []

    async def get(self, url: str, params: dict[str, str] | None = None) -> Any:
        start = time.perf_counter()
        response = await self.client.get(url, params=params)
        elapsed = time.perf_counter() - start
        self.latencies.append(elapsed)
        kind = "user" if url.startswith("/openidm/managed/user/") else "run" if url.startswith("/openidm/recon/") \
            else url.rsplit("/", 1)[-1] + ("-filter" if params and "sw" in params.get("_queryFilter", "") else "")
        self.by_kind.setdefault(kind, []).append(elapsed)
        if response.status_code != 200:
            self.wrong.append(f"{url}: HTTP {response.status_code} {response.text[:200]}")
            return None
        return response.json()

    def check_query(self, body: Any, page_size: int, what: str, keys: tuple[str, ...] = ("_id", "_rev")) -> bool:
        if not isinstance(body, dict) or set(body) != QUERY_KEYS or body["resultCount"] != len(body["result"]) \
                or len(body["result"]) > page_size or any(k not in r for r in body["result"] for k in keys):
            self.wrong.append(f"{what}: not an IDM query result: {str(body)[:200]}")
            return False
        return True

    async def query_page(self) -> None:
        body = await self.get("/openidm/managed/user", {"_queryFilter": "true", "_pageSize": "50",
                                                        "_fields": "userName,mail", "_sortKeys": "userName",
                                                        "_totalPagedResultsPolicy": "EXACT"})
        if body is None or not self.check_query(body, 50, "page"):
            return
        total = body["totalPagedResults"]
        if total < self.last_total:  # the recon only creates: a total that shrinks is a torn read
            self.wrong.append(f"page: total went back from {self.last_total} to {total}")
        self.last_total = total
        self.user_ids = [r["_id"] for r in body["result"]][:10] or self.user_ids

    async def query_filter(self) -> None:
        body = await self.get("/openidm/managed/user", {"_queryFilter": 'userName sw "a"', "_pageSize": "20"})
        if body is not None and self.check_query(body, 20, "filter"):
            bad = [r for r in body["result"] if not str(r.get("userName", "")).lower().startswith("a")]
            if bad:
                self.wrong.append(f"filter: {bad[0].get('userName')!r} does not start with a")

    async def read_user(self) -> None:
        if not self.user_ids:
            return await self.query_page()
        user_id = self.user_ids[self.index % len(self.user_ids)]
        body = await self.get(f"/openidm/managed/user/{user_id}")
        if body is not None and (body.get("_id") != user_id or "userName" not in body):
            self.wrong.append(f"user: asked {user_id}, got {str(body)[:120]}")

    async def poll_run(self) -> str:
        body = await self.get(f"/openidm/recon/{self.run_id}")
        if body is None:
            return "?"
        processed = body.get("progress", {}).get("source", {}).get("existing", {}).get("processed", -1)
        if body.get("_id") != self.run_id or body.get("state") not in ("ACTIVE", "SUCCESS"):
            self.wrong.append(f"run: {str(body)[:200]}")
        elif processed < self.last_processed:
            self.wrong.append(f"run: processed went back from {self.last_processed} to {processed}")
        self.last_processed = max(self.last_processed, processed)
        return str(body.get("state"))

    async def audit_page(self) -> None:
        body = await self.get("/openidm/audit/recon", {"_queryFilter": f'/reconId eq "{self.run_id}"',
                                                       "_pageSize": "20"})
        if body is not None and self.check_query(body, 20, "audit", ("_id",)):
            if any(e.get("reconId") != self.run_id for e in body["result"]):
                self.wrong.append("audit: an entry of another run")

    async def loop(self, done: asyncio.Event) -> None:
        steps = [self.query_page, self.query_filter, self.read_user, self.poll_run, self.audit_page]
        i = self.index
        while not done.is_set():
            await steps[i % len(steps)]()
            i += 1
            if self.think:
                await asyncio.sleep(self.think)


async def recon_unloaded(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, headers=ADMIN, timeout=None) as client:
        started = await client.post("/openidm/recon", params={"_action": "recon", "mapping": MAPPING,
                                                              "waitForCompletion": "true"})
        started.raise_for_status()
        run = (await client.get(f"/openidm/recon/{started.json()['_id']}")).json()
    return run


async def recon_loaded(url: str, readers: int, think_ms: float, server_pid: int, lean: bool = False,
                       ) -> tuple[dict[str, Any], list[Reader], float, list[Reader], float, dict[str, float]]:
    limits = httpx.Limits(max_connections=readers + 5, max_keepalive_connections=readers + 5)
    async with httpx.AsyncClient(base_url=url, headers=ADMIN, timeout=None, limits=limits) as client:
        # each reader on its own kept-alive connection (bench/miniclient.py), or all through one httpx client
        reader_client = (lambda: MiniClient(url, ADMIN)) if lean else (lambda: client)
        started = await client.post("/openidm/recon", params={"_action": "recon", "mapping": MAPPING})
        started.raise_for_status()
        run_id = started.json()["_id"]
        done = asyncio.Event()
        crowd = [Reader(i, reader_client(), run_id, think_ms / 1000) for i in range(readers)]
        t0, server0, client0 = time.perf_counter(), cpu_seconds(server_pid), time.process_time()
        tasks = [asyncio.create_task(r.loop(done)) for r in crowd]
        watcher = Reader(-1, client, run_id, 0)
        while (await watcher.poll_run()) == "ACTIVE":
            await asyncio.sleep(0.2)
        done.set()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
        # where the machine's CPU went while the recon ran: the server (recon and readers' answers) and the
        # readers' own client side (this process: HTTP client, checks), which shares the machine
        cpu = {"server_cpu_s": cpu_seconds(server_pid) - server0, "client_cpu_s": time.process_time() - client0}
        run = (await client.get(f"/openidm/recon/{run_id}")).json()
        # the same readers, as long again, with no recon running: what the recon costs the readers
        idle_done = asyncio.Event()
        idle = [Reader(i, reader_client(), run_id, think_ms / 1000) for i in range(readers)]
        t1 = time.perf_counter()
        idle_tasks = [asyncio.create_task(r.loop(idle_done)) for r in idle]
        await asyncio.sleep(min(elapsed, 15.0))
        idle_done.set()
        await asyncio.gather(*idle_tasks)
        idle_elapsed = time.perf_counter() - t1
        for r in crowd + idle:
            if isinstance(r.client, MiniClient):
                await r.client.aclose()
    return run, crowd, elapsed, idle, idle_elapsed, cpu


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_round(org: OrgProcess, work: Path, n: int, readers: int, think_ms: float, lean: bool = False,
              read_share: float | None = None) -> dict[str, Any]:
    """One unloaded and one loaded run, each on a fresh project; odd rounds run the loaded one first, so a
    machine whose load drifts (other work on it) does not always favour the same side."""
    projects = {kind: make_project(work / f"r{n}-{kind}", org, org.login()) for kind in ("unloaded", "loaded")}
    for root in projects.values():
        settings = Settings.load(Project(root))
        if read_share is not None:
            settings.read_share_during_recon = read_share
        # the readers stand for many clients but all come from 127.0.0.1: the per-address limit of expensive
        # queries (a total count, as the readers ask) would answer them 429; this measures the server, not it
        settings.expensive_query_burst = 0
        settings.save(Project(root))
    results: dict[str, Any] = {}
    for kind in (("unloaded", "loaded") if n % 2 == 0 else ("loaded", "unloaded")):
        server = Server(projects[kind])
        try:
            if kind == "unloaded":
                results[kind] = asyncio.run(recon_unloaded(server.url))
            else:
                results[kind] = asyncio.run(recon_loaded(server.url, readers, think_ms, server.proc.pid, lean))
        finally:
            server.stop()
    unloaded = results["unloaded"]
    loaded, crowd, elapsed, idle, idle_elapsed, cpu = results["loaded"]
    latencies = [x for r in crowd for x in r.latencies]
    kinds: dict[str, list[float]] = {}
    for r in crowd:
        for kind, values in r.by_kind.items():
            kinds.setdefault(kind, []).extend(values)
    print(table(["request", "count", "p50 ms", "p95 ms", "max ms"],
                [[k, len(v), percentile(v, 0.5) * 1000, percentile(v, 0.95) * 1000, max(v) * 1000]
                 for k, v in sorted(kinds.items())]))
    wrong = [w for r in crowd + idle for w in r.wrong]
    idle_latencies = [x for r in idle for x in r.latencies]
    for w in wrong[:5]:
        print(f"  wrong answer: {w}", file=sys.stderr)
    return {
        "unloaded_s": unloaded["duration"] / 1000, "loaded_s": loaded["duration"] / 1000,
        "unloaded_state": unloaded["state"], "loaded_state": loaded["state"],
        "created": loaded["progress"]["target"]["created"], "requests": len(latencies),
        "req_per_s": len(latencies) / elapsed if elapsed else 0.0, "wrong": len(wrong),
        "p50_ms": percentile(latencies, 0.5) * 1000, "p95_ms": percentile(latencies, 0.95) * 1000,
        "max_ms": max(latencies, default=0) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else 0.0,
        "server_cpu_s": cpu["server_cpu_s"], "client_cpu_s": cpu["client_cpu_s"],
        "client_ms_per_read": 1000 * cpu["client_cpu_s"] / len(latencies) if latencies else 0.0,
        "idle_req_per_s": len(idle_latencies) / idle_elapsed if idle_elapsed else 0.0,
        "idle_p50_ms": percentile(idle_latencies, 0.5) * 1000,
        "idle_p95_ms": percentile(idle_latencies, 0.95) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20_000, help="people in the org (default 20,000)")
    parser.add_argument("--readers", type=int, default=50, help="concurrent readers (default 50)")
    parser.add_argument("--rounds", type=int, default=10, help="unloaded+loaded pairs to run (default 10)")
    parser.add_argument("--think-ms", type=float, default=0.0, help="pause between a reader's requests")
    parser.add_argument("--read-share", type=float, default=None,
                        help="the projects' read_share_during_recon (default: sfsync.toml's default, 0.3); "
                             "1 lets reads take the read thread whole while the run goes")
    parser.add_argument("--small", action="store_true", help="2,000 users and 10 readers (CI)")
    parser.add_argument("--client", choices=("httpx", "mini"), default="mini",
                        help="the readers' HTTP client: a minimal kept-alive connection per reader "
                             "(bench/miniclient.py, ~0.2 ms of CPU per read; default), or one httpx client "
                             "(~9 ms per read, which takes a large share of the CPU the measured run needs)")
    args = parser.parse_args()
    if args.small:
        args.users, args.readers, args.rounds = min(args.users, 2_000), min(args.readers, 10), 1
    share = args.read_share if args.read_share is not None else DEFAULT_READ_SHARE_DURING_RECON
    org = OrgProcess(args.users)
    rounds = []
    try:
        with tempfile.TemporaryDirectory(prefix="sfsync-bench-api-") as tmp:
            for n in range(args.rounds):
                rounds.append(run_round(org, Path(tmp), n, args.readers, args.think_ms, args.client == "mini",
                                        args.read_share))
    finally:
        org.stop()
    unloaded = statistics.median(r["unloaded_s"] for r in rounds)
    loaded = statistics.median(r["loaded_s"] for r in rounds)
    ratios = sorted(r["loaded_s"] / r["unloaded_s"] for r in rounds)
    ratio = statistics.median(ratios)
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratio, ratio, ratio]
    pooled = sum(r["loaded_s"] for r in rounds) / sum(r["unloaded_s"] for r in rounds)
    rows = [[f"round {i + 1}", r["unloaded_s"], r["loaded_s"], r["loaded_s"] / r["unloaded_s"], r["requests"],
             r["req_per_s"], r["p50_ms"], r["p95_ms"], r["max_ms"], r["wrong"], r["idle_req_per_s"],
             r["idle_p50_ms"], r["idle_p95_ms"], r["server_cpu_s"], r["client_cpu_s"]] for i, r in enumerate(rounds)]
    print(f"REST API: {args.readers} readers during a {args.users:,}-user recon ({MAPPING}), "
          f"think {args.think_ms:g} ms, {args.client} client, read share {share:g}; "
          f"{machine().get('cpus', os.cpu_count())} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(table(["", "recon alone s", "recon loaded s", "ratio", "reads", "reads/s", "p50 ms", "p95 ms",
                 "max ms", "wrong", "no-recon reads/s", "no-recon p50", "no-recon p95", "server CPU s",
                 "readers' client CPU s"], rows))
    print(f"goal: every answer right ({sum(r['wrong'] for r in rounds)} wrong) and ratio <= 1.2 "
          f"(median {ratio:.2f} of {len(rounds)} rounds, quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f}, "
          f"summed times {pooled:.2f})")
    emit("api", load_average=os.getloadavg()[0], users=args.users, readers=args.readers, rounds=args.rounds,
         think_ms=args.think_ms, client=args.client,
         read_share=share,
         recon_unloaded_s=unloaded, recon_loaded_s=loaded, ratio=ratio, ratio_q1=quartiles[0],
         ratio_q3=quartiles[2], ratio_summed=pooled,
         reads=sum(r["requests"] for r in rounds), wrong=sum(r["wrong"] for r in rounds),
         reads_per_s=statistics.fmean(r["req_per_s"] for r in rounds),
         p50_ms=statistics.median(r["p50_ms"] for r in rounds),
         p95_ms=statistics.median(r["p95_ms"] for r in rounds), max_ms=max(r["max_ms"] for r in rounds),
         idle_reads_per_s=statistics.fmean(r["idle_req_per_s"] for r in rounds),
         idle_p50_ms=statistics.median(r["idle_p50_ms"] for r in rounds),
         server_cpu_s=statistics.median(r["server_cpu_s"] for r in rounds),
         client_cpu_s=statistics.median(r["client_cpu_s"] for r in rounds),
         client_ms_per_read=statistics.median(r["client_ms_per_read"] for r in rounds),
         ratios=[round(r["loaded_s"] / r["unloaded_s"], 3) for r in rounds],
         states=sorted({r["unloaded_state"] for r in rounds} | {r["loaded_state"] for r in rounds}))
    return 0 if all(r["wrong"] == 0 for r in rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
