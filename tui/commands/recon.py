"""``sfsync recon MAPPING [--json] [--dry-run] [--changed] [--id ID]... [--allow-deletions]``: run a reconciliation from a terminal or a script.

On a terminal, a progress line on stderr (stage, processed/total, rate, situations) redrawn in place; not on
a terminal, one line per stage change. ``--json`` prints the final run object (IDM's shape) on stdout.
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
import time
from typing import Any, TextIO

SHORT = {"CONFIRMED": "conf", "FOUND": "found", "ABSENT": "abs", "AMBIGUOUS": "amb", "MISSING": "miss",
         "UNQUALIFIED": "unq", "UNASSIGNED": "unas", "SOURCE_MISSING": "srcmiss", "SOURCE_IGNORED": "srcign",
         "TARGET_IGNORED": "tgtign", "FOUND_ALREADY_LINKED": "fal"}


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
    parser.set_defaults(func=handle)


class ProgressLine:
    """The run's progress as one line on stderr, at most ~10 redraws a second."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last_draw = 0.0
        self.last_stage = ""
        self.width = 0
        self.lock = threading.Lock()

    def __call__(self, run: dict[str, Any]) -> None:
        with self.lock:
            now = time.monotonic()
            stage = run.get("stage", "")
            if self.tty:
                if stage == self.last_stage and now - self.last_draw < 0.1 and run.get("state") == "ACTIVE":
                    return
                text = format_progress(run)
                pad = max(0, self.width - len(text))
                self.stream.write("\r" + text + " " * pad)
                self.width = len(text)
            elif stage != self.last_stage:
                self.stream.write(format_progress(run) + "\n")
            self.stream.flush()
            self.last_draw, self.last_stage = now, stage

    def end(self) -> None:
        if self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()


def format_progress(run: dict[str, Any]) -> str:
    progress = run.get("progress", {})
    src = progress.get("source", {}).get("existing", {})
    tgt = progress.get("target", {})
    seconds = max(run.get("duration", 0), 1) / 1000
    processed = src.get("processed", 0)
    rate = processed / seconds
    situations = " ".join(f"{SHORT.get(k, k)}={v}" for k, v in run.get("situationSummary", {}).items() if v)
    status = run.get("statusSummary", {})
    fails = f" failures={status.get('FAILURE')}" if status.get("FAILURE") else ""
    dry = " (dry run)" if run.get("dryRun") else ""
    return (f"{run.get('mapping', '')}{dry} {run.get('stage', '')}: source {processed}/{src.get('total', '?')}, "
            f"target {tgt.get('existing', {}).get('processed', 0)}/{tgt.get('existing', {}).get('total', '?')} "
            f"created {tgt.get('created', 0)}, {rate:,.0f}/s {situations}{fails}").rstrip()


def handle(args: argparse.Namespace) -> int:
    from core.config.project import Project
    from core.sync.service import SyncService

    project = Project.resolve(args.project)
    service = SyncService(project)
    service.config().get(args.mapping)  # an unknown mapping: UsageError listing the mappings, exit 2
    line = ProgressLine(sys.stderr)
    cancel = threading.Event()
    interrupts = 0

    def on_sigint(*_: Any) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:  # at once: the run stays ACTIVE until the next run takes its lock over
            sys.stderr.write("\nsfsync: interrupted\n")
            os._exit(130)
        cancel.set()
        sys.stderr.write("\nsfsync: stopping at the next page boundary (Ctrl-C again to stop at once)\n")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        run = asyncio.run(service.reconcile(args.mapping, dry_run=args.dry_run, changed_only=args.changed,
                                            on_progress=line, cancel=cancel, allow_deletions=args.allow_deletions,
                                            ids=args.ids))
    finally:
        signal.signal(signal.SIGINT, previous)
        line.end()
        service.close()
    if args.json:
        print(json.dumps(run, indent=2, ensure_ascii=False))
    else:
        print(format_progress(run))
        if run.get("failureReason"):
            print(f"reason: {run['failureReason']}", file=sys.stderr)
    return {"SUCCESS": 0, "CANCELED": 130}.get(run.get("state", ""), 1)
