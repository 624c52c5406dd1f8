"""Benchmark of the managed repository: bulk insert, filtered and sorted pages, bulk look-ups.

    python bench/bench_repo.py [--users 100000] [--repeat 20] [--keep DIR]

Builds a fresh SQLite file in a temporary folder (the real file, WAL, the sample managed.json schema with
validation on), inserts N users with ``create_many`` in pages of 2,000 (one transaction per page, as a
reconciliation writes them), then times the queries a user of the TUI or the REST API makes. Prints a table
and, last, one JSON line (``{"bench": "repo", ...}``) for the harness. Query figures are medians of
``--repeat`` runs in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config.project import Project  # noqa: E402
from core.repo import ManagedSchema, QueryRequest, Repository  # noqa: E402

GIVEN = ["Anna", "Björn", "Chloé", "Dmitri", "Émilie", "Fatima", "Grégoire", "Hiroshi", "Inès", "José",
         "Kateřina", "Łukasz", "Mohammed", "Nora", "Oğuz", "Priya", "Quentin", "Renée", "Søren", "Zoë"]
SURNAMES = ["Smith", "Jensen", "Müller", "García", "Nguyen", "Kowalski", "O'Brien", "Rossi", "Sato", "Dubois",
            "Smythe", "Andersson", "Novák", "Øster", "Papadopoulos", "Silva", "Yılmaz", "Zhang", "Ivanova", "Kim"]
PAGE = 2000


def make_users(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    users = []
    for i in range(n):
        given, sn = rnd.choice(GIVEN), rnd.choice(SURNAMES)
        users.append({"userName": f"user{i:06d}@example.org", "givenName": given, "sn": f"{sn}{rnd.randint(0, 999)}",
                      "mail": f"{given.lower()}.{i}@example.org", "profileId": "00e000000000001",
                      "description": rnd.choice(["", "contractor", "employee"])})
    return users


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median milliseconds of ``repeat`` calls (after one warm-up), and the last result."""
    result = fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), result


def recon_page_writes(users: list[dict[str, Any]], schema: ManagedSchema, path: Path) -> dict[str, float]:
    """What an inbound reconciliation's pages cost the repository, split as the engine splits it: preparing
    (ids, validation, JSON, link and audit rows: the engine's thread) and each table's one INSERT plus the
    COMMIT (the commit thread), as thread CPU time. IDM's model writes a managed object, a link and an audit
    entry per record; this is the part of a recon the floor (one plain table) does not have."""
    run_id = "bench-run"
    cpu = {"recon_prepare_cpu_s": 0.0, "recon_sql_managed_cpu_s": 0.0, "recon_sql_links_cpu_s": 0.0,
           "recon_sql_audit_cpu_s": 0.0, "recon_commit_cpu_s": 0.0}
    clock = time.thread_time
    with Repository.open(path, schema) as repo:
        managed = repo.managed("user")
        for offset in range(0, len(users), PAGE):
            t0 = clock()
            prepared = managed.prepare_creates(users[offset:offset + PAGE])
            ids = [o["_id"] for o in prepared.expected if isinstance(o, dict)]
            link_rows = repo.links.prepare("systemSalesforceUser_managedUser",
                                           [(f"005{offset + k:015d}", id_) for k, id_ in enumerate(ids)])
            audit_rows = repo.audit.prepare(
                [{"eventName": "recon", "reconId": run_id, "mapping": "systemSalesforceUser_managedUser",
                  "reconAction": "recon", "userId": "sfsync", "timestamp": "2026-11-28T00:00:00.000Z",
                  "entryType": "entry", "reconciling": "source", "status": "SUCCESS", "linkQualifier": "default",
                  "situation": "ABSENT", "action": "CREATE", "sourceObjectId": f"system/salesforce/User/005{offset + k:015d}",
                  "targetObjectId": f"managed/user/{id_}"} for k, id_ in enumerate(ids)],
                ids=[f"{run_id}-{offset + k + 1}" for k in range(len(ids))])
            t1 = clock()
            with repo.transaction():
                managed.insert_prepared(prepared)
                t2 = clock()
                repo.links.insert(link_rows)
                t3 = clock()
                repo.audit.insert(audit_rows)
                t4 = clock()
            t5 = clock()
            cpu["recon_prepare_cpu_s"] += t1 - t0
            cpu["recon_sql_managed_cpu_s"] += t2 - t1
            cpu["recon_sql_links_cpu_s"] += t3 - t2
            cpu["recon_sql_audit_cpu_s"] += t4 - t3
            cpu["recon_commit_cpu_s"] += t5 - t4
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    return cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", metavar="DIR", help="build the database in DIR and keep it")
    args = parser.parse_args(argv)

    schema = ManagedSchema.load(Project(ROOT))
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sfsync-bench-"))
    path = folder / "bench.sqlite3"
    for leftover in folder.glob("bench.sqlite3*"):
        leftover.unlink()
    users = make_users(args.users)
    figures: dict[str, float] = {}

    with Repository.open(path, schema) as repo:
        start, cpu = time.perf_counter(), time.process_time()
        ids: list[str] = []
        for offset in range(0, len(users), PAGE):
            with repo.transaction():
                created = repo.create_many(users[offset:offset + PAGE])
            ids.extend(u["_id"] for u in created if isinstance(u, dict))
        figures["insert_s"] = time.perf_counter() - start
        figures["insert_cpu_s"] = time.process_time() - cpu  # this process's CPU: what contention does not inflate
        assert len(ids) == args.users, "every generated user is valid"

        start, cpu = time.perf_counter(), time.process_time()
        repo.link_many("systemSalesforceUser_managedUser", [(f"005{i:015d}", id_) for i, id_ in enumerate(ids)])
        figures["link_s"] = time.perf_counter() - start
        figures["link_cpu_s"] = time.process_time() - cpu

        sample = random.Random(1).sample(range(args.users), min(PAGE, args.users))
        sample_ids = [ids[i] for i in sample]
        sample_names = [users[i]["userName"] for i in sample]
        sf_ids = [f"005{i:015d}" for i in sample]
        queries: dict[str, QueryRequest] = {
            "eq_userName": QueryRequest(f'userName eq "{users[args.users // 2]["userName"]}"'),
            "sw_sn_sorted_page50": QueryRequest('sn sw "Sm" and accountStatus eq "active"', sort_keys=("givenName",),
                                                page_size=50),
            "sorted_page50": QueryRequest("true", sort_keys=("sn",), page_size=50),
            "sorted_desc_page50": QueryRequest("true", sort_keys=("-mail",), page_size=50),
            "co_mail_page50": QueryRequest('mail co "99@"', page_size=50),
            "unindexed_page50": QueryRequest('/profileId eq "00e000000000001"', sort_keys=("userName",),
                                             page_size=50),
            "count_exact": QueryRequest('sn sw "Jensen"', page_size=1, total_paged_results_policy="EXACT"),
        }
        for name, request in queries.items():
            figures[f"{name}_ms"], _ = timed(lambda r=request: repo.query(r), args.repeat)

        # a page deep in the sort order: follow cookies 20 pages in, then time the next page
        request = QueryRequest("true", sort_keys=("sn",), page_size=50)
        for _ in range(20):
            request = QueryRequest("true", sort_keys=("sn",), page_size=50,
                                   paged_results_cookie=repo.query(request)["pagedResultsCookie"])
        figures["cookie_page21_ms"], _ = timed(lambda: repo.query(request), args.repeat)

        figures["read_many_2000_ms"], found = timed(lambda: repo.read_many(sample_ids), args.repeat)
        assert len(found) == len(sample_ids)
        figures["find_by_2000_ms"], _ = timed(lambda: repo.find_by("userName", sample_names), args.repeat)
        figures["links_by_first_2000_ms"], _ = timed(
            lambda: repo.links_by_first("systemSalesforceUser_managedUser", sf_ids), args.repeat)
        figures["db_mb"] = sum(p.stat().st_size for p in folder.glob("bench.sqlite3*")) / 1e6

    figures.update(recon_page_writes(users, schema, folder / "recon.sqlite3"))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    figures["load_avg_1m"] = load
    print(f"repository benchmark: {args.users:,} users, medians of {args.repeat} runs, "
          f"load average {load:.1f} on {os.cpu_count()} CPUs  ({path})")
    print(f"{'measure':28} {'value':>12}")
    for key, value in figures.items():
        unit = "s" if key.endswith("_s") else "ms" if key.endswith("_ms") else "MB" if key.endswith("_mb") else ""
        label = key.rsplit("_", 1)[0]
        print(f"{label:28} {value:>10.{3 if unit != 'MB' else 1}f} {unit}")
    print(json.dumps({"bench": "repo", "users": args.users, **{k: round(v, 4) for k, v in figures.items()}}))
    if not args.keep:
        for p in folder.glob("bench.sqlite3*"):
            p.unlink()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
