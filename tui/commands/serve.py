"""``sfsync serve``: IDM's REST API for this project (the seed's curl commands work against it).

``sfsync serve --set-password [--username NAME]`` stores the REST admin's password (read from stdin, or
asked twice on a terminal) as a salted scrypt hash in ``conf/sfsync.toml``, and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import socket
import sys
from typing import TYPE_CHECKING

from core.errors import SfsyncError, UsageError
from core.listen import listen_socket

if TYPE_CHECKING:
    from core.config.project import Project


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve IDM's REST API (recon, managed/user, audit) over HTTP",
        description="Serve the IDM REST API subset of the Salesforce sample. Every call needs the headers "
                    "X-OpenIDM-Username and X-OpenIDM-Password (the admin set with --set-password; "
                    "openidm-admin/openidm-admin while none is set, on loopback only). "
                    "OpenAPI document: /openapi.json (also /openidm/?_api).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 = any free)")
    parser.add_argument("--set-password", action="store_true",
                        help="read the REST admin password from stdin, store its hash in conf/sfsync.toml, exit")
    parser.add_argument("--username", help="with --set-password: the admin user name (default openidm-admin)")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from core.config.project import Project

    project = Project.resolve(args.project)
    if args.set_password:
        return set_password(project, args.username)
    if args.username:
        raise UsageError("--username: only with --set-password")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: must be between 0 and 65535, got {args.port}")
    return serve(project, args.host, args.port)


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("New REST admin password: ")
        if first != getpass.getpass("Again: "):
            raise UsageError("--set-password: the two passwords differ; nothing changed")
        return first
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def set_password(project: Project, username: str | None) -> int:
    from core.api.auth import DEFAULT_USERNAME, hash_password
    from core.config.settings import Settings

    password = _read_password()
    if not password:
        raise UsageError("--set-password: the password read from stdin is empty; nothing changed")
    settings = Settings.load(project)
    settings.admin_password_hash = hash_password(password)
    if username is not None:
        if not username.strip():
            raise UsageError("--username: must not be empty")
        settings.admin_username = username
    settings.save(project)
    user = settings.admin_username or DEFAULT_USERNAME
    print(f"sfsync: REST admin password for {user} stored (hashed) in {project.settings_path}")
    return 0


def serve(project: Project, host: str, port: int) -> int:
    import uvicorn

    from core.api import create_app

    app = create_app(project, bind_host=host)  # refuses (exit 2) to expose the default password
    app.state.backend.sync.mappings()  # a missing or broken conf/sync.json: exit 2 now, naming it
    try:
        sock = listen_socket(host, port, backlog=128)
    except OSError as exc:
        raise SfsyncError(f"--host/--port: {exc}") from None
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if sock.family == socket.AF_INET6 else host
    backend = app.state.backend

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)  # the app's start-up (warm-up) done: requests are answered now
            if not self.should_exit:
                print(f"sfsync: serving the IDM REST API at http://{shown}:{bound_port}/openidm/ "
                      f"(OpenAPI: /openapi.json); Ctrl-C stops", flush=True)

        def handle_exit(self, sig: int, frame: object) -> None:
            # Ctrl-C: the runs this server started stop at their next page and end CANCELED, so a client
            # waiting on one (waitForCompletion) gets its answer and the server can close gracefully
            backend.cancel_started_runs()
            super().handle_exit(sig, frame)  # type: ignore[arg-type]

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=10)
    server = Server(config)
    from core.schedule import SchedulerThread  # the project's conf/schedule-*.json, while it serves

    scheduler = SchedulerThread(project, on_fire=lambda line: print(line, flush=True),
                                on_error=lambda exc: print(f"sfsync: {exc}", file=sys.stderr, flush=True)).start()
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        scheduler.stop()
        sock.close()
    return 0
