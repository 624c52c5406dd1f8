"""``sfsync livesync [--source system/salesforce/User] [--json] [--allow-deletions]``: one liveSync pass.

What changed in Salesforce since the stored sync token, through every mapping whose source is that object set
(``core/sync/livesync.py``). The first pass stores the token and processes nothing. Prints one line (status,
changes, situations, the token; the reason on stderr when it fails), or with ``--json`` IDM's stage object plus
``sfsync`` (the pass's summary). On a terminal a live line on stderr while the pass runs (:mod:`tui.progress`). Exit codes: 0 SUCCESS, 1 FAILED (a record failed and waits for the next pass,
deletions held back, a failed full reconciliation, an outage), 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from tui.progress import CliProgress, print_summary


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "livesync", help="one liveSync pass: what changed in Salesforce since the stored sync token",
        description="Process what changed in Salesforce since the stored sync token (updated and deactivated "
                    "users) through every mapping whose source is that object set, as IDM's liveSync does. "
                    "Exit 0 when the pass succeeds, 1 when it fails.")
    parser.add_argument("--source", default="system/salesforce/User",
                        help="the object set to poll (default: system/salesforce/User)")
    parser.add_argument("--json", action="store_true",
                        help="print IDM's stage object (connectorData.syncToken) and the pass's summary (sfsync)")
    parser.add_argument("--allow-deletions", action="store_true",
                        help="apply the pass's deletions however many there are (deletion_threshold in "
                             "conf/sfsync.toml holds back more than 500 by default and the pass fails)")
    parser.set_defaults(func=handle)


def format_answer(answer: dict[str, Any]) -> str:
    tick = answer.get("sfsync") or {}
    situations = ", ".join(f"{k} {v}" for k, v in sorted((tick.get("situationSummary") or {}).items()))
    status = tick.get("statusSummary") or {}
    parts = [f"liveSync {tick.get('source')}: {tick.get('status')}", f"{tick.get('changes', 0)} change(s)"]
    if situations:
        parts.append(situations)
    if status.get("FAILURE"):
        parts.append(f"{status['FAILURE']} failed")
    if tick.get("retrying"):
        parts.append(f"{tick['retrying']} waiting for a retry")
    if tick.get("fullReconciliation"):
        parts.append("full reconciliation instead (token too old)")
    parts.append(f"token {(answer.get('connectorData') or {}).get('syncToken')}")
    return "; ".join(parts)


def handle(args: argparse.Namespace) -> int:
    from core.config import Project, ProjectConfig
    from core.sync import SyncService

    project = Project.resolve(args.project)
    service = SyncService(project, config=ProjectConfig.load(project))  # the command's one look at the files
    line = CliProgress(f"liveSync {args.source}", "POLLING")
    try:
        with line:  # a live line on a terminal; a full reconciliation instead shows its progress there
            answer = asyncio.run(service.livesync(args.source, allow_deletions=args.allow_deletions,
                                                  on_progress=line.update))
    finally:
        service.close()
    tick = answer.get("sfsync") or {}
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    else:
        print_summary(format_answer(answer))
    if tick.get("message") and (tick.get("status") != "SUCCESS" or not args.json):
        print(f"{'reason' if tick.get('status') != 'SUCCESS' else 'note'}: {tick['message']}", file=sys.stderr)
    return 0 if tick.get("status") == "SUCCESS" else 1
