"""``sfsync repo migrate --to postgresql://…``: copy the project's SQLite repository into PostgreSQL.

Copies managed objects, links, runs, the recon/sync and activity audit, and liveSync stages (core/repo/migrate.py),
then prints per kind the rows on each side and a checksum of each side; exit 0 when every kind matches, 1
otherwise. Interrupted, it is resumed by running it again. Afterwards point the project at PostgreSQL with
``SFSYNC_REPO_URL`` or ``conf/datasource.jdbc-default.json``.
"""

from __future__ import annotations

import argparse
import sys

from core.errors import ConfigError, UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("repo", help="repository maintenance (migrate to PostgreSQL)",
                                   description="Repository maintenance.")
    sub = parser.add_subparsers(dest="repo_command", metavar="ACTION", required=True)
    migrate = sub.add_parser(
        "migrate", help="copy the project's SQLite repository into PostgreSQL (resumable, verified)",
        description="Copy the project's SQLite repository (db/sfsync.sqlite3) into a PostgreSQL database in IDM's "
                    "table layout: users, links, runs, audit, liveSync stages. Run it with sfsync stopped; run it "
                    "again to resume an interrupted copy. Prints counts and checksums of both sides.")
    migrate.add_argument("--to", required=True, metavar="URL",
                         help="the PostgreSQL database: a libpq URI, postgresql://USER:PASSWORD@HOST:PORT/DB")
    migrate.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from core.config import Project
    from core.repo import Migration, PgRepository, RepoError

    project = Project.resolve(args.project)
    if not args.to.startswith(("postgresql://", "postgres://")):
        raise UsageError("--to: a PostgreSQL URI (postgresql://USER:PASSWORD@HOST:PORT/DB)")
    if not project.db_path.exists():
        raise UsageError(f"{project.db_path}: no SQLite repository to migrate (nothing was stored yet)")
    try:
        target = PgRepository.open(args.to, origin="--to")
    except RepoError as exc:
        raise ConfigError(str(exc)) from None
    migration = Migration(project.db_path, target)
    try:
        print(f"copying {project.db_path} into {target.location}", flush=True)
        copied = migration.copy(lambda kind, n: print(f"  {kind}: {n} rows copied", flush=True))
        reports = migration.verify(copied)
    finally:
        migration.close()
        target.close()
    print(f"{'KIND':20} {'PROJECT':>9} {'POSTGRESQL':>10}  {'CHECKSUM (PROJECT)':18}  {'CHECKSUM (POSTGRESQL)':21}  OK")
    for r in reports:
        print(f"{r.kind:20} {r.source:>9} {r.target:>10}  {r.source_sum:18}  {r.target_sum:21}  "
              f"{'yes' if r.ok else 'NO'}")
    if all(r.ok for r in reports):
        print("verified: every kind matches. Point the project at it with SFSYNC_REPO_URL or "
              "conf/datasource.jdbc-default.json.")
        return 0
    print("sfsync: the copy does not match the project (see NO above); run the command again to resume, or "
          "migrate into an empty database", file=sys.stderr)
    return 1
