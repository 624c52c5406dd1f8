"""``sfsync recon-status [RUN_ID] [--json]``: the reconciliation runs, newest first, or one run.

Runs are read from the project's repository, so a run in progress in another process (the TUI, the REST
server, another ``sfsync recon``) shows with its live progress. ``--json`` prints IDM's shapes:
``{"reconciliations": [...]}`` or the one run object.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from core.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "recon-status", help="show reconciliation runs (newest first) or one run",
        description="Show the reconciliation runs kept in the project (newest first), or one run by id.")
    parser.add_argument("run_id", nargs="?", metavar="RUN_ID", help="one run's id")
    parser.add_argument("--json", action="store_true", help="print IDM's JSON shape")
    parser.add_argument("--limit", type=int, default=100, help="at most this many runs (default 100)")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from core.config import Project
    from core.sync import SyncService

    service = SyncService(Project.resolve(args.project))
    try:
        if args.run_id:
            run = service.run(args.run_id)
            if run is None:
                raise UsageError(f"RUN_ID: Reconciliation with id {args.run_id} not found.")
            print(json.dumps(run, indent=2, ensure_ascii=False) if args.json else _describe(run))
            return 0
        runs = service.runs(args.limit)
        if args.json:
            print(json.dumps({"reconciliations": runs}, indent=2, ensure_ascii=False))
        elif not runs:
            print("no reconciliation runs yet")
        else:
            print(f"{'ID':36}  {'MAPPING':34}  {'STATE':8}  {'STARTED':24}  {'SOURCE':>13}  SITUATIONS")
            for run in runs:
                print(_row(run))
        return 0
    finally:
        service.close()


def _row(run: dict[str, Any]) -> str:
    src = run.get("progress", {}).get("source", {}).get("existing", {})
    done = f"{src.get('processed', 0)}/{src.get('total', '?')}"
    situations = " ".join(f"{k}={v}" for k, v in run.get("situationSummary", {}).items() if v)
    state = run.get("state", "") + ("*" if run.get("dryRun") else "")
    return (f"{run.get('_id', ''):36}  {run.get('mapping', ''):34}  {state:8}  {run.get('started', ''):24}  "
            f"{done:>13}  {situations}")


def _describe(run: dict[str, Any]) -> str:
    progress = run.get("progress", {})
    lines = [
        f"id:        {run.get('_id')}",
        f"mapping:   {run.get('mapping')}{' (dry run)' if run.get('dryRun') else ''}",
        f"state:     {run.get('state')} ({run.get('stage')}: {run.get('stageDescription')})",
        f"started:   {run.get('started')}   ended: {run.get('ended') or '-'}   duration: {run.get('duration')} ms",
    ]
    for side in ("source", "target", "links"):
        p = progress.get(side, {})
        existing = p.get("existing", {})
        created = f", created {p['created']}" if "created" in p else ""
        lines.append(f"{side + ':':10} {existing.get('processed', 0)}/{existing.get('total', '?')}{created}")
    lines.append("situations: " + ", ".join(f"{k} {v}" for k, v in run.get("situationSummary", {}).items()))
    status = run.get("statusSummary", {})
    lines.append(f"status:    SUCCESS {status.get('SUCCESS', 0)}, FAILURE {status.get('FAILURE', 0)}")
    if run.get("nodes") is not None:
        lines.append(f"nodes:     {nodes_line(run['nodes'])}")
    if run.get("failureReason"):
        lines.append(f"reason:    {run['failureReason']}")
    return "\n".join(lines)


def nodes_line(nodes: list[dict[str, Any]]) -> str:
    """A clustered run's nodes on one line: ``w1 1,200 (IDLE), w2 800 (WORKING)``."""
    return ", ".join(f"{n.get('nodeId')} {n.get('processed', 0):,} ({n.get('state')})" for n in nodes) or \
        "none has finished a page yet"
