"""``sfsync recon MAPPING [--json] [--dry-run] [--changed] [--id ID]... [--allow-deletions] [--explain]``: run a reconciliation from a terminal or a script.

``--explain`` prints the plan instead (how Salesforce would be read and written, and why) and runs nothing.

On a terminal, one live progress line on stderr redrawn in place and replaced by the final summary; not on a
terminal, one line per stage change (:mod:`tui.progress`). The summary is printed once, on stdout; ``--json``
prints the final run object (IDM's shape) on stdout instead.
Ctrl-C asks the run to stop at its next page boundary: it ends CANCELED and the exit code is 130 (a second
Ctrl-C stops at once; the next run takes the lock over and marks the run FAILED).
Exit codes: 0 SUCCESS, 1 FAILED, 2 bad usage (an unknown mapping lists the mappings there are), 130 CANCELED.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
from typing import Any

from tui.progress import SHORT, CliProgress, format_progress, print_summary

__all__ = ["SHORT", "format_progress", "handle", "register"]

def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "recon", help="run a reconciliation of one mapping",
        description="Reconcile one mapping of conf/sync.json (e.g. systemSalesforceUser_managedUser). "
                    "Exit 0 when the run succeeds, 1 when it fails, 130 when interrupted (the run ends CANCELED).")
    parser.add_argument("mapping", help="the mapping's name in conf/sync.json")
    parser.add_argument("--json", action="store_true", help="print the final run object (IDM's shape) on stdout")
    parser.add_argument("--dry-run", action="store_true",
                        help="decide and report every situation and action, change nothing")
    parser.add_argument("--changed", action="store_true",
                        help="only the Salesforce users changed or deactivated since the last successful run")
    parser.add_argument("--id", action="append", dest="ids", metavar="ID",
                        help="reconcile only this source id (repeatable; IDM's reconById: no target phase)")
    parser.add_argument("--allow-deletions", action="store_true",
                        help="apply the run's deletions however many there are (deletion_threshold in "
                             "conf/sfsync.toml holds back more than 500 by default and the run fails)")
    parser.add_argument("--explain", action="store_true",
                        help="print the plan (path, pages, expected calls, why) and run nothing; with --json "
                             "as JSON")
    parser.set_defaults(func=handle)


def explain(project: Any, args: argparse.Namespace, loaded: Any = None) -> int:
    from core.sync import explain_recon

    plan = asyncio.run(explain_recon(project, args.mapping, config=loaded))
    if args.json:
        print(json.dumps(plan, indent=2, ensure_ascii=False))
        return 0
    print(f"{plan['mapping']}: {plan['source']} -> {plan['target']}")
    for read in plan["reads"]:
        if read["path"] == "repository":
            print(f"  {read['role']}: {read['resource']} from the repository")
            continue
        kind = "Bulk API 2.0 query job" if read["path"] == "bulk" else "REST query pages"
        print(f"  {read['role']}: {read['resource']}, {read['records']:,} records by {kind}: {read['pages']:,} "
              f"pages, about {read['expected_calls']:,} calls ({read['latency_ms']:.0f} ms a call measured)")
        print(f"    why: {read['why']}")
    if plan["writes"]:
        w = plan["writes"]
        print(f"  writes: {w['resource']} through {w['path']}, {w['records_per_call']} records a call, "
              f"{w['calls_at_once']} calls at once")
    return 0


def handle(args: argparse.Namespace) -> int:
    from core.config import Project, ProjectConfig
    from core.sync import SyncService

    project = Project.resolve(args.project)
    loaded = ProjectConfig.load(project)  # the command's one look at the files, handed down
    if args.explain:
        return explain(project, args, loaded)
    service = SyncService(project, config=loaded)
    service.config().get(args.mapping)  # an unknown mapping: UsageError listing the mappings, exit 2
    line = CliProgress(args.mapping + (" (dry run)" if args.dry_run else ""), "ACTIVE_INITIALIZED")
    cancel = threading.Event()
    interrupts = 0

    def on_sigint(*_: Any) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:  # at once: the run stays ACTIVE until the next run takes its lock over
            line.abort("sfsync: interrupted")
            os._exit(130)
        cancel.set()
        line.note("sfsync: stopping at the next page boundary (Ctrl-C again to stop at once)")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with line:
            run = asyncio.run(service.reconcile(args.mapping, dry_run=args.dry_run, changed_only=args.changed,
                                                on_progress=line.update, cancel=cancel,
                                                allow_deletions=args.allow_deletions, ids=args.ids))
    finally:
        signal.signal(signal.SIGINT, previous)
        service.close()
    if args.json:
        print(json.dumps(run, indent=2, ensure_ascii=False))
    else:
        print_summary(format_progress(run))
        if run.get("failureReason"):
            print(f"reason: {run['failureReason']}", file=sys.stderr)
    return {"SUCCESS": 0, "CANCELED": 130}.get(run.get("state", ""), 1)
