"""``sfsync users``: query ``managed/user`` and print IDM's query result object as JSON.

The options are IDM's query parameters (``--filter`` is ``_queryFilter``, ``--fields`` is ``_fields``, …), and
the output is exactly what ``GET /openidm/managed/user?…`` answers: ``result``, ``resultCount``,
``pagedResultsCookie``, ``totalPagedResultsPolicy``, ``totalPagedResults``, ``remainingPagedResults``.
A bad filter exits 2 with the position of the fault.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from core.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "users", help="query the managed users (IDM's query result as JSON)",
        description="Query managed/user with IDM's query parameters and print IDM's query result object. "
                    'Example: sfsync users --filter \'sn sw "Sm" and accountStatus eq "active"\' '
                    "--fields userName,mail --page-size 50 --sort-keys=-sn,givenName")
    parser.add_argument("--filter", default="true", metavar="QUERYFILTER",
                        help='_queryFilter, e.g. \'userName eq "bjensen"\' (default: true, every user)')
    parser.add_argument("--fields", default="", metavar="A,B", help="_fields: only these (plus _id and _rev)")
    parser.add_argument("--page-size", type=int, default=0, metavar="N",
                        help="_pageSize: at most N users; the answer's pagedResultsCookie fetches the next page")
    parser.add_argument("--sort-keys", default="", metavar="K",
                        help="_sortKeys, e.g. sn or --sort-keys=-sn,givenName (a leading - needs the = form)")
    parser.add_argument("--cookie", default=None, metavar="COOKIE",
                        help="_pagedResultsCookie from the previous page's answer")
    parser.add_argument("--offset", type=int, default=0, metavar="N", help="_pagedResultsOffset")
    parser.add_argument("--total", choices=("NONE", "EXACT", "ESTIMATE"), default="NONE",
                        help="_totalPagedResultsPolicy (EXACT counts every match)")
    parser.set_defaults(func=handle)


def open_repository(project_arg: str | None, config: Any = None) -> Any:
    """The project's repository; a folder without ``conf/`` is refused rather than given an empty db.
    ``config``: the command's look at the files (a ``ProjectConfig``), so ``managed.json`` is read once."""
    from core.config import Project
    from core.repo import Repository

    project = Project.resolve(project_arg) if config is None else config.project
    if not project.conf_dir.is_dir():
        raise UsageError(f"{project.root}: not an sfsync project (no conf/ folder); use -p DIR")
    return Repository.for_project(project, config=config)


def handle(args: argparse.Namespace) -> int:
    from core.repo import QueryRequest

    params = {"_queryFilter": args.filter, "_fields": args.fields, "_pageSize": str(args.page_size),
              "_sortKeys": args.sort_keys, "_pagedResultsCookie": args.cookie or "",
              "_pagedResultsOffset": str(args.offset), "_totalPagedResultsPolicy": args.total}
    request = QueryRequest.from_params(params)
    with open_repository(args.project) as repo:
        result = repo.query(request)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0
