"""Benchmark reconciliation against the local org (``sfsync demo-org`` in its own process).

    python bench/bench_recon.py [--users 100000] [--outbound 10000] [--changes 100]

Each measured step runs in its own subprocess (reaped with ``os.wait4``: its own peak RSS), timing itself
from the call to its end (no interpreter start-up), and counting the org's API calls (``limits`` before and
after). Steps, in this order on one org:

- floor: the same SOQL the inbound run sends (same fields, same order, same 2,000-row pages), fetched with a
  minimal httpx loop, parsed, and per record the same three rows the run stores (the managed user with the
  sample mapping's fields, its link, its audit entry) inserted into the repository's own tables, indexes and
  pragmas, one transaction per page: the cost no engine can beat. It gives itself every advantage: no
  decisions, no validation, ordered ids, the tables made before its clock starts, orjson, and each table's
  rows in one statement (``json_each``, as core/repo/db.py; ``executemany`` measured 0.8-1.7 s slower).
- floor-plain: the same pages, each record stored as it came into a two-column table with no index (the
  floor as measured before 2026-11-28, kept so old figures compare).
- inbound-rest: ``systemSalesforceUser_managedUser`` into an empty repository of its own project, reading
  Salesforce through REST query pages only (``bulk_query_threshold = 0``).
- inbound: the same into the main project with the default settings (from 50,000 users on, a Bulk API 2.0
  query job reads Salesforce: a handful of calls).
- rerun: the same mapping again, nothing changed (all CONFIRMED, zero writes).
- incremental: ``--changed`` after ``--changes`` users were edited in the org.
- outbound: ``managedUser_systemSalesforceUser`` after ``--outbound`` managed users were changed, in an org of
  ``--outbound`` users (system users included) already reconciled both ways, so the calls counted are the
  changed users' cost: the target set read in 2,000-record pages plus composite writes of 200.

Goals (issue 4, at 100,000 users): inbound <= 1.5x floor (floor-plain's ratio is reported too) and <= 10 s; calls <= N/2000 + 3; rerun <= 0.7x
inbound; incremental <= 1 s; outbound <= changed/200 + 5 calls; peak RSS <= 300 MB. Prints a table and one
JSON line.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from common import emit, run_measured, stop_process, table  # noqa: E402

INBOUND = "systemSalesforceUser_managedUser"
OUTBOUND = "managedUser_systemSalesforceUser"
REDIRECT = "http://localhost:1717/OauthRedirect"
VERSION = "v62.0"
SYSTEM_USERS = 4  # the org's Automated Process, Integration, Security users and its admin


# ---- the org ---------------------------------------------------------------------------------------------
class OrgProcess:
    """``sfsync demo-org`` in a subprocess; ``login()`` gets a refresh token through the auto-approved flow."""

    def __init__(self, users: int, seed: int = 0, flags: tuple[str, ...] = (), timeout: float = 120) -> None:
        """``flags``: more ``demo-org`` options (``--latency-ms 250``…); ``timeout``: of this client's calls."""
        self.proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "demo-org", "--users", str(users),
                                      "--seed", str(seed), "--auto-approve", *flags],
                                     cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.info = json.loads(self.proc.stdout.readline())
        self.url = self.info["url"]
        self.client = httpx.Client(base_url=self.url, timeout=timeout)
        self._access: str | None = None

    def stop(self) -> None:
        self.client.close()
        stop_process(self.proc)

    def login(self) -> str:
        verifier = secrets.token_urlsafe(64)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        r = self.client.get("/services/oauth2/authorize", params={
            "response_type": "code", "client_id": self.info["clientId"], "redirect_uri": REDIRECT,
            "state": "bench", "code_challenge": challenge, "code_challenge_method": "S256",
            "scope": "api refresh_token id"})
        code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        tokens = self.client.post("/services/oauth2/token", data={
            "grant_type": "authorization_code", "code": code, "client_id": self.info["clientId"],
            "client_secret": self.info["clientSecret"], "redirect_uri": REDIRECT, "code_verifier": verifier}).json()
        self._access = tokens["access_token"]
        return str(tokens["refresh_token"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access}"}

    def api_used(self) -> int:
        """Daily API requests used so far (the ``limits`` call itself is counted, so subtract 1 per read)."""
        r = self.client.get(f"/services/data/{VERSION}/limits", headers=self.headers).json()
        daily = r["DailyApiRequests"]
        return int(daily["Max"]) - int(daily["Remaining"])

    def query_all(self, soql: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = self.client.get(f"/services/data/{VERSION}/query", params={"q": soql}, headers=self.headers).json()
        out.extend(page["records"])
        while not page["done"]:
            page = self.client.get(page["nextRecordsUrl"], headers=self.headers).json()
            out.extend(page["records"])
        return out

    def patch_users(self, changes: list[tuple[str, dict[str, Any]]]) -> None:
        for start in range(0, len(changes), 200):
            body = {"allOrNone": False, "records": [{"attributes": {"type": "User"}, "id": i, **c}
                                                    for i, c in changes[start:start + 200]]}
            r = self.client.patch(f"/services/data/{VERSION}/composite/sobjects", json=body, headers=self.headers)
            r.raise_for_status()


def make_project(root: Path, org: OrgProcess, refresh: str) -> Path:
    from core.config.project import Project
    from core.config.provisioner import ProvisionerConfig

    (root / "conf").mkdir(parents=True)
    for name in ("managed.json", "provisioner.openicf-salesforce.json", "sync.json"):
        shutil.copy(ROOT / "conf" / name, root / "conf" / name)
    project = Project(root)
    config = ProvisionerConfig.load(project)
    config.update_properties(loginUrl=org.info["loginUrl"], clientId=org.info["clientId"],
                             clientSecret=org.info["clientSecret"], refreshToken=refresh, instanceUrl=org.url)
    config.enabled = True
    config.save(project)
    return root


# ---- steps (each in its own process) ---------------------------------------------------------------------
def step_recon(project: str, mapping: str, changed: bool) -> None:
    import asyncio

    import core.salesforce.connector  # noqa: F401 - module import is start-up, not the run
    from core.config.project import Project
    from core.sync.service import SyncService

    service = SyncService(Project(Path(project)))
    t0 = time.perf_counter()
    run = asyncio.run(service.reconcile(mapping, changed_only=changed))
    seconds = time.perf_counter() - t0
    service.close()
    print(json.dumps({"seconds": seconds, "state": run["state"], "reason": run.get("failureReason"),
                      "processed": run["progress"]["source"]["existing"]["processed"],
                      "situations": {k: v for k, v in run["situationSummary"].items() if v},
                      "actions": run.get("actionSummary"), "status": run["statusSummary"]}))


def step_floor(url: str, token: str, soql: str, project: str) -> None:
    """The floor: fetch every page, parse it, store each record's three rows in one transaction per page."""
    from core.config.project import Project
    from core.repo import Repository

    with Repository.for_project(Project(Path(project))) as repo:  # the tables and indexes, before the clock
        t0 = time.perf_counter()
        rows = _floor_pages(url, token, soql, repo.db.conn())  # the repository's own connection and pragmas
        seconds = time.perf_counter() - t0  # before closing: its checkpoint is not the floor's
    print(json.dumps({"seconds": seconds, "processed": rows}))


def _floor_pages(url: str, token: str, soql: str, conn: sqlite3.Connection) -> int:
    """Every page fetched and stored, each record as its three rows; how many records."""
    from core.repo.db import insert_many

    run_id, now, rows = str(uuid.uuid4()), "2026-11-28T00:00:00.000Z", 0

    def dumps(value: Any) -> str:
        return orjson.dumps(value).decode()

    with httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
        response = client.get(f"/services/data/{VERSION}/query", params={"q": soql})
        while True:
            page = orjson.loads(response.content)
            managed, links, audit = [], [], []
            for r in page["records"]:
                rows += 1
                user_id, link_id = f"{rows:032x}", f"{rows:031x}1"  # ordered: cheaper than any UUID to index
                user = {"mail": r["Email"], "sn": r["LastName"], "givenName": r["FirstName"],
                        "userName": r["Username"], "profileId": r["ProfileId"], "accountStatus": "active"}
                managed.append((user_id, "0", dumps(user)))
                links.append((link_id, "0", INBOUND, "default", r["Id"], user_id))
                audit.append((f"{run_id}-{rows}", run_id, dumps({
                    "eventName": "recon", "reconId": run_id, "mapping": INBOUND, "reconAction": "recon",
                    "userId": "sfsync", "timestamp": now, "entryType": "entry", "reconciling": "source",
                    "status": "SUCCESS", "linkQualifier": "default", "situation": "ABSENT", "action": "CREATE",
                    "sourceObjectId": f"system/salesforce/User/{r['Id']}",
                    "targetObjectId": f"managed/user/{user_id}"})))
            conn.execute("BEGIN")  # each table's rows in one statement, as the run's writes (core/repo/db.py)
            insert_many(conn, "managed_user", ("id", "rev", "data"), managed)
            insert_many(conn, "links", ("id", "rev", "link_type", "link_qualifier", "first_id", "second_id"), links)
            insert_many(conn, "recon_audit", ("id", "recon_id", "data"), audit)
            conn.execute("COMMIT")
            if page["done"]:
                return rows
            response = client.get(page["nextRecordsUrl"])


def step_floor_plain(url: str, token: str, soql: str, db: str) -> None:
    """The floor as first measured: each page's records as they came into a plain table, a transaction a page."""
    t0 = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE users (id TEXT PRIMARY KEY, data TEXT NOT NULL)")
    rows = 0
    with httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
        response = client.get(f"/services/data/{VERSION}/query", params={"q": soql})
        while True:
            page = response.json()
            with conn:
                conn.executemany("INSERT INTO users (id, data) VALUES (?, ?)",
                                 [(r["Id"], json.dumps(r)) for r in page["records"]])
            rows += len(page["records"])
            if page["done"]:
                break
            response = client.get(page["nextRecordsUrl"])
    conn.close()
    print(json.dumps({"seconds": time.perf_counter() - t0, "processed": rows}))


def run_step(args: list[str], org: OrgProcess) -> dict[str, Any]:
    before = org.api_used()
    child = run_measured([sys.executable, str(Path(__file__).resolve()), *args], timeout=1800,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    calls = org.api_used() - before - 1  # the second limits read counts itself
    if child.exit_code != 0 or not child.results:
        raise SystemExit(f"bench_recon: step {args[:2]} failed:\n{child.stderr[-3000:]}")
    return {**child.results[-1], "calls": calls, "peak_rss_mb": child.peak_rss_mb, "cpu_s": child.cpu_s}


def inbound_soql() -> str:
    """The SOQL the inbound run sends: the attributes the mapping can observe (core.sync.observed), by Id."""
    from core.config.project import Project
    from core.sync.mapping import SyncConfig
    from core.sync.observed import observed_fields

    mapping = SyncConfig.load(Project(ROOT)).get(INBOUND)
    observed = observed_fields(mapping, "source")
    if observed is None:
        raise SystemExit("bench_recon: the inbound mapping reads whole records; the floor expects a narrowed read")
    fields = ["Id", *(f for f in observed if f != "Id")]
    return f"SELECT {', '.join(fields)} FROM User ORDER BY Id"


def whole_records(project: Path) -> Path:
    """The project with an inbound validSource that reads the record whole (``Object.keys(source)``), so the
    run cannot narrow its read and fetches every attribute objectTypes.User declares that the org has."""
    sync = project / "conf" / "sync.json"
    conf = json.loads(sync.read_text())
    mapping = next(m for m in conf["mappings"] if m["name"] == INBOUND)
    mapping["validSource"] = {"type": "text/javascript", "source":
                              "Object.keys(source).length > 0 && source.Email.substring(0,8) !== \"autoproc\""}
    sync.write_text(json.dumps(conf, indent=2))
    return project


def configured(project: Path, *, hooks: bool, implicit: bool) -> Path:
    """The project with the sample's managed.json hooks removed (``hooks`` False) and/or the outbound mapping's
    ``enableSync: false`` (``implicit`` False: the inbound run's managed writes start no implicit sync)."""
    if not hooks:
        managed = project / "conf" / "managed.json"
        conf = json.loads(managed.read_text())
        user = next(o for o in conf["objects"] if o["name"] == "user")
        for key in ("onCreate", "onUpdate", "postDelete"):
            user.pop(key, None)
        managed.write_text(json.dumps(conf, indent=2))
    if not implicit:
        sync = project / "conf" / "sync.json"
        conf = json.loads(sync.read_text())
        next(m for m in conf["mappings"] if m["name"] == OUTBOUND)["enableSync"] = False
        sync.write_text(json.dumps(conf, indent=2))
    return project


def hooks_steps(org: OrgProcess, tmp: Path, refresh: str, results: dict[str, dict[str, Any]]) -> None:
    """The managed object hooks and the implicit sync a reconciliation's writes start (issue 14 item 5), each into
    an empty repository of its own project: without hooks or implicit sync; with the sample's hooks alone; the
    sample unchanged on an org whose users do not match the outbound mapping yet (the round trip writes its
    defaults back to them, as IDM does); the sample unchanged again, the org now matching (the round trip
    decides from the page's records and writes nothing: the steady state)."""
    results["inbound-nohooks"] = run_step(["--step", "recon", str(configured(
        make_project(tmp / "nohooks", org, refresh), hooks=False, implicit=False)), INBOUND], org)
    results["inbound-hooks"] = run_step(["--step", "recon", str(configured(
        make_project(tmp / "hooks", org, refresh), hooks=True, implicit=False)), INBOUND], org)
    results["inbound-first-roundtrip"] = run_step(["--step", "recon", str(make_project(
        tmp / "first-roundtrip", org, refresh)), INBOUND], org)


def change_managed(project: Path, n: int) -> None:
    """Change ``n`` managed users directly in the repository (no implicit sync), as a bulk import would."""
    from core.config.project import Project
    from core.repo import Repository

    with Repository.for_project(Project(project)) as repo:
        ids = []
        for object_id in repo.iter_ids():
            ids.append(object_id)
            if len(ids) >= n:
                break
        for start in range(0, len(ids), 2000):
            chunk = repo.read_many(ids[start:start + 2000])
            repo.update_many([(i, {**{k: v for k, v in o.items() if k[0] != "_"}, "sn": o["sn"] + " Jr"}, None)
                              for i, o in chunk.items()])


def report_hooks(users: int, results: dict[str, dict[str, Any]]) -> int:
    """``--hooks-only``: the floor and the hooks' steps, their ratios (each from this one run)."""
    floor = results["floor"]["seconds"]
    rows = [[name, r["seconds"], r["seconds"] / floor, r.get("processed"), r["calls"], r["peak_rss_mb"], r["cpu_s"],
             " ".join(f"{k}={v}" for k, v in (r.get("actions") or {}).items() if v)]
            for name, r in results.items()]
    print(f"users={users:,}")
    print(table(["step", "seconds", "x floor", "records", "API calls", "peak RSS MB", "CPU s", "actions"], rows))
    emit("recon-hooks", users=users, **{f"{k}_{m}": v for k, r in results.items() for m, v in r.items()
                                        if m in ("seconds", "calls", "peak_rss_mb", "processed", "cpu_s")},
         goal_inbound_vs_floor=results["inbound"]["seconds"] / floor <= 1.5,
         goal_inbound_s=results["inbound"]["seconds"] <= 10.0)
    return 0


def orchestrate(users: int, outbound: int, changes: int, hooks_only: bool = False) -> int:
    results: dict[str, dict[str, Any]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-recon-"))
    org = OrgProcess(users)
    try:
        refresh = org.login()
        project = make_project(tmp / "project", org, refresh)
        soql = inbound_soql()
        results["floor-plain"] = run_step(["--step", "floor-plain", org.url, org._access or "", soql,
                                           str(tmp / "floor-plain.db")], org)
        results["floor"] = run_step(["--step", "floor", org.url, org._access or "", soql,
                                     str(make_project(tmp / "floor", org, refresh))], org)
        hooks_steps(org, tmp, refresh, results)
        if hooks_only:
            results["inbound"] = run_step(["--step", "recon", str(project), INBOUND], org)
        else:
            rest_only = make_project(tmp / "rest-only", org, refresh)
            (rest_only / "conf" / "sfsync.toml").write_text("bulk_query_threshold = 0\n")  # REST query pages only
            results["inbound-rest"] = run_step(["--step", "recon", str(rest_only), INBOUND], org)
            results["inbound"] = run_step(["--step", "recon", str(project), INBOUND], org)
            results["inbound-whole"] = run_step(["--step", "recon", str(whole_records(make_project(
                tmp / "whole", org, refresh))), INBOUND], org)
            results["rerun"] = run_step(["--step", "recon", str(project), INBOUND], org)
            people = [r for r in org.query_all("SELECT Id, LastName FROM User WHERE IsActive = true ORDER BY Id")
                      if r["LastName"]][: changes]
            org.patch_users([(r["Id"], {"LastName": r["LastName"] + " Changed"}) for r in people])
            results["incremental"] = run_step(["--step", "recon", str(project), INBOUND, "--changed"], org)
    finally:
        org.stop()
    if hooks_only:
        shutil.rmtree(tmp, ignore_errors=True)
        return report_hooks(users, results)
    org = OrgProcess(max(outbound - SYSTEM_USERS, 0), seed=1)  # an org of `outbound` users, system users included
    try:
        refresh = org.login()
        project = make_project(tmp / "outbound", org, refresh)
        run_step(["--step", "recon", str(project), INBOUND], org)
        run_step(["--step", "recon", str(project), OUTBOUND], org)  # settles the mapping's defaults (Alias, locale…)
        change_managed(project, outbound)
        results["outbound"] = run_step(["--step", "recon", str(project), OUTBOUND], org)
    finally:
        org.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    floor, first = results["floor"]["seconds"], results["inbound"]["seconds"]
    goals = {
        "inbound_vs_floor": (first / floor, 1.5), "inbound_s": (first, 10.0),
        "inbound_rest_vs_floor": (results["inbound-rest"]["seconds"] / floor, 1.5),
        "inbound_vs_floor_plain": (first / results["floor-plain"]["seconds"], 1.5),
        "inbound_calls": (results["inbound"]["calls"], users / 2000 + 3),
        "rerun_vs_inbound": (results["rerun"]["seconds"] / first, 0.7),
        "incremental_s": (results["incremental"]["seconds"], 1.0),
        "outbound_calls": (results["outbound"]["calls"], outbound / 200 + 5),
        "inbound_peak_rss_mb": (results["inbound"]["peak_rss_mb"], 300.0),
    }
    # not a goal: what reading whole records (every declared attribute the org has) costs over a proven narrowing
    whole_ratio = results["inbound-whole"]["seconds"] / first
    rows = [[name, r["seconds"], r.get("processed"), r["calls"], r["peak_rss_mb"], r["cpu_s"],
             " ".join(f"{k}={v}" for k, v in (r.get("situations") or {}).items())]
            for name, r in results.items()]
    print(f"users={users:,} outbound changed={outbound:,} incremental changes={changes}")
    print(table(["step", "seconds", "records", "API calls", "peak RSS MB", "CPU s", "situations"], rows))
    print()
    print(table(["goal", "measured", "limit", "met"],
                [[k, v, lim, v <= lim] for k, (v, lim) in goals.items()]))
    print(f"\nwhole records (a validSource reading `source` whole) vs the sample's narrowed read: {whole_ratio:.2f}x")
    emit("recon", users=users, outbound_users=outbound, changes=changes,
         **{f"{k}_{m}": v for k, r in results.items() for m, v in r.items()
            if m in ("seconds", "calls", "peak_rss_mb", "processed", "cpu_s")},
         **{f"goal_{k}": v <= lim for k, (v, lim) in goals.items()}, whole_vs_inbound=whole_ratio)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="users in the org (default 100,000)")
    parser.add_argument("--outbound", type=int, default=None,
                        help="managed users changed before the outbound run (default min(10,000, users))")
    parser.add_argument("--changes", type=int, default=100, help="org edits before the incremental run")
    parser.add_argument("--hooks-only", action="store_true",
                        help="only the floor and the managed object hooks' steps (inbound without hooks or implicit "
                             "sync, with the hooks, the sample's first round trip, the sample steady)")
    parser.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--changed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        kind, *rest = args.step
        if kind == "floor":
            step_floor(*rest)
        elif kind == "floor-plain":
            step_floor_plain(*rest)
        else:
            step_recon(rest[0], rest[1], args.changed)
        return 0
    outbound = args.outbound if args.outbound is not None else min(10_000, args.users)
    return orchestrate(args.users, outbound, min(args.changes, args.users), args.hooks_only)


if __name__ == "__main__":
    sys.exit(main())
