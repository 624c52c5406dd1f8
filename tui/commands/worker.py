"""``sfsync worker [--node-id ID]``: this process as a node of clustered reconciliations.

Mappings with IDM's ``clusteredSourceReconEnabled: true`` on a PostgreSQL repository split a run's source
phase into page tasks; every ``sfsync worker`` (and ``sfsync serve``, and the process that started the run) on
that repository claims and processes them (core/sync/cluster.py). SIGTERM or Ctrl-C stops the node after the
page in hand (exit 0), which makes it a plain systemd service (README, "Outgrowing one machine").
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from core.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "worker", help="work as a node of clustered reconciliations (PostgreSQL repository)",
        description="Claim and process the page tasks of clustered reconciliations (mappings with "
                    "clusteredSourceReconEnabled: true) on the project's PostgreSQL repository until SIGTERM or "
                    "Ctrl-C, which stop it after the page in hand.")
    parser.add_argument("--node-id", metavar="ID",
                        help="this node's name in the runs' nodes (default: openidm.node.id of resolver/boot.properties, "
                             "else HOST:PID); unique per node")
    parser.add_argument("--quiet", action="store_true", help="no line per page")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from core.config import Project
    from core.sync import SyncService, run_node

    node_id = args.node_id if args.node_id is not None else None
    if node_id is not None and (not node_id.strip() or len(node_id) > 200):
        raise UsageError("--node-id: a non-empty name of at most 200 characters")
    service = SyncService(Project.resolve(args.project))
    if node_id is not None:
        service.node_id = node_id
    stop = threading.Event()

    def ask_stop(signum: int, frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, ask_stop) for s in (signal.SIGTERM, signal.SIGINT)}

    def page(task: Any, n: int, seconds: float) -> None:
        if not args.quiet:
            taken = " (taken over from a node that lapsed)" if task.claims > 1 else ""
            print(f"sfsync worker {service.node_id}: run {task.run_id} ({task.mapping}) page {task.page}: "
                  f"{n} records in {seconds:.2f} s{taken}", flush=True)

    try:
        service.mappings()  # a broken conf/sync.json: exit 2 now, naming it
        print(f"sfsync worker {service.node_id}: working for clustered reconciliations on "
              f"{service.repo.location}; SIGTERM or Ctrl-C stops after the page in hand", flush=True)
        worker = run_node(service, service.node_id, stop, on_page=page)
        print(f"sfsync worker {service.node_id}: stopped ({worker.pages} pages, {worker.processed} records)",
              flush=True)
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        service.close()
        sys.stdout.flush()
