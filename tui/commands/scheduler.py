"""``sfsync scheduler [--check]``: run the project's ``conf/schedule-*.json`` headless (no HTTP), e.g. as a
systemd unit or a container's command, until SIGTERM or Ctrl-C (exit 0).

One line per firing on stdout; a broken schedule file is one line on stderr naming the file, field and
position, and the other schedules run (files are read again when they change). ``--check`` only loads
and checks every schedule file, prints each schedule with its next fire time, and exits 2 if any is refused.
Several schedulers (and ``sfsync serve``) on one project fire each time once (see ``core/schedule``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from core.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scheduler", help="run the project's schedules (conf/schedule-*.json) headless until stopped",
        description="Run the project's IDM schedules (conf/schedule-*.json) without the REST API, until SIGTERM "
                    "or Ctrl-C. Prints one line per firing. Processes sharing the project fire each time once.")
    parser.add_argument("--check", action="store_true",
                        help="check every schedule file, print the next fire times, exit (2 if one is refused)")
    parser.set_defaults(func=handle)


def _error(exc: ConfigError) -> None:
    print(f"sfsync: {exc}", file=sys.stderr, flush=True)


def _line(text: str) -> None:
    print(text, flush=True)


def handle(args: argparse.Namespace) -> int:
    from core.config import Project
    from core.sync import SyncService

    project = Project.resolve(args.project)
    service = SyncService(project)
    try:
        if args.check:
            return check(project, service)
        return asyncio.run(_run(project, service))
    finally:
        service.close()


def check(project, service) -> int:  # noqa: ANN001 - Project, SyncService
    from core.schedule import Scheduler, iso

    scheduler = Scheduler.for_project(project, service=service, on_error=_error)
    errors = scheduler.load()
    if not scheduler.schedules and not errors:
        print(f"no schedules in {project.conf_dir} (conf/schedule-*.json)")
    for schedule in scheduler.schedules.values():
        nxt = scheduler.next_fire(schedule)
        state = "disabled" if not schedule.config.enabled else f"next {iso(nxt) or 'never'}"
        print(f"{schedule.describe()}: {state}")
    return 2 if errors else 0


async def _run(project, service) -> int:  # noqa: ANN001
    from core.schedule import Scheduler

    scheduler = Scheduler.for_project(project, service=service, on_fire=_line, on_error=_error)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, scheduler.stop)
    scheduler.load()
    names = ", ".join(scheduler.schedules) or "none yet"
    print(f"sfsync: running the schedules of {project.conf_dir} ({names}); SIGTERM or Ctrl-C stops", flush=True)
    await scheduler.run()
    print("sfsync: scheduler stopped", flush=True)
    return 0
