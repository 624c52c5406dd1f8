"""Benchmark the local Salesforce org as users meet it: ``sfsync demo-org`` in its own process.

Measures (1) start time: process start until the JSON line is printed and the API answers, (2) the full
User query as the connector runs it (every page through ``nextRecordsUrl``, parsed by an httpx client),
with the slowest page, and (3) the org process's peak RSS (VmHWM). Wall times depend on what else the
machine runs, so the org's and the client's CPU seconds and the load average are printed beside them.
Prints a table, then one JSON line.

    python bench/bench_org.py [--users 100000] [--fields sync|all]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

SYNC_FIELDS = ("Id, Username, Email, FirstName, LastName, Alias, CommunityNickname, ProfileId, IsActive, "
               "LocaleSidKey, LanguageLocaleKey, EmailEncodingKey, TimeZoneSidKey, Title, Department, "
               "CreatedDate, LastModifiedDate, SystemModstamp")
ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (``/proc/PID/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--fields", choices=("sync", "all"), default="sync")
    args = parser.parse_args()

    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "demo-org", "--users", str(args.users)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = json.loads(proc.stdout.readline())
        with httpx.Client(base_url=line["url"], timeout=60) as client:
            while True:
                try:
                    if client.get("/services/data/").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.01)
            start_s = time.perf_counter() - started
            start_cpu = cpu_s(proc.pid)
            token = client.post("/services/oauth2/token", data={
                "grant_type": "client_credentials", "client_id": line["clientId"],
                "client_secret": line["clientSecret"]}).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            fields = SYNC_FIELDS if args.fields == "sync" else "FIELDS(STANDARD)"
            t0 = time.perf_counter()
            org_cpu0, client_cpu0 = cpu_s(proc.pid), time.process_time()
            page_times = []
            t = time.perf_counter()
            r = client.get("/services/data/v62.0/query", params={"q": f"SELECT {fields} FROM User"}, headers=headers)
            page = r.json()
            page_times.append(time.perf_counter() - t)
            rows = len(page["records"])
            pages = 1
            while not page["done"]:
                t = time.perf_counter()
                page = client.get(page["nextRecordsUrl"], headers=headers).json()
                page_times.append(time.perf_counter() - t)
                rows += len(page["records"])
                pages += 1
            query_s = time.perf_counter() - t0
            org_query_cpu, client_query_cpu = cpu_s(proc.pid) - org_cpu0, time.process_time() - client_cpu0
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    result = {"bench": "org", "users": args.users, "rows": rows, "pages": pages, "start_s": round(start_s, 3),
              "start_cpu_s": round(start_cpu, 3), "full_query_s": round(query_s, 3),
              "org_query_cpu_s": round(org_query_cpu, 3), "client_query_cpu_s": round(client_query_cpu, 3), "first_page_s": round(page_times[0], 3),
              "slowest_later_page_s": round(max(page_times[1:] or [0]), 3), "peak_rss_mb": round(rss, 1),
              "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}
    targets = {"start_s": 5.0, "full_query_s": 3.0, "peak_rss_mb": 400.0}
    print(f"{'measure':<22}{'value':>12}{'target':>10}")
    for key, value in result.items():
        if key == "bench":
            continue
        target = targets.get(key)
        print(f"{key:<22}{value:>12}{(('<= ' + str(target)) if target else ''):>10}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
